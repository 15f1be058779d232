import {
  RestError,
  createHttpHeaders,
  createPipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import { keyVaultError, recoveryHint } from '../../../src/keyvault/errors.js';

const object = { objectType: 'secret', objectName: 'db', objectVersion: '' };
const prefix = 'failed to get objectType:secret, objectName:db, objectVersion:';
const noCredentialClass = () => undefined;
const now = Date.UTC(2026, 10, 22, 10, 0, 0);

function restError(status: number, message: string, headers: Record<string, string> = {}): RestError {
  const response = { status, headers: createHttpHeaders(headers), request: {} } as PipelineResponse;
  return new RestError(message, { statusCode: status, response });
}

describe('Key Vault errors', () => {
  const cases: [string, RestError, string, string][] = [
    [
      '404',
      restError(404, 'A secret with (name/id) db was not found in this key vault.'),
      'ObjectNotFound',
      'not-found',
    ],
    [
      '403',
      restError(403, 'Operation get is not allowed on a disabled secret.'),
      'AccessDenied',
      'permission-denied',
    ],
    ['401', restError(401, 'Unauthorized'), 'AccessDenied', 'permission-denied'],
    ['500', restError(500, 'Internal'), 'StoreUnavailable', 'unavailable'],
    ['400', restError(400, 'Bad version'), 'InvalidParameter', 'invalid-argument'],
  ];
  for (const [name, error, code, kind] of cases) {
    it(`maps ${name} with upstream's prefix and the status`, () => {
      const mapped = keyVaultError(error, object, 'kv.vault.azure.net', noCredentialClass, now);
      expect([mapped.code, mapped.kind]).to.deep.equal([code, kind]);
      expect(mapped.message).to.include(
        `${prefix}: Request information not available\n${'-'.repeat(80)}\nRESPONSE ${String(error.statusCode)}: `,
      );
      expect(mapped.message).to.include('ERROR CODE UNAVAILABLE');
      expect(mapped.message).to.include(error.message);
    });
  }

  it("reads as the Go SDK's ResponseError: method and URL, RESPONSE, ERROR CODE, vault and object (issue 12)", () => {
    const body = {
      error: {
        code: 'SecretNotFound',
        message: 'A secret with (name/id) db was not found in this key vault.',
      },
    };
    const request = createPipelineRequest({
      url: 'https://kv.vault.azure.net/secrets/db/?api-version=7.6',
      method: 'GET',
    });
    const response = {
      status: 404,
      headers: createHttpHeaders({}),
      request,
      bodyAsText: JSON.stringify(body),
    } as PipelineResponse;
    const error = new RestError(body.error.message, {
      statusCode: 404,
      code: 'SecretNotFound',
      request,
      response,
    });
    const mapped = keyVaultError(error, object, 'kv.vault.azure.net', noCredentialClass, now);
    expect(mapped.code).to.equal('ObjectNotFound');
    expect(mapped.message).to.equal(
      [
        `${prefix}: GET https://kv.vault.azure.net/secrets/db/`,
        '-'.repeat(80),
        'RESPONSE 404: 404 Not Found',
        'ERROR CODE: SecretNotFound',
        '-'.repeat(80),
        JSON.stringify(body, null, 2),
        '-'.repeat(80),
        '',
      ].join('\n'),
    );
  });

  it('says not found for a missing object listed for objectVersionHistory, not the paging text (issue 12)', () => {
    const request = createPipelineRequest({
      url: 'https://kv.vault.azure.net/secrets/db/versions?api-version=7.6',
      method: 'GET',
    });
    const response = { status: 404, headers: createHttpHeaders({}), request } as PipelineResponse;
    const error = new RestError('Pagination failed with unexpected statusCode 404', {
      statusCode: 404,
      request,
      response,
    });
    const mapped = keyVaultError(error, object, 'kv.vault.azure.net', noCredentialClass, now);
    expect(mapped.code).to.equal('ObjectNotFound');
    expect(mapped.message).not.to.include('Pagination failed');
    expect(mapped.message).to.include('A secret with (name/id) db was not found in this key vault.');
    expect(mapped.message).to.include('RESPONSE 404: 404 Not Found');
  });

  it('says Key Vault throttled the request and when it expects to recover', () => {
    const mapped = keyVaultError(
      restError(429, 'Too many', { 'retry-after': '30' }),
      object,
      'kv',
      noCredentialClass,
      now,
    );
    expect(mapped.code).to.equal('Throttled');
    expect(mapped.kind).to.equal('resource-exhausted');
    expect(mapped.message).to.equal(
      `${prefix}: Key Vault throttled the request (429 Too Many Requests) and retries ran out; Key Vault expects to accept requests again in 30s (at 2026-11-22T10:00:30Z)`,
    );
    expect(recoveryHint(undefined)).to.match(/named no time/);
  });

  it('names the vault host when it does not resolve', () => {
    const mapped = keyVaultError(
      new RestError('getaddrinfo ENOTFOUND', { code: 'ENOTFOUND' }),
      object,
      'nope.vault.azure.net',
      noCredentialClass,
    );
    expect(mapped.code).to.equal('ObjectNotFound');
    expect(mapped.message).to.equal(
      `${prefix}: the vault host nope.vault.azure.net does not resolve (ENOTFOUND); check keyvaultName and cloudName, and the node's DNS for private endpoints`,
    );
  });

  it('reports other connection failures as unavailable', () => {
    const mapped = keyVaultError(
      new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' }),
      object,
      'kv:1',
      noCredentialClass,
    );
    expect([mapped.code, mapped.message]).to.deep.equal([
      'StoreUnavailable',
      `${prefix}: Key Vault kv:1 could not be reached: connect ECONNREFUSED`,
    ]);
  });

  it('keeps the code of a provider error and adds the prefix', () => {
    const mapped = keyVaultError(
      new ProviderError('internal', 'InvalidContent', 'secret value is nil'),
      object,
      'kv',
      noCredentialClass,
    );
    expect([mapped.code, mapped.message]).to.deep.equal(['InvalidContent', `${prefix}: secret value is nil`]);
  });

  it('asks the credential classifier about other errors', () => {
    const classify = () => ({
      code: 'AuthenticationFailed' as const,
      message: 'Entra ID refused the client secret',
    });
    const mapped = keyVaultError(new Error('AADSTS7000215'), object, 'kv', classify);
    expect([mapped.code, mapped.message]).to.deep.equal([
      'AuthenticationFailed',
      `${prefix}: Entra ID refused the client secret`,
    ]);
  });

  it('reports a challenge resource that does not match the vault as a parameter problem', () => {
    const sdk = new Error(
      "The challenge resource 'vault.azurestack.example' does not match the requested domain. Set disableChallengeResourceVerification to true in your client options to disable.",
    );
    const mapped = keyVaultError(sdk, object, 'kv', noCredentialClass);
    expect([mapped.code, mapped.kind]).to.deep.equal(['InvalidParameter', 'invalid-argument']);
    expect(mapped.message).to.equal(
      `${prefix}: ${sdk.message} (for a custom cloud, set disableChallengeResourceVerification: "true" in the SecretProviderClass parameters)`,
    );
  });

  it('reports a cancelled call', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(keyVaultError(abort, object, 'kv', noCredentialClass).message).to.equal(
      `${prefix}: the mount was cancelled before Key Vault answered`,
    );
  });
});
