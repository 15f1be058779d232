/**
 * Pod events, written as client-go's legacy recorder writes them (core/v1 Event named `<pod>.<hex nanos>`,
 * count 1, first/last timestamps) plus `eventTime`, with the source components upstream's recorders use, so
 * existing `kubectl get events --field-selector source=...` filters keep matching. Writes are fire-and-forget;
 * a failure is logged, never thrown. The same event for the same pod is written at most once per 10 s, so a
 * failing mount retried by kubelet does not flood the API server.
 */
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node';
// The one class of client-node the driver needs at run time, from its own small module (not the package index).
import { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
import { errorCodeOf, type Logger } from '@secrets-store-csi/core';
import { apiFailure } from './api-errors.js';
import type { EventRecorder, PodEvent } from './ports.js';

export const eventComponents = {
  driver: 'csi-secrets-store-driver',
  rotation: 'csi-secrets-store-rotation',
  controller: 'csi-secrets-store-controller',
} as const;

/** Upstream's rotation reconciler and Secret controller each record with their own component. */
export function eventComponent(reason: string): string {
  if (reason.startsWith('MountRotation') || reason.startsWith('SecretRotation'))
    return eventComponents.rotation;
  if (reason === 'FailedToCreateSecret') return eventComponents.controller;
  return eventComponents.driver;
}

const MAX_NAME_LENGTH = 253;

/** client-go's `<object name>.<UnixNano in hex>`; `sequence` keeps events recorded within one millisecond apart. */
export function eventName(podName: string, at: Date, sequence: number): string {
  const nanos = BigInt(at.getTime()) * 1_000_000n + BigInt(sequence % 1_000_000);
  const suffix = `.${nanos.toString(16)}`;
  return `${podName.slice(0, MAX_NAME_LENGTH - suffix.length)}${suffix}`;
}

export function eventBody(event: PodEvent, nodeName: string, at: Date, sequence: number): CoreV1Event {
  // A reason can be a provider's error code: made safe for the API server's reason rules, once more here.
  const reason = errorCodeOf(event.reason);
  const component = eventComponent(reason);
  return {
    metadata: { name: eventName(event.pod.name, at, sequence), namespace: event.pod.namespace },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: event.pod.name,
      namespace: event.pod.namespace,
      uid: event.pod.uid,
    },
    reason,
    message: event.message,
    type: event.type,
    source: { component, host: nodeName },
    // With eventTime set the API server also requires reportingComponent, reportingInstance and action.
    reportingComponent: component,
    reportingInstance: `${component}-${nodeName}`,
    action: reason,
    firstTimestamp: at,
    lastTimestamp: at,
    // A plain Date would serialize with milliseconds, which the API server's MicroTime parser rejects.
    eventTime: new V1MicroTime(at.getTime()),
    count: 1,
  };
}

/** Remembers what was recorded recently; `shouldRecord` is false for a repeat inside the window. */
export class EventDeduper {
  private readonly windowMs: number;
  private readonly now: () => Date;
  private readonly seen = new Map<string, number>();

  constructor(windowMs: number, now: () => Date) {
    this.windowMs = windowMs;
    this.now = now;
  }

  shouldRecord(event: PodEvent): boolean {
    const now = this.now().getTime();
    if (this.seen.size > 1000) {
      for (const [key, at] of this.seen) if (now - at >= this.windowMs) this.seen.delete(key);
    }
    const key = [
      event.pod.namespace,
      event.pod.name,
      event.pod.uid,
      event.type,
      event.reason,
      event.message,
    ].join('\n');
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.windowMs) return false;
    this.seen.set(key, now);
    return true;
  }
}

export const EVENT_DEDUPE_WINDOW_MS = 10_000;

export type EventsApi = Pick<CoreV1Api, 'createNamespacedEvent'>;

export class KubeEventRecorder implements EventRecorder {
  private readonly api: EventsApi;
  private readonly nodeName: string;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly deduper: EventDeduper;
  private readonly pending = new Set<Promise<void>>();
  private sequence = 0;

  constructor(options: { api: EventsApi; nodeName: string; logger: Logger; now?: () => Date }) {
    this.api = options.api;
    this.nodeName = options.nodeName;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.deduper = new EventDeduper(EVENT_DEDUPE_WINDOW_MS, this.now);
  }

  record(event: PodEvent): void {
    const fields = { pod: `${event.pod.namespace}/${event.pod.name}`, reason: event.reason };
    if (!this.deduper.shouldRecord(event)) {
      this.logger.debug('event recorded moments ago; not repeated', fields);
      return;
    }
    const body = eventBody(event, this.nodeName, this.now(), this.sequence++);
    const write = this.api
      .createNamespacedEvent({ namespace: event.pod.namespace, body })
      .then(
        () => undefined,
        (error: unknown) => {
          this.logger.warn('failed to record event', { ...fields, error: apiFailure(error).message });
        },
      )
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
  }

  /** Waits for the writes in flight (used by `stop()` and tests). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
