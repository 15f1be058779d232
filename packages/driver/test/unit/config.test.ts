import { expect } from 'chai';
import { CodedError } from '@secrets-store-csi/core';
import {
  configErrorCodes,
  configFromFlags,
  parseDriverArgs,
  parseListenAddress,
  parseTmpfsSize,
} from '../../src/config.js';

function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error, got none');
}

describe('the driver configuration', () => {
  describe('with no flags', () => {
    const { config } = parseDriverArgs([]);

    it('listens on the upstream unix socket /tmp/csi.sock', () => {
      expect(config.endpoint).to.deep.equal({ kind: 'unix', path: '/tmp/csi.sock' });
    });

    it('is named secrets-store.csi.k8s.io', () => {
      expect(config.driverName).to.equal('secrets-store.csi.k8s.io');
    });

    it('looks for providers in the upstream directories', () => {
      expect(config.providerDirectories).to.deep.equal({
        primary: '/var/run/secrets-store-csi-providers',
        additional: ['/etc/kubernetes/secrets-store-csi-providers'],
      });
    });

    it('serves metrics on port 8095 of every address', () => {
      expect(config.metricsAddress).to.deep.equal({ host: '', port: 8095 });
    });

    it('polls for rotation every two minutes, with rotation itself off', () => {
      expect(config.rotationPolicy.pollIntervalMs).to.equal(120_000);
      expect(config.rotationEnabled).to.equal(false);
    });

    it('accepts provider responses up to 4 MiB', () => {
      expect(config.maxReceiveMessageBytes).to.equal(4194304);
    });

    it('does not check provider health', () => {
      expect(config.providerHealthCheckIntervalMs).to.equal(undefined);
    });

    it('logs text at info level', () => {
      expect(config.logLevel).to.equal('info');
      expect(config.logFormat).to.equal('text');
    });

    it('mounts tmpfs volumes executable and without a size limit', () => {
      expect(config.tmpfs).to.deep.equal({ noexec: false });
    });

    it('is frozen', () => {
      expect(Object.isFrozen(config)).to.equal(true);
    });
  });

  it('logs at debug level from -v=5', () => {
    expect(parseDriverArgs(['-v=5']).config.logLevel).to.equal('debug');
  });

  it('stays at info level at -v=3', () => {
    expect(parseDriverArgs(['-v=3']).config.logLevel).to.equal('info');
  });

  it('logs JSON with --log-format-json', () => {
    expect(parseDriverArgs(['--log-format-json']).config.logFormat).to.equal('json');
  });

  it('checks provider health on the interval given with --provider-health-check', () => {
    const { config } = parseDriverArgs(['--provider-health-check', '--provider-health-check-interval=30s']);
    expect(config.providerHealthCheckIntervalMs).to.equal(30_000);
  });

  it('splits --additional-provider-volume-paths on commas and reads an empty one as none', () => {
    expect(
      parseDriverArgs(['--additional-provider-volume-paths=/a,/b']).config.providerDirectories.additional,
    ).to.deep.equal(['/a', '/b']);
    expect(
      parseDriverArgs(['--additional-provider-volume-paths=']).config.providerDirectories.additional,
    ).to.deep.equal([]);
  });

  it('parses a tcp endpoint', () => {
    expect(parseDriverArgs(['--endpoint=tcp://127.0.0.1:10000']).config.endpoint).to.deep.equal({
      kind: 'tcp',
      host: '127.0.0.1',
      port: 10000,
    });
  });

  it('accepts --enable-pprof and only records that it was asked for', () => {
    expect(parseDriverArgs(['--enable-pprof']).config.pprofRequested).to.equal(true);
    expect(parseDriverArgs([]).config.pprofRequested).to.equal(false);
  });

  it('accepts the Prometheus metrics backend in any case', () => {
    expect(() => parseDriverArgs(['--metrics-backend=prometheus'])).not.to.throw();
  });

  it('refuses the otlp metrics backend', () => {
    const error = errorOf(() => parseDriverArgs(['--metrics-backend=otlp']));
    expect(error).to.be.instanceOf(CodedError);
    expect((error as CodedError).code).to.equal(configErrorCodes.invalidConfig);
    expect(error.message).to.equal('unsupported metrics backend otlp');
  });

  it('refuses an endpoint without a scheme', () => {
    const error = errorOf(() => parseDriverArgs(['--endpoint=/tmp/csi.sock']));
    expect((error as CodedError).code).to.equal(configErrorCodes.invalidConfig);
    expect(error.message).to.equal('invalid endpoint: /tmp/csi.sock');
  });

  it('refuses a zero rotation poll interval', () => {
    expect(errorOf(() => parseDriverArgs(['--rotation-poll-interval=0s'])).message).to.equal(
      '--rotation-poll-interval must be positive',
    );
  });

  it('refuses a zero --max-call-recv-msg-size', () => {
    expect(errorOf(() => parseDriverArgs(['--max-call-recv-msg-size=0'])).message).to.match(
      /max-call-recv-msg-size must be a positive/,
    );
  });

  it('refuses an unknown flag', () => {
    expect(errorOf(() => parseDriverArgs(['--no-such-flag'])).message).to.equal(
      'flag provided but not defined: -no-such-flag',
    );
  });

  it('turns the metrics listener off with an empty --metrics-addr', () => {
    expect(parseDriverArgs(['--metrics-addr=']).config.metricsAddress).to.equal(undefined);
  });

  it('refuses a metrics address without a port', () => {
    expect(errorOf(() => parseDriverArgs(['--metrics-addr=localhost'])).message).to.equal(
      'invalid --metrics-addr "localhost": want [host]:port',
    );
  });

  it('sets the tmpfs size and noexec from --tmpfs-size and --tmpfs-noexec', () => {
    expect(parseDriverArgs(['--tmpfs-size=4Mi', '--tmpfs-noexec']).config.tmpfs).to.deep.equal({
      noexec: true,
      sizeBytes: 4 * 1024 * 1024,
    });
  });

  it('refuses a bad --tmpfs-size', () => {
    const error = errorOf(() => parseDriverArgs(['--tmpfs-size=4MB']));
    expect((error as CodedError).code).to.equal(configErrorCodes.invalidConfig);
    expect(error.message).to.equal('invalid --tmpfs-size "4MB": want a positive size such as 4Mi or 1048576');
  });

  it('returns the parsed flags next to the configuration', () => {
    const { flags, config } = parseDriverArgs(['--nodeid=node-a']);
    expect(flags.nodeid).to.equal('node-a');
    expect(config.nodeId).to.equal('node-a');
    expect(configFromFlags(flags).nodeId).to.equal('node-a');
  });
});

describe('parseListenAddress', () => {
  it('reads ":8095" as every address on port 8095', () => {
    expect(parseListenAddress(':8095')).to.deep.equal({ host: '', port: 8095 });
  });

  it('reads a host and a port', () => {
    expect(parseListenAddress('0.0.0.0:9000')).to.deep.equal({ host: '0.0.0.0', port: 9000 });
  });

  it('strips the brackets of an IPv6 host', () => {
    expect(parseListenAddress('[::1]:8095')).to.deep.equal({ host: '::1', port: 8095 });
  });

  it('reads an empty value and "0" as off', () => {
    expect(parseListenAddress('')).to.equal(undefined);
    expect(parseListenAddress('0')).to.equal(undefined);
  });

  for (const text of ['8095', 'host:', 'host:70000', ':port']) {
    it(`refuses "${text}"`, () => {
      expect(() => parseListenAddress(text)).to.throw(`invalid --metrics-addr "${text}"`);
    });
  }
});

describe('parseTmpfsSize', () => {
  const cases: [string, number][] = [
    ['1048576', 1048576],
    ['4Mi', 4 * 1024 ** 2],
    ['1m', 1024 ** 2],
    ['16k', 16 * 1024],
    ['16Ki', 16 * 1024],
    ['1g', 1024 ** 3],
    ['2Gi', 2 * 1024 ** 3],
  ];
  for (const [text, bytes] of cases) {
    it(`reads "${text}" as ${bytes} bytes`, () => {
      expect(parseTmpfsSize(text)).to.equal(bytes);
    });
  }

  it('reads an empty value as no limit', () => {
    expect(parseTmpfsSize('')).to.equal(undefined);
  });

  for (const text of ['0', '0Mi', '-1', '4MB', '4 Mi', '1.5m', 'Mi', '4mi', '99999999999999999Gi']) {
    it(`refuses "${text}"`, () => {
      expect(() => parseTmpfsSize(text)).to.throw(`invalid --tmpfs-size "${text}"`);
    });
  }
});
