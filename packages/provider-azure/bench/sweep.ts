/**
 * The Azure provider's benchmark (a script that prints figures, not a test). On this machine, against the
 * Key Vault double (Lowkey Vault is not obtainable here) through the real Azure SDK and the Entra stand-in,
 * with the provider as its own process driven over its unix socket as the driver drives it:
 * - Mount latency (p50, p99) for 1 and for 20 objects, caching off so every mount reaches Key Vault;
 * - the Key Vault requests of one rotation sweep: 100 pods sharing one SecretProviderClass of 5 objects
 *   under one identity, remounted all at once as the driver's rotation does (upstream makes 500);
 * - the provider's RSS after that sweep.
 *
 *   pnpm --filter @secrets-store-csi/provider-azure bench [-- --latency-ms=5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ProviderClient, driverMountRequest } from '@secrets-store-csi/provider-sdk/testing';
import {
  createTestPki,
  issueLocalhostServing,
  issueVaultServing,
  startKeyVaultDouble,
  startTokenEndpoint,
} from '@secrets-store-csi/test-support';

const { values } = parseArgs({
  options: {
    'latency-ms': { type: 'string', default: '2' },
    iterations: { type: 'string', default: '50' },
    pods: { type: 'string', default: '100' },
    // The image runs dist/main.js on plain Node; --from-source measures src through tsx instead.
    'from-source': { type: 'boolean', default: false },
  },
});
const keyVaultLatencyMs = Number(values['latency-ms']);
const iterations = Number(values.iterations);
const pods = Number(values.pods);
const TENANT = 'bench-tenant';
const fromSource = values['from-source'];
const providerArgs = fromSource
  ? ['--conditions=source', '--import=tsx', new URL('../src/main.ts', import.meta.url).pathname]
  : [new URL('../dist/main.js', import.meta.url).pathname];
const packageDir = new URL('../', import.meta.url).pathname;

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kib / 1024;
}

async function startProvider(socket: string, caPath: string, cacheTtl: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...providerArgs,
      `--endpoint=unix://${socket}`,
      '--healthz-port=0',
      '--prometheus-port=0',
      `--object-cache-ttl=${cacheTtl}`,
    ],
    {
      cwd: packageDir,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Listening for connections')) resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`the provider exited (${String(code)}): ${log}`));
    });
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

const dir = await mkdtemp(join(tmpdir(), 'azure-bench-'));
const pki = await createTestPki(dir);
const sts = await issueLocalhostServing(pki, 'sts');
const serving = await issueVaultServing(pki, 'vault');
const entra = await startTokenEndpoint(sts);
entra.addServicePrincipal({ tenantId: TENANT, clientId: 'bench-app', clientSecret: 'bench-secret' });
const kv = await startKeyVaultDouble({
  ...serving,
  authorityHost: entra.authorityHost,
  verifyAccessToken: (token) => entra.decodeAccessToken(token),
  latencyMs: keyVaultLatencyMs,
});
kv.createVault('benchkv', { tenantId: TENANT });
const hosts = await kv.mapVaultHosts(['benchkv']);
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
for (let i = 0; i < 20; i++) kv.setSecret('benchkv', `secret-${i}`, `value-${i}`);

const objects = (count: number) =>
  `array:\n${Array.from({ length: count }, (_, i) => `  - |\n    objectName: secret-${i}\n    objectType: secret\n`).join('')}`;
const request = (count: number, pod: number) =>
  driverMountRequest({
    parameters: {
      keyvaultName: 'benchkv',
      tenantID: TENANT,
      cloudName: 'AzureStackCloud',
      cloudEnvFileName: cloudFile,
      objects: objects(count),
    },
    podAttributes: {
      'csi.storage.k8s.io/pod.name': `web-${pod}`,
      'csi.storage.k8s.io/pod.namespace': 'bench',
      'csi.storage.k8s.io/pod.uid': `uid-${pod}`,
      'csi.storage.k8s.io/serviceAccount.name': 'web',
    },
    secrets: { clientid: 'bench-app', clientsecret: 'bench-secret' },
  });

async function mountOrThrow(client: ProviderClient, count: number, pod: number): Promise<void> {
  const outcome = await client.mount(request(count, pod));
  if (!outcome.ok) throw new Error(`mount failed: ${outcome.details}`);
}

try {
  console.log(
    `Key Vault double latency ${keyVaultLatencyMs} ms per request; provider run ${fromSource ? 'from source through tsx' : 'from dist/ on plain Node'}`,
  );

  // 1. Latency, every mount reaching Key Vault (cache off), after a warm-up mount (token, connections).
  const uncachedSocket = join(dir, 'uncached.sock');
  const uncached = await startProvider(uncachedSocket, pki.caCertPath, '0s');
  const uncachedClient = new ProviderClient(uncachedSocket, { authority: 'localhost' });
  for (const count of [1, 20]) {
    await mountOrThrow(uncachedClient, count, 0);
    const samples: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      await mountOrThrow(uncachedClient, count, 0);
      samples.push(performance.now() - started);
    }
    console.log(
      `mount of ${String(count).padStart(2)} object(s), cache off: p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms (${iterations} mounts)`,
    );
  }
  uncachedClient.close();
  await stop(uncached);

  // 2. One rotation sweep: every pod remounted at once, one identity, 5 shared objects, default cache.
  const socket = join(dir, 'azure.sock');
  const provider = await startProvider(socket, pki.caCertPath, '1m');
  const client = new ProviderClient(socket, { authority: 'localhost' });
  const rssBefore = rssMiB(provider.pid ?? 0);
  kv.clearRequests();
  const started = performance.now();
  await Promise.all(Array.from({ length: pods }, (_, pod) => mountOrThrow(client, 5, pod)));
  const sweepMs = performance.now() - started;
  const gets = kv.requests.filter((r) => r.method === 'GET' && r.authenticated).length;
  const challenges = kv.requests.filter((r) => !r.authenticated).length;
  const tokenRequests = entra.requests.length;
  console.log(
    `rotation sweep, ${pods} pods x 5 objects, one identity: ${gets} Key Vault GETs (+${challenges} challenge round trips; upstream: ${pods * 5} GETs, ${pods} tokens, up to ${pods * 3} challenges), ${tokenRequests} token requests in total, ${sweepMs.toFixed(0)} ms`,
  );
  kv.clearRequests();
  await Promise.all(Array.from({ length: pods }, (_, pod) => mountOrThrow(client, 5, pod)));
  console.log(`second sweep within the cache TTL: ${kv.requests.length} Key Vault requests`);
  console.log(
    `provider RSS: ${rssBefore.toFixed(0)} MiB before the sweeps, ${rssMiB(provider.pid ?? 0).toFixed(0)} MiB after`,
  );
  client.close();
  await stop(provider);
} finally {
  await hosts.remove();
  await kv.close();
  await entra.stop();
  await rm(dir, { recursive: true, force: true });
}
