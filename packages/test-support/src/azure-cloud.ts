/**
 * The Azure side of an end-to-end test in one call (test infrastructure): the Key Vault double serving the
 * given vaults with a certificate from the test CA (`https://<vault>.<unique suffix>.vault.test` on port 443 of a
 * loopback address of its own), each vault's host name mapped to that address, and the custom
 * cloud file (`cloudName: AzureStackCloud`, `cloudEnvFileName`) through which a SecretProviderClass reaches the
 * double and the Entra ID stand-in.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenEndpoint } from './entra.js';
import { startKeyVaultDouble, type KeyVaultDouble } from './keyvault.js';
import { issueVaultServing, type TestPki } from './pki.js';

export interface KeyVaultCloudOptions {
  /** Where the cloud file is written. */
  readonly dir: string;
  /** Unique per test run: names the serving certificate's files. */
  readonly name: string;
  readonly pki: TestPki;
  readonly entra: TokenEndpoint;
  readonly vaults: readonly { readonly name: string; readonly tenantId: string }[];
}

export interface KeyVaultCloud {
  readonly keyVault: KeyVaultDouble;
  /** The custom cloud file for `cloudEnvFileName`. */
  readonly cloudEnvFile: string;
  /** Closes the double and removes the hosts block. */
  stop(): Promise<void>;
}

export async function startKeyVaultCloud(options: KeyVaultCloudOptions): Promise<KeyVaultCloud> {
  const serving = await issueVaultServing(options.pki, `${options.name}-vault`);
  const keyVault = await startKeyVaultDouble({
    ...serving,
    authorityHost: options.entra.authorityHost,
    verifyAccessToken: (token) => options.entra.decodeAccessToken(token),
  });
  try {
    for (const vault of options.vaults) keyVault.createVault(vault.name, { tenantId: vault.tenantId });
    const hosts = await keyVault.mapVaultHosts(options.vaults.map((vault) => vault.name));
    const cloudEnvFile = join(options.dir, 'azurestackcloud.json');
    await writeFile(
      cloudEnvFile,
      JSON.stringify({
        name: 'AzureStackCloud',
        activeDirectoryEndpoint: `${options.entra.authorityHost}/`,
        keyVaultEndpoint: `https://${keyVault.dnsSuffix}/`,
        keyVaultDNSSuffix: keyVault.dnsSuffixWithPort,
      }),
    ).catch(async (error: unknown) => {
      await hosts.remove();
      throw error;
    });
    return {
      keyVault,
      cloudEnvFile,
      async stop() {
        await keyVault.close();
        await hosts.remove();
      },
    };
  } catch (error) {
    await keyVault.close();
    throw error;
  }
}
