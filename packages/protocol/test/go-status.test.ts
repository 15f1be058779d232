import { expect } from 'chai';
import { goCodeName, goStatusText } from '../src/index.js';

describe('Go status texts', () => {
  it('names codes as Go does, including the ends of the range', () => {
    expect([0, 2, 3, 14, 16].map(goCodeName)).to.deep.equal([
      'OK',
      'Unknown',
      'InvalidArgument',
      'Unavailable',
      'Unauthenticated',
    ]);
  });

  it('writes an unknown code as Go does', () => {
    expect(goCodeName(17)).to.equal('Code(17)');
  });

  it('writes a status error as Go does', () => {
    expect(goStatusText(3, 'Volume ID missing in request')).to.equal(
      'rpc error: code = InvalidArgument desc = Volume ID missing in request',
    );
  });
});
