import { expect } from 'chai';
import { podStatusName, sortObjectVersions } from '../../../src/spc/index.js';

describe('podStatusName', () => {
  it('is <pod>-<namespace>-<class> as upstream names it', () => {
    expect(podStatusName('web-0', 'default', 'azure-kvname')).to.equal('web-0-default-azure-kvname');
  });

  it('stays a valid, unique name of at most 253 characters when the parts are long', () => {
    const pod = 'p'.repeat(200);
    const a = podStatusName(pod, 'namespace-a', 'c'.repeat(60));
    const b = podStatusName(pod, 'namespace-b', 'c'.repeat(60));
    expect(a.length).to.be.at.most(253);
    expect(a).to.match(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    expect(a).not.to.equal(b);
    expect(podStatusName(pod, 'namespace-a', 'c'.repeat(60))).to.equal(a);
  });

  it('keeps a name of exactly 253 characters unchanged', () => {
    const pod = 'p'.repeat(253 - '-ns-spc'.length);
    expect(podStatusName(pod, 'ns', 'spc')).to.equal(`${pod}-ns-spc`);
  });
});

describe('sortObjectVersions', () => {
  it('orders by id without changing the input', () => {
    const input = [
      { id: 'secret/b', version: '1' },
      { id: 'cert/a', version: '2' },
      { id: 'secret/a', version: '3' },
    ];
    expect(sortObjectVersions(input).map((o) => o.id)).to.deep.equal(['cert/a', 'secret/a', 'secret/b']);
    expect(input[0]?.id).to.equal('secret/b');
  });
});
