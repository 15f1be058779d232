/**
 * What a failure's reason and message mean, in words: one table from the texts this project writes (the
 * driver's error codes and event reasons, the Azure provider's codes and messages, Entra's AADSTS codes,
 * Key Vault's error codes, kubelet's FailedMount) to a cause and a fix. Rules are tried in order and the
 * first that matches wins, so the specific ones come first. A rule matches when the reason is one of its
 * `reasons` (if it names any) and the message matches its `pattern` (if it has one).
 *
 * A provider failure reaches the pod as reason `GRPCProviderError` (or `MountRotationFailed` on a refresh)
 * with the provider's words in the message (`rpc error: code = PermissionDenied desc = ...`), so most rules
 * read the message.
 */

export type CauseCategory =
  | 'tenant'
  | 'identity'
  | 'permission'
  | 'vault'
  | 'object'
  | 'throttling'
  | 'class'
  | 'provider'
  | 'driver'
  | 'node'
  | 'content'
  | 'secret-sync';

export interface Diagnosis {
  /** The rule's stable id (for `-o json` consumers and tests). */
  readonly id: string;
  readonly category: CauseCategory;
  readonly cause: string;
  readonly fix: string;
}

interface Rule extends Diagnosis {
  readonly reasons?: readonly string[];
  readonly pattern?: RegExp;
}

/** Reasons whose message carries a provider's or the driver's error text. */
const FAILURE_REASONS = [
  'GRPCProviderError',
  'MountRotationFailed',
  'FailedMount',
  'AuthenticationFailed',
  'AccessDenied',
  'ObjectNotFound',
  'Throttled',
  'StoreUnavailable',
  'InvalidParameter',
  'InvalidIdentity',
  'InvalidContent',
] as const;

export const rules: readonly Rule[] = [
  // Hooks for later features: an optional object that is absent is a warning, not a failure.
  {
    id: 'optional-object-absent',
    category: 'object',
    reasons: ['OptionalObjectAbsent'],
    cause:
      'an object marked optional: true is missing (404) or disabled in the store; the volume mounted without it',
    fix: 'create or enable the object in the store if the pod needs it; it appears in the volume at the next rotation',
  },
  // The class and the volume.
  {
    id: 'class-not-found',
    category: 'class',
    reasons: ['SecretProviderClassNotFound'],
    cause:
      "the SecretProviderClass named in the volume's secretProviderClass attribute does not exist in the pod's namespace",
    fix: "create the SecretProviderClass in the pod's namespace, or correct volumeAttributes.secretProviderClass; kubelet retries the mount",
  },
  {
    id: 'class-not-found',
    category: 'class',
    pattern: /secretproviderclasses\.secrets-store\.csi\.x-k8s\.io "[^"]*" not found/,
    cause:
      "the SecretProviderClass named in the volume's secretProviderClass attribute does not exist in the pod's namespace",
    fix: "create the SecretProviderClass in the pod's namespace, or correct volumeAttributes.secretProviderClass; kubelet retries the mount",
  },
  {
    id: 'class-invalid',
    category: 'class',
    reasons: ['SecretProviderClassInvalid', 'InvalidArgument'],
    cause: 'the SecretProviderClass or the volume attributes are not valid',
    fix: 'correct the field the message names (kubectl get secretproviderclass -o yaml); the API server accepts some values the driver refuses',
  },
  {
    id: 'provider-not-found',
    category: 'provider',
    reasons: ['ProviderNotFound'],
    cause: "no provider with the class's spec.provider name serves a socket on the pod's node",
    fix: 'install the provider DaemonSet (it must run on every node that mounts) or correct spec.provider (azure, directory, ...)',
  },
  {
    id: 'driver-not-registered',
    category: 'driver',
    pattern: /driver name secrets-store\.csi\.k8s\.io not found in the list of registered CSI drivers/,
    cause: "the Secrets Store CSI driver is not running or not registered on the pod's node",
    fix: 'check the driver DaemonSet pod on that node (kubectl -n kube-system get pods -l app=secrets-store-csi-driver -o wide) and its node-driver-registrar logs',
  },
  {
    id: 'provider-not-answering',
    category: 'provider',
    pattern:
      /code = (Unavailable|DeadlineExceeded)\b.*(is not answering|connection refused|no such file|connect ENOENT)|is not answering on/,
    cause:
      "the provider's socket is there but the provider is not answering (crashed, restarting or overloaded)",
    fix: 'check the provider DaemonSet pod on the node and its logs; the mount is retried by kubelet',
  },
  // Entra ID (Azure AD): tenant, then identity.
  {
    id: 'tenant-not-found',
    category: 'tenant',
    pattern: /AADSTS(90002|900023|90013)\b|Tenant '[^']*' not found|tenant[^.]*not (found|valid)/i,
    cause: 'Entra ID does not know the tenant the class names',
    fix: 'set tenantId in the SecretProviderClass (or the object) to your directory (tenant) ID, and check cloudName for sovereign clouds',
  },
  {
    id: 'client-not-found',
    category: 'identity',
    pattern: /AADSTS700016\b|Application with identifier '[^']*' was not found/i,
    cause: 'the client ID is not an application or managed identity in that tenant',
    fix: "correct clientID (workload identity, or the nodePublishSecretRef clientid) or userAssignedIdentityID; check the tenant is the identity's home tenant",
  },
  {
    id: 'client-secret-invalid',
    category: 'identity',
    pattern: /AADSTS(7000215|7000222|7000216)\b|[Ii]nvalid client secret/,
    cause: "the service principal's client secret is wrong or expired",
    fix: 'create a new client secret for the app registration and update the nodePublishSecretRef Secret (key clientsecret); the next mount uses it',
  },
  {
    id: 'federation-mismatch',
    category: 'identity',
    pattern: /AADSTS(70021|700211|700212|700213|700024|50166)\b|[Nn]o matching federated identity/,
    cause:
      "Entra ID refused the pod's service-account token: no federated credential of the identity matches its issuer, subject or audience",
    fix: "add a federated credential with the cluster's OIDC issuer URL and subject system:serviceaccount:NAMESPACE:SERVICEACCOUNT (audience api://AzureADTokenExchange), and annotate the service account with azure.workload.identity/client-id",
  },
  {
    id: 'identity-missing',
    category: 'identity',
    reasons: ['InvalidIdentity'],
    cause:
      'the identity to authenticate with is incomplete (no client ID, no nodePublishSecretRef, no service-account token)',
    fix: 'set usePodIdentity/useVMManagedIdentity/clientID in the class, or reference a Secret with clientid and clientsecret in nodePublishSecretRef; for workload identity the CSIDriver object must request a token for api://AzureADTokenExchange',
  },
  {
    id: 'identity-missing',
    category: 'identity',
    pattern:
      /could not find (clientid|clientsecret)|nodePublishSecretRef|serviceAccount\.tokens|no service account token/i,
    cause:
      'the identity to authenticate with is incomplete (no client ID, no nodePublishSecretRef, no service-account token)',
    fix: 'set usePodIdentity/useVMManagedIdentity/clientID in the class, or reference a Secret with clientid and clientsecret in nodePublishSecretRef; for workload identity the CSIDriver object must request a token for api://AzureADTokenExchange',
  },
  {
    id: 'token-throttled',
    category: 'throttling',
    pattern: /Entra ID throttled|token requests? \(429/,
    cause: "Entra ID throttled this identity's token requests",
    fix: 'wait for the time the message names; the driver retries with backoff. Share one identity across fewer pods, or lengthen the rotation interval (rotation.secrets-store.csi.k8s.io/poll-interval on the class)',
  },
  {
    id: 'authentication-failed',
    category: 'identity',
    pattern:
      /AADSTS\d+|AuthenticationFailed|ManagedIdentityCredential|ClientAssertionCredential|ClientSecretCredential|WorkloadIdentityCredential/,
    cause: 'Entra ID refused to issue a token for the identity',
    fix: 'look up the AADSTS code in the message; check clientID, tenantId and that the identity exists and is enabled',
  },
  // Key Vault.
  {
    id: 'vault-not-found',
    category: 'vault',
    pattern: /vault host \S+ does not resolve|no such host|ENOTFOUND|getaddrinfo/,
    cause:
      'the vault name does not resolve: there is no such vault in that cloud, or the node cannot resolve it',
    fix: 'correct keyvaultName (and cloudName); for a private endpoint make sure the node resolves privatelink.vaultcore.azure.net',
  },
  {
    id: 'vault-throttled',
    category: 'throttling',
    pattern: /\b429\b|throttl/i,
    cause: 'Key Vault throttled the requests (429 Too Many Requests) and retries ran out',
    fix: 'wait for the time the message names (the driver backs off); spread the load: lengthen the rotation interval, fewer objects per class, or one vault per workload',
  },
  {
    id: 'throttled',
    category: 'throttling',
    reasons: ['Throttled'],
    cause: 'the store throttled the requests and retries ran out',
    fix: 'wait; the driver retries with backoff. Lengthen the rotation interval or spread objects over more vaults',
  },
  {
    id: 'object-disabled',
    category: 'object',
    pattern: /[Oo]peration get is not allowed on a disabled|ERROR CODE: Forbidden[\s\S]*disabled/,
    cause: 'the object (or the version asked for) is disabled in the vault',
    fix: 'enable the object or the version, or pin objectVersion to an enabled one; optional: true lets the pod start without it',
  },
  {
    id: 'object-not-found',
    category: 'object',
    pattern:
      /ERROR CODE: (SecretNotFound|KeyNotFound|CertificateNotFound|NotFound)|was not found in this key vault|ObjectNotFound|code = NotFound/,
    cause: 'the vault has no object with that name and type (or no such version)',
    fix: 'check objectName, objectType (secret, key, cert) and objectVersion in the class against the vault; create the object, or mark it optional: true',
  },
  {
    id: 'access-denied',
    category: 'permission',
    pattern:
      /ERROR CODE: Forbidden|RESPONSE 40[13]|does not have (secrets|keys|certificates) (get|list) permission|ForbiddenBy(Rbac|Policy|Firewall)|AccessDenied|code = PermissionDenied/,
    cause:
      "the identity authenticated, but the vault refused it (missing role or access policy, or the vault's firewall)",
    fix: 'grant the identity "Key Vault Secrets User" (and "Key Vault Certificate User" / "Key Vault Crypto User" for certs and keys) on the vault, or an access policy with get; for ForbiddenByFirewall allow the nodes\' network',
  },
  {
    id: 'store-unavailable',
    category: 'vault',
    pattern: /StoreUnavailable|could not be reached|ECONNREFUSED|ETIMEDOUT|ECONNRESET|RESPONSE 5\d\d/,
    cause: 'the store (or the token endpoint) could not be reached or failed, after retries',
    fix: "check the nodes' egress to the vault (firewall, proxy, private endpoint) and the store's health; the driver retries",
  },
  {
    id: 'invalid-content',
    category: 'content',
    reasons: ['InvalidContent'],
    cause: 'what the store returned could not be turned into a file (PFX, PEM, key type or encoding)',
    fix: 'check objectType, objectFormat and objectEncoding in the class against what the object holds',
  },
  {
    id: 'invalid-content',
    category: 'content',
    pattern: /InvalidContent|failed to (decode|parse) (pfx|pkcs12|pem|certificate)|objectEncoding/i,
    cause: 'what the store returned could not be turned into a file (PFX, PEM, key type or encoding)',
    fix: 'check objectType, objectFormat and objectEncoding in the class against what the object holds',
  },
  {
    id: 'parameter-invalid',
    category: 'class',
    pattern:
      /InvalidParameter|failed to (parse|unmarshal)|is not set|invalid (objectType|objectFormat|objectEncoding|keyvaultName|cloudName|filePermission)|code = InvalidArgument/i,
    cause: 'a parameter of the SecretProviderClass is wrong for the provider',
    fix: 'correct the parameter the message names (spec.parameters: keyvaultName, tenantId, objects, cloudName)',
  },
  // The driver and the node.
  {
    id: 'response-too-large',
    category: 'driver',
    reasons: ['ProviderResponseTooLarge'],
    cause: "the provider's answer is larger than the driver accepts",
    fix: "raise the driver's --max-call-recv-msg-size (and the provider's), or split the objects over more volumes",
  },
  {
    id: 'driver-forbidden',
    category: 'driver',
    reasons: ['KubernetesForbidden'],
    cause: "the driver's service account may not read or write an object it needs",
    fix: "reinstall the driver's RBAC (ClusterRole secretproviderclasses-role and friends) as the chart renders it",
  },
  {
    id: 'secret-sync-failed',
    category: 'secret-sync',
    reasons: ['FailedToCreateSecret', 'SecretRotationFailed', 'SecretNotManaged'],
    cause: 'the files mounted, but the Kubernetes Secret from secretObjects could not be created or updated',
    fix: 'check secretObjects (objectName must match a mounted file or alias), that syncSecret.enabled is on in the chart, and that a Secret of that name is not owned by someone else',
  },
  {
    id: 'duplicate-file-path',
    category: 'class',
    reasons: ['DuplicateFilePath'],
    cause: 'two objects of the class write the same file path; the last one wins',
    fix: 'give the objects distinct objectAlias values',
  },
  {
    id: 'node-filesystem',
    category: 'node',
    reasons: ['FileWriteError', 'FailedToMount', 'FailedToEnsureMountPoint', 'UnmountFailed'],
    cause: 'the driver could not mount the tmpfs or write the files on the node',
    fix: "check the driver's log on the node and kubelet's root directory (--kubelet-root-dir / linux.kubeletRootDir in the chart)",
  },
  {
    id: 'pod-status-failed',
    category: 'driver',
    reasons: ['PodStatusError'],
    cause: 'the driver could not write the SecretProviderClassPodStatus',
    fix: "check the API server's availability and the driver's RBAC for secretproviderclasspodstatuses",
  },
  // Nothing more specific: say where to look.
  {
    id: 'provider-error',
    category: 'provider',
    reasons: FAILURE_REASONS,
    cause: 'the provider failed to fetch the objects',
    fix: "read the message above and the provider's log on the pod's node; kubelet retries the mount",
  },
];

/** The diagnosis for a failure's reason and message, or undefined when no rule knows it. */
export function diagnose(reason: string, message: string): Diagnosis | undefined {
  for (const rule of rules) {
    if (rule.reasons !== undefined && !rule.reasons.includes(reason)) continue;
    if (rule.pattern !== undefined && !rule.pattern.test(message)) continue;
    return { id: rule.id, category: rule.category, cause: rule.cause, fix: rule.fix };
  }
  return undefined;
}
