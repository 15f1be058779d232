import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  inClusterAccess,
  kubeAccessFromKubeconfig,
  loadKubeAccess,
  readPem,
} from '../../../src/kube/access.js';

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}) => ({
  'current-context': 'ctx',
  contexts: [
    { name: 'other', context: { cluster: 'nope', user: 'nope' } },
    { name: 'ctx', context: { cluster: 'c', user: 'u' } },
  ],
  clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443/', ...cluster } }],
  users: [{ name: 'u', user }],
});

describe('kube access', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kube-access-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the current context: server, inline CA, client certificate and key', () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const access = kubeAccessFromKubeconfig(
      kubeconfig(
        { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') },
        { 'certificate-authority-data': b64('CA'), 'tls-server-name': 'kubernetes' },
      ),
      dir,
    );
    expect(access).to.deep.equal({
      server: 'https://api.example:6443',
      ca: { pem: 'CA' },
      tlsServerName: 'kubernetes',
      clientCertificate: { pem: 'CERT' },
      clientKey: { pem: 'KEY' },
    });
  });

  it('takes relative file paths from the kubeconfig directory, and reads them when asked', async () => {
    await writeFile(join(dir, 'ca.crt'), 'CA FILE');
    const path = join(dir, 'config');
    await writeFile(
      path,
      JSON.stringify(kubeconfig({ token: 'abc', tokenFile: 'token' }, { 'certificate-authority': 'ca.crt' })),
    );
    const access = loadKubeAccess(path);
    expect(access.ca).to.deep.equal({ path: join(dir, 'ca.crt') });
    expect(readPem(access.ca ?? { pem: '' })).to.equal('CA FILE');
    expect([access.token, access.tokenFile]).to.deep.equal(['abc', join(dir, 'token')]);
  });

  it('refuses exec credentials with a message that names them', () => {
    expect(() => kubeAccessFromKubeconfig(kubeconfig({ exec: { command: 'x' } }), dir)).to.throw(
      /user "u" uses exec credentials/,
    );
  });

  it('says which context, cluster or user is missing', () => {
    expect(() => kubeAccessFromKubeconfig({ 'current-context': 'x' }, dir)).to.throw(
      'the kubeconfig has no context "x"',
    );
  });

  it('uses the service account in a pod, with its rotating token file', () => {
    expect(
      inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, '/sa'),
    ).to.deep.equal({ server: 'https://[fd00::1]:443', ca: { path: '/sa/ca.crt' }, tokenFile: '/sa/token' });
    expect(inClusterAccess({}, '/sa')).to.equal(undefined);
  });

  it('names everything it looked for when there is no kubeconfig and no in-cluster configuration', () => {
    const previousHome = process.env.HOME;
    process.env.HOME = dir;
    try {
      expect(() => loadKubeAccess('', { KUBECONFIG: join(dir, 'absent') })).to.throw(
        `found no kubeconfig and no in-cluster configuration (looked for: the --kubeconfig flag, $KUBECONFIG (no such file), ${join(dir, '.kube', 'config')}, $KUBERNETES_SERVICE_HOST/PORT)`,
      );
      expect(() => loadKubeAccess('', {})).to.throw('$KUBECONFIG (unset)');
    } finally {
      process.env.HOME = previousHome;
    }
  });
});
