import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { runProvider, type RunProviderOptions } from '../../src/run.js';
import type { ProviderServer } from '../../src/serve.js';
import { FakeProvider, ProviderClient } from '../../src/testing/index.js';

const extraFlags = { 'root-dir': { type: 'string', default: '', usage: 'directory served' } } as const;

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { stream, text: () => text };
}

function options(argv: string[], overrides: Partial<RunProviderOptions<typeof extraFlags>> = {}) {
  const stdout = capture();
  const stderr = capture();
  return {
    stdout,
    stderr,
    options: {
      name: 'fake',
      version: '1.2.3',
      defaults: { endpoint: 'unix:///tmp/never-used.sock', healthzPort: 0, prometheusPort: 0 },
      flags: extraFlags,
      create: () => new FakeProvider(),
      argv,
      stdout: stdout.stream,
      stderr: stderr.stream,
      signals: [],
      ...overrides,
    } satisfies RunProviderOptions<typeof extraFlags>,
  };
}

describe('runProvider', () => {
  it('prints the version as JSON and exits 0', async () => {
    const run = options(['--version']);
    expect(await runProvider(run.options)).to.equal(0);
    expect(run.stdout.text()).to.equal(
      '{"runtimeName":"secrets-store-csi-driver-provider-fake","version":"1.2.3"}\n',
    );
  });

  it('prints usage and exits 0 on -help, 2 with the reason on a bad flag', async () => {
    const help = options(['-help']);
    expect(await runProvider(help.options)).to.equal(0);
    expect(help.stderr.text()).to.match(/^Usage of secrets-store-csi-driver-provider-fake:\n/);
    expect(help.stderr.text()).to.contain('  -root-dir string\n');
    expect(help.stderr.text()).to.contain('  -prometheus-port int\n');
    const bad = options(['--rootdir=/x']);
    expect(await runProvider(bad.options)).to.equal(2);
    expect(bad.stderr.text()).to.match(/^flag provided but not defined: -rootdir\nUsage of /);
  });

  const startupFailures: readonly [string[], string][] = [
    [['--metrics-backend=statsd'], 'unsupported metrics backend statsd'],
    [['--max-response-size=0'], '--max-response-size must be a positive number of bytes'],
    [['--endpoint=udp://:1'], 'invalid endpoint: udp://:1'],
  ];
  for (const [argv, message] of startupFailures) {
    it(`exits 1 with "${message}" for ${argv.join(' ')}`, async () => {
      const run = options([...argv, '--log-format-json']);
      expect(await runProvider(run.options)).to.equal(1);
      const lines = run.stderr
        .text()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { level: string; message: string });
      expect(lines.at(-1)).to.include({ level: 'error', message });
    });
  }

  it('exits 1 with the reason the provider gives when it cannot be built', async () => {
    const run = options(['--root-dir=/nowhere'], {
      create: ({ flags }) => {
        throw new Error(`root directory "${flags['root-dir']}" does not exist`);
      },
    });
    expect(await runProvider(run.options)).to.equal(1);
    expect(run.stderr.text()).to.match(/error "root directory \\"\/nowhere\\" does not exist"\n$/);
  });

  it('serves with the parsed flags until shut down, then exits 0', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'run-'));
    const socketPath = join(directory, 'fake.sock');
    let listening: (server: ProviderServer) => void = () => {};
    const started = new Promise<ProviderServer>((resolve) => {
      listening = resolve;
    });
    let seenFlags: unknown;
    const run = options([`--endpoint=unix://${socketPath}`, '--root-dir=/srv', '-v=5'], {
      create: ({ flags }) => {
        seenFlags = flags;
        return new FakeProvider({ name: 'fake', version: '1.2.3' });
      },
      onListening: (server) => {
        listening(server);
      },
    });
    const exit = runProvider(run.options);
    const server = await started;
    expect(seenFlags).to.include({
      'root-dir': '/srv',
      'healthz-timeout': 5000,
      'max-response-size': 4194304,
    });
    expect(Object.isFrozen(seenFlags)).to.equal(true);
    const client = new ProviderClient(socketPath);
    try {
      const version = await client.version();
      expect(version.ok && version.response.runtime_version).to.equal('1.2.3');
      const healthz = await fetch(`http://127.0.0.1:${server.healthzPort}/healthz`);
      expect(await healthz.text()).to.equal('ok');
    } finally {
      client.close();
    }
    await server.shutdown();
    expect(await exit).to.equal(0);
    const logs = run.stderr.text();
    expect(logs).to.match(/ info "Starting secrets-store-csi-driver-provider-fake" version=1\.2\.3\n/);
    expect(logs).to.contain(
      ' debug "gRPC request" method=/v1alpha1.CSIDriverProvider/Version deadline=none\n',
    );
    expect(logs).to.match(/ debug "gRPC request" method=\/grpc\.health\.v1\.Health\/Check deadline=\d{4}-/);
    expect(logs).to.match(
      / debug "gRPC response" method=\/v1alpha1.CSIDriverProvider\/Version durationInSeconds=[\d.e-]+ code=OK statusMessage=""\n/,
    );
    await rm(directory, { recursive: true });
  });
});
