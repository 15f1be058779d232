import { expect } from 'chai';
import { compactHeap, HeapCompactor, trimMalloc } from '../../src/heap-compactor.js';

const MIB = 1024 * 1024;

describe('HeapCompactor', () => {
  function compactor(heap = { committed: 24 * MIB, used: 12 * MIB }) {
    let now = 0;
    let compactions = 0;
    const c = new HeapCompactor({
      quietMs: 5_000,
      minSlackBytes: 4 * MIB,
      now: () => now,
      heap: () => heap,
      compact: () => {
        compactions++;
      },
    });
    return {
      c,
      heap,
      advance: (ms: number) => {
        now += ms;
      },
      compactions: () => compactions,
    };
  }

  it('compacts once the driver has been quiet after a call, and not again until the next call', () => {
    const w = compactor();
    const end = w.c.callStarted();
    w.advance(100);
    end();
    w.advance(4_999);
    expect(w.c.check()).to.equal(false);
    w.advance(1);
    expect(w.c.check()).to.equal(true);
    w.advance(60_000);
    expect(w.c.check()).to.equal(false);
    expect(w.compactions()).to.equal(1);
    w.c.callStarted()();
    w.advance(5_000);
    expect(w.c.check()).to.equal(true);
    expect(w.compactions()).to.equal(2);
  });

  it('never compacts before the first call (idle start-up) or while a call is in flight', () => {
    const w = compactor();
    w.advance(60_000);
    expect(w.c.check()).to.equal(false);
    const end = w.c.callStarted();
    w.advance(60_000);
    expect(w.c.check()).to.equal(false);
    end();
    w.advance(5_000);
    expect(w.c.check()).to.equal(true);
  });

  it('leaves a heap with little free space alone and tries again later', () => {
    const w = compactor({ committed: 14 * MIB, used: 12 * MIB });
    w.c.callStarted()();
    w.advance(5_000);
    expect(w.c.check()).to.equal(false);
    w.heap.committed = 20 * MIB;
    expect(w.c.check()).to.equal(true);
  });

  it('gives V8 heap pages back, and trims the C heap, in this process', () => {
    const emitWarning = Object.getOwnPropertyDescriptor(process, 'emitWarning')?.value as unknown;
    const before = process.memoryUsage().heapTotal;
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    const grown = process.memoryUsage().heapTotal;
    garbage = undefined;
    expect(garbage).to.equal(undefined);
    compactHeap();
    trimMalloc();
    expect(grown).to.be.greaterThan(before);
    expect(process.memoryUsage().heapTotal).to.be.lessThan(grown);
    // Node's experimental-API warning was held back, and process.emitWarning is the same function again.
    expect(Object.getOwnPropertyDescriptor(process, 'emitWarning')?.value).to.equal(emitWarning);
  });
});
