import { expect } from 'chai';
import {
  apiFailure,
  forbiddenError,
  isAlreadyExists,
  isConflict,
  isNotFound,
} from '../../../src/kube/api-errors.js';
import { apiException } from './helpers.js';

describe('apiFailure', () => {
  it('reads the status, reason and message of an ApiException whose body is JSON text', () => {
    const failure = apiFailure(apiException(404, 'NotFound', 'secrets "db" not found'));
    expect(failure).to.deep.equal({ status: 404, reason: 'NotFound', message: 'secrets "db" not found' });
    expect(isNotFound(failure)).to.equal(true);
  });

  it('tells AlreadyExists from Conflict, both 409', () => {
    const exists = apiFailure(apiException(409, 'AlreadyExists', 'already exists'));
    const conflict = apiFailure(apiException(409, 'Conflict', 'the object has been modified'));
    expect([isAlreadyExists(exists), isConflict(exists)]).to.deep.equal([true, false]);
    expect([isAlreadyExists(conflict), isConflict(conflict)]).to.deep.equal([false, true]);
  });

  it('reads a watch error (statusCode) and a watch ERROR event (a Status object)', () => {
    expect(apiFailure(Object.assign(new Error('Gone'), { statusCode: 410 }))).to.deep.equal({
      status: 410,
      message: 'the API server answered HTTP 410',
    });
    expect(
      apiFailure({ kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' }),
    ).to.deep.equal({ status: 410, reason: 'Expired', message: 'too old resource version' });
  });

  it('keeps a transport error message and never the headers dump of ApiException.message', () => {
    expect(apiFailure(new TypeError('fetch failed'))).to.deep.equal({ message: 'fetch failed' });
    const failure = apiFailure(apiException(500, 'InternalError', 'etcd is down'));
    expect(failure.message).to.equal('etcd is down');
  });

  it('builds a KubernetesForbidden error naming the verb, the resource and the RBAC role', () => {
    const error = forbiddenError(
      'get',
      'secrets',
      'app',
      apiFailure(apiException(403, 'Forbidden', 'secrets "db" is forbidden: User "x" cannot get resource')),
      'Hint.',
    );
    expect(error.code).to.equal('KubernetesForbidden');
    expect(error.message).to.equal(
      `the driver's RBAC role does not allow it to get secrets in namespace app: ` +
        'secrets "db" is forbidden: User "x" cannot get resource. Hint.',
    );
  });
});
