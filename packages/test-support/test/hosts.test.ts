import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { mapHostsToLoopback, randomLoopbackAddress, removeStaleHostBlocks } from '../src/hosts.js';

const run = promisify(execFile);
const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const ORIGINAL = '127.0.0.1 localhost\n::1 localhost ip6-localhost\n';

describe('loopback host names in a hosts file (test infrastructure)', function () {
  let dir: string;
  let hostsPath: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hosts-test-'));
    hostsPath = join(dir, 'hosts');
    await writeFile(hostsPath, ORIGINAL);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs a process that maps a name in the scratch file, then ends as told: exit(3) or SIGKILL. */
  async function childThatMapsAndDies(how: 'exit' | 'kill'): Promise<void> {
    const script = join(dir, 'child.mts');
    await writeFile(
      script,
      [
        `import { mapHostsToLoopback } from ${JSON.stringify(join(packageDir, 'src/hosts.ts'))};`,
        `await mapHostsToLoopback(['crashed.vault.test'], { hostsPath: ${JSON.stringify(hostsPath)} });`,
        "process.stdout.write('mapped');",
        how === 'exit' ? 'process.exit(3);' : "process.kill(process.pid, 'SIGKILL');",
      ].join('\n'),
    );
    const outcome = await run(process.execPath, ['--import', 'tsx', script], { cwd: packageDir }).then(
      () => ({ code: 0, signal: null, stdout: '', stderr: '' }),
      (error: unknown) =>
        error as { code: number | null; signal: string | null; stdout: string; stderr: string },
    );
    expect(outcome, outcome.stderr).to.deep.include(
      how === 'exit' ? { code: 3, stdout: 'mapped' } : { signal: 'SIGKILL', stdout: 'mapped' },
    );
  }

  it('adds a tagged block and removes only its own', async () => {
    const a = await mapHostsToLoopback(['a.vault.test', 'b.vault.test'], { hostsPath });
    const b = await mapHostsToLoopback(['c.vault.test'], { hostsPath });
    const text = await readFile(hostsPath, 'utf8');
    expect(text.startsWith(ORIGINAL)).to.equal(true);
    expect(text).to.include('127.0.0.1 a.vault.test\n127.0.0.1 b.vault.test\n');
    expect(text).to.match(
      new RegExp(`# BEGIN secrets-store-csi-test-hosts pid=${process.pid} id=[0-9a-f]+\\n`),
    );
    await a.remove();
    const after = await readFile(hostsPath, 'utf8');
    expect(after).not.to.include('a.vault.test');
    expect(after).to.include('127.0.0.1 c.vault.test');
    await a.remove(); // twice is harmless
    await b.remove();
    expect(await readFile(hostsPath, 'utf8')).to.equal(ORIGINAL);
  });

  it('serializes concurrent edits with the lock so none is lost', async () => {
    const mappings = await Promise.all(
      Array.from({ length: 20 }, (_, i) => mapHostsToLoopback([`n${i}.vault.test`], { hostsPath })),
    );
    const text = await readFile(hostsPath, 'utf8');
    for (let i = 0; i < 20; i++) expect(text).to.include(`127.0.0.1 n${i}.vault.test\n`);
    await Promise.all(mappings.map((m) => m.remove()));
    expect(await readFile(hostsPath, 'utf8')).to.equal(ORIGINAL);
    const lock = await stat(`${hostsPath}.secrets-store-csi.lock`).catch((error: unknown) => error);
    expect((lock as NodeJS.ErrnoException).code).to.equal('ENOENT');
  });

  it('breaks a lock left by a crashed process once it is stale, and waits for a fresh one', async () => {
    const lock = `${hostsPath}.secrets-store-csi.lock`;
    await mkdir(lock);
    const old = new Date(Date.now() - 60_000);
    await utimes(lock, old, old);
    const mapping = await mapHostsToLoopback(['stale.vault.test'], { hostsPath });
    await mapping.remove();

    await mkdir(lock);
    try {
      await mapHostsToLoopback(['blocked.vault.test'], { hostsPath, lockTimeoutMs: 200 });
      expect.fail('should have waited for the lock and given up');
    } catch (error) {
      expect((error as Error).message).to.include('timed out waiting for the lock');
    }
    expect(await readFile(hostsPath, 'utf8')).to.equal(ORIGINAL);
  });

  it('removes its blocks when the process exits without calling remove()', async () => {
    await childThatMapsAndDies('exit');
    expect(await readFile(hostsPath, 'utf8')).to.equal(ORIGINAL);
  });

  it('drops the blocks of processes killed outright (removeStaleHostBlocks and the next edit)', async () => {
    await childThatMapsAndDies('kill');
    expect(await readFile(hostsPath, 'utf8')).to.include('crashed.vault.test');
    const mine = await mapHostsToLoopback(['alive.vault.test'], { hostsPath });
    expect(await readFile(hostsPath, 'utf8')).not.to.include('crashed.vault.test');
    await mine.remove();

    await childThatMapsAndDies('kill');
    const keep = await mapHostsToLoopback(['keep.vault.test'], { hostsPath });
    // The next edit already dropped it; plant one more dead block by hand to count a removal.
    await writeFile(
      hostsPath,
      `${await readFile(hostsPath, 'utf8')}# BEGIN secrets-store-csi-test-hosts pid=999999999 id=abc\n127.0.0.1 dead.vault.test\n# END secrets-store-csi-test-hosts pid=999999999 id=abc\n`,
    );
    expect(await removeStaleHostBlocks({ hostsPath })).to.equal(1);
    const text = await readFile(hostsPath, 'utf8');
    expect(text).not.to.include('dead.vault.test');
    expect(text).to.include('keep.vault.test');
    await keep.remove();
    expect(await readFile(hostsPath, 'utf8')).to.equal(ORIGINAL);
  });

  it('rewrites a bind-mounted hosts file in place, as rename over a mount point fails', async function () {
    const source = join(dir, 'hosts.source');
    await writeFile(source, ORIGINAL);
    try {
      await run('mount', ['--bind', source, hostsPath]);
    } catch {
      this.skip(); // needs root and mount(8)
    }
    try {
      const inode = (await stat(hostsPath)).ino;
      const mapping = await mapHostsToLoopback(['bound.vault.test'], { hostsPath });
      expect(await readFile(source, 'utf8')).to.include('127.0.0.1 bound.vault.test');
      expect((await stat(hostsPath)).ino).to.equal(inode);
      await mapping.remove();
      expect(await readFile(source, 'utf8')).to.equal(ORIGINAL);
    } finally {
      await run('umount', [hostsPath]);
    }
  });

  it('refuses what is not a host name', async () => {
    try {
      await mapHostsToLoopback(['bad name\n0.0.0.0 evil'], { hostsPath });
      expect.fail('should have refused');
    } catch (error) {
      expect((error as Error).message).to.include('not a host name');
    }
  });

  it('makes a name resolve to 127.0.0.1 through the real /etc/hosts, and stops resolving after remove()', async () => {
    const name = `sscsi-${randomBytes(4).toString('hex')}.hosts.test`;
    const before = await readFile('/etc/hosts', 'utf8');
    const mapping = await mapHostsToLoopback([name]);
    expect(await lookup(name, { family: 4 })).to.deep.equal({ address: '127.0.0.1', family: 4 });
    await mapping.remove();
    try {
      await lookup(name, { family: 4 });
      expect.fail(`${name} still resolves`);
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).to.equal('ENOTFOUND');
    }
    const after = await readFile('/etc/hosts', 'utf8');
    expect(after).not.to.include(name);
    expect(after.split('\n')[0]).to.equal(before.split('\n')[0]);
  });

  it('maps names to another loopback address, and refuses what is not one', async () => {
    const address = randomLoopbackAddress();
    expect(address).to.match(/^127\.([1-9]\d?|1\d\d|2[0-4]\d|25[0-4])\.\d{1,3}\.\d{1,3}$/);
    const mapping = await mapHostsToLoopback(['other.vault.test'], { hostsPath, address });
    expect(await readFile(hostsPath, 'utf8')).to.include(`${address} other.vault.test\n`);
    await mapping.remove();
    try {
      await mapHostsToLoopback(['x.vault.test'], { hostsPath, address: '10.0.0.1' });
      expect.fail('should have refused');
    } catch (error) {
      expect((error as Error).message).to.include('not an IPv4 loopback address');
    }
  });

  // Two test processes serving one fixed name (login.microsoftonline.com) on different addresses must not both
  // map it: a resolver would answer either, and a client would reach the other process's server.
  it('waits while a live mapping holds a name on another address, and maps it once that is removed', async () => {
    const first = await mapHostsToLoopback(['login.example.test'], { hostsPath, address: '127.1.2.3' });
    const same = await mapHostsToLoopback(['login.example.test'], { hostsPath, address: '127.1.2.3' });
    let settled = false;
    const second = mapHostsToLoopback(['login.example.test'], { hostsPath, address: '127.4.5.6' }).finally(
      () => {
        settled = true;
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).to.equal(false);
    expect(await readFile(hostsPath, 'utf8')).not.to.include('127.4.5.6');
    await first.remove();
    await same.remove();
    const mapping = await second;
    expect(await readFile(hostsPath, 'utf8')).to.include('127.4.5.6 login.example.test');
    await mapping.remove();
    try {
      const blocker = await mapHostsToLoopback(['login.example.test'], { hostsPath, address: '127.1.2.3' });
      try {
        await mapHostsToLoopback(['login.example.test'], {
          hostsPath,
          address: '127.4.5.6',
          conflictTimeoutMs: 100,
        });
        expect.fail('should have given up');
      } finally {
        await blocker.remove();
      }
    } catch (error) {
      expect((error as Error).message).to.include('login.example.test is mapped to 127.1.2.3');
    }
  });
});
