import { expect } from 'chai';
import * as directory from '../../src/index.js';

describe('the package entry point', () => {
  it('exports the provider and the objects reader', () => {
    expect(directory.PROVIDER_NAME).to.equal('directory');
    expect(directory.DirectoryProvider).to.be.a('function');
    expect(directory.parseObjects).to.be.a('function');
    expect(directory.directoryErrorCodes.objectNotFound).to.equal('ObjectNotFound');
  });

  it('exports the flag spec main parses (the chart tests parse rendered arguments with it)', () => {
    expect(directory.directoryProviderFlags['root-dir']).to.include({ type: 'string', default: '' });
  });
});
