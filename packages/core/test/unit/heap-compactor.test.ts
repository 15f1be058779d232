import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { HeapCompactor } from '../../src/heap-compactor.js';

const MIB = 1024 * 1024;
const execFileAsync = promisify(execFile);

/**
 * The generic heap compactor (core): when it compacts, and that a compaction gives V8 pages back.
 */
describe('HeapCompactor', () => {
  function compactor(grownBy = 10 * MIB) {
    let now = 0;
    let compactions = 0;
    const heap = { committed: 13 * MIB };
    const c = new HeapCompactor({
      quietMs: 5_000,
      minGrowthBytes: 4 * MIB,
      now: () => now,
      committedHeap: () => heap.committed,
      compact: () => {
        compactions++;
        heap.committed = 13 * MIB;
      },
    });
    heap.committed += grownBy;
    return {
      c,
      heap,
      advance: (ms: number) => {
        now += ms;
      },
      compactions: () => compactions,
    };
  }

  it('compacts once the process has been quiet after a call, and not again until the next call', () => {
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
    w.heap.committed += 8 * MIB;
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

  it('leaves a heap that has not grown much alone and tries again later', () => {
    const w = compactor(2 * MIB);
    w.c.callStarted()();
    w.advance(5_000);
    expect(w.c.check()).to.equal(false);
    w.heap.committed += 3 * MIB;
    expect(w.c.check()).to.equal(true);
  });

  it('gives V8 heap pages back, without a warning (a small fresh process)', async () => {
    // A small process: in this one (the whole suite, with coverage) a full collection of every
    // available garbage takes longer than a test should.
    const script = `
      import { compactHeap } from ${JSON.stringify(new URL('../../src/heap-compactor.ts', import.meta.url).href)};
      const emitWarning = Object.getOwnPropertyDescriptor(process, 'emitWarning')?.value;
      const before = process.memoryUsage().heapTotal;
      let garbage = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'x' + i }));
      const grown = process.memoryUsage().heapTotal;
      garbage = undefined;
      compactHeap();
      const after = process.memoryUsage().heapTotal;
      const restored = Object.getOwnPropertyDescriptor(process, 'emitWarning')?.value === emitWarning;
      console.log(JSON.stringify({ before, grown, after, restored, dropped: garbage === undefined }));
    `;
    const { stdout, stderr } = await execFileAsync(
      process.execPath,
      ['--conditions=source', '--import=tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, NODE_OPTIONS: '' } },
    );
    const result = JSON.parse(stdout) as {
      before: number;
      grown: number;
      after: number;
      restored: boolean;
    };
    expect(result.grown).to.be.greaterThan(result.before);
    expect(result.after).to.be.lessThan(result.grown);
    expect(result.restored).to.equal(true);
    // Node's experimental-API warning for v8.queryObjects is held back.
    expect(stderr).to.not.include('ExperimentalWarning');
  });
});
