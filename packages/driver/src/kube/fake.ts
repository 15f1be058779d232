/**
 * In-memory Kubernetes for unit tests of the publish flow. It decides like the real adapters (same NotFound
 * text, same pod status update rules, same Secret plan: owners merged, unmanaged Secrets left alone, type
 * changes refused) and lets tests seed objects, inspect what was written and inject failures.
 */
import {
  parseSecretProviderClass,
  parseSecretProviderClassPodStatus,
  type OwnerReference,
  type SecretProviderClass,
  type SecretProviderClassPodStatus,
} from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';
import type { DesiredSecret } from '../sync/desired-secret.js';
import { newPodStatusBody, updatedPodStatusBody } from './pod-statuses.js';
import type {
  EventRecorder,
  KubeAdapters,
  PodEvent,
  PodInfo,
  PodSource,
  PodStatusStore,
  SecretApplyOutcome,
  SecretProviderClassSource,
  SecretStore,
} from './ports.js';
import { secretProviderClassNotFoundMessage } from './secret-provider-classes.js';
import { encodeSecretData, planSecretUpdate } from './secret-plan.js';

export type FakeOperation =
  'secretProviderClasses.get' | 'pods.get' | 'podStatuses.get' | 'podStatuses.upsert' | 'secrets.apply';

/** A Secret as the fake stores it (data as bytes): what was desired, plus what the API server adds. */
export interface FakeSecret extends DesiredSecret {
  readonly ownerReferences: readonly OwnerReference[];
  readonly uid: string;
  /** Incremented on every write, so a test can tell an `unchanged` apply did not write. */
  readonly resourceVersion: string;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

const copyData = (data: Readonly<Record<string, Uint8Array>>): Record<string, Uint8Array> =>
  Object.fromEntries(Object.entries(data).map(([k, bytes]) => [k, Uint8Array.from(bytes)]));

export class FakeKubeAdapters implements KubeAdapters {
  readonly nodeName: string;
  readonly secretProviderClasses: SecretProviderClassSource;
  readonly pods: PodSource;
  readonly podStatuses: PodStatusStore;
  readonly secrets: SecretStore;
  readonly events: EventRecorder;
  /** Every event recorded, in order (the fake does not de-duplicate). */
  readonly recordedEvents: PodEvent[] = [];
  /** How many times each operation was called (failed calls included). */
  readonly calls: Record<FakeOperation, number> = {
    'secretProviderClasses.get': 0,
    'pods.get': 0,
    'podStatuses.get': 0,
    'podStatuses.upsert': 0,
    'secrets.apply': 0,
  };
  started = false;
  stopped = false;

  private readonly spcObjects = new Map<string, unknown>();
  private readonly podObjects = new Map<string, PodInfo>();
  private readonly podStatusObjects = new Map<string, SecretProviderClassPodStatus>();
  private readonly secretObjects = new Map<string, FakeSecret>();
  private readonly failures = new Map<FakeOperation, Error[]>();
  private version = 0;

  constructor(options: { nodeName?: string } = {}) {
    this.nodeName = options.nodeName ?? 'fake-node';
    this.secretProviderClasses = { get: (namespace, name) => this.getSecretProviderClass(namespace, name) };
    this.pods = {
      get: (namespace, name) =>
        this.call('pods.get', () => Promise.resolve(this.podObjects.get(key(namespace, name)))),
    };
    this.podStatuses = {
      get: (namespace, name) =>
        this.call('podStatuses.get', () => Promise.resolve(this.podStatusObjects.get(key(namespace, name)))),
      upsert: (desired) =>
        this.call('podStatuses.upsert', () => Promise.resolve(this.upsertPodStatus(desired))),
    };
    this.secrets = {
      apply: (desired, owners) =>
        this.call('secrets.apply', () => Promise.resolve(this.applySecret(desired, owners))),
    };
    this.events = {
      record: (event) => {
        this.recordedEvents.push(event);
      },
    };
  }

  start(): Promise<void> {
    this.started = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }

  /** Adds or replaces a class; any JSON is accepted, so a test can store one that does not parse. */
  addSecretProviderClass(spc: SecretProviderClass | Record<string, unknown>): void {
    const meta = (spc as { metadata?: { name?: string; namespace?: string } }).metadata;
    this.spcObjects.set(key(meta?.namespace ?? '', meta?.name ?? ''), structuredClone(spc));
  }

  deleteSecretProviderClass(namespace: string, name: string): void {
    this.spcObjects.delete(key(namespace, name));
  }

  addPod(pod: PodInfo): void {
    this.podObjects.set(key(pod.namespace, pod.name), pod);
  }

  deletePod(namespace: string, name: string): void {
    this.podObjects.delete(key(namespace, name));
  }

  podStatus(namespace: string, name: string): SecretProviderClassPodStatus | undefined {
    return this.podStatusObjects.get(key(namespace, name));
  }

  storedPodStatuses(): SecretProviderClassPodStatus[] {
    return [...this.podStatusObjects.values()];
  }

  secret(namespace: string, name: string): FakeSecret | undefined {
    return this.secretObjects.get(key(namespace, name));
  }

  storedSecrets(): FakeSecret[] {
    return [...this.secretObjects.values()];
  }

  /** Seeds a Secret as if someone else had created it (without the managed label unless `labels` has it). */
  putSecret(
    secret: Pick<FakeSecret, 'name' | 'namespace'> &
      Partial<Omit<FakeSecret, 'name' | 'namespace' | 'resourceVersion'>>,
  ): FakeSecret {
    const stored: FakeSecret = {
      type: 'Opaque',
      labels: {},
      annotations: {},
      data: {},
      ownerReferences: [],
      uid: this.nextUid(),
      ...secret,
      resourceVersion: this.nextVersion(),
    };
    this.secretObjects.set(key(secret.namespace, secret.name), stored);
    return stored;
  }

  deleteSecret(namespace: string, name: string): void {
    this.secretObjects.delete(key(namespace, name));
  }

  /** The next `times` calls of `operation` reject with `error`. */
  failNext(operation: FakeOperation, error: Error, times = 1): void {
    const queue = this.failures.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(error);
    this.failures.set(operation, queue);
  }

  private async call<T>(operation: FakeOperation, run: () => Promise<T>): Promise<T> {
    this.calls[operation]++;
    const failure = this.failures.get(operation)?.shift();
    if (failure !== undefined) throw failure;
    return run();
  }

  private nextVersion(): string {
    return String(++this.version);
  }

  private nextUid(): string {
    return `fake-uid-${++this.version}`;
  }

  private getSecretProviderClass(namespace: string, name: string): Promise<SecretProviderClass> {
    return this.call('secretProviderClasses.get', () => {
      const raw = this.spcObjects.get(key(namespace, name));
      if (raw === undefined) {
        throw new DriverError(
          driverErrorCodes.secretProviderClassNotFound,
          secretProviderClassNotFoundMessage(name),
        );
      }
      try {
        return Promise.resolve(parseSecretProviderClass(raw));
      } catch (error) {
        throw new DriverError(
          driverErrorCodes.secretProviderClassInvalid,
          error instanceof Error ? error.message : String(error),
          { cause: error },
        );
      }
    });
  }

  private upsertPodStatus(desired: SecretProviderClassPodStatus): SecretProviderClassPodStatus {
    const id = key(desired.metadata.namespace, desired.metadata.name);
    const existing = this.podStatusObjects.get(id);
    const body =
      existing === undefined
        ? newPodStatusBody(desired, this.nodeName)
        : updatedPodStatusBody(
            structuredClone(existing) as unknown as Record<string, unknown>,
            desired,
            this.nodeName,
          );
    const metadata = body.metadata as Record<string, unknown>;
    const stored = parseSecretProviderClassPodStatus({
      ...body,
      metadata: {
        ...metadata,
        uid: existing?.metadata.uid ?? this.nextUid(),
        resourceVersion: this.nextVersion(),
      },
    });
    this.podStatusObjects.set(id, stored);
    return stored;
  }

  private applySecret(desired: DesiredSecret, owners: readonly OwnerReference[]): SecretApplyOutcome {
    const id = key(desired.namespace, desired.name);
    const existing = this.secretObjects.get(id);
    if (existing === undefined) {
      this.secretObjects.set(id, {
        name: desired.name,
        namespace: desired.namespace,
        type: desired.type,
        labels: { ...desired.labels },
        annotations: { ...desired.annotations },
        data: copyData(desired.data),
        ownerReferences: [...owners],
        uid: this.nextUid(),
        resourceVersion: this.nextVersion(),
      });
      return 'created';
    }
    const plan = planSecretUpdate({ ...existing, data: encodeSecretData(existing.data) }, desired, owners);
    if (plan.action !== 'update') return plan.action;
    this.secretObjects.set(id, {
      ...existing,
      labels: plan.labels,
      annotations: plan.annotations,
      data: copyData(desired.data),
      ownerReferences: plan.ownerReferences,
      resourceVersion: this.nextVersion(),
    });
    return 'updated';
  }
}
