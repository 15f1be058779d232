import { RestError, createHttpHeaders, type PipelineResponse } from '@azure/core-rest-pipeline';
import { expect } from 'chai';
import { backoffInMs, keyVaultRetryStrategy, retryAfterInMs } from '../../../src/keyvault/retry.js';

const settings = { maxRetries: 3, retryDelayInMs: 800, maxRetryDelayInMs: 60_000 };

function response(status: number, headers: Record<string, string> = {}): PipelineResponse {
  return { status, headers: createHttpHeaders(headers), request: {} as PipelineResponse['request'] };
}

describe('Key Vault retry strategy', () => {
  const strategy = keyVaultRetryStrategy({
    ...settings,
    random: () => 0.5,
    now: () => Date.UTC(2026, 10, 22),
  });

  it('reads Retry-After in seconds, as an HTTP date, and the millisecond headers', () => {
    const now = Date.UTC(2026, 10, 22, 10, 0, 0);
    expect(retryAfterInMs(response(429, { 'retry-after': '7' }), now)).to.equal(7000);
    expect(retryAfterInMs(response(429, { 'retry-after-ms': '250' }), now)).to.equal(250);
    expect(retryAfterInMs(response(429, { 'x-ms-retry-after-ms': '40' }), now)).to.equal(40);
    expect(retryAfterInMs(response(429, { 'retry-after': 'Sun, 22 Nov 2026 10:00:30 GMT' }), now)).to.equal(
      30_000,
    );
    expect(retryAfterInMs(response(429, { 'retry-after': 'soon' }), now)).to.equal(undefined);
    expect(retryAfterInMs(response(429), now)).to.equal(undefined);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffInMs(0, settings, () => 0)).to.equal(400);
    expect(backoffInMs(0, settings, () => 0.999)).to.be.closeTo(800, 1);
    expect(backoffInMs(2, settings, () => 0)).to.equal(1600);
    expect(backoffInMs(20, settings, () => 0)).to.equal(30_000);
    expect(backoffInMs(20, settings, () => 0.999)).to.be.at.most(60_000);
  });

  it('honours Retry-After (plus at most 20%) on 429, even without an error object', () => {
    const modifiers = strategy.retry({ retryCount: 0, response: response(429, { 'retry-after': '2' }) });
    expect(modifiers.retryAfterInMs).to.equal(2200);
  });

  it('retries 429 without Retry-After and 5xx with backoff', () => {
    expect(strategy.retry({ retryCount: 1, response: response(429) }).retryAfterInMs).to.equal(1200);
    expect(strategy.retry({ retryCount: 0, response: response(503) }).retryAfterInMs).to.equal(600);
    expect(strategy.retry({ retryCount: 0, response: response(500) }).retryAfterInMs).to.equal(600);
  });

  it('does not retry other statuses', () => {
    expect(strategy.retry({ retryCount: 0, response: response(404) })).to.deep.equal({ skipStrategy: true });
    expect(strategy.retry({ retryCount: 0, response: response(501) })).to.deep.equal({ skipStrategy: true });
    const forbidden = new RestError('denied', { statusCode: 403, response: response(403) });
    expect(
      strategy.retry({ retryCount: 0, response: response(403), responseError: forbidden }),
    ).to.deep.equal({
      errorToThrow: forbidden,
    });
  });

  it('gives up at once when Retry-After exceeds the longest wait', () => {
    expect(
      strategy.retry({ retryCount: 0, response: response(429, { 'retry-after': '3600' }) }),
    ).to.deep.equal({
      skipStrategy: true,
    });
  });

  it('retries connection failures but not other errors', () => {
    const refused = new RestError('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    expect(strategy.retry({ retryCount: 0, responseError: refused }).retryAfterInMs).to.equal(600);
    const odd = new RestError('parse failure', { code: 'PARSE_ERROR' });
    expect(strategy.retry({ retryCount: 0, responseError: odd })).to.deep.equal({ errorToThrow: odd });
  });
});
