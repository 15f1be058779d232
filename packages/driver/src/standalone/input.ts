/**
 * The standalone mode's input: one YAML file with a SecretProviderClass, and optionally the node-publish
 * Secret (`kind: Secret`, `data` base64 or `stringData`) and a Pod whose name, namespace, uid, service
 * account and first CSI volume's `volumeAttributes` become the volume context, as kubelet would send them.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  CodedError,
  parseSecretProviderClass,
  podAttributeKeys,
  SECRET_PROVIDER_CLASS_ATTRIBUTE,
  type SecretProviderClass,
} from '@secrets-store-csi/core';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_DRIVER_NAME } from '../config.js';

export interface StandaloneInput {
  readonly spc: SecretProviderClass;
  readonly volumeContext: Readonly<Record<string, string>>;
  readonly secrets: Readonly<Record<string, string>> | undefined;
  readonly pod: { readonly name: string; readonly namespace: string; readonly uid: string };
}

export const standaloneErrorCodes = { invalidInput: 'InvalidStandaloneInput' } as const;

function invalid(file: string, message: string): CodedError {
  return new CodedError(standaloneErrorCodes.invalidInput, `${file}: ${message}`);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, file: string, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(file, `${field} must be a map of strings`);
  }
  return value as Record<string, string>;
}

function secretData(doc: Json, file: string): Record<string, string> {
  const data = stringMap(doc.data, file, 'Secret data');
  const decoded = Object.fromEntries(
    Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]),
  );
  return { ...decoded, ...stringMap(doc.stringData, file, 'Secret stringData') };
}

function podVolumeAttributes(pod: Json, file: string): Record<string, string> {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const volumes = Array.isArray(spec.volumes) ? (spec.volumes as unknown[]) : [];
  for (const volume of volumes) {
    if (isObject(volume) && isObject(volume.csi) && volume.csi.driver === DEFAULT_DRIVER_NAME) {
      return stringMap(volume.csi.volumeAttributes, file, 'Pod csi volumeAttributes');
    }
  }
  return {};
}

export function parseStandaloneInput(text: string, file: string): StandaloneInput {
  const documents = parseAllDocuments(text);
  let spcDoc: Json | undefined;
  let secretDoc: Json | undefined;
  let podDoc: Json | undefined;
  for (const document of documents) {
    if (document.errors.length > 0)
      throw invalid(file, `not valid YAML: ${document.errors[0]?.message ?? ''}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (!isObject(value)) throw invalid(file, 'every document must be a Kubernetes object');
    const twice = (kind: string) => invalid(file, `more than one ${kind} document; keep one`);
    if (value.kind === 'SecretProviderClass') {
      if (spcDoc !== undefined) throw twice('SecretProviderClass');
      spcDoc = value;
    } else if (value.kind === 'Secret') {
      if (secretDoc !== undefined) throw twice('Secret');
      secretDoc = value;
    } else if (value.kind === 'Pod') {
      if (podDoc !== undefined) throw twice('Pod');
      podDoc = value;
    } else
      throw invalid(
        file,
        `unexpected kind ${JSON.stringify(value.kind)}; want SecretProviderClass, Secret or Pod`,
      );
  }
  if (spcDoc === undefined) throw invalid(file, 'no SecretProviderClass document');
  const spcMeta = isObject(spcDoc.metadata) ? spcDoc.metadata : {};
  const podMeta = podDoc !== undefined && isObject(podDoc.metadata) ? podDoc.metadata : {};
  const namespace =
    (typeof podMeta.namespace === 'string' && podMeta.namespace) ||
    (typeof spcMeta.namespace === 'string' && spcMeta.namespace) ||
    'default';
  let spc: SecretProviderClass;
  try {
    spc = parseSecretProviderClass({ ...spcDoc, metadata: { ...spcMeta, namespace } });
  } catch (error) {
    throw invalid(file, (error as Error).message);
  }
  const pod = {
    name: typeof podMeta.name === 'string' ? podMeta.name : 'standalone',
    namespace,
    uid: typeof podMeta.uid === 'string' ? podMeta.uid : randomUUID(),
  };
  const podSpec = podDoc !== undefined && isObject(podDoc.spec) ? podDoc.spec : {};
  const volumeContext = {
    ...(podDoc === undefined ? {} : podVolumeAttributes(podDoc, file)),
    [SECRET_PROVIDER_CLASS_ATTRIBUTE]: spc.metadata.name,
    [podAttributeKeys.podName]: pod.name,
    [podAttributeKeys.podNamespace]: pod.namespace,
    [podAttributeKeys.podUid]: pod.uid,
    [podAttributeKeys.serviceAccountName]:
      typeof podSpec.serviceAccountName === 'string' ? podSpec.serviceAccountName : 'default',
    [podAttributeKeys.ephemeral]: 'true',
  };
  const secrets = secretDoc === undefined ? undefined : secretData(secretDoc, file);
  return { spc, volumeContext, secrets, pod };
}

export async function readStandaloneInput(file: string): Promise<StandaloneInput> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw invalid(file, `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseStandaloneInput(text, file);
}
