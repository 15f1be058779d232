/**
 * `explain`: what the API server knows about a pod's Secrets Store volumes, put together per volume. The
 * driver writes a SecretProviderClassPodStatus named `<pod>-<namespace>-<class>` per volume (labelled with
 * its node), with the mounted object versions and our `Mounted`/`Refreshed` conditions, and Warning events on
 * the pod; kubelet adds FailedMount events. Nothing here reads a Secret or a file.
 */
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import {
  NODE_NAME_LABEL,
  parseDuration,
  podStatusName,
  ROTATION_INTERVAL_ANNOTATION,
  SECRET_PROVIDER_CLASS_ATTRIBUTE,
} from '@secrets-store-csi/core';
import { diagnose } from './causes.js';
import { DRIVER_NAME, type ClusterReader, type Json } from './cluster.js';
import {
  REPORT_API_VERSION,
  type Problem,
  type RefreshEstimate,
  type Report,
  type VolumeReport,
} from './report.js';

export interface ExplainOptions {
  readonly namespace: string;
  readonly pod: string;
  readonly rotationPollIntervalMs: number;
  readonly now?: () => Date;
}

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A string field, or '' when it is missing or not a string. */
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

interface ConditionLike {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime?: string;
}

function conditionsOf(status: Json | undefined): ConditionLike[] {
  const raw = status?.conditions;
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((c) => ({
    type: text(c.type),
    status: text(c.status),
    reason: text(c.reason),
    message: text(c.message),
    ...(typeof c.lastTransitionTime === 'string' && { lastTransitionTime: c.lastTransitionTime }),
  }));
}

function objectsOf(status: Json | undefined): { id: string; version: string }[] {
  const raw = status?.objects;
  if (!Array.isArray(raw)) return [];
  return raw.filter(isObject).map((o) => ({ id: text(o.id), version: text(o.version) }));
}

function iso(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined) return undefined;
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function eventTime(event: CoreV1Event): string | undefined {
  return (
    iso(event.lastTimestamp) ??
    iso(event.eventTime) ??
    iso(event.firstTimestamp) ??
    iso(event.metadata.creationTimestamp)
  );
}

const DRIVER_COMPONENT = /^csi-secrets-store/;

/** Condition reasons that are a warning whatever the status says (a volume mounted without an optional object). */
const WARNING_REASONS: ReadonlySet<string> = new Set(['OptionalObjectAbsent']);

/** Warning events of the driver (its components) and kubelet's FailedMount, newest first, repeats merged. */
export function relevantProblems(events: readonly CoreV1Event[], podUid: string | undefined): Problem[] {
  const merged = new Map<string, Problem>();
  const sorted = [...events]
    .filter(
      (e) => podUid === undefined || e.involvedObject.uid === undefined || e.involvedObject.uid === podUid,
    )
    .filter(
      (e) =>
        (e.type === 'Warning' || WARNING_REASONS.has(e.reason ?? '')) &&
        (DRIVER_COMPONENT.test(e.source?.component ?? e.reportingComponent ?? '') ||
          e.reason === 'FailedMount' ||
          diagnose(e.reason ?? '', e.message ?? '') !== undefined),
    )
    .sort((a, b) => (eventTime(b) ?? '').localeCompare(eventTime(a) ?? ''));
  for (const event of sorted) {
    const reason = event.reason ?? '';
    const message = event.message ?? '';
    const key = `${reason}\n${message}`;
    const previous = merged.get(key);
    if (previous !== undefined) {
      merged.set(key, { ...previous, count: (previous.count ?? 1) + (event.count ?? 1) });
      continue;
    }
    const at = eventTime(event);
    const diagnosis = diagnose(reason, message);
    merged.set(key, {
      source: 'event',
      type: event.type ?? 'Warning',
      reason,
      message,
      ...(at !== undefined && { at }),
      count: event.count ?? 1,
      ...(diagnosis !== undefined && { diagnosis }),
    });
  }
  return [...merged.values()];
}

function conditionProblems(conditions: readonly ConditionLike[]): Problem[] {
  return conditions
    .filter((c) => c.status === 'False' || WARNING_REASONS.has(c.reason))
    .map((c) => {
      const diagnosis = diagnose(c.reason, c.message);
      return {
        source: 'condition' as const,
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        ...(c.lastTransitionTime !== undefined && { at: c.lastTransitionTime }),
        ...(diagnosis !== undefined && { diagnosis }),
      };
    });
}

/** The class's own interval (annotation) or the driver's flag; undefined annotation values are ignored. */
export function rotationInterval(
  spc: Json | undefined,
  flagMs: number,
): { ms: number; source: RefreshEstimate['intervalSource'] } {
  const metadata = isObject(spc?.metadata) ? spc.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const value = annotations[ROTATION_INTERVAL_ANNOTATION];
  if (typeof value === 'string') {
    try {
      // The scheduler's floor for a class's interval is 5s.
      return { ms: Math.max(parseDuration(value), 5_000), source: 'class annotation' };
    } catch {
      // the driver ignores a bad annotation too
    }
  }
  return { ms: flagMs, source: 'driver flag (given or default)' };
}

/**
 * The next refresh, estimated: the driver refreshes a volume on kubelet's periodic republish once the
 * interval (plus a stable jitter of up to 10 %) has passed since its last refresh, but does not publish that
 * time. Known from the API: the Refreshed condition's transition (it moves only when the outcome changes),
 * the first mount (Mounted), and MountRotationComplete events (content changed).
 */
export function estimateRefresh(input: {
  readonly conditions: readonly ConditionLike[];
  readonly events: readonly CoreV1Event[];
  readonly interval: { ms: number; source: RefreshEstimate['intervalSource'] };
  readonly now: Date;
}): RefreshEstimate {
  const candidates: { at: string; source: string }[] = [];
  const mounted = input.conditions.find((c) => c.type === 'Mounted' && c.status === 'True');
  if (mounted?.lastTransitionTime !== undefined)
    candidates.push({ at: mounted.lastTransitionTime, source: 'Mounted condition (first mount)' });
  const refreshed = input.conditions.find((c) => c.type === 'Refreshed');
  if (refreshed?.lastTransitionTime !== undefined)
    candidates.push({
      at: refreshed.lastTransitionTime,
      source: `Refreshed condition (${refreshed.reason}; its time moves only when the outcome changes)`,
    });
  for (const event of input.events) {
    const at = eventTime(event);
    if (event.reason === 'MountRotationComplete' && at !== undefined)
      candidates.push({ at, source: 'MountRotationComplete event (content changed)' });
  }
  const latest = candidates
    .map((c) => ({ ...c, at: iso(c.at) ?? '' }))
    .filter((c) => c.at !== '')
    .sort((a, b) => b.at.localeCompare(a.at))[0];
  const intervalSeconds = Math.round(input.interval.ms / 1000);
  const failing = refreshed?.status === 'False';
  const note = failing
    ? "the last refresh failed: the driver keeps the last good content and retries on kubelet's republish, backing off from 10s up to 10m (or the store's Retry-After)"
    : `estimated: the driver refreshes on kubelet's republish once ${intervalSeconds}s (plus up to 10% jitter) have passed since the last refresh; needs rotation enabled in the driver (--enable-secret-rotation)`;
  let nextDue: string | undefined;
  if (latest !== undefined && !failing) {
    const last = new Date(latest.at).getTime();
    // The first due time after now (a due time already passed means "on the next republish").
    const periods = Math.max(1, Math.floor((input.now.getTime() - last) / input.interval.ms) + 1);
    nextDue = new Date(last + periods * input.interval.ms).toISOString();
  }
  return {
    ...(latest !== undefined && { lastRefresh: latest }),
    ...(nextDue !== undefined && { nextDue }),
    intervalSeconds,
    intervalSource: input.interval.source,
    estimated: true,
    note,
  };
}

function mentions(problem: Problem, volume: string, spcName: string): boolean {
  return problem.message.includes(`"${volume}"`) || (spcName !== '' && problem.message.includes(spcName));
}

export async function explainPod(reader: ClusterReader, options: ExplainOptions): Promise<Report> {
  const now = options.now?.() ?? new Date();
  const { namespace } = options;
  const pod: V1Pod = await reader.pod(namespace, options.pod);
  const podUid = pod.metadata?.uid;
  const events = (await reader.podEvents(namespace, options.pod)).filter(
    (e) => podUid === undefined || e.involvedObject.uid === undefined || e.involvedObject.uid === podUid,
  );
  const eventProblems = relevantProblems(events, podUid);
  const csiVolumes = (pod.spec?.volumes ?? []).filter((v) => v.csi?.driver === DRIVER_NAME);
  const claimed = new Set<Problem>();
  const volumes: VolumeReport[] = [];
  for (const volume of csiVolumes) {
    const spcName = volume.csi?.volumeAttributes?.[SECRET_PROVIDER_CLASS_ATTRIBUTE] ?? '';
    const spc = spcName === '' ? undefined : await reader.secretProviderClass(namespace, spcName);
    const statusName = spcName === '' ? '' : podStatusName(options.pod, namespace, spcName);
    const stored = statusName === '' ? undefined : await reader.podStatus(namespace, statusName);
    const status = isObject(stored?.status) ? stored.status : undefined;
    const labels =
      isObject(stored?.metadata) && isObject(stored.metadata.labels) ? stored.metadata.labels : {};
    const node = typeof labels[NODE_NAME_LABEL] === 'string' ? labels[NODE_NAME_LABEL] : undefined;
    const conditions = conditionsOf(status);
    const fromConditions = conditionProblems(conditions);
    // Events that name this volume or class, or every one when the pod has a single such volume.
    const mine = eventProblems.filter((p) => csiVolumes.length === 1 || mentions(p, volume.name, spcName));
    for (const p of mine) claimed.add(p);
    const problems = [
      ...fromConditions,
      ...mine.filter((p) => !fromConditions.some((c) => c.message === p.message && c.reason === p.reason)),
    ];
    if (spcName === '') {
      problems.unshift({
        source: 'mount',
        type: 'Volume',
        reason: 'NoSecretProviderClass',
        message: `volume "${volume.name}" has no volumeAttributes.secretProviderClass`,
        diagnosis: {
          id: 'class-missing-attribute',
          category: 'class',
          cause: 'the volume does not name a SecretProviderClass',
          fix: 'add volumeAttributes: {secretProviderClass: NAME} to the csi volume',
        },
      });
    } else if (spc === undefined) {
      problems.unshift({
        source: 'mount',
        type: 'SecretProviderClass',
        reason: 'SecretProviderClassNotFound',
        message: `secretproviderclasses.secrets-store.csi.x-k8s.io "${spcName}" not found in namespace ${namespace}`,
        ...(() => {
          const diagnosis = diagnose('SecretProviderClassNotFound', '');
          return diagnosis === undefined ? {} : { diagnosis };
        })(),
      });
    }
    const mountedFlag = status?.mounted === true;
    const refreshFailed = conditions.some((c) => c.type === 'Refreshed' && c.status === 'False');
    const state: VolumeReport['state'] =
      status === undefined
        ? problems.length > 0
          ? 'Failed'
          : 'Pending'
        : mountedFlag
          ? refreshFailed
            ? 'RefreshFailing'
            : 'Mounted'
          : 'Failed';
    const provider =
      isObject(spc?.spec) && typeof spc.spec.provider === 'string' ? spc.spec.provider : undefined;
    volumes.push({
      name: volume.name,
      secretProviderClass: spcName,
      ...(provider !== undefined && { provider }),
      classFound: spc !== undefined,
      state,
      ...(stored !== undefined && {
        podStatus: { name: statusName, ...(node !== undefined && { node }), status: status ?? {} },
      }),
      objects: objectsOf(status),
      ...(mountedFlag && {
        refresh: estimateRefresh({
          conditions,
          events,
          interval: rotationInterval(spc, options.rotationPollIntervalMs),
          now,
        }),
      }),
      problems,
    });
  }
  const podProblems: Problem[] = eventProblems.filter((p) => !claimed.has(p));
  if (csiVolumes.length === 0) {
    podProblems.unshift({
      source: 'mount',
      type: 'Pod',
      reason: 'NoSecretsStoreVolumes',
      message: `pod ${namespace}/${options.pod} has no csi volume with driver ${DRIVER_NAME}`,
    });
  }
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'PodExplanation',
    pod: {
      namespace,
      name: options.pod,
      ...(podUid !== undefined && { uid: podUid }),
      ...(pod.spec?.nodeName !== undefined && { node: pod.spec.nodeName }),
      ...(pod.status?.phase !== undefined && { phase: pod.status.phase }),
      serviceAccount: pod.spec?.serviceAccountName ?? 'default',
    },
    volumes,
    problems: podProblems,
  };
}
