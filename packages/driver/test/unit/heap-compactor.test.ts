import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';

const execFileAsync = promisify(execFile);

// core's test covers the V8 half (compactHeap); this one covers what the driver adds, glibc's malloc_trim.
describe("the driver's heap compaction", () => {
  it('gives back the C heap that freed buffers left behind, which a collection alone does not', async () => {
    // In a small fresh process: 40 MB of 2 kB buffers come from malloc's heap; one in ten stays alive, so
    // glibc cannot shrink the heap from its top when the rest are freed, and only malloc_trim returns the pages.
    const script = `
      import { readFileSync } from 'node:fs';
      import { compactHeap } from '@secrets-store-csi/core';
      import { trimMalloc } from ${JSON.stringify(new URL('../../src/heap-compactor.ts', import.meta.url).href)};
      const rssAnon = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const kept = [];
      let buffers = Array.from({ length: 20000 }, (_, i) => {
        const buffer = Buffer.allocUnsafeSlow(2000).fill(1);
        if (i % 10 === 0) kept.push(buffer);
        return buffer;
      });
      buffers = undefined;
      compactHeap();
      const collected = rssAnon();
      trimMalloc();
      const trimmed = rssAnon();
      console.log(JSON.stringify({ collected, trimmed, kept: kept.length }));
    `;
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--conditions=source', '--import=tsx', '--input-type=module', '-e', script],
      { env: { ...process.env, NODE_OPTIONS: '' } },
    );
    const result = JSON.parse(stdout) as { collected: number; trimmed: number; kept: number };
    expect(result.kept).to.equal(2000);
    expect(result.collected - result.trimmed).to.be.greaterThan(20 * 1024 * 1024);
  });
});
