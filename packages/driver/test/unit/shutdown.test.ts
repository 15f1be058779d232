import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { shutdownSignal } from '../../src/shutdown.js';

describe('shutdownSignal', () => {
  it('keeps a SIGTERM that arrives before it is awaited (while the driver starts)', async () => {
    const source = new EventEmitter();
    const stopping = shutdownSignal(source);
    source.emit('SIGTERM', 'SIGTERM');
    await new Promise((resolve) => setImmediate(resolve)); // the start-up work
    expect(await stopping).to.equal('SIGTERM');
  });

  it('resolves with the first of SIGTERM and SIGINT and leaves no listener behind', async () => {
    const source = new EventEmitter();
    const stopping = shutdownSignal(source);
    source.emit('SIGINT', 'SIGINT');
    source.emit('SIGTERM', 'SIGTERM');
    expect(await stopping).to.equal('SIGINT');
    expect(source.listenerCount('SIGTERM') + source.listenerCount('SIGINT')).to.equal(0);
  });
});
