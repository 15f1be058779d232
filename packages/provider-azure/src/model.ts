/**
 * The provider's domain vocabulary, shared by parameter parsing, authentication, Key Vault access and
 * content conversion. Nothing here knows gRPC or HTTP.
 */

/** One entry of the SecretProviderClass `objects` array, every string field trimmed and kept as written. */
export interface KeyVaultObject {
  readonly objectName: string;
  readonly objectAlias: string;
  /** `secret`, `key` or `cert`; checked (exact, lower case) when the object is fetched, as upstream does. */
  readonly objectType: string;
  /** '' for the latest version. */
  readonly objectVersion: string;
  /** '' (pem), `pem` or `pfx`, any case. */
  readonly objectFormat: string;
  /** '' (utf-8), `utf-8`, `base64` or `hex`, any case. */
  readonly objectEncoding: string;
  /** Octal text such as `0644`; '' for the request's default mode. */
  readonly filePermission: string;
  /** 0 or 1: the one version; more: that many of the newest enabled versions. */
  readonly objectVersionHistory: number;
  /** Ours: extraction and certificate shaping (see ObjectShaping); absent for upstream classes. */
  readonly shaping?: ObjectShaping;
  // Ours (issue 16; docs/multi-vault-and-optional.md). Set only when the object names them, so an upstream
  // object parses to exactly upstream's fields.
  /** The vault of this object; the class's `keyvaultName` when unset. */
  readonly keyvaultName?: string;
  /** The tenant of that vault (`tenantID` or `tenantId`); the class's tenant when unset. */
  readonly tenantId?: string;
  /** Accepted only when it names the class's cloud: one identity signs in to one cloud. */
  readonly cloudName?: string;
  /** A missing (404) or disabled object is reported absent instead of failing the mount. */
  readonly optional?: boolean;
}

/** A cloud's endpoints, as go-autorest names them. */
export interface CloudEnvironment {
  readonly name: string;
  /** The Entra ID authority host, for example `https://login.microsoftonline.com/`. */
  readonly activeDirectoryEndpoint: string;
  /** The Key Vault resource, for example `https://vault.azure.net/` (pod identity asks for a token for it). */
  readonly keyVaultEndpoint: string;
  /** For example `vault.azure.net`; the vault URL is `https://<keyvaultName>.<keyVaultDNSSuffix>/`. */
  readonly keyVaultDNSSuffix: string;
}

/** How the provider authenticates to Key Vault for one mount; decided from the parameters (§4.1). */
export type AuthConfig =
  | {
      readonly mode: 'service-principal';
      readonly tenantId: string;
      readonly clientId: string;
      /** A credential: never log it. */
      readonly clientSecret: string;
    }
  | {
      readonly mode: 'vm-managed-identity';
      /** Client ID of a user-assigned identity; undefined for the system-assigned one. */
      readonly userAssignedIdentityId: string | undefined;
    }
  | {
      readonly mode: 'workload-identity';
      readonly tenantId: string;
      readonly clientId: string;
      /** The pod's service-account token for audience api://AzureADTokenExchange: never log it. */
      readonly serviceAccountToken: string;
    }
  | {
      readonly mode: 'pod-identity';
      readonly podNamespace: string;
      readonly podName: string;
    }
  | {
      readonly mode: 'identity-binding';
      readonly tenantId: string;
      readonly clientId: string;
      /** The pod's service-account token for audience api://AKSIdentityBinding: never log it. */
      readonly serviceAccountToken: string;
    };

export type AuthMode = AuthConfig['mode'];

/** Everything one Mount needs, parsed and checked in upstream's order before any network call. */
export interface MountParameters {
  readonly podName: string;
  readonly podNamespace: string;
  /** `csi.storage.k8s.io/serviceAccount.name`, '' when the driver sent none. */
  readonly serviceAccountName: string;
  readonly keyvaultName: string;
  readonly tenantId: string;
  readonly cloud: CloudEnvironment;
  readonly auth: AuthConfig;
  readonly objects: readonly KeyVaultObject[];
  /**
   * Ours, for custom clouds (Azure Stack): skip the SDK's check that the vault host ends with the resource
   * the Key Vault challenge names.
   */
  readonly disableChallengeResourceVerification: boolean;
}

// Ours (issue 16 §2, §4): object fields upstream does not have. yaml.v3 ignores unknown keys, so upstream
// mounts a class using them as if they were absent; a class without them never has `shaping`.

/** One entry of an object's `jmesPath` list: a file named `objectAlias` holding what `path` selects. */
export interface JmesPathEntry {
  readonly path: string;
  readonly objectAlias: string;
  /** Octal text such as `0600`; '' for the object's own mode. */
  readonly filePermission: string;
}

/** Key extraction and certificate shaping of one object; present when any of its fields is written. */
export interface ObjectShaping {
  /** `jmesPath`: files extracted from a JSON or YAML secret value; [] when absent. */
  readonly jmesPath: readonly JmesPathEntry[];
  /** `objectContentType`: read the value as `application/x-pkcs12` or `application/x-pem-file`; '' for Key Vault's. */
  readonly objectContentType: string;
  /** `pemContent`: `all` (''), `key` (the private keys only) or `certs` (the certificates only). */
  readonly pemContent: string;
  /** `pfxPasswordSecretKey`: the key of the nodePublishSecretRef Secret holding the PFX password; '' for none. */
  readonly pfxPasswordSecretKey: string;
}
