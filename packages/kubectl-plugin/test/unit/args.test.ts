import { expect } from 'chai';
import { parseCommandLine, UsageError } from '../../src/args.js';

const fails = (argv: string[], pattern: RegExp) => {
  expect(() => parseCommandLine(argv)).to.throw(UsageError, pattern);
};

describe('the command line', () => {
  it('takes explain pod/NAME and a bare NAME, with kubectl defaults', () => {
    expect(parseCommandLine(['explain', 'pod/app-0'])).to.deep.equal({
      command: 'explain',
      pod: 'app-0',
      output: 'text',
      rotationPollIntervalMs: 120_000,
    });
    expect(parseCommandLine(['explain', 'app-0'])).to.include({ pod: 'app-0' });
    expect(parseCommandLine(['explain', 'pods/app-0'])).to.include({ pod: 'app-0' });
    expect(parseCommandLine(['explain', 'po/app-0'])).to.include({ pod: 'app-0' });
  });

  it('reads the namespace, output, kubeconfig and context flags in every pflag spelling', () => {
    for (const argv of [
      ['explain', 'pod/a', '-n', 'ns1', '-o', 'json'],
      ['explain', 'pod/a', '-nns1', '-ojson'],
      ['explain', 'pod/a', '-n=ns1', '-o=json'],
      ['explain', '--namespace', 'ns1', 'pod/a', '--output=json'],
      ['-n', 'ns1', 'explain', 'pod/a', '--output', 'json'],
    ]) {
      expect(parseCommandLine(argv), argv.join(' ')).to.include({
        command: 'explain',
        pod: 'a',
        namespace: 'ns1',
        output: 'json',
      });
    }
    expect(
      parseCommandLine([
        'explain',
        'a',
        '--kubeconfig',
        '/k/config',
        '--context=prod',
        '--rotation-poll-interval=30s',
      ]),
    ).to.include({ kubeconfig: '/k/config', context: 'prod', rotationPollIntervalMs: 30_000 });
  });

  it('takes dry-run with -f and --service-account NS/NAME or NAME with -n', () => {
    expect(
      parseCommandLine(['dry-run', '-f', 'class.yaml', '--service-account', 'team/app', '-o', 'json']),
    ).to.deep.equal({
      command: 'dry-run',
      file: 'class.yaml',
      serviceAccount: { namespace: 'team', name: 'app' },
      output: 'json',
      providerVolume: '/var/run/secrets-store-csi-providers',
      timeoutMs: 60_000,
    });
    expect(
      parseCommandLine([
        'dry-run',
        '--filename=c.yaml',
        '-n',
        'team',
        '--service-account=app',
        '--audience',
        'a1',
        '--audience=a2',
        '--node-publish-secret',
        'sp-creds',
        '--provider-volume',
        '/tmp/p',
        '--timeout',
        '5s',
      ]),
    ).to.deep.include({
      namespace: 'team',
      serviceAccount: { name: 'app' },
      audiences: ['a1', 'a2'],
      nodePublishSecret: 'sp-creds',
      providerVolume: '/tmp/p',
      timeoutMs: 5000,
    });
  });

  it('answers help and version', () => {
    expect(parseCommandLine([])).to.deep.equal({ command: 'help' });
    expect(parseCommandLine(['--help'])).to.deep.equal({ command: 'help' });
    expect(parseCommandLine(['explain', '-h'])).to.deep.equal({ command: 'help', topic: 'explain' });
    expect(parseCommandLine(['version'])).to.deep.equal({ command: 'version' });
  });

  it('refuses bad input with kubectl-like messages', () => {
    fails(['frobnicate'], /unknown command "frobnicate"/);
    fails(['explain'], /explain takes one pod/);
    fails(['explain', 'a', 'b'], /explain takes one pod/);
    fails(['explain', 'deployment/web'], /explain takes a pod \(pod\/NAME\), not "deployment"/);
    fails(['explain', 'pod/Bad_Name'], /invalid pod name "Bad_Name"/);
    fails(['explain', 'pod/'], /invalid pod name ""/);
    fails(['explain', 'a', '-o', 'yaml'], /output format "yaml", allowed formats are: json, text/);
    fails(['explain', 'a', '--bogus'], /Unknown option '--bogus'/);
    fails(['explain', 'a', '-n'], /argument missing|requires/i);
    fails(['explain', 'a', '-n', 'UPPER'], /invalid namespace "UPPER"/);
    fails(['explain', 'a', '--rotation-poll-interval', 'soon'], /invalid --rotation-poll-interval/);
    fails(['explain', 'a', '--rotation-poll-interval', '0s'], /must be positive/);
    fails(['explain', 'a', '-f', 'x.yaml'], /explain does not take --filename/);
    fails(['dry-run', '--service-account', 'ns/sa'], /dry-run needs -f/);
    fails(['dry-run', '-f', 'c.yaml'], /needs --service-account/);
    fails(['dry-run', '-f', 'c.yaml', '--service-account', 'a/b/c'], /want NAMESPACE\/NAME or NAME/);
    fails(
      ['dry-run', '-f', 'c.yaml', '--service-account', 'a/b', '-n', 'other'],
      /is not in --namespace other/,
    );
    fails(['dry-run', '-f', 'c.yaml', '--service-account', 'a/b', 'extra'], /takes no arguments/);
    fails(
      ['dry-run', '-f', 'c.yaml', '--service-account', 'a/b', '--rotation-poll-interval=1m'],
      /does not take/,
    );
    fails(['version', 'x'], /version takes no arguments/);
  });
});
