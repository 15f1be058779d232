/**
 * The Azure provider's benchmark (a script that prints figures, not a test). On this machine, against the
 * Key Vault double (Lowkey Vault is not obtainable here) through the real Azure SDK and the Entra stand-in,
 * with the provider as its own process driven over its unix socket as the driver drives it:
 * - Mount latency (p50, p99) for 1 and for 20 objects, caching off so every mount reaches Key Vault;
 * - the Key Vault requests of one rotation sweep: 100 pods sharing one SecretProviderClass of 5 objects
 *   under one identity, remounted all at once as the driver's rotation does (upstream makes 500);
 * - 20-object mounts with 16 in flight (goal: p50 no slower than 4x the p50 of one in flight);
 * - the same 20-object mounts (1 and 16 in flight) through upstream's Go provider v1.8.2 (built by
 *   scripts/test-world/build.sh; the row says why when it is not), against the same doubles, so the 4x goal
 *   can be judged against what upstream does on the same machine;
 * - the provider's RSS idle (started, no mount yet), 1 s after the sweeps and settled (8 s after, once its
 *   heap compactor has run: the goal is judged there), each with where it is (RssAnon/RssFile, V8 heap used
 *   and committed, external), and its peak against the memory limit of deploy/provider-azure/daemonset.yaml,
 *   whose NODE_OPTIONS the provider runs with.
 * Each figure of issue 13 is printed beside its goal, with the load average of the machine.
 *
 *   pnpm --filter @secrets-store-csi/provider-azure bench [-- --latency-ms=5] [--no-upstream]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ProviderClient, driverMountRequest } from '@secrets-store-csi/provider-sdk/testing';
import { artifact, freePort } from '@secrets-store-csi/test-support';
import type { WorldCommand, WorldReady, WorldStats } from './world.js';

const { values } = parseArgs({
  // `pnpm … bench -- --no-upstream` hands the script a literal `--`, which would end the options here.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    'latency-ms': { type: 'string', default: '2' },
    iterations: { type: 'string', default: '50' },
    pods: { type: 'string', default: '100' },
    // The image runs dist/bundle/main.mjs on plain Node; --from-source measures src through tsx instead.
    'from-source': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '16' },
    'no-upstream': { type: 'boolean', default: false },
  },
});
/** A whole number option, at least `min`; anything else stops the bench before it starts a process. */
function wholeNumber(name: 'latency-ms' | 'iterations' | 'pods' | 'concurrency', min: number): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(
      `--${name} must be a whole number of at least ${min}, got ${JSON.stringify(values[name])}`,
    );
  }
  return value;
}
const keyVaultLatencyMs = wholeNumber('latency-ms', 0);
const iterations = wholeNumber('iterations', 1);
const pods = wholeNumber('pods', 1);
const TENANT = 'bench-tenant';
const fromSource = values['from-source'];
const concurrency = wholeNumber('concurrency', 1);
const packageDir = new URL('../', import.meta.url).pathname;
const MANIFEST = new URL('../../../deploy/provider-azure/daemonset.yaml', import.meta.url).pathname;

interface ContainerSpec {
  readonly name: string;
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
  readonly resources?: {
    readonly limits?: Record<string, string>;
    readonly requests?: Record<string, string>;
  };
}

/** The provider container of the DaemonSet manifest: its NODE_OPTIONS and resources are what a node runs. */
const container = ((): ContainerSpec => {
  const documents = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map(
    (document) =>
      document.toJS() as {
        kind?: string;
        spec?: { template?: { spec?: { containers?: ContainerSpec[] } } };
      } | null,
  );
  const daemonSet = documents.find((document) => document?.kind === 'DaemonSet');
  const found = daemonSet?.spec?.template?.spec?.containers?.find(
    (c) => c.name === 'provider-azure-installer',
  );
  if (found === undefined) throw new Error(`${MANIFEST} has no provider-azure-installer container`);
  return found;
})();
// SSCSI_BENCH_NODE_OPTIONS tries other V8 flags than the DaemonSet's (to measure one before setting it).
const nodeOptions = (
  process.env.SSCSI_BENCH_NODE_OPTIONS ??
  container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ??
  ''
)
  .split(/\s+/)
  .filter((arg) => arg !== '');
/** The container's other literal environment variables (MALLOC_ARENA_MAX...), set for the provider too. */
const containerEnv: Record<string, string> = Object.fromEntries(
  (container.env ?? [])
    .filter((e) => e.value !== undefined && e.name !== 'NODE_OPTIONS')
    .map((e) => [e.name, e.value ?? '']),
);
// As NODE_OPTIONS, like the container: Node refuses there some V8 flags it takes on its command line.
if (!fromSource && nodeOptions.length > 0) containerEnv.NODE_OPTIONS = nodeOptions.join(' ');
/** The CPU limit in cores (`200m` or `1`). */
const cpuLimitCores = (() => {
  const limit = container.resources?.limits?.cpu ?? '0';
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(limit);
  if (match === null) throw new Error(`unsupported CPU limit ${limit}`);
  return Number(match[1]) / (match[2] === 'm' ? 1000 : 1);
})();
const memoryLimitMiB = (() => {
  const limit = container.resources?.limits?.memory ?? '0';
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (match === null) throw new Error(`unsupported memory limit ${limit}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
})();
const bundle = new URL('../dist/bundle/main.mjs', import.meta.url).pathname;
const program = existsSync(bundle) ? bundle : new URL('../dist/main.js', import.meta.url).pathname;
const providerArgs = fromSource
  ? ['--conditions=source', '--import=tsx', new URL('../src/main.ts', import.meta.url).pathname]
  : [program];

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return kib / 1024;
}

/** utime + stime of `pid` in seconds (Linux clock ticks are 100 per second). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** RssAnon (V8 heap, malloc) and RssFile (node and its libraries mapped in) of `pid`, in MiB. */
function rssParts(pid: number): { anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  return { anon: mib('RssAnon'), file: mib('RssFile') };
}

/** A sum of one metric of the provider's /metrics (prom-client's process metrics), in MiB for bytes. */
async function providerMetricMiB(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.split(' ').at(-1));
  }
  return total / (1024 * 1024);
}

/** Where the provider's RSS is: /proc's split, and V8's heap used and committed and its external memory. */
async function memoryText(pid: number, metricsPort: number): Promise<string> {
  const { anon, file } = rssParts(pid);
  const used = await providerMetricMiB(metricsPort, 'nodejs_heap_size_used_bytes');
  const committed = await providerMetricMiB(metricsPort, 'nodejs_heap_size_total_bytes');
  const external = await providerMetricMiB(metricsPort, 'nodejs_external_memory_bytes');
  return `RssAnon ${anon.toFixed(1)} / RssFile ${file.toFixed(1)} MiB; V8 heap used ${used.toFixed(1)} of ${committed.toFixed(1)} MiB committed, external ${external.toFixed(1)} MiB`;
}

const rows: [string, string, string, string][] = [];
function row(measure: string, figure: string, goal = '', met?: boolean): void {
  rows.push([measure, figure, goal, met === undefined ? '' : met ? 'met' : 'NOT MET']);
}

/** Runs `work` over 0..count-1 with at most `width` in flight. */
async function inPool(count: number, width: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) await work(i);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}

/** How long the bench waits after the sweeps for the provider to settle (its quiet compaction runs 5 s after
 * the last mount, checked every second). */
const SETTLE_MS = 7_000;

/** Every provider started, so a failed run stops them too. */
const providers: ChildProcess[] = [];

async function startProvider(
  socket: string,
  caPath: string,
  cacheTtl: string,
  metricsPort = 0,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...providerArgs,
      `--endpoint=unix://${socket}`,
      '--healthz-port=0',
      `--prometheus-port=${metricsPort}`,
      `--object-cache-ttl=${cacheTtl}`,
    ],
    {
      cwd: packageDir,
      env: { ...process.env, ...containerEnv, NODE_EXTRA_CA_CERTS: caPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  providers.push(child);
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

/** Upstream's Go provider with its chart's flags, the bench CA as its only trusted root. */
async function startUpstreamProvider(binary: string, socket: string, caPath: string): Promise<ChildProcess> {
  const child = spawn(
    binary,
    [
      `--endpoint=unix://${socket}`,
      '--construct-pem-chain=true',
      `--healthz-port=${await freePort()}`,
      `--prometheus-port=${await freePort()}`,
    ],
    { env: { ...process.env, SSL_CERT_FILE: caPath }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  providers.push(child);
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4096);
  });
  const deadline = Date.now() + 30_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`upstream's provider did not serve (${String(child.exitCode)}): ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** Upstream's Go provider binary, or why its rows are skipped. */
const upstreamBinary = await (async (): Promise<{ path: string } | { problem: string }> => {
  if (values['no-upstream']) return { problem: 'skipped (--no-upstream)' };
  try {
    const path = await artifact('upstream-provider-azure');
    return existsSync(path)
      ? { path }
      : { problem: `not built (${path} is missing): run bash scripts/test-world/build.sh` };
  } catch (error) {
    return { problem: `not built: ${error instanceof Error ? error.message : String(error)}` };
  }
})();

const dir = await mkdtemp(join(tmpdir(), 'azure-bench-'));
// Key Vault and Entra stand-ins in their own process (bench/world.ts), so their CPU is neither counted as
// the bench's nor steals the bench's event loop while it times a mount.
const world = fork(
  new URL('world.ts', import.meta.url).pathname,
  [
    `--latency-ms=${String(keyVaultLatencyMs)}`,
    `--tenant=${TENANT}`,
    ...('path' in upstreamBinary ? ['--instance-discovery'] : []),
  ],
  { execArgv: ['--conditions=source', '--import=tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
const { caCertPath, cloudFile, instanceDiscoveryProblem } = await new Promise<WorldReady>(
  (resolve, reject) => {
    world.once('message', (message: WorldReady) => {
      resolve(message);
    });
    world.once('exit', (code) => {
      reject(new Error(`the bench world exited (${String(code)}) before serving`));
    });
  },
);
function tell(command: WorldCommand): void {
  world.send(command);
}
async function worldStats(): Promise<WorldStats> {
  const answer = once(world, 'message') as Promise<[WorldStats]>;
  tell({ type: 'stats' });
  return (await answer)[0];
}
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

const loadAtStart = loadavg()[0] ?? 0;
try {
  console.log(
    `Key Vault double latency ${keyVaultLatencyMs} ms per request; provider: ${
      fromSource
        ? 'src through tsx'
        : `${Object.entries(containerEnv)
            .map(([name, value]) => `${name}=${value} `)
            .join('')}${program.slice(packageDir.length)} on plain Node ${nodeOptions.join(' ')}`
    }`,
  );

  /** CPU seconds of a provider, of the Key Vault/Entra stand-ins and of this bench (the gRPC client). */
  const cpuNow = (pid: number) => {
    const bench = process.cpuUsage();
    return {
      provider: cpuSeconds(pid),
      world: cpuSeconds(world.pid ?? 0),
      bench: (bench.user + bench.system) / 1e6,
    };
  };
  /** Milliseconds of CPU per object fetched from Key Vault since `before`, per process. */
  const cpuPerObject = (pid: number, before: ReturnType<typeof cpuNow>, objects: number) => {
    const after = cpuNow(pid);
    const ms = (key: keyof typeof after) => ((1000 * (after[key] - before[key])) / objects).toFixed(2);
    return {
      text: `provider ${ms('provider')} ms, Key Vault double ${ms('world')} ms, bench client ${ms('bench')} ms`,
      provider: (1000 * (after.provider - before.provider)) / objects,
    };
  };
  /** Mounts of `count` objects one at a time (after a warm-up mount: token, connections). */
  const oneInFlight = async (client: ProviderClient, pid: number, count: number) => {
    await mountOrThrow(client, count, 0);
    const samples: number[] = [];
    const before = cpuNow(pid);
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      await mountOrThrow(client, count, 0);
      samples.push(performance.now() - started);
    }
    return { samples, cpu: cpuPerObject(pid, before, count * iterations) };
  };
  /** 20-object mounts of distinct pods, `concurrency` in flight. */
  const manyInFlight = async (client: ProviderClient, pid: number) => {
    const samples: number[] = [];
    const mounts = iterations * 2;
    const before = cpuNow(pid);
    await inPool(mounts, concurrency, async (i) => {
      const started = performance.now();
      await mountOrThrow(client, 20, i);
      samples.push(performance.now() - started);
    });
    return { samples, cpu: cpuPerObject(pid, before, 20 * mounts) };
  };
  const p50and99 = (samples: readonly number[]) =>
    `${percentile(samples, 50).toFixed(1)} / ${percentile(samples, 99).toFixed(1)} ms`;

  // 1. Latency, every mount reaching Key Vault (cache off).
  const uncachedSocket = join(dir, 'uncached.sock');
  const uncached = await startProvider(uncachedSocket, caCertPath, '0s');
  const uncachedClient = new ProviderClient(uncachedSocket, { authority: 'localhost' });
  const uncachedPid = uncached.pid ?? 0;
  const single = await oneInFlight(uncachedClient, uncachedPid, 1);
  row('mount of 1 object(s), 1 in flight, cache off: p50 / p99', p50and99(single.samples));
  const ours1 = await oneInFlight(uncachedClient, uncachedPid, 20);
  row('mount of 20 object(s), 1 in flight, cache off: p50 / p99', p50and99(ours1.samples));
  row('  CPU per object, 1 in flight (from /proc, user + system)', ours1.cpu.text);
  const ours16 = await manyInFlight(uncachedClient, uncachedPid);
  const ours1p50 = percentile(ours1.samples, 50);
  const ours16p50 = percentile(ours16.samples, 50);
  row(
    `mount of 20 objects, ${concurrency} in flight, cache off: p50`,
    `${ours16p50.toFixed(1)} ms (p99 ${percentile(ours16.samples, 99).toFixed(1)} ms)`,
    `<= 4 x p50 at 1 in flight = ${(4 * ours1p50).toFixed(1)} ms`,
    ours16p50 <= 4 * ours1p50,
  );
  row(`  CPU per object, ${concurrency} in flight`, ours16.cpu.text);
  // The provider is one thread: with every slot busy a mount waits for the CPU of the mounts beside it.
  row(
    `  floor of that p50 set by the provider's CPU alone (${concurrency} x 20 x CPU per object)`,
    `${(concurrency * 20 * ours16.cpu.provider).toFixed(1)} ms`,
  );
  uncachedClient.close();
  await stop(uncached);

  // 1b. The same 20-object mounts through upstream's Go provider (a credential, clients and connections per
  // mount, as upstream has it; Go uses both cores), for the ratio the 4x goal asks of ours.
  const upstreamProblem =
    'problem' in upstreamBinary
      ? upstreamBinary.problem
      : instanceDiscoveryProblem !== undefined
        ? `skipped: MSAL Go needs login.microsoftonline.com served: ${instanceDiscoveryProblem}`
        : undefined;
  if (upstreamProblem !== undefined || !('path' in upstreamBinary)) {
    row("upstream's Go provider v1.8.2, 20 objects: p50 1 / 16 in flight", upstreamProblem ?? 'skipped');
  } else {
    const upstreamSocket = join(dir, 'upstream.sock');
    const upstream = await startUpstreamProvider(upstreamBinary.path, upstreamSocket, caCertPath);
    const upstreamClient = new ProviderClient(upstreamSocket, { authority: 'localhost' });
    const upstreamPid = upstream.pid ?? 0;
    const theirs1 = await oneInFlight(upstreamClient, upstreamPid, 20);
    const theirs16 = await manyInFlight(upstreamClient, upstreamPid);
    upstreamClient.close();
    await stop(upstream);
    const theirs1p50 = percentile(theirs1.samples, 50);
    const theirs16p50 = percentile(theirs16.samples, 50);
    row("upstream's Go provider v1.8.2, 20 objects, 1 in flight: p50 / p99", p50and99(theirs1.samples));
    row('  its CPU per object, 1 in flight', theirs1.cpu.text);
    row(
      `upstream's Go provider v1.8.2, 20 objects, ${concurrency} in flight: p50`,
      `${theirs16p50.toFixed(1)} ms (p99 ${percentile(theirs16.samples, 99).toFixed(1)} ms)`,
      `<= 4 x its p50 at 1 in flight = ${(4 * theirs1p50).toFixed(1)} ms`,
      theirs16p50 <= 4 * theirs1p50,
    );
    row(`  its CPU per object, ${concurrency} in flight`, theirs16.cpu.text);
    row(
      `ratio p50 ${concurrency} in flight / 1 in flight: ours vs upstream`,
      `${(ours16p50 / ours1p50).toFixed(1)}x vs ${(theirs16p50 / theirs1p50).toFixed(1)}x; ${concurrency} in flight: ours ${ours16p50.toFixed(1)} ms vs upstream ${theirs16p50.toFixed(1)} ms`,
    );
  }

  // 2. One rotation sweep: every pod remounted at once, one identity, 5 shared objects, default cache.
  const socket = join(dir, 'azure.sock');
  const metricsPort = await freePort();
  const provider = await startProvider(socket, caCertPath, '1m', metricsPort);
  const client = new ProviderClient(socket, { authority: 'localhost' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssIdle = rssMiB(provider.pid ?? 0);
  const memoryIdle = await memoryText(provider.pid ?? 0, metricsPort);
  tell({ type: 'clear' });
  const cpuBefore = cpuSeconds(provider.pid ?? 0);
  const started = performance.now();
  await Promise.all(Array.from({ length: pods }, (_, pod) => mountOrThrow(client, 5, pod)));
  const sweepMs = performance.now() - started;
  const sweepCpu = cpuSeconds(provider.pid ?? 0) - cpuBefore;
  const { gets, challenges, tokens: tokenRequests } = await worldStats();
  row(
    `rotation sweep, ${pods} pods x 5 objects, one identity: Key Vault GETs (+ challenges), wall`,
    `${gets} (+${challenges}; upstream: ${pods * 5} GETs, up to ${pods * 3} challenges), ${sweepMs.toFixed(0)} ms`,
  );
  row(
    `token requests of that sweep (one identity, ${pods} mounts at once on a fresh provider)`,
    String(tokenRequests),
    '1 per identity',
    tokenRequests <= 1,
  );
  tell({ type: 'clear' });
  await Promise.all(Array.from({ length: pods }, (_, pod) => mountOrThrow(client, 5, pod)));
  row(
    'provider CPU during the first sweep (busiest moment) vs the DaemonSet CPU limit',
    `${sweepCpu.toFixed(2)} s over ${(sweepMs / 1000).toFixed(2)} s = ${(sweepCpu / (sweepMs / 1000)).toFixed(2)} cores, ${((100 * sweepCpu) / (sweepMs / 1000) / cpuLimitCores).toFixed(0)} % of the ${cpuLimitCores} core limit (a CPU limit throttles a burst, it does not kill)`,
  );
  row('second sweep within the cache TTL: Key Vault requests', String((await worldStats()).requests));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssAfter = rssMiB(provider.pid ?? 0);
  const memoryAfter = await memoryText(provider.pid ?? 0, metricsPort);
  // The provider gives memory back once quiet (core's HeapCompactor, 5 s after the last mount, src/app.ts); the
  // goal is judged on that settled figure, as a node holds it between rotation sweeps (2 minutes apart by
  // default), and the figure right after the sweep is printed beside it, with the peak below.
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const rssSettled = rssMiB(provider.pid ?? 0);
  const memorySettled = await memoryText(provider.pid ?? 0, metricsPort);
  const peak = rssMiB(provider.pid ?? 0, 'VmHWM');
  row(
    'provider RSS idle (started, before any mount)',
    `${rssIdle.toFixed(1)} MiB`,
    '<= 60 MiB',
    rssIdle <= 60,
  );
  row('  where (idle)', memoryIdle);
  row(`provider RSS 1 s after the ${pods}-pod sweeps (before it settles)`, `${rssAfter.toFixed(1)} MiB`);
  row('  where (1 s after)', memoryAfter);
  row(
    `provider RSS ${(1 + SETTLE_MS / 1000).toFixed(0)} s after the ${pods}-pod sweeps (settled; the goal)`,
    `${rssSettled.toFixed(1)} MiB`,
    '<= 95 MiB',
    rssSettled <= 95,
  );
  row('  where (settled)', memorySettled);
  row(
    'provider peak RSS (VmHWM) vs the DaemonSet memory limit',
    `${peak.toFixed(1)} MiB (${((100 * peak) / memoryLimitMiB).toFixed(0)} % of ${memoryLimitMiB} MiB)`,
    '<= limit / 2 (2x headroom)',
    peak <= memoryLimitMiB / 2,
  );
  row(
    'DaemonSet resources (deploy/provider-azure/daemonset.yaml)',
    `requests ${container.resources?.requests?.cpu ?? '-'}/${container.resources?.requests?.memory ?? '-'}, limits ${container.resources?.limits?.cpu ?? '-'}/${container.resources?.limits?.memory ?? '-'}`,
  );
  client.close();
  await stop(provider);

  console.log(
    `load average (1 min) at start / end: ${loadAtStart.toFixed(2)} / ${(loadavg()[0] ?? 0).toFixed(2)} (other work on the machine skews every figure)\n`,
  );
  const header: [string, string, string, string] = ['measure', 'figure', 'goal', 'result'];
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  console.log(
    [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'),
  );
} finally {
  await Promise.all(providers.map(stop));
  if (world.connected) {
    const exited = once(world, 'exit');
    tell({ type: 'stop' });
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
}
