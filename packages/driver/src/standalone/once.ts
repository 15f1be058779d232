/**
 * Standalone mode as a function, for tools (the `kubectl secrets-store dry-run` plugin): publishes one class
 * once into a directory through the real provider socket, with the identity the caller names (service
 * account, its TokenRequest tokens, node-publish Secret), reports what was mounted (file names, sizes,
 * modes, object versions, the pod status and the events the driver would have written; never contents) and
 * unpublishes. Nothing is written to a cluster.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import {
  createLogger,
  errorCodeOf,
  isCodedError,
  parseFlags,
  podAttributeKeys,
  type SecretProviderClassObject,
  type SecretProviderClassPodStatusStatus,
} from '@secrets-store-csi/core';
import { configFromFlags, driverFlags } from '../config.js';
import { AtomicWriter, readMountedContents, readMountedFiles } from '../fs/index.js';
import type { KubeAdapters, PodEvent } from '../kube/ports.js';
import { DriverMetrics } from '../metrics.js';
import { DirectoryMounter, LinuxMounter } from '../mount/index.js';
import { GrpcProviderClients } from '../providers/client.js';
import { VolumePublisher } from '../publish/publisher.js';
import { RotationTracker } from '../rotation/tracker.js';
import { parseStandaloneInput } from './input.js';
import { localKube } from './local-kube.js';

export interface PublishOnceOptions {
  /** The YAML text of the class file (a SecretProviderClass, optionally a Pod and a node-publish Secret). */
  readonly text: string;
  /** The file name, for messages. */
  readonly file: string;
  /** Where to publish: an empty directory the caller removes afterwards. */
  readonly target: string;
  /** The service account the volume is mounted as; its namespace is the class's and the pod's. */
  readonly serviceAccount?: { readonly namespace: string; readonly name: string };
  /** kubelet's `csi.storage.k8s.io/serviceAccount.tokens` value (JSON), when the CSIDriver asks for tokens. */
  readonly serviceAccountTokens?: string;
  /** The node-publish Secret's data, overriding a Secret document in the file. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Where provider sockets are (`--provider-volume`). */
  readonly providerVolume: string;
  /** `tmpfs` (root only), `directory`; `auto` picks tmpfs as root. */
  readonly mount?: 'tmpfs' | 'directory' | 'auto';
  /** How long the provider may take. */
  readonly timeoutMs?: number;
}

export interface PublishOnceFile {
  readonly path: string;
  readonly bytes: number;
  readonly mode: string;
}

export interface PublishOnceReport {
  readonly secretProviderClass: {
    readonly namespace: string;
    readonly name: string;
    readonly provider: string;
  };
  readonly pod: { readonly namespace: string; readonly name: string; readonly serviceAccount: string };
  readonly mounted: boolean;
  readonly error?: { readonly code: string; readonly message: string };
  readonly files: readonly PublishOnceFile[];
  readonly objects: readonly SecretProviderClassObject[];
  /** The pod status the driver would have written (the last one). */
  readonly podStatus?: SecretProviderClassPodStatusStatus;
  readonly events: readonly Omit<PodEvent, 'pod'>[];
  /** Kubernetes Secrets `secretObjects` would create, by name with their keys (no values). */
  readonly secrets: readonly {
    readonly name: string;
    readonly type: string;
    readonly keys: readonly string[];
  }[];
}

/** The report says what failed; the driver's own log lines would repeat it. */
const discard = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});

/** A copy of the standalone Kubernetes side that remembers what the driver would have written. */
function capturingKube(
  base: KubeAdapters,
  seen: {
    events: Omit<PodEvent, 'pod'>[];
    status: SecretProviderClassPodStatusStatus | undefined;
    secrets: { name: string; type: string; keys: string[] }[];
  },
): KubeAdapters {
  return {
    ...base,
    podStatuses: {
      get: (namespace, name) => base.podStatuses.get(namespace, name),
      async upsert(desired) {
        seen.status = desired.status;
        return base.podStatuses.upsert(desired);
      },
    },
    secrets: {
      apply(desired) {
        seen.secrets.push({ name: desired.name, type: desired.type, keys: Object.keys(desired.data).sort() });
        return Promise.resolve('unchanged');
      },
    },
    events: {
      record(event) {
        seen.events.push({ type: event.type, reason: event.reason, message: event.message });
      },
    },
  };
}

export async function publishOnce(options: PublishOnceOptions): Promise<PublishOnceReport> {
  const parsed = parseStandaloneInput(options.text, options.file);
  const namespace = options.serviceAccount?.namespace ?? parsed.pod.namespace;
  const spc = { ...parsed.spc, metadata: { ...parsed.spc.metadata, namespace } };
  const pod = { ...parsed.pod, namespace };
  const serviceAccount =
    options.serviceAccount?.name ?? parsed.volumeContext[podAttributeKeys.serviceAccountName] ?? 'default';
  const volumeContext: Record<string, string> = {
    ...parsed.volumeContext,
    [podAttributeKeys.podNamespace]: namespace,
    [podAttributeKeys.serviceAccountName]: serviceAccount,
  };
  if (options.serviceAccountTokens !== undefined)
    volumeContext[podAttributeKeys.serviceAccountTokens] = options.serviceAccountTokens;
  const config = configFromFlags(parseFlags(driverFlags, [`--provider-volume=${options.providerVolume}`]));
  const root = process.getuid?.() === 0;
  const choice = options.mount ?? 'auto';
  const mounter =
    choice === 'tmpfs' || (choice === 'auto' && root) ? new LinuxMounter() : new DirectoryMounter();
  const tracker = new RotationTracker(config.rotationPolicy);
  const providers = new GrpcProviderClients(config.providerDirectories, {
    maxReceiveMessageBytes: config.maxReceiveMessageBytes,
  });
  const seen = {
    events: [] as Omit<PodEvent, 'pod'>[],
    status: undefined as SecretProviderClassPodStatusStatus | undefined,
    secrets: [] as { name: string; type: string; keys: string[] }[],
  };
  const publisher = new VolumePublisher(
    { nodeName: 'dry-run', rotationEnabled: false, tmpfs: config.tmpfs },
    {
      mounter,
      writer: new AtomicWriter(),
      providers,
      kube: capturingKube(
        localKube(spc, pod, () => undefined),
        seen,
      ),
      tracker,
      metrics: new DriverMetrics(),
      logger: createLogger({ format: 'text', level: 'error', stream: discard }),
      readMountedContents,
    },
  );
  const targetPath = resolve(options.target);
  let error: { code: string; message: string } | undefined;
  const files: PublishOnceFile[] = [];
  try {
    await publisher.publish({
      volumeId: `dry-run-${pod.uid}`,
      targetPath,
      readonly: true,
      volumeContext,
      secrets: options.secrets ?? parsed.secrets,
      deadline: new Date(Date.now() + (options.timeoutMs ?? 60_000)),
    });
    const mounted = await readMountedFiles(targetPath);
    for (const [relative, absolute] of [...mounted].sort(([a], [b]) => a.localeCompare(b))) {
      const stats = await stat(absolute);
      files.push({
        path: relative,
        bytes: stats.size,
        mode: (stats.mode & 0o777).toString(8).padStart(4, '0'),
      });
    }
  } catch (failure) {
    error = {
      code: isCodedError(failure) ? errorCodeOf(failure.code) : 'Internal',
      message: failure instanceof Error ? failure.message : String(failure),
    };
  } finally {
    await publisher.unpublish(targetPath).catch(() => undefined);
    providers.close();
  }
  return {
    secretProviderClass: { namespace, name: spc.metadata.name, provider: spc.spec.provider },
    pod: { namespace, name: pod.name, serviceAccount },
    mounted: error === undefined,
    ...(error !== undefined && { error }),
    files,
    objects: seen.status?.objects ?? [],
    ...(seen.status !== undefined && { podStatus: seen.status }),
    events: seen.events,
    secrets: seen.secrets,
  };
}
