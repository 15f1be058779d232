/**
 * Starting and stopping the test world's servers. Every process started here is registered, so it is stopped
 * when the test run ends, fails or is interrupted (Ctrl-C), and readiness is polled, never slept on.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for error messages. */
  tail(lines?: number): Promise<string>;
}

const running = new Set<ManagedProcess>();

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Shown when the command cannot be found, e.g. "install Go 1.26+ and run scripts/test-world/build.sh". */
  readonly installHint?: string;
}

export async function startProcess(options: StartOptions): Promise<ManagedProcess> {
  const log = createWriteStream(options.logPath, { flags: 'a' });
  const child: ChildProcess = spawn(options.command, [...options.args], {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => {
      reject(
        explainMissingTool(
          error,
          options.command,
          options.installHint ?? 'see docs/testing.md',
          [options.command, ...options.args].join(' '),
        ),
      );
    });
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
  const managed: ManagedProcess = {
    name: options.name,
    pid: child.pid ?? -1,
    logPath: options.logPath,
    exited,
    async stop(graceMs = 10_000) {
      running.delete(managed);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
    async tail(lines = 20) {
      const text = await readFile(options.logPath, 'utf8').catch(() => '');
      return text.split('\n').slice(-lines).join('\n');
    },
  };
  running.add(managed);
  return managed;
}

/** Stops every process still running, newest first. */
export async function stopAllProcesses(): Promise<void> {
  for (const managed of [...running].reverse()) await managed.stop(5_000);
}

let exitHooksInstalled = false;
/** Kills what is left on Ctrl-C or an unexpected exit, so no server outlives the test run. */
export function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const killAll = () => {
    for (const managed of running) {
      try {
        process.kill(managed.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

export interface WaitOptions {
  readonly description: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** When this process exits first, fail at once with its log. */
  readonly process?: ManagedProcess;
}

/** Polls `check` until it returns true; on timeout the error says what was awaited and shows the log. */
export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let exitCode: number | null | undefined;
  void options.process?.exited.then((code) => (exitCode = code));
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined && options.process) {
      throw new Error(
        `${options.process.name} exited (code ${exitCode}) before ${options.description}; last log lines:\n${await options.process.tail()}`,
      );
    }
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
  const log = options.process
    ? `\nlast log lines of ${options.process.name}:\n${await options.process.tail()}`
    : '';
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out waiting for ${options.description}${cause}${log}`);
}

/** Turns ENOENT from spawning a tool into a message that says what to install and what was tried. */
export function explainMissingTool(error: unknown, tool: string, installHint: string, tried: string): Error {
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    return new Error(`${tool} not found: ${installHint} (tried: ${tried})`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Leaves a socket file at `path` that no process listens on, as a provider killed with SIGKILL does. */
export function leaveStaleSocket(path: string): Promise<void> {
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], () => {
      resolve();
    });
  });
}
