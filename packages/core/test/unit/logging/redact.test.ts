import { expect } from 'chai';
import { REDACTED, SecretValues, isSecretKey, redactValue } from '../../../src/logging/index.js';

describe('isSecretKey', () => {
  const secret = [
    'password',
    'clientSecret',
    'clientsecret',
    'client_secret',
    'secrets',
    'token',
    'access_token',
    'csi.storage.k8s.io/serviceAccount.tokens',
    'Authorization',
    'privateKey',
    'contents',
    'clientAssertion',
    'apiKey',
  ];
  const notSecret = [
    'secretProviderClass',
    'secretName',
    'nodePublishSecretRef',
    'objectName',
    'keyvaultName',
    'tokenAudience',
  ];
  for (const key of secret) it(`treats "${key}" as secret`, () => expect(isSecretKey(key)).to.equal(true));
  for (const key of notSecret) it(`keeps "${key}"`, () => expect(isSecretKey(key)).to.equal(false));
});

describe('SecretValues', () => {
  it('cuts known values out of text, longest first', () => {
    const secrets = new SecretValues();
    secrets.add('hunter2-pw');
    secrets.add('hunter2-pw-longer');
    expect(secrets.redact('a=hunter2-pw-longer b=hunter2-pw')).to.equal(`a=${REDACTED} b=${REDACTED}`);
  });

  it('escapes values that look like regular expressions', () => {
    const secrets = new SecretValues();
    secrets.add('p@ss.(w)*rd');
    expect(secrets.redact('x p@ss.(w)*rd y pXss.(w)rd')).to.equal(`x ${REDACTED} y pXss.(w)rd`);
  });

  it('ignores values too short to be worth hiding', () => {
    const secrets = new SecretValues({ minLength: 6 });
    secrets.add('true');
    expect(secrets.size).to.equal(0);
    expect(secrets.redact('enabled=true')).to.equal('enabled=true');
  });

  it('forgets the oldest value past its bound', () => {
    const secrets = new SecretValues({ maxValues: 2 });
    secrets.add('first-secret');
    secrets.add('second-secret');
    secrets.add('third-secret');
    expect(secrets.size).to.equal(2);
    expect(secrets.redact('first-secret third-secret')).to.equal(`first-secret ${REDACTED}`);
  });
});

describe('redactValue', () => {
  it('replaces secret fields at any depth and keeps the rest', () => {
    const out = redactValue({
      volume: 'v1',
      secrets: { clientid: 'id', clientsecret: 'shh' },
      attributes: { secretProviderClass: 'spc', 'csi.storage.k8s.io/serviceAccount.tokens': '{"aud":{}}' },
      files: [{ path: 'a', contents: 'body' }],
    });
    expect(out).to.deep.equal({
      volume: 'v1',
      secrets: REDACTED,
      attributes: { secretProviderClass: 'spc', 'csi.storage.k8s.io/serviceAccount.tokens': REDACTED },
      files: [{ path: 'a', contents: REDACTED }],
    });
  });

  it('scrubs known values from errors, causes and stacks, and keeps the code', () => {
    const secrets = new SecretValues();
    secrets.add('sup3r-s3cret');
    const error = Object.assign(
      new Error('bad value sup3r-s3cret', { cause: new Error('near sup3r-s3cret') }),
      {
        code: 'ProviderError',
      },
    );
    const out = redactValue({ error }, secrets) as { error: Record<string, unknown> };
    expect(out.error.message).to.equal(`bad value ${REDACTED}`);
    expect(out.error.code).to.equal('ProviderError');
    expect(JSON.stringify(out)).not.to.include('sup3r-s3cret');
  });

  it('prints byte buffers as their size only, and survives cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    expect(redactValue({ data: Buffer.from('abc'), cyclic })).to.deep.equal({
      data: '[3 bytes]',
      cyclic: { name: 'c', self: '[Circular]' },
    });
  });
});
