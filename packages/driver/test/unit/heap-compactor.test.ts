import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';

const execFileAsync = promisify(execFile);

describe("the driver's heap compaction", () => {
  it('gives V8 heap pages back and trims the C heap, without a warning (a small fresh process)', async () => {
    // A process of the driver's size: in this one (the whole suite, with coverage) a full collection of every
    // available garbage takes longer than a test should.
    const script = `
      import { compactHeapAndMalloc } from ${JSON.stringify(new URL('../../src/heap-compactor.ts', import.meta.url).href)};
      const emitWarning = Object.getOwnPropertyDescriptor(process, 'emitWarning')?.value;
      const before = process.memoryUsage().heapTotal;
      let garbage = Array.from({ length: 200000 }, (_, i) => ({ i, s: 'x' + i }));
      const grown = process.memoryUsage().heapTotal;
      garbage = undefined;
      compactHeapAndMalloc();
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
