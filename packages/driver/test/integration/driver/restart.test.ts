/**
 * A driver restart (a DaemonSet rollout) with volumes mounted: the volumes stay mounted and readable while the
 * driver is down, and the new process refreshes and unpublishes volumes the old one mounted, from what is on
 * disk alone.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROTATION_DUE_AFTER_MS, isMounted, volumeOf, useDriverFixture } from '../support.js';

describe('the driver process restarted with volumes mounted', function () {
  this.timeout(60_000);
  const fixture = useDriverFixture('restart');

  it('keeps volumes mounted across a SIGTERM restart, then refreshes and unpublishes them with the new process', async () => {
    const file = join(fixture().directoryRoot, 'survivor');
    await writeFile(file, 'before');
    await fixture().directorySpc('survivor', [{ objectName: 'survivor' }]);
    const pod = await fixture().runPod('survivor', [
      { name: 'first', spc: 'survivor' },
      { name: 'second', spc: 'survivor' },
    ]);
    const first = volumeOf(pod, 'first').targetPath;
    const second = volumeOf(pod, 'second').targetPath;
    expect(pod.volumes.map((v) => v.lastResult?.ok)).to.deep.equal([true, true]);
    const oldPid = fixture().driver.process.pid;

    await fixture().restartDriver(async () => {
      expect(await fixture().driver.process.exited).to.equal(0);
      // nothing is unmounted on shutdown: pods keep reading their files while the driver is away
      expect(await isMounted(first)).to.equal(true);
      expect(await isMounted(second)).to.equal(true);
      expect(await readFile(join(first, 'survivor'), 'utf8')).to.equal('before');
      await writeFile(file, 'after');
      // the new process knows the volumes only from disk: make sure they are older than the interval
      const mountedAt = (await stat(first)).mtimeMs;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, mountedAt + ROTATION_DUE_AFTER_MS - Date.now())),
      );
    });
    expect(fixture().driver.process.pid).to.not.equal(oldPid);

    await fixture().republishUntil(
      pod,
      async () =>
        (await readFile(join(first, 'survivor'), 'utf8')) === 'after' &&
        (await readFile(join(second, 'survivor'), 'utf8')) === 'after',
      'both volumes to be refreshed by the new driver process',
    );
    const status = await fixture().podStatus(`survivor-${fixture().namespace}-survivor`);
    expect(status.status.mounted).to.equal(true);

    const result = await fixture().kubelet.deletePod(pod);
    expect(result.podDeleted).to.equal(true);
    expect(result.volumes.map((v) => [v.name, v.result.ok])).to.have.deep.members([
      ['first', true],
      ['second', true],
    ]);
    expect(await isMounted(first)).to.equal(false);
    expect(await isMounted(second)).to.equal(false);
    expect(await stat(first).catch(() => undefined)).to.equal(undefined);
    expect(await fixture().metric('node_unpublish_total')).to.equal(2);
  });
});
