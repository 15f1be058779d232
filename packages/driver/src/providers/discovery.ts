/**
 * Finds a provider's socket as upstream does: `<dir>/<provider>.sock` in each of the
 * `--additional-provider-volume-paths` directories in order, then `--provider-volume`; the first that exists
 * wins. The provider name is checked first, because it becomes part of a path.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PROVIDER_NAME_PATTERN } from '@secrets-store-csi/core';
import { DriverError, driverErrorCodes } from '../errors.js';

export interface ProviderDirectories {
  /** `--additional-provider-volume-paths`, searched first, in order. */
  readonly additional: readonly string[];
  /** `--provider-volume`, searched last. */
  readonly primary: string;
}

/** Upstream's reading of `--additional-provider-volume-paths`: the whole value trimmed, split on commas. */
export function parseAdditionalProviderPaths(flag: string): string[] {
  const trimmed = flag.trim();
  return trimmed === '' ? [] : trimmed.split(',');
}

export function providerSocketCandidates(provider: string, directories: ProviderDirectories): string[] {
  return [...directories.additional, directories.primary].map((dir) => join(dir, `${provider}.sock`));
}

export async function findProviderSocket(
  provider: string,
  directories: ProviderDirectories,
): Promise<string> {
  if (!PROVIDER_NAME_PATTERN.test(provider)) {
    throw new DriverError(driverErrorCodes.providerNotFound, `invalid provider: provider "${provider}"`);
  }
  const candidates = providerSocketCandidates(provider, directories);
  for (const candidate of candidates) {
    if (
      await stat(candidate).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  throw new DriverError(
    driverErrorCodes.providerNotFound,
    `provider not found: provider "${provider}" (no socket at ${candidates.join(', ')}; is the ${provider} provider installed on this node?)`,
  );
}
