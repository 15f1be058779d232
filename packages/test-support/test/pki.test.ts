import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createTestPki } from '../src/pki.js';

describe('the throwaway certificate authority (test infrastructure)', function () {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pki-test-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('issues several certificates at once, each signed by the authority with its own serial', async () => {
    const pki = await createTestPki(dir);
    const names = Array.from({ length: 16 }, (_, index) => `host${String(index)}`);
    const issued = await Promise.all(
      names.map((name) =>
        pki.issue({ name, commonName: `${name}.test`, dnsNames: [`${name}.test`], usage: 'server' }),
      ),
    );
    const ca = new X509Certificate(await readFile(pki.caCertPath));
    const certificates = await Promise.all(
      issued.map(async ({ certPath }) => new X509Certificate(await readFile(certPath))),
    );
    for (const [index, certificate] of certificates.entries()) {
      expect(certificate.verify(ca.publicKey), names[index]).to.equal(true);
      expect(certificate.subjectAltName).to.equal(`DNS:${names[index] ?? ''}.test`);
    }
    expect(new Set(certificates.map((c) => c.serialNumber)).size).to.equal(names.length);
  });
});
