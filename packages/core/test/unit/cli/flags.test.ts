import { expect } from 'chai';
import { formatUsage, parseFlags, type FlagSpecs } from '../../../src/cli/flags.js';

const specs = {
  endpoint: { type: 'string', default: 'unix:///tmp/p.sock', usage: 'gRPC endpoint' },
  'root-dir': { type: 'string', default: '', usage: 'directory served' },
  'log-format-json': { type: 'boolean', default: false, usage: 'JSON logs' },
  'construct-pem-chain': { type: 'boolean', default: true, usage: 'order chains' },
  'healthz-port': { type: 'integer', default: 8989, usage: 'healthz port' },
  'healthz-timeout': { type: 'duration', default: '5s', usage: 'healthz timeout' },
} as const satisfies FlagSpecs;

function parseError(argv: string[]): string {
  try {
    parseFlags(specs, argv);
  } catch (error) {
    expect((error as { code?: string }).code).to.equal('InvalidFlags');
    return (error as Error).message;
  }
  throw new Error('expected the flags to be refused');
}

describe('parseFlags', () => {
  it('gives the defaults, durations in milliseconds, in a frozen object', () => {
    const flags = parseFlags(specs, []);
    expect(flags).to.deep.equal({
      endpoint: 'unix:///tmp/p.sock',
      'root-dir': '',
      'log-format-json': false,
      'construct-pem-chain': true,
      'healthz-port': 8989,
      'healthz-timeout': 5000,
    });
    expect(Object.isFrozen(flags)).to.equal(true);
  });

  it("reads every form Go's flag package reads", () => {
    const flags = parseFlags(specs, [
      '-endpoint=unix:///provider/p.sock',
      '--root-dir',
      '/srv/secrets',
      '--log-format-json',
      '-construct-pem-chain=false',
      '--healthz-port=9000',
      '-healthz-timeout',
      '1m30s',
    ]);
    expect(flags).to.deep.equal({
      endpoint: 'unix:///provider/p.sock',
      'root-dir': '/srv/secrets',
      'log-format-json': true,
      'construct-pem-chain': false,
      'healthz-port': 9000,
      'healthz-timeout': 90_000,
    });
  });

  it('takes an empty value after = and stops at --', () => {
    expect(parseFlags(specs, ['--root-dir=', '--'])['root-dir']).to.equal('');
  });

  const refusals: readonly [string[], string][] = [
    [['--nope'], 'flag provided but not defined: -nope'],
    [['--root-dir'], 'flag needs an argument: -root-dir'],
    [['--healthz-port=abc'], 'invalid value "abc" for flag -healthz-port: parse error'],
    [['--healthz-port=1.5'], 'invalid value "1.5" for flag -healthz-port: parse error'],
    [['--healthz-timeout=5'], 'invalid value "5" for flag -healthz-timeout: parse error'],
    [['--log-format-json=yes'], 'invalid boolean value "yes" for -log-format-json: parse error'],
    [['serve'], 'unexpected argument "serve"'],
    [['-'], 'unexpected argument "-"'],
    [['--', 'extra'], 'unexpected argument "extra"'],
    [['---x'], 'bad flag syntax: ---x'],
    [['--=x'], 'bad flag syntax: --=x'],
  ];
  for (const [argv, message] of refusals) {
    it(`refuses ${argv.join(' ')}: ${message}`, () => {
      expect(parseError(argv)).to.equal(message);
    });
  }

  it('reports -h and --help as a help request', () => {
    for (const argv of [['-h'], ['--help']]) {
      let code: string | undefined;
      try {
        parseFlags(specs, argv);
      } catch (error) {
        code = (error as { code?: string }).code;
      }
      expect(code).to.equal('HelpRequested');
    }
  });

  it('does not take an inherited property for a flag', () => {
    expect(parseError(['--toString'])).to.equal('flag provided but not defined: -toString');
  });

  it('prints a usage line per flag with its default, sorted by name', () => {
    expect(formatUsage('p', specs)).to.equal(
      [
        'Usage of p:',
        '  -construct-pem-chain',
        '    \torder chains (default true)',
        '  -endpoint string',
        '    \tgRPC endpoint (default "unix:///tmp/p.sock")',
        '  -healthz-port int',
        '    \thealthz port (default 8989)',
        '  -healthz-timeout duration',
        '    \thealthz timeout (default 5s)',
        '  -log-format-json',
        '    \tJSON logs',
        '  -root-dir string',
        '    \tdirectory served',
        '',
      ].join('\n'),
    );
  });
});
