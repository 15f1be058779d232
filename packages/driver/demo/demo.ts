/**
 * `pnpm demo`: the whole system on one machine, no cluster. Copies examples/standalone/store to a temporary
 * directory, serves it with the directory provider, publishes examples/standalone/secretproviderclass.yaml
 * with the driver's standalone mode (a real tmpfs when run as root), changes a file in the store, and shows
 * the rotation arrive in the mounted volume. Everything it started or mounted is gone when it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
/** The driver package, whose node_modules has tsx for running the TypeScript sources. */
const driverPackage = fileURLToPath(new URL('../', import.meta.url));
const example = join(repo, 'examples', 'standalone');

function start(name: string, args: string[], onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--conditions=source', '--import=tsx', ...args], {
    cwd: driverPackage,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buffer = '';
  const read = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  };
  child.stdout.on('data', read);
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').trimEnd().split('\n'))
      process.stdout.write(`  [${name}] ${line}\n`);
  });
  return child;
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGINT');
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sscsi-demo-'));
  const store = join(dir, 'store');
  const target = join(dir, 'volume');
  const socket = join(dir, 'providers', 'directory.sock');
  await cp(join(example, 'store'), store, { recursive: true });
  await mkdir(join(dir, 'providers'));
  const children: ChildProcess[] = [];
  const driverLines: string[] = [];
  try {
    console.log(`1. The store is ${store}; the directory provider serves it on ${socket}.`);
    children.push(
      start(
        'provider',
        [
          join(repo, 'packages/provider-directory/src/main.ts'),
          `--root-dir=${store}`,
          `--endpoint=unix://${socket}`,
          '--healthz-port=0',
          '--prometheus-port=0',
        ],
        () => undefined,
      ),
    );
    await until(
      () =>
        stat(socket).then(
          () => true,
          () => false,
        ),
      'the provider socket',
    );

    console.log(`2. The driver publishes ${join(example, 'secretproviderclass.yaml')} into ${target}:`);
    const driver = start(
      'driver',
      [
        join(driverPackage, 'src/main.ts'),
        'standalone',
        `--spc=${join(example, 'secretproviderclass.yaml')}`,
        `--target=${target}`,
        `--provider-volume=${join(dir, 'providers')}`,
        '--rotation-poll-interval=2s',
      ],
      (line) => {
        driverLines.push(line);
        console.log(`   ${line}`);
      },
    );
    children.push(driver);
    await until(() => driverLines.some((l) => l.startsWith('refreshing every')), 'the first mount');
    console.log(
      `   The volume now holds: ${(await readFile(join(target, 'db-password'), 'utf8')).length}-byte db-password`,
    );

    console.log('3. A new password is written to the store; the driver picks it up at its next refresh:');
    await writeFile(join(store, 'db', 'password'), 'tr0ub4dor&3-rotated');
    await until(() => driverLines.some((l) => l.startsWith('rotated:')), 'the rotation', 20_000);
    const rotated = await readFile(join(target, 'db-password'), 'utf8');
    console.log(
      `   The mounted db-password changed (now ${rotated.length} bytes; read it under ${target} while it runs).`,
    );

    console.log('4. Stopping: the driver unpublishes (unmounts) the volume.');
    await stopped(driver);
    await until(
      () =>
        stat(target).then(
          () => false,
          () => true,
        ),
      'the volume to be removed',
      10_000,
    );
    console.log('Done.');
  } finally {
    for (const child of children.reverse()) await stopped(child);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
