import { readdirSync, readFileSync } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseFlags } from '@secrets-store-csi/core';
import { startFakeProviderServer, type FakeProviderServer } from '@secrets-store-csi/provider-sdk/testing';
import { runStandaloneWith, standaloneFlags } from '../../../src/standalone/run.js';

const SPC = `
apiVersion: secrets-store.csi.x-k8s.io/v1
kind: SecretProviderClass
metadata:
  name: my-spc
spec:
  provider: fake
  parameters:
    objects: "array: []"
`;

const encode = (text: string) => new TextEncoder().encode(text);

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function isMountPoint(path: string): boolean {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  return mountinfo.split('\n').some((line) => line.split(' ')[4] === path);
}

/** Polls until `check` holds, failing after `ms`. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('runStandaloneWith', function () {
  this.timeout(20_000);

  let dir: string;
  let spcFile: string;
  let target: string;
  let server: FakeProviderServer;
  let lines: string[];
  let stop: () => void;
  let stopped: Promise<void>;

  const io = () => ({
    print: (line: string) => {
      lines.push(line);
    },
    stopped,
  });

  const flags = (...args: string[]) =>
    parseFlags(standaloneFlags, [
      `--spc=${spcFile}`,
      `--target=${target}`,
      `--provider-volume=${server.directory}`,
      '--additional-provider-volume-paths=',
      ...args,
    ]);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'standalone-run-'));
    spcFile = join(dir, 'spc.yaml');
    target = join(dir, 'target');
    await writeFile(spcFile, SPC);
    server = await startFakeProviderServer();
    server.provider.returns((request) => ({
      files: [
        { path: 'db-password', mode: request.defaultFileMode, contents: encode('hunter2') },
        { path: 'api-key', mode: 0o600, contents: encode('k-123456') },
      ],
      objectVersions: [
        { id: 'secret/db-password', version: 'v1' },
        { id: 'secret/api-key', version: 'v1' },
      ],
    }));
    lines = [];
    stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
  });

  afterEach(async () => {
    stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  describe('with --once --mount=directory', () => {
    it('publishes, lists the files with their sizes and modes, and unpublishes', async () => {
      let filesDuringRun: string[] = [];
      const code = await runStandaloneWith(flags('--once', '--mount=directory'), {
        print: (line) => {
          lines.push(line);
          if (line.startsWith('mounted ')) filesDuringRun = readdirSync(target).sort();
        },
        stopped,
      });
      expect(code).to.equal(0);
      expect(lines[0]).to.equal(`mounted ${target} (directory) with 2 files:`);
      expect(filesDuringRun).to.include.members(['api-key', 'db-password']);
      expect(lines).to.include('  api-key  8 bytes  mode 0600');
      expect(lines).to.include('  db-password  7 bytes  mode 0644');
      expect(lines).to.include('  object secret/db-password version v1');
      expect(lines).to.include('  object secret/api-key version v1');
      expect(lines.at(-1)).to.equal(`unpublished ${target}`);
      expect(server.provider.calls).to.have.length(1);
      expect(await exists(target)).to.equal(false);
    });

    it('lists the files in name order', async () => {
      await runStandaloneWith(flags('--once', '--mount=directory'), io());
      const files = lines.filter((line) => / bytes {2}mode /.test(line));
      expect(files).to.deep.equal(['  api-key  8 bytes  mode 0600', '  db-password  7 bytes  mode 0644']);
    });

    it('never prints the contents without --show-contents', async () => {
      await runStandaloneWith(flags('--once', '--mount=directory'), io());
      const output = lines.join('\n');
      expect(output).not.to.include('hunter2');
      expect(output).not.to.include('k-123456');
    });

    it('prints the contents under each file with --show-contents', async () => {
      await runStandaloneWith(flags('--once', '--mount=directory', '--show-contents'), io());
      const index = lines.indexOf('  db-password  7 bytes  mode 0644');
      expect(index).to.be.greaterThan(-1);
      expect(lines[index + 1]).to.equal('    hunter2');
      expect(lines).to.include('    k-123456');
    });

    it('sends the provider the SecretProviderClass parameters and the pod attributes', async () => {
      await runStandaloneWith(flags('--once', '--mount=directory'), io());
      const [call] = server.provider.calls;
      expect(call?.request.targetPath).to.equal(target);
      expect(call?.request.attributes).to.include({
        objects: 'array: []',
        secretProviderClass: 'my-spc',
        'csi.storage.k8s.io/pod.name': 'standalone',
      });
    });
  });

  it('returns 1 and prints the error when the provider fails', async () => {
    server.provider.fails(new Error('vault is sealed'));
    const code = await runStandaloneWith(flags('--once', '--mount=directory'), io());
    expect(code).to.equal(1);
    const failure = lines.find((line) => line.startsWith('publish failed: '));
    expect(failure).to.include('vault is sealed');
    expect(lines.some((line) => line.startsWith('mounted '))).to.equal(false);
    expect(lines.at(-1)).to.equal(`unpublished ${target}`);
    expect(await exists(target)).to.equal(false);
  });

  it('returns 2 without --spc', async () => {
    const code = await runStandaloneWith(parseFlags(standaloneFlags, [`--target=${target}`, '--once']), io());
    expect(code).to.equal(2);
    expect(lines).to.deep.equal(['standalone needs --spc=<file> and --target=<directory>']);
    expect(server.provider.calls).to.have.length(0);
  });

  it('returns 2 without --target', async () => {
    const code = await runStandaloneWith(parseFlags(standaloneFlags, [`--spc=${spcFile}`, '--once']), io());
    expect(code).to.equal(2);
    expect(lines).to.deep.equal(['standalone needs --spc=<file> and --target=<directory>']);
  });

  it('refuses --mount=bogus before calling the provider', async () => {
    const error = await runStandaloneWith(flags('--once', '--mount=bogus'), io()).catch(
      (e: unknown) => e as Error,
    );
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.equal('invalid --mount "bogus": want tmpfs, directory or auto');
    expect(server.provider.calls).to.have.length(0);
  });

  it('rejects with the file name when the --spc file is missing', async () => {
    spcFile = join(dir, 'missing.yaml');
    const error = await runStandaloneWith(flags('--once', '--mount=directory'), io()).catch(
      (e: unknown) => e as Error,
    );
    expect((error as Error).message).to.equal(`${spcFile}: cannot read: ENOENT`);
  });

  it('refreshes on the poll interval, prints a rotation, and unpublishes once stopped', async () => {
    const run = runStandaloneWith(flags('--mount=directory', '--rotation-poll-interval=1s'), io());
    await until(() => lines.includes('refreshing every 1s; stop with Ctrl-C'), 'the refresh loop');
    expect(lines[0]).to.equal(`mounted ${target} (directory) with 2 files:`);
    server.provider.returns((request) => ({
      files: [{ path: 'db-password', mode: request.defaultFileMode, contents: encode('correct-horse') }],
      objectVersions: [{ id: 'secret/db-password', version: 'v2' }],
    }));
    await until(() => lines.some((line) => line.startsWith('rotated: ')), 'a rotation');
    expect(lines).to.include(`rotated: the content of ${target} changed:`);
    await until(() => lines.includes('  object secret/db-password version v2'), 'the new version');
    expect(await readFile(join(target, 'db-password'), 'utf8')).to.equal('correct-horse');
    expect(await exists(join(target, 'api-key'))).to.equal(false);
    expect(lines.join('\n')).not.to.include('correct-horse');
    stop();
    expect(await run).to.equal(0);
    expect(lines.at(-1)).to.equal(`unpublished ${target}`);
    expect(await exists(target)).to.equal(false);
  });

  it('prints nothing on a refresh that changes nothing', async () => {
    const run = runStandaloneWith(flags('--mount=directory', '--rotation-poll-interval=1s'), io());
    await until(() => server.provider.calls.length >= 2, 'a refresh');
    stop();
    expect(await run).to.equal(0);
    expect(lines.some((line) => line.startsWith('rotated: '))).to.equal(false);
    expect(lines.filter((line) => line.startsWith('mounted '))).to.have.length(1);
  });

  it('with --mount=tmpfs mounts a tmpfs at the target for the run and removes it after', async function () {
    if (process.getuid?.() !== 0) this.skip();
    let mountedDuringRun: boolean | undefined;
    const code = await runStandaloneWith(flags('--once', '--mount=tmpfs'), {
      print: (line) => {
        lines.push(line);
        if (line.startsWith('mounted ')) mountedDuringRun = isMountPoint(target);
      },
      stopped,
    });
    expect(code).to.equal(0);
    expect(lines[0]).to.equal(`mounted ${target} (tmpfs) with 2 files:`);
    expect(lines).to.include('  db-password  7 bytes  mode 0644');
    expect(mountedDuringRun).to.equal(true);
    expect(isMountPoint(target)).to.equal(false);
    expect(await exists(target)).to.equal(false);
  });
});
