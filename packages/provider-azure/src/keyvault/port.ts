/**
 * The seam between the provider and Key Vault: what a mount reads, for one vault as one identity. The Azure
 * SDK implementation is in azure.ts, a fake for unit tests in fake.ts. Nothing here knows HTTP.
 */
import type { TokenCredential } from '@azure/identity';

export type VaultObjectType = 'secret' | 'key' | 'cert';

/** A secret version as Key Vault returns it. `value` is secret: never log it. */
export interface VaultSecret {
  /** The version id, the last segment of the secret id. */
  readonly version: string;
  readonly value: string;
  readonly contentType: string | undefined;
  /** Set when the secret backs a Key Vault certificate (its key id). */
  readonly kid: string | undefined;
}

/** The public part of a key version (JsonWebKey fields as bytes). */
export interface VaultKey {
  readonly version: string;
  readonly kty: string | undefined;
  readonly crv: string | undefined;
  readonly n: Uint8Array | undefined;
  readonly e: Uint8Array | undefined;
  readonly x: Uint8Array | undefined;
  readonly y: Uint8Array | undefined;
}

/** A certificate version: the DER of the leaf certificate. */
export interface VaultCertificate {
  readonly version: string;
  readonly cer: Uint8Array;
}

/** One entry of an object's version list. */
export interface VaultVersion {
  readonly version: string;
  readonly enabled: boolean;
  /** Undefined when Key Vault sent no creation time (treated as the Unix epoch, as upstream does). */
  readonly createdOn: Date | undefined;
}

/** Reads one vault as one identity. `version` '' means the latest. */
export interface KeyVaultReader {
  getSecret(name: string, version: string, signal: AbortSignal): Promise<VaultSecret>;
  getKey(name: string, version: string, signal: AbortSignal): Promise<VaultKey>;
  getCertificate(name: string, version: string, signal: AbortSignal): Promise<VaultCertificate>;
  /** Every version of the object, all pages. */
  listVersions(type: VaultObjectType, name: string, signal: AbortSignal): Promise<VaultVersion[]>;
}

export interface VaultAccess {
  /** `https://<vault>.<dns suffix>/` */
  readonly vaultUrl: string;
  readonly credential: TokenCredential;
  /** Skip the SDK's check that the vault host ends with the challenge's resource host (custom clouds). */
  readonly disableChallengeResourceVerification: boolean;
}

/** Hands out readers; an implementation reuses clients and connections across mounts. */
export interface KeyVaultConnector {
  reader(access: VaultAccess): KeyVaultReader;
}
