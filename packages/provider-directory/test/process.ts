import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface ProviderProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first log line whose message is `message`. */
  waitForLog(message: string): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Runs the provider's main from source, as `node dist/main.js` runs in the image. */
export function startProviderProcess(args: readonly string[]): ProviderProcess {
  // Coverage off in the child (Node passes NODE_V8_COVERAGE on unless it is set): c8 cannot merge the block
  // coverage of a module loaded by two processes, so main.ts (only wiring) is left out of coverage and the
  // rest is measured in the test process.
  const child = spawn(process.execPath, ['--conditions=source', '--import=tsx', main, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_V8_COVERAGE: '' },
  });
  let stdout = '';
  let stderr = '';
  const logs: Record<string, unknown>[] = [];
  const waiters: { message: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  let pending = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue;
      }
      logs.push(line);
      for (const waiter of waiters.filter((candidate) => candidate.message === line.message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLog: (message) => {
      const seen = logs.find((line) => line.message === message);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Record<string, unknown>>((resolve) => waiters.push({ message, resolve })),
        exited.then((code) => {
          throw new Error(`the provider exited (${code}) before logging "${message}":\n${stderr}`);
        }),
      ]);
    },
  };
}
