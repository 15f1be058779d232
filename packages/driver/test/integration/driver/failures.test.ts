/**
 * Failed first mounts with the driver as a process: a provider error, a provider answering a path that
 * leaves the volume, and a response over `--max-call-recv-msg-size`. Each fails the NodePublishVolume call
 * with upstream's words and leaves nothing mounted or written.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { waitUntil, type KubeletResult } from '@secrets-store-csi/test-support';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { TOKEN_AUDIENCE, isMounted, mountsUnder, volumeOf, useDriverFixture } from '../support.js';

function failureOf(result: KubeletResult | undefined): Extract<KubeletResult, { ok: false }> {
  if (result === undefined || result.ok)
    throw new Error(`expected a failed publish, got ${JSON.stringify(result)}`);
  return result;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe('the driver process failing a mount', function () {
  this.timeout(60_000);
  const fixture = useDriverFixture('failures');

  it('answers a provider error with Unknown and upstream message, unmounts, and records a Warning event and a false Mounted condition', async () => {
    await fixture().createSpc('fake-failing', { provider: 'fake', parameters: { vault: 'v1' } });
    fixture().fake.fails(new Error('backend exploded'));
    const pod = await fixture().runPod('failing', [{ name: 'secrets', spc: 'fake-failing' }]);
    const volume = volumeOf(pod);
    const failure = failureOf(volume.lastResult);
    const message =
      `failed to mount secrets store objects for pod ${fixture().namespace}/failing, err: ` +
      'rpc error: code = Unknown desc = failed to mount objects, error: backend exploded';
    expect(failure.codeName).to.equal('UNKNOWN');
    expect(failure.kind).to.equal('final');
    expect(failure.details).to.equal(message);
    // the provider was asked with what kubelet sent: pod information and a real TokenRequest token
    const request = fixture().fake.calls.at(-1)?.request;
    expect(request?.targetPath).to.equal(volume.targetPath);
    expect(request?.attributes).to.deep.include({
      vault: 'v1',
      'csi.storage.k8s.io/pod.name': 'failing',
      'csi.storage.k8s.io/pod.namespace': fixture().namespace,
      'csi.storage.k8s.io/pod.uid': pod.pod.metadata?.uid,
    });
    const tokens = JSON.parse(
      request?.attributes['csi.storage.k8s.io/serviceAccount.tokens'] ?? '{}',
    ) as Record<string, { token: string }>;
    expect(tokens[TOKEN_AUDIENCE]?.token.split('.')).to.have.length(3);

    expect(await isMounted(volume.targetPath)).to.equal(false);
    expect(await mountsUnder(fixture().kubeletRoot)).to.deep.equal([]);

    // logged at error level, as upstream's gRPC interceptor does, whatever the verbosity
    await waitUntil(
      async () =>
        (await readFile(fixture().driver.process.logPath, 'utf8'))
          .split('\n')
          .some((line) => / error "GRPC error/.test(line) && line.includes(message)),
      { description: 'the failure in the driver log', timeoutMs: 5000 },
    );
    const event = await fixture().waitForEvent('failing', 'Warning', 'GRPCProviderError');
    expect(event.message).to.equal(message);
    const status = await fixture().podStatus(`failing-${fixture().namespace}-fake-failing`);
    expect(status.status.mounted).to.equal(false);
    expect(status.status.conditions?.find((c) => c.type === 'Mounted')).to.deep.include({
      status: 'False',
      reason: 'GRPCProviderError',
      message,
    });
  });

  it('refuses a provider file path that leaves the volume, writes nothing outside it, and unmounts', async () => {
    await fixture().createSpc('rogue', { provider: 'rogue', parameters: { any: 'thing' } });
    fixture().rogue.respond = () => ({
      object_version: [{ id: 'rogue/x', version: 'v1' }],
      files: [
        { path: 'fine', mode: 0o644, contents: Buffer.from('ok') },
        { path: '../x', mode: 0o644, contents: Buffer.from('escaped') },
      ],
    });
    const pod = await fixture().runPod('traversed', [{ name: 'secrets', spc: 'rogue' }]);
    const volume = volumeOf(pod);
    const failure = failureOf(volume.lastResult);
    expect(fixture().rogue.requests).to.have.length(1);
    expect(failure.codeName).to.equal('UNKNOWN');
    expect(failure.details).to.equal(
      `failed to mount secrets store objects for pod ${fixture().namespace}/traversed, err: ` +
        `invalid file path "../x": must not contain '..'`,
    );
    expect(await isMounted(volume.targetPath)).to.equal(false);
    expect(await mountsUnder(fixture().kubeletRoot)).to.deep.equal([]);
    const volumeDir = dirname(volume.targetPath);
    expect(await exists(join(volumeDir, 'x'))).to.equal(false);
    // kubelet removed the mount directory after the final error; nothing else was left in the volume dir
    expect(await exists(volume.targetPath)).to.equal(false);
    expect(await readdir(dirname(volumeDir))).to.deep.equal([]);
  });

  it('rejects a provider response over --max-call-recv-msg-size, naming the flag', async () => {
    const small = await fixture().startExtraDriver('driver-small', `${fixture().nodeName}-small`, [
      '--max-call-recv-msg-size=1024',
    ]);
    const kubelet = await fixture().newKubelet(small, `${fixture().nodeName}-small`);
    await fixture().createSpc('fake-large', { provider: 'fake', parameters: { vault: 'v1' } });
    fixture().fake.returns((request) => ({
      files: [{ path: 'big', mode: request.defaultFileMode, contents: new Uint8Array(4096).fill(65) }],
      objectVersions: [{ id: 'secret/big', version: 'v1' }],
    }));
    const pod = await kubelet.runPod({
      metadata: { name: 'oversized', namespace: fixture().namespace },
      spec: {
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        volumes: [
          {
            name: 'secrets',
            csi: {
              driver: 'secrets-store.csi.k8s.io',
              readOnly: true,
              volumeAttributes: { secretProviderClass: 'fake-large' },
            },
          },
        ],
      },
    });
    const volume = volumeOf(pod);
    const failure = failureOf(volume.lastResult);
    expect(failure.codeName).to.equal('UNKNOWN');
    expect(failure.details).to.match(
      new RegExp(
        `^failed to mount secrets store objects for pod ${fixture().namespace}/oversized, err: .*\\(1024 bytes\\)`,
      ),
    );
    expect(failure.details).to.include('--max-call-recv-msg-size');
    expect(await isMounted(volume.targetPath)).to.equal(false);

    // the same response is fine for the driver with the default limit
    const normal = await fixture().runPod('not-oversized', [{ name: 'secrets', spc: 'fake-large' }]);
    expect(volumeOf(normal).lastResult).to.deep.include({ ok: true });
    expect((await stat(join(volumeOf(normal).targetPath, 'big'))).size).to.equal(4096);
  });

  it("survives a hostile provider error code and passes the provider's gRPC code to kubelet (issue 12)", async () => {
    await fixture().createSpc('hostile', { provider: 'rogue', parameters: { any: 'thing' } });
    try {
      // codes that killed the driver: a newline, a tab, a non-ASCII letter
      for (const [pod, code, safe] of [
        ['hostile-newline', 'Bad Reason\nInjected: yes', 'Bad_Reason_Injected_yes'],
        ['hostile-letter', 'Fehlerä', 'Fehler'],
        ['hostile-tab', '\t', 'ProviderErrorCode'],
      ] as const) {
        fixture().rogue.respond = () => ({
          error: { code },
          object_version: [{ id: 'rogue/x', version: 'v1' }],
          files: [],
        });
        const failure = failureOf(
          volumeOf(await fixture().runPod(pod, [{ name: 'secrets', spc: 'hostile' }])).lastResult,
        );
        expect(failure.codeName).to.equal('UNKNOWN');
        expect(failure.details).to.equal(
          `failed to mount secrets store objects for pod ${fixture().namespace}/${pod}, err: ` +
            `mount request failed with provider error code ${safe}`,
        );
        const event = await fixture().waitForEvent(pod, 'Warning', safe);
        expect(event.reason).to.equal(safe);
        expect(await fixture().metric('node_publish_error_total', { error_type: safe })).to.be.greaterThan(0);
      }

      // a provider's own status reaches kubelet: throttling is ResourceExhausted, which kubelet retries as uncertain
      fixture().rogue.failWith = () => ({
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: 'failed to mount objects, error: Key Vault throttled the request',
      });
      const throttled = failureOf(
        volumeOf(await fixture().runPod('throttled', [{ name: 'secrets', spc: 'hostile' }])).lastResult,
      );
      expect(throttled.codeName).to.equal('RESOURCE_EXHAUSTED');
      expect(throttled.kind).to.equal('uncertain');
      expect(throttled.details).to.equal(
        `failed to mount secrets store objects for pod ${fixture().namespace}/throttled, err: ` +
          'rpc error: code = ResourceExhausted desc = failed to mount objects, error: Key Vault throttled the request',
      );
    } finally {
      fixture().rogue.failWith = () => undefined;
      fixture().rogue.respond = () => ({
        object_version: [{ id: 'rogue/x', version: 'v1' }],
        files: [{ path: 'x', mode: 0o644, contents: Buffer.from('x') }],
      });
    }
    // the same driver process still mounts
    const fine = await fixture().runPod('after-hostile', [{ name: 'secrets', spc: 'hostile' }]);
    expect(volumeOf(fine).lastResult).to.deep.include({ ok: true });
    expect(await readFile(join(volumeOf(fine).targetPath, 'x'), 'utf8')).to.equal('x');
  });
});
