/**
 * Reading SecretProviderClass and SecretProviderClassPodStatus objects from Kubernetes JSON (an API server
 * response, a watch event, or a YAML file in standalone mode). Every problem is reported at once, each with
 * its field path, in one error that names the object as `namespace/name`.
 */
import { CodedError, coreErrorCodes } from '../errors.js';
import { parseDuration } from '../duration.js';
import {
  API_VERSION_V1,
  API_VERSION_V1ALPHA1,
  PROVIDER_NAME_PATTERN,
  ROTATION_INTERVAL_ANNOTATION,
  SECRET_PROVIDER_CLASS_KIND,
  SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
} from './constants.js';
import { IssueCollector, type ValidationIssue } from './issues.js';
import type {
  ApiVersion,
  Condition,
  ObjectMeta,
  OwnerReference,
  SecretObject,
  SecretObjectData,
  SecretProviderClass,
  SecretProviderClassObject,
  SecretProviderClassPodStatus,
} from './types.js';

export type { ValidationIssue } from './issues.js';

/** Thrown when an object cannot be used; `issues` lists every problem found. */
export class InvalidObjectError extends CodedError<
  typeof coreErrorCodes.secretProviderClassInvalid | typeof coreErrorCodes.secretProviderClassPodStatusInvalid
> {
  readonly objectKind: string;
  /** `namespace/name`, or what could be read of it. */
  readonly objectRef: string;
  readonly issues: readonly ValidationIssue[];

  constructor(kind: string, objectRef: string, issues: readonly ValidationIssue[]) {
    super(
      kind === SECRET_PROVIDER_CLASS_KIND
        ? coreErrorCodes.secretProviderClassInvalid
        : coreErrorCodes.secretProviderClassPodStatusInvalid,
      `invalid ${kind} ${objectRef}: ${issues.map((i) => `${i.field}: ${i.problem}`).join('; ')}`,
    );
    this.name = 'InvalidObjectError';
    this.objectKind = kind;
    this.objectRef = objectRef;
    this.issues = issues;
  }
}

const apiVersions: readonly string[] = [API_VERSION_V1, API_VERSION_V1ALPHA1];

function readHeader(
  input: unknown,
  kind: string,
  issues: IssueCollector,
): { root: Record<string, unknown>; apiVersion: ApiVersion; metadata: ObjectMeta; ref: string } | undefined {
  const root = issues.object(input, '(object)', true);
  if (root === undefined) return undefined;
  const apiVersion = issues.string(root.apiVersion, 'apiVersion', 'non-empty');
  if (apiVersion !== undefined && !apiVersions.includes(apiVersion)) {
    issues.add('apiVersion', `must be ${API_VERSION_V1} or ${API_VERSION_V1ALPHA1}, not "${apiVersion}"`);
  }
  const kindValue = issues.string(root.kind, 'kind', 'non-empty');
  if (kindValue !== undefined && kindValue !== kind)
    issues.add('kind', `must be ${kind}, not "${kindValue}"`);
  const metadata = readMetadata(root.metadata, issues);
  return {
    root,
    apiVersion: apiVersion as ApiVersion,
    metadata,
    ref: `${metadata.namespace}/${metadata.name}`,
  };
}

function readMetadata(value: unknown, issues: IssueCollector): ObjectMeta {
  const meta = issues.object(value, 'metadata', true) ?? {};
  const name = issues.string(meta.name, 'metadata.name', 'non-empty') ?? '(unnamed)';
  const namespace = issues.string(meta.namespace, 'metadata.namespace', 'non-empty') ?? '(no namespace)';
  const labels = issues.stringMap(meta.labels, 'metadata.labels', false);
  const annotations = issues.stringMap(meta.annotations, 'metadata.annotations', false);
  const uid = issues.string(meta.uid, 'metadata.uid', 'optional');
  const resourceVersion = issues.string(meta.resourceVersion, 'metadata.resourceVersion', 'optional');
  const generation = issues.integer(meta.generation, 'metadata.generation');
  const ownerReferences = issues
    .array(meta.ownerReferences, 'metadata.ownerReferences', false)
    ?.map((item, i) => readOwnerReference(item, `metadata.ownerReferences[${i}]`, issues));
  return {
    name,
    namespace,
    ...(uid !== undefined && { uid }),
    ...(resourceVersion !== undefined && { resourceVersion }),
    ...(generation !== undefined && { generation }),
    ...(labels !== undefined && { labels }),
    ...(annotations !== undefined && { annotations }),
    ...(ownerReferences !== undefined && { ownerReferences }),
  };
}

function readOwnerReference(value: unknown, field: string, issues: IssueCollector): OwnerReference {
  const ref = issues.object(value, field, true) ?? {};
  const controller = issues.boolean(ref.controller, `${field}.controller`);
  const blockOwnerDeletion = issues.boolean(ref.blockOwnerDeletion, `${field}.blockOwnerDeletion`);
  return {
    apiVersion: issues.string(ref.apiVersion, `${field}.apiVersion`, 'non-empty') ?? '',
    kind: issues.string(ref.kind, `${field}.kind`, 'non-empty') ?? '',
    name: issues.string(ref.name, `${field}.name`, 'non-empty') ?? '',
    uid: issues.string(ref.uid, `${field}.uid`, 'non-empty') ?? '',
    ...(controller !== undefined && { controller }),
    ...(blockOwnerDeletion !== undefined && { blockOwnerDeletion }),
  };
}

function readSecretObject(value: unknown, field: string, issues: IssueCollector): SecretObject | undefined {
  const item = issues.object(value, field, true);
  if (item === undefined) return undefined;
  // Upstream trims these before use; we keep the same reading so " name " names the Secret "name".
  const secretName = issues.string(item.secretName, `${field}.secretName`, 'non-empty')?.trim();
  const type = issues.string(item.type, `${field}.type`, 'non-empty')?.trim();
  const labels = issues.stringMap(item.labels, `${field}.labels`, false);
  const annotations = issues.stringMap(item.annotations, `${field}.annotations`, false);
  const dataItems = issues.array(item.data, `${field}.data`, true);
  if (dataItems !== undefined && dataItems.length === 0)
    issues.add(`${field}.data`, 'must list at least one item');
  const data = (dataItems ?? []).flatMap((entry, i): SecretObjectData[] => {
    const dataField = `${field}.data[${i}]`;
    const d = issues.object(entry, dataField, true);
    if (d === undefined) return [];
    return [
      {
        objectName: issues.string(d.objectName, `${dataField}.objectName`, 'non-empty')?.trim() ?? '',
        key: issues.string(d.key, `${dataField}.key`, 'non-empty')?.trim() ?? '',
      },
    ];
  });
  return {
    secretName: secretName ?? '',
    type: type ?? '',
    ...(labels !== undefined && { labels }),
    ...(annotations !== undefined && { annotations }),
    data,
  };
}

/**
 * Reads a SecretProviderClass (v1 or v1alpha1). Beyond the field types, it requires what a mount needs and
 * upstream only finds out at mount time: a provider name that can be a socket name, at least one parameter,
 * and complete `secretObjects` entries. A rotation interval annotation must be a positive duration.
 */
export function parseSecretProviderClass(input: unknown): SecretProviderClass {
  const issues = new IssueCollector();
  const header = readHeader(input, SECRET_PROVIDER_CLASS_KIND, issues);
  if (header === undefined)
    throw new InvalidObjectError(SECRET_PROVIDER_CLASS_KIND, '(unknown)', issues.issues);
  const { root, apiVersion, metadata, ref } = header;

  const spec = issues.object(root.spec, 'spec', true) ?? {};
  const provider = issues.string(spec.provider, 'spec.provider', 'non-empty');
  if (provider !== undefined && !PROVIDER_NAME_PATTERN.test(provider)) {
    issues.add(
      'spec.provider',
      'must be at most 30 letters, digits, "-" or "_" (it names the provider socket)',
    );
  }
  const parameters = issues.stringMap(spec.parameters, 'spec.parameters', true);
  if (parameters !== undefined && Object.keys(spec.parameters as object).length === 0) {
    issues.add('spec.parameters', 'must have at least one parameter');
  }
  const secretObjects = issues
    .array(spec.secretObjects, 'spec.secretObjects', false)
    ?.map((item, i) => readSecretObject(item, `spec.secretObjects[${i}]`, issues))
    .filter((item): item is SecretObject => item !== undefined);
  readRotationInterval(metadata, issues);

  let byPod: { id?: string; namespace?: string }[] | undefined;
  const status = issues.object(root.status, 'status', false);
  if (status !== undefined) {
    byPod = issues.array(status.byPod, 'status.byPod', false)?.map((entry, i) => {
      const item = issues.object(entry, `status.byPod[${i}]`, true) ?? {};
      const id = issues.string(item.id, `status.byPod[${i}].id`, 'optional');
      const namespace = issues.string(item.namespace, `status.byPod[${i}].namespace`, 'optional');
      return { ...(id !== undefined && { id }), ...(namespace !== undefined && { namespace }) };
    });
  }

  if (issues.issues.length > 0) throw new InvalidObjectError(SECRET_PROVIDER_CLASS_KIND, ref, issues.issues);
  return {
    apiVersion,
    kind: SECRET_PROVIDER_CLASS_KIND,
    metadata,
    spec: {
      provider: provider ?? '',
      parameters: parameters ?? {},
      ...(secretObjects !== undefined && { secretObjects }),
    },
    ...(status !== undefined && { status: byPod !== undefined ? { byPod } : {} }),
  };
}

function readRotationInterval(metadata: ObjectMeta, issues: IssueCollector): number | undefined {
  const text = metadata.annotations?.[ROTATION_INTERVAL_ANNOTATION];
  if (text === undefined) return undefined;
  const field = `metadata.annotations[${JSON.stringify(ROTATION_INTERVAL_ANNOTATION)}]`;
  try {
    const ms = parseDuration(text);
    if (ms > 0) return ms;
    issues.add(field, `must be a positive duration such as 30s or 5m, not "${text}"`);
  } catch {
    issues.add(field, `must be a duration such as 30s or 5m, not "${text}"`);
  }
  return undefined;
}

/** The per-class rotation interval in milliseconds, when the class sets one (validated by the parser). */
export function rotationIntervalOverride(spc: SecretProviderClass): number | undefined {
  return readRotationInterval(spc.metadata, new IssueCollector());
}

function readConditions(value: unknown, issues: IssueCollector): Condition[] | undefined {
  return issues.array(value, 'status.conditions', false)?.map((entry, i): Condition => {
    const field = `status.conditions[${i}]`;
    const c = issues.object(entry, field, true) ?? {};
    const status = issues.string(c.status, `${field}.status`, 'non-empty');
    if (status !== undefined && !['True', 'False', 'Unknown'].includes(status)) {
      issues.add(`${field}.status`, `must be True, False or Unknown, not "${status}"`);
    }
    const observedGeneration = issues.integer(c.observedGeneration, `${field}.observedGeneration`);
    return {
      type: issues.string(c.type, `${field}.type`, 'non-empty') ?? '',
      status: (status ?? 'Unknown') as Condition['status'],
      reason: issues.string(c.reason, `${field}.reason`, 'non-empty') ?? '',
      message: issues.string(c.message, `${field}.message`, 'optional') ?? '',
      lastTransitionTime:
        issues.string(c.lastTransitionTime, `${field}.lastTransitionTime`, 'non-empty') ?? '',
      ...(observedGeneration !== undefined && { observedGeneration }),
    };
  });
}

/** Reads a SecretProviderClassPodStatus (v1 or v1alpha1). */
export function parseSecretProviderClassPodStatus(input: unknown): SecretProviderClassPodStatus {
  const issues = new IssueCollector();
  const header = readHeader(input, SECRET_PROVIDER_CLASS_POD_STATUS_KIND, issues);
  if (header === undefined) {
    throw new InvalidObjectError(SECRET_PROVIDER_CLASS_POD_STATUS_KIND, '(unknown)', issues.issues);
  }
  const { root, apiVersion, metadata, ref } = header;
  const status = issues.object(root.status, 'status', true) ?? {};
  const objects = (issues.array(status.objects, 'status.objects', false) ?? []).map(
    (entry, i): SecretProviderClassObject => {
      const o = issues.object(entry, `status.objects[${i}]`, true) ?? {};
      return {
        id: issues.string(o.id, `status.objects[${i}].id`, 'non-empty') ?? '',
        version: issues.string(o.version, `status.objects[${i}].version`, 'any') ?? '',
      };
    },
  );
  const podName = issues.string(status.podName, 'status.podName', 'non-empty');
  const secretProviderClassName = issues.string(
    status.secretProviderClassName,
    'status.secretProviderClassName',
    'non-empty',
  );
  const targetPath = issues.string(status.targetPath, 'status.targetPath', 'non-empty');
  const mounted = issues.boolean(status.mounted, 'status.mounted');
  const conditions = readConditions(status.conditions, issues);
  if (issues.issues.length > 0) {
    throw new InvalidObjectError(SECRET_PROVIDER_CLASS_POD_STATUS_KIND, ref, issues.issues);
  }
  return {
    apiVersion,
    kind: SECRET_PROVIDER_CLASS_POD_STATUS_KIND,
    metadata,
    status: {
      podName: podName ?? '',
      secretProviderClassName: secretProviderClassName ?? '',
      mounted: mounted ?? false,
      targetPath: targetPath ?? '',
      objects,
      ...(conditions !== undefined && { conditions }),
    },
  };
}
