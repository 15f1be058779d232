/**
 * The SecretProviderClass parameters of one Mount, read and checked in upstream's exact order (§2.1, steps
 * 1-14) so that a request with several faults reports the same first fault as upstream. Every value is
 * trimmed, as upstream's getters trim. Nothing here touches the network.
 *
 * Decisions:
 * - The tenant is required in every mode, VM managed identity and pod identity included, although those
 *   never send it to Entra ID: upstream requires it (step 8) and SecretProviderClasses are written for it.
 * - `disableChallengeResourceVerification` (ours, for Azure Stack, upstream issue #2044) is read right after
 *   the cloud (step 10) because it depends on it, and before the auth config (step 11). It is refused for
 *   the four built-in clouds, where the check protects against a vault host that is not the cloud's.
 * - Steps 15-16 (no objects, vault URL) belong to the mount; `vaultUrl` is here for step 16.
 */
import { parameterError } from '../errors.js';
import type { CloudEnvironment, KeyVaultObject, MountParameters } from '../model.js';
import { buildAuthConfig, type IdentityModeName } from './auth-config.js';
import { isNamedCloud, resolveCloud, type ReadTextFile } from './clouds.js';
import { goQuote, messageOf, parseGoBool } from './go-text.js';
import { parseObject, readObjectTexts } from './objects.js';
import type { ObjectsMemo } from './objects-memo.js';
import { validateObjectSource, type ObjectSourceContext } from './object-source.js';
import { validateObject } from './validate.js';
import { checkShapingAcrossObjects, validateShaping } from './shaping.js';

/** The parameter and attribute keys this provider reads. */
export const parameterKeys = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
  usePodIdentity: 'usePodIdentity',
  useVMManagedIdentity: 'useVMManagedIdentity',
  useAzureTokenProxy: 'useAzureTokenProxy',
  keyvaultName: 'keyvaultName',
  tenantID: 'tenantID',
  legacyTenantId: 'tenantId',
  cloudEnvFileName: 'cloudEnvFileName',
  cloudName: 'cloudName',
  userAssignedIdentityID: 'userAssignedIdentityID',
  clientID: 'clientID',
  objects: 'objects',
  disableChallengeResourceVerification: 'disableChallengeResourceVerification',
} as const;

export interface MountParametersInput {
  /** The MountRequest's attributes: the SecretProviderClass parameters plus the driver's pod attributes. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The nodePublishSecretRef secret; an empty object when the pod names none. */
  readonly secrets: Readonly<Record<string, string>>;
}

export interface MountParametersOptions {
  /** The cloud of `--cloud-name`, used when the SecretProviderClass has no `cloudName`. */
  readonly defaultCloud: CloudEnvironment;
  /** Reads an Azure Stack environment file; node:fs by default. */
  readonly readFile?: ReadTextFile;
  /** Where AZURE_ENVIRONMENT_FILEPATH is looked up when `cloudEnvFileName` is empty; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Parsed `objects` texts kept across mounts (the provider's); every mount parses its text when absent. */
  readonly objectsMemo?: ObjectsMemo;
}

/** A parameter's value, trimmed as every upstream getter trims; '' when absent. */
function get(attributes: Readonly<Record<string, string>>, key: string): string {
  const value = Object.hasOwn(attributes, key) ? attributes[key] : undefined;
  return typeof value === 'string' ? value.trim() : '';
}

/** An optional boolean flag in Go ParseBool forms; '' is false, as upstream. */
function flag(attributes: Readonly<Record<string, string>>, key: string): boolean {
  const text = get(attributes, key);
  if (text === '') return false;
  try {
    return parseGoBool(text);
  } catch (error) {
    throw parameterError(`failed to parse ${key} flag, error: ${messageOf(error)}`);
  }
}

/** Steps 3-6: the three mode flags, in order, then their mutual exclusion. */
function identityModeOf(attributes: Readonly<Record<string, string>>): IdentityModeName {
  const enabled: IdentityModeName[] = [];
  if (flag(attributes, parameterKeys.usePodIdentity)) enabled.push('PodIdentity');
  if (flag(attributes, parameterKeys.useVMManagedIdentity)) enabled.push('VMManagedIdentity');
  if (flag(attributes, parameterKeys.useAzureTokenProxy)) enabled.push('AzureTokenProxy');
  if (enabled.length > 1) {
    throw parameterError(
      'only one identity mode can be enabled at a time: usePodIdentity, useVMManagedIdentity, or useAzureTokenProxy',
    );
  }
  return enabled[0] ?? 'None';
}

/** Step 10: `cloudName` resolved against the default cloud and the per-request environment file. */
async function cloudOf(
  attributes: Readonly<Record<string, string>>,
  options: MountParametersOptions,
): Promise<CloudEnvironment> {
  const cloudName = get(attributes, parameterKeys.cloudName);
  const envFilePath = get(attributes, parameterKeys.cloudEnvFileName);
  try {
    return await resolveCloud(cloudName, envFilePath, options.defaultCloud, options.readFile, options.env);
  } catch (error) {
    throw parameterError(`cloudName ${cloudName} is not valid, error: ${messageOf(error)}`, { cause: error });
  }
}

/** Ours: `disableChallengeResourceVerification`, allowed only for an Azure Stack (file-defined) cloud. */
function challengeVerificationDisabled(
  attributes: Readonly<Record<string, string>>,
  cloud: CloudEnvironment,
): boolean {
  const disabled = flag(attributes, parameterKeys.disableChallengeResourceVerification);
  if (disabled && isNamedCloud(cloud)) {
    throw parameterError(
      'disableChallengeResourceVerification is only supported with cloudName AzureStackCloud',
    );
  }
  return disabled;
}

/**
 * Steps 12-14: the `objects` text, each element parsed then validated before the next is read, so the
 * first faulty element is the one reported. A text the memo holds has passed every check of its own objects
 * already: only the checks against the class run again, in the same order.
 */
function objectsOf(
  attributes: Readonly<Record<string, string>>,
  source: Omit<ObjectSourceContext, 'cloudName'>,
  memo: ObjectsMemo | undefined,
): readonly KeyVaultObject[] {
  const text = get(attributes, parameterKeys.objects);
  if (text === '') throw parameterError('objects is not set');
  const context = { ...source, cloudName: get(attributes, parameterKeys.cloudName) };
  const known = memo?.get(text);
  if (known !== undefined) {
    for (const object of known) validateObjectSource(object, context);
    return known;
  }
  const objects = readObjectTexts(text).map((objectText, index) => {
    const object = parseObject(objectText, index);
    validateObject(object);
    validateShaping(object);
    validateObjectSource(object, context);
    return object;
  });
  return memo === undefined ? objects : memo.set(text, objects);
}

/**
 * Reads and checks every parameter of one Mount in upstream's order (§2.1 steps 1-14).
 * @throws ProviderError with upstream's text for the first fault: InvalidParameter, or InvalidIdentity for
 * the auth config (step 11).
 */
export async function parseMountParameters(
  input: MountParametersInput,
  options: MountParametersOptions,
): Promise<MountParameters> {
  const { attributes } = input;
  const podName = get(attributes, parameterKeys.podName);
  if (podName === '') throw parameterError('pod name is not provided');
  const podNamespace = get(attributes, parameterKeys.podNamespace);
  if (podNamespace === '') throw parameterError('pod namespace is not provided');
  const identityMode = identityModeOf(attributes);
  const keyvaultName = get(attributes, parameterKeys.keyvaultName);
  if (keyvaultName === '') throw parameterError('keyvaultName is not provided');
  const tenantId = get(attributes, parameterKeys.tenantID) || get(attributes, parameterKeys.legacyTenantId);
  if (tenantId === '') throw parameterError('tenantId is not provided');
  const cloud = await cloudOf(attributes, options);
  const disableChallengeResourceVerification = challengeVerificationDisabled(attributes, cloud);
  const auth = buildAuthConfig({
    identityMode,
    tenantId,
    clientId: get(attributes, parameterKeys.clientID),
    userAssignedIdentityId: get(attributes, parameterKeys.userAssignedIdentityID),
    podName,
    podNamespace,
    serviceAccountTokens: get(attributes, parameterKeys.serviceAccountTokens),
    secrets: input.secrets,
  });
  const objects = objectsOf(attributes, { cloud, tenantId, auth }, options.objectsMemo);
  checkShapingAcrossObjects(objects, input.secrets);
  return {
    podName,
    podNamespace,
    serviceAccountName: get(attributes, parameterKeys.serviceAccountName),
    keyvaultName,
    tenantId,
    cloud,
    auth,
    objects,
    disableChallengeResourceVerification,
  };
}

/**
 * Step 16: the vault URL, `https://<name>.<keyVaultDNSSuffix>/` by plain concatenation. The name is checked
 * as upstream checks it: 3 to 24 bytes (Go's len), then only ASCII letters, digits and hyphens.
 * @throws ProviderError `failed to get vault: Invalid vault name: "<n>", …`.
 */
export function vaultUrl(name: string, cloud: CloudEnvironment): string {
  const length = Buffer.byteLength(name, 'utf8');
  if (length < 3 || length > 24) {
    throw parameterError(
      `failed to get vault: Invalid vault name: ${goQuote(name)}, must be between 3 and 24 chars`,
    );
  }
  if (!/^[-A-Za-z0-9]+$/.test(name)) {
    throw parameterError(
      `failed to get vault: Invalid vault name: ${goQuote(name)}, must match [-a-zA-Z0-9]{3,24}`,
    );
  }
  return `https://${name}.${cloud.keyVaultDNSSuffix}/`;
}
