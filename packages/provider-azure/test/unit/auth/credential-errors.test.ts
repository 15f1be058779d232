import { AuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { expect } from 'chai';
import { classifyCredentialError, tokenRecoveryHint } from '../../../src/auth/index.js';
import { azureError, azureErrorCodes } from '../../../src/errors.js';

const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('classifyCredentialError', () => {
  const now = Date.parse('2030-01-01T00:00:00Z');

  it('leaves errors that are not credential errors to the caller', () => {
    expect(classifyCredentialError(new Error('boom'))).to.equal(undefined);
    expect(classifyCredentialError('text')).to.equal(undefined);
    expect(classifyCredentialError(undefined)).to.equal(undefined);
  });

  it('passes provider errors through with their code', () => {
    const error = azureError(azureErrorCodes.invalidIdentity, 'proxy transport not available: x');
    expect(classifyCredentialError(error)).to.deep.equal({
      code: 'InvalidIdentity',
      message: 'proxy transport not available: x',
    });
  });

  it('recognises a 429 from its status and says when Entra ID expects to recover', () => {
    const error = new AuthenticationError(429, {
      error: 'too_many_requests',
      error_description: 'slow down',
    });
    const classified = classifyCredentialError(
      error,
      { status: 429, retryAfterInMs: 30_000, at: now },
      now + 10_000,
    );
    expect(classified?.code).to.equal('Throttled');
    expect(classified?.message).to.include('Entra ID throttled the token request');
    expect(classified?.message).to.include('wait 30s (Retry-After)');
    expect(classified?.message).to.include('in about 20s (at 2030-01-01T00:00:30Z)');
  });

  it('recognises a 429 in the cause chain (MSAL errors wrapped by @azure/identity)', () => {
    const msal = Object.assign(new Error('too_many_requests: throttled'), {
      name: 'ServerError',
      errorCode: 'too_many_requests',
    });
    const wrapped = new CredentialUnavailableError('ManagedIdentityCredential: Authentication failed.', {
      cause: msal,
    });
    expect(classifyCredentialError(wrapped)?.code).to.equal('Throttled');
    expect(tokenRecoveryHint(undefined)).to.include('retries the mount');
  });

  it('calls a failure without status right after a throttled answer throttled (MSAL holds the identity)', () => {
    const held = Object.assign(new Error(': injected'), { name: 'AuthenticationRequiredError' });
    const context = { status: 429, retryAfterInMs: undefined, at: now };
    expect(classifyCredentialError(held, context, now + 5_000)?.code).to.equal('Throttled');
    expect(classifyCredentialError(held, context, now + 5_000)?.message).to.include('holds');
    expect(classifyCredentialError(held, context, now + 61_000)?.code).to.equal('AuthenticationFailed');
  });

  it('maps 5xx and unreachable endpoints to StoreUnavailable, refusals to AuthenticationFailed', () => {
    expect(classifyCredentialError(new AuthenticationError(503, 'down'))?.code).to.equal('StoreUnavailable');
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(
      classifyCredentialError(new CredentialUnavailableError('Network unreachable', { cause: refused }))
        ?.code,
    ).to.equal('StoreUnavailable');
    const invalid = new AuthenticationError(401, {
      error: 'invalid_client',
      error_description: 'AADSTS7000215: Invalid client secret provided.',
    });
    expect(classifyCredentialError(invalid)).to.deep.include({ code: 'AuthenticationFailed' });
    expect(classifyCredentialError(invalid)?.message).to.include('AADSTS7000215');
  });

  it('never repeats a token or secret from the error text', () => {
    const error = new AuthenticationError(400, {
      error: 'invalid_request',
      error_description: `bad assertion ${jwt} client_secret=hunter2 "access_token":"abc"`,
    });
    const message = classifyCredentialError(error)?.message ?? '';
    expect(message).to.not.include(jwt).and.not.include('hunter2').and.not.include('"abc"');
    expect(message).to.include('[redacted]');
  });
});
