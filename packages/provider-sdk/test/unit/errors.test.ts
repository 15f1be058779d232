import { CodedError } from '@secrets-store-csi/core';
import { StatusCode } from '@secrets-store-csi/protocol/wire';
import { expect } from 'chai';
import { ProviderError, isProviderError } from '../../src/errors.js';
import { ERROR_CODE_METADATA_KEY, grpcStatusFor } from '../../src/serve.js';

describe('ProviderError', () => {
  it('is a CodedError with a kind', () => {
    const error = new ProviderError('not-found', 'ObjectNotFound', 'object "a" not found', { cause: 'x' });
    expect(error).to.be.instanceOf(CodedError);
    expect([error.name, error.kind, error.code, error.message, error.cause]).to.deep.equal([
      'ProviderError',
      'not-found',
      'ObjectNotFound',
      'object "a" not found',
      'x',
    ]);
  });

  it('is recognised by its name, code and kind', () => {
    expect(isProviderError(new ProviderError('internal', 'X', 'x'))).to.equal(true);
    expect(isProviderError(new CodedError('X', 'x'))).to.equal(false);
    expect(
      isProviderError(Object.assign(new Error('x'), { name: 'ProviderError', code: 'X', kind: 'odd' })),
    ).to.equal(false);
    expect(isProviderError({ name: 'ProviderError', code: 'X', kind: 'internal' })).to.equal(false);
  });
});

describe('grpcStatusFor', () => {
  it('maps a kind to its status and carries the code in trailing metadata', () => {
    const status = grpcStatusFor(new ProviderError('unavailable', 'KeyVaultUnavailable', 'try later'));
    expect(status.code).to.equal(StatusCode.UNAVAILABLE);
    expect(status.details).to.equal('try later');
    expect(status.metadata).to.deep.equal({ [ERROR_CODE_METADATA_KEY]: 'KeyVaultUnavailable' });
  });

  it('maps anything else to Unknown, with a code only when the error has one', () => {
    const coded = grpcStatusFor(new CodedError('MountFailed', 'boom'));
    expect([coded.code, coded.details, coded.metadata[ERROR_CODE_METADATA_KEY]]).to.deep.equal([
      StatusCode.UNKNOWN,
      'boom',
      'MountFailed',
    ]);
    const plain = grpcStatusFor('text');
    expect([plain.code, plain.details, plain.metadata[ERROR_CODE_METADATA_KEY]]).to.deep.equal([
      StatusCode.UNKNOWN,
      'text',
      undefined,
    ]);
  });
});
