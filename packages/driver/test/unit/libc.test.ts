import { expect } from 'chai';
import { loadLibc } from '../../src/libc.js';

describe('loadLibc', () => {
  it('loads the C library once for the whole process', () => {
    expect(loadLibc()).to.equal(loadLibc());
  });

  it('calls a function of the C library by its prototype', () => {
    const getpid = loadLibc().func('int getpid()');
    expect(getpid()).to.equal(process.pid);
  });
});
