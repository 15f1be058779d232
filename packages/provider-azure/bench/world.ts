/**
 * The benchmark's Azure stand-ins in a process of their own: the Key Vault double (with its modelled network
 * latency) and the Entra token endpoint. sweep.ts forks this, so the TLS serving of thousands of Key Vault
 * requests neither delays the bench's own clock (its event loop times the mounts) nor hides in its CPU figure;
 * the provider, the double and the bench's gRPC client are three processes, as kubelet's driver, the provider
 * and Key Vault are on a node.
 *
 * Messages (IPC): it sends `{ type: 'ready', caCertPath, cloudFile }` once serving; it answers
 * `{ type: 'stats' }` with `{ type: 'stats', gets, challenges, tokens, requests }` (authenticated Key Vault
 * GETs, 401 challenges, token requests, all Key Vault requests since the last `{ type: 'clear' }`), and stops on `{ type: 'stop' }`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createTestPki,
  issueInstanceDiscoveryServing,
  issueLocalhostServing,
  issueVaultServing,
  startKeyVaultDouble,
  startTokenEndpoint,
} from '@secrets-store-csi/test-support';

export interface WorldReady {
  readonly type: 'ready';
  readonly caCertPath: string;
  readonly cloudFile: string;
  /**
   * Why login.microsoftonline.com is not served (MSAL Go, in upstream's provider, asks it about the authority
   * before its first token), when it was asked for and could not be; undefined otherwise.
   */
  readonly instanceDiscoveryProblem?: string;
}

export interface WorldStats {
  readonly type: 'stats';
  readonly gets: number;
  readonly challenges: number;
  readonly tokens: number;
  /** Every Key Vault request, whatever its method and status. */
  readonly requests: number;
}

export type WorldCommand =
  { readonly type: 'stats' } | { readonly type: 'clear' } | { readonly type: 'stop' };

const { values } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '2' },
    tenant: { type: 'string', default: 'bench-tenant' },
    vault: { type: 'string', default: 'benchkv' },
    secrets: { type: 'string', default: '20' },
    // Serve login.microsoftonline.com too (port 443, /etc/hosts), for upstream's Go provider.
    'instance-discovery': { type: 'boolean', default: false },
  },
});
const tenantId = values.tenant;

const dir = await mkdtemp(join(tmpdir(), 'azure-bench-world-'));
const pki = await createTestPki(dir);
const serving = await issueLocalhostServing(pki, 'sts');
let instanceDiscoveryProblem: string | undefined;
const startEntra = async (withDiscovery: boolean) =>
  startTokenEndpoint({
    ...serving,
    ...(withDiscovery && {
      instanceDiscoveryServing: await issueInstanceDiscoveryServing(pki, 'login'),
    }),
  });
const entra = await startEntra(values['instance-discovery']).catch(async (error: unknown) => {
  instanceDiscoveryProblem = error instanceof Error ? error.message : String(error);
  return startEntra(false);
});
entra.addServicePrincipal({ tenantId, clientId: 'bench-app', clientSecret: 'bench-secret' });
const kv = await startKeyVaultDouble({
  ...(await issueVaultServing(pki, 'vault')),
  authorityHost: entra.authorityHost,
  verifyAccessToken: (token) => entra.decodeAccessToken(token),
  latencyMs: Number(values['latency-ms']),
});
kv.createVault(values.vault, { tenantId });
const hosts = await kv.mapVaultHosts([values.vault]);
for (let i = 0; i < Number(values.secrets); i++) kv.setSecret(values.vault, `secret-${i}`, `value-${i}`);
const cloudFile = join(dir, 'cloud.json');
await writeFile(
  cloudFile,
  JSON.stringify({
    name: 'BenchCloud',
    activeDirectoryEndpoint: `${entra.authorityHost}/`,
    keyVaultEndpoint: `https://${kv.dnsSuffix}/`,
    keyVaultDNSSuffix: kv.dnsSuffixWithPort,
  }),
);

let tokensAtClear = entra.requests.length;
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await hosts.remove();
  await kv.close();
  await entra.stop();
  await rm(dir, { recursive: true, force: true });
  process.disconnect();
}
process.on('message', (command: WorldCommand) => {
  if (command.type === 'clear') {
    kv.clearRequests();
    tokensAtClear = entra.requests.length;
  } else if (command.type === 'stats') {
    const stats: WorldStats = {
      type: 'stats',
      gets: kv.requests.filter((r) => r.method === 'GET' && r.authenticated).length,
      challenges: kv.requests.filter((r) => !r.authenticated).length,
      tokens: entra.requests.length - tokensAtClear,
      requests: kv.requests.length,
    };
    process.send?.(stats);
  } else {
    void stop();
  }
});
// The bench died: clean up the hosts entries and the scratch directory all the same.
process.on('disconnect', () => {
  void stop();
});
const ready: WorldReady = {
  type: 'ready',
  caCertPath: pki.caCertPath,
  cloudFile,
  ...(instanceDiscoveryProblem !== undefined && { instanceDiscoveryProblem }),
};
process.send?.(ready);
