import { expect } from 'chai';
import { CodedError, isCodedError } from '../../src/errors.js';

describe('CodedError', () => {
  it('carries a stable code, a message and a cause', () => {
    const cause = new Error('socket closed');
    const error = new CodedError('ProviderNotFound', 'provider "azure" not found', { cause });
    expect(error.code).to.equal('ProviderNotFound');
    expect(error.message).to.equal('provider "azure" not found');
    expect(error.cause).to.equal(cause);
    expect(error).to.be.instanceOf(Error);
  });

  it('is recognised by isCodedError, plain errors and non-errors are not', () => {
    expect(isCodedError(new CodedError('X', 'x'))).to.equal(true);
    expect(isCodedError(Object.assign(new Error('e'), { code: 'ENOENT' }))).to.equal(true);
    expect(isCodedError(new Error('plain'))).to.equal(false);
    expect(isCodedError({ code: 'X', message: 'not an Error' })).to.equal(false);
    expect(isCodedError(Object.assign(new Error('numeric'), { code: 5 }))).to.equal(false);
  });
});
