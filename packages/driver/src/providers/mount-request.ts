/**
 * The MountRequest, built as upstream's driver builds it so that any provider sees the same bytes:
 * `attributes` is the SecretProviderClass parameters overlaid with the volume context (the volume context
 * wins) and the service-account tokens; `secrets` is the node-publish secret map (`null` when kubelet sent
 * none); `permission` is Go's `os.FileMode(0644)` in JSON, `"420"`. Unlike upstream, the versions of the
 * objects mounted now are filled in, so a provider can skip objects that did not change.
 */
import { goJsonStringMap, podAttributeKeys } from '@secrets-store-csi/core';
import type { WireMountRequest } from '@secrets-store-csi/protocol/wire';

/** The default file mode upstream announces to providers (0644), as its JSON encoding. */
export const UPSTREAM_PERMISSION = String(0o644);

export interface MountRequestInput {
  readonly parameters: Readonly<Record<string, string>>;
  readonly volumeContext: Readonly<Record<string, string>>;
  /** The NodePublishVolumeRequest secrets; undefined when kubelet sent none. */
  readonly secrets: Readonly<Record<string, string>> | undefined;
  readonly targetPath: string;
  readonly currentObjectVersions: readonly { readonly id: string; readonly version: string }[];
}

/**
 * The tokens kubelet requested for the CSIDriver's audiences: from the secrets when the CSIDriver sets
 * `serviceAccountTokenInSecrets` (Kubernetes 1.35 and later), else from the volume context.
 */
export function serviceAccountTokens(
  volumeContext: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const key = podAttributeKeys.serviceAccountTokens;
  const fromSecrets = secrets?.[key];
  if (fromSecrets !== undefined && fromSecrets !== '') return fromSecrets;
  const fromContext = volumeContext[key];
  return fromContext === '' ? undefined : fromContext;
}

export function mountAttributes(input: MountRequestInput): Record<string, string> {
  const attributes: Record<string, string> = { ...input.parameters, ...input.volumeContext };
  const tokens = serviceAccountTokens(input.volumeContext, input.secrets);
  if (tokens !== undefined) attributes[podAttributeKeys.serviceAccountTokens] = tokens;
  return attributes;
}

export function buildMountRequest(input: MountRequestInput): WireMountRequest {
  return {
    attributes: goJsonStringMap(mountAttributes(input)),
    secrets: goJsonStringMap(input.secrets),
    target_path: input.targetPath,
    permission: UPSTREAM_PERMISSION,
    current_object_version: input.currentObjectVersions.map(({ id, version }) => ({ id, version })),
  };
}
