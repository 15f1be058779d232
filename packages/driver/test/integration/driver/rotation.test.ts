/**
 * Rotation with the driver as a process: kubelet's republish calls (the CSIDriver requires republish) refresh
 * a mounted volume once `--rotation-poll-interval` has passed, the synced Secret follows, a failed refresh keeps
 * the mounted content, and the metrics endpoint counts each of these.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'chai';
import { isMounted, volumeOf, useDriverFixture } from '../support.js';

const decode = (base64: string | undefined) => Buffer.from(base64 ?? '', 'base64').toString('utf8');

describe('the driver process refreshing mounted volumes', function () {
  this.timeout(60_000);
  const fixture = useDriverFixture('rotation');

  it('rotates the mounted file and the synced Secret on a republish after the interval, with a MountRotationComplete event', async () => {
    const file = join(fixture().directoryRoot, 'rotating');
    await writeFile(file, 'one');
    await fixture().directorySpc(
      'rotating',
      [{ objectName: 'rotating' }],
      [{ secretName: 'rotating', type: 'Opaque', data: [{ objectName: 'rotating', key: 'value' }] }],
    );
    const pod = await fixture().runPod('rotated', [{ name: 'secrets', spc: 'rotating' }]);
    const target = volumeOf(pod).targetPath;
    expect(volumeOf(pod).lastResult).to.deep.include({ ok: true });
    expect(await readFile(join(target, 'rotating'), 'utf8')).to.equal('one');
    expect(decode((await fixture().secret('rotating')).data?.value)).to.equal('one');

    await writeFile(file, 'two');
    await fixture().republishUntil(
      pod,
      async () => (await readFile(join(target, 'rotating'), 'utf8')) === 'two',
      'the mounted file to show the new content',
    );
    expect(decode((await fixture().secret('rotating')).data?.value)).to.equal('two');
    const event = await fixture().waitForEvent('rotated', 'Normal', 'MountRotationComplete');
    expect(event.message).to.equal(
      `successfully rotated mounted contents for spc ${fixture().namespace}/rotating`,
    );
    expect(event.involvedObject.uid).to.equal(pod.pod.metadata?.uid);
    const status = await fixture().podStatus(`rotated-${fixture().namespace}-rotating`);
    expect(status.status.conditions?.find((c) => c.type === 'Refreshed')).to.deep.include({
      status: 'True',
      reason: 'ContentChanged',
    });
  });

  it('keeps the mounted content when a refresh fails, answers the republish with success, and records MountRotationFailed', async () => {
    const file = join(fixture().directoryRoot, 'vanishing');
    await writeFile(file, 'still-here');
    await fixture().directorySpc('vanishing', [{ objectName: 'vanishing' }]);
    const pod = await fixture().runPod('kept', [{ name: 'secrets', spc: 'vanishing' }]);
    const target = volumeOf(pod).targetPath;
    expect(volumeOf(pod).lastResult).to.deep.include({ ok: true });

    await rm(file);
    const before = await fixture().metric('rotation_reconcile_error_total', { provider: 'directory' });
    await fixture().republishUntil(
      pod,
      async () =>
        (await fixture().metric('rotation_reconcile_error_total', { provider: 'directory' })) > before,
      'a failed refresh',
    );
    expect(volumeOf(pod, 'secrets').state).to.equal('mounted');
    expect(await isMounted(target)).to.equal(true);
    expect(await readFile(join(target, 'vanishing'), 'utf8')).to.equal('still-here');
    const event = await fixture().waitForEvent('kept', 'Warning', 'MountRotationFailed');
    expect(event.message).to.equal(
      `failed to mount secrets store objects for pod ${fixture().namespace}/kept, err: rpc error: code = NotFound ` +
        'desc = failed to mount objects, error: object "vanishing" not found',
    );
    const status = await fixture().podStatus(`kept-${fixture().namespace}-vanishing`);
    expect(status.status.mounted).to.equal(true);
    expect(status.status.conditions?.find((c) => c.type === 'Refreshed')).to.deep.include({
      status: 'False',
      reason: 'GRPCProviderError',
    });
  });

  it('counts publishes, failures, unpublishes and rotations on the metrics endpoint as they happened', async () => {
    const counters = async () => ({
      published: await fixture().metric('node_publish_total', { provider: 'directory' }),
      // a republish before the interval answers at once, before the class (and its provider) is read
      notDue: await fixture().metric('node_publish_total', { provider: '' }),
      publishedFake: await fixture().metric('node_publish_total', { provider: 'fake' }),
      failed: await fixture().metric('node_publish_error_total'),
      failedFake: await fixture().metric('node_publish_error_total', {
        provider: 'fake',
        error_type: 'GRPCProviderError',
      }),
      unpublished: await fixture().metric('node_unpublish_total'),
      unpublishFailed: await fixture().metric('node_unpublish_error_total'),
      rotated: await fixture().metric('rotation_reconcile_total', { provider: 'directory', rotated: 'true' }),
      rotationFailed: await fixture().metric('rotation_reconcile_error_total'),
    });
    const file = join(fixture().directoryRoot, 'counted');
    await writeFile(file, 'a');
    await fixture().directorySpc('counted', [{ objectName: 'counted' }]);
    await fixture().createSpc('failing', { provider: 'fake', parameters: { any: 'thing' } });
    fixture().fake.fails(new Error('backend exploded'));
    const start = await counters();
    expect(await fixture().driver.metrics()).to.satisfy((samples: { labels: Record<string, string> }[]) =>
      samples.some((s) => s.labels.os_type === 'linux'),
    );

    const pod = await fixture().runPod('counted', [{ name: 'secrets', spc: 'counted' }]);
    expect(volumeOf(pod).lastResult).to.deep.include({ ok: true });
    const failing = await fixture().runPod('failing', [{ name: 'secrets', spc: 'failing' }]);
    expect(volumeOf(failing).lastResult).to.deep.include({ ok: false });
    await writeFile(file, 'b');
    const republishes = await fixture().republishUntil(
      pod,
      async () => (await readFile(join(volumeOf(pod).targetPath, 'counted'), 'utf8')) === 'b',
      'the rotated content',
    );
    await fixture().kubelet.deletePod(pod);
    await fixture().kubelet.deletePod(failing);

    expect(await counters()).to.deep.equal({
      // the first mount and the one refresh; the other republishes came before the interval
      published: start.published + 2,
      notDue: start.notDue + republishes - 1,
      publishedFake: start.publishedFake,
      failed: start.failed + 1,
      failedFake: start.failedFake + 1,
      // the failed volume was never mounted: kubelet does not unpublish it
      unpublished: start.unpublished + 1,
      unpublishFailed: start.unpublishFailed,
      rotated: start.rotated + 1,
      rotationFailed: start.rotationFailed,
    });
  });
});
