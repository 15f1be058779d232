/**
 * Driver benchmark: prints figures, asserts nothing. `pnpm --filter @secrets-store-csi/driver bench`.
 *
 * World (set up untimed, torn down at the end, on error and on Ctrl-C): the real test world (etcd,
 * kube-apiserver, kube-controller-manager) with our CRDs, the CSIDriver object (podInfoOnMount,
 * requiresRepublish, Ephemeral), a SecretProviderClass for the directory provider naming 3 small files, real
 * Pod objects bound to `bench-node`, and the directory provider and the driver as their own processes
 * (`node --conditions=source --import=tsx .../main.ts`, rotation on with a 1 s poll interval). The bench
 * speaks CSI to the driver's socket with one `CsiNodeClient`, sending NodePublishVolume requests shaped as
 * kubelet's (volume context with the class and pod info, readonly, mount capability, 2 minute deadline).
 *
 * Measured, after a 5-volume warm-up (JIT, provider connection) that is not counted:
 * 1. NodePublishVolume latency (first mounts; client-side, per call) p50/p99 at concurrency 1 (50 volumes
 *    one after another) and at concurrency 32 (110 volumes); each round is unpublished before the next;
 * 2. burst: wall time of 110 publishes fired at once (a full node);
 * 3. rotation sweep: with those 110 volumes mounted and their refresh due (waited past the poll interval and
 *    its jitter), 110 republishes at once with unchanged content; wall time and the driver's CPU time
 *    (utime+stime from /proc/<pid>/stat). Two sweeps: the first adds the `Refreshed` condition to each pod
 *    status (110 API writes), the second is the steady state (identical status, no write);
 * 4. driver RSS (VmRSS) idle, after start and before any mount, with the 110 volumes mounted, and after
 *    they are all unpublished (2 s after, and 12 s after: V8's memory reducer gives the heap's free pages
 *    back about 8 s after the last garbage collection once the process is quiet); where it goes (V8 heap
 *    used and committed, external memory, anonymous and file-backed RSS).
 *
 * Set SSCSI_BENCH_CPU_PROF=<dir> to run the driver with `--cpu-prof` (a .cpuprofile lands in <dir> when the
 * driver stops), SSCSI_BENCH_LOGS=<dir> to keep the driver's and the provider's logs there (the bench
 * directory is removed at the end).
 */
import { cpus, loadavg, release } from 'node:os';
import { relative } from 'node:path';
import type { csi } from '@secrets-store-csi/protocol';
import { KUBELET_VOLUME_CONTEXT_KEYS, type CsiNodeClient } from '@secrets-store-csi/test-support';
import {
  clockTicksPerSecond,
  cpuDelta,
  cpuTimes,
  memory,
  MIB,
  percentile,
  type CpuTimes,
  type Memory,
} from './proc.js';
import {
  connectionsTo,
  cpuQuantity,
  daemonSetContainer,
  driverProgram,
  inPool,
  memoryQuantity,
  metricTotal,
  NAMESPACE,
  SECRET_PROVIDER_CLASS,
  SERVICE_ACCOUNT,
  setUpBenchWorld,
  Teardown,
  type BenchVolume,
  type BenchWorld,
} from './world.js';

const ROTATION_POLL_INTERVAL = '1s';
/** Past the poll interval plus its jitter (up to 10 % of it). */
const ROTATION_WAIT_MS = 2_000;
const WARM_UP_VOLUMES = 5;
const SEQUENTIAL_VOLUMES = 50;
const FULL_NODE = 110;
const CONCURRENCY = 32;
/** Kubelet's deadline for a whole SetUp. */
const CALL_TIMEOUT_MS = 120_000;
/** How long the driver may settle after start before its idle RSS is read. */
const IDLE_SETTLE_MS = 1_000;
/** When the driver's RSS is read after the last unpublish: right after, and once V8's memory reducer could
 * run (it starts about 8 s after the last garbage collection, when the allocation rate is low). */
const DRAIN_EARLY_MS = 2_000;
const DRAIN_SETTLE_MS = 12_000;

/** One batch of NodePublishVolume calls. */
interface Round {
  /** Per-call latency in milliseconds, as the client sees it. */
  readonly latenciesMs: readonly number[];
  readonly wallMs: number;
  /** CPU the driver process consumed during the round. */
  readonly driverCpu: CpuTimes;
}

interface Sweep extends Round {
  /** Refreshes the driver counted (`rotation_reconcile_total`); a republish that was not due is no refresh. */
  readonly refreshes: number;
}

interface Results {
  readonly startToProbeMs: number;
  readonly sequential: Round;
  readonly concurrent: Round;
  readonly burst: Round;
  readonly sweeps: readonly Sweep[];
  /** NodeUnpublishVolume latencies (ms), one in flight and CONCURRENCY in flight. */
  readonly unpublishSequential: readonly number[];
  readonly unpublishConcurrent: readonly number[];
  /** Established connections from the driver to the API server right after the burst, and at the end. */
  readonly apiConnectionsAfterBurst: number;
  readonly apiConnectionsAtEnd: number;
  readonly idle: DriverMemory;
  readonly loaded: DriverMemory;
  /** After every volume was unpublished: DRAIN_EARLY_MS later, and DRAIN_SETTLE_MS later. */
  readonly drainedEarly: DriverMemory;
  readonly drained: DriverMemory;
  /** The busiest round's CPU rate: driver CPU seconds over wall seconds of the burst. */
  readonly burstCores: number;
  /** The directory provider's RSS at the end and its peak. */
  readonly provider: Memory;
}

/** RSS from /proc, and where it goes from the driver's own process metrics (prom-client's defaults). */
interface DriverMemory extends Memory {
  readonly heapUsedBytes: number;
  /** What V8 holds from the system for its heap (used or not). */
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  /** Open TLS sockets (connections to the API server). */
  readonly tlsSockets: number;
}

async function driverMemory(bench: BenchWorld): Promise<DriverMemory> {
  const metric = (name: string, labels?: string) => metricTotal(bench.metricsPort, name, labels);
  return {
    ...(await memory(bench.driver.pid)),
    heapUsedBytes: await metric('nodejs_heap_size_used_bytes'),
    heapTotalBytes: await metric('nodejs_heap_size_total_bytes'),
    externalBytes: await metric('nodejs_external_memory_bytes'),
    tlsSockets: await metric('nodejs_active_handles', 'type="TLSSocket"'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The NodePublishVolume request kubelet sends for an inline volume of a pod (CSIDriver podInfoOnMount). */
function publishRequest(volume: BenchVolume): csi.NodePublishVolumeRequest {
  return {
    volume_id: volume.volumeId,
    target_path: volume.targetPath,
    readonly: true,
    secrets: {},
    volume_context: {
      secretProviderClass: SECRET_PROVIDER_CLASS,
      [KUBELET_VOLUME_CONTEXT_KEYS.podName]: volume.podName,
      [KUBELET_VOLUME_CONTEXT_KEYS.podNamespace]: NAMESPACE,
      [KUBELET_VOLUME_CONTEXT_KEYS.podUid]: volume.podUid,
      [KUBELET_VOLUME_CONTEXT_KEYS.serviceAccountName]: SERVICE_ACCOUNT,
      [KUBELET_VOLUME_CONTEXT_KEYS.ephemeral]: 'true',
    },
    volume_capability: {
      access_mode: { mode: 'SINGLE_NODE_WRITER' },
      mount: { fs_type: '', mount_flags: [] },
    },
  };
}

/** Publishes and unpublishes through the driver, remembering what is mounted so teardown can unpublish it. */
class Volumes {
  readonly #client: CsiNodeClient;
  readonly #mounted = new Map<string, BenchVolume>();

  constructor(client: CsiNodeClient) {
    this.#client = client;
  }

  /** One NodePublishVolume; its latency in milliseconds. Throws when the driver fails it. */
  async publish(volume: BenchVolume): Promise<number> {
    const started = performance.now();
    const outcome = await this.#client.publish(publishRequest(volume), {
      deadline: Date.now() + CALL_TIMEOUT_MS,
    });
    const elapsed = performance.now() - started;
    if (!outcome.ok) throw new Error(`NodePublishVolume ${volume.podName}: ${outcome.message}`);
    this.#mounted.set(volume.targetPath, volume);
    return elapsed;
  }

  /** One NodeUnpublishVolume; its latency in milliseconds. Throws when the driver fails it. */
  async unpublish(volume: BenchVolume): Promise<number> {
    const started = performance.now();
    const outcome = await this.#client.unpublish({
      volume_id: volume.volumeId,
      target_path: volume.targetPath,
    });
    const elapsed = performance.now() - started;
    if (!outcome.ok) throw new Error(`NodeUnpublishVolume ${volume.podName}: ${outcome.message}`);
    this.#mounted.delete(volume.targetPath);
    return elapsed;
  }

  /** Unpublishes everything mounted, `width` calls in flight; the per-call latencies in milliseconds. */
  async unpublishAll(width = CONCURRENCY): Promise<number[]> {
    const latencies: number[] = [];
    await inPool([...this.#mounted.values()], width, async (volume) => {
      latencies.push(await this.unpublish(volume));
    });
    return latencies;
  }
}

/** Publishes `batch` with at most `width` calls in flight, timing each call, the whole, and driver CPU. */
async function publishRound(
  bench: BenchWorld,
  volumes: Volumes,
  batch: readonly BenchVolume[],
  width: number,
): Promise<Round> {
  const ticks = clockTicksPerSecond();
  const latenciesMs: number[] = [];
  const cpuBefore = await cpuTimes(bench.driver.pid, ticks);
  const started = performance.now();
  await inPool(batch, width, async (volume) => {
    latenciesMs.push(await volumes.publish(volume));
  });
  const wallMs = performance.now() - started;
  const driverCpu = cpuDelta(cpuBefore, await cpuTimes(bench.driver.pid, ticks));
  return { latenciesMs, wallMs, driverCpu };
}

/** Waits until every mounted volume is due, then republishes them all at once. */
async function rotationSweep(
  bench: BenchWorld,
  volumes: Volumes,
  batch: readonly BenchVolume[],
): Promise<Sweep> {
  await sleep(ROTATION_WAIT_MS);
  const before = await metricTotal(bench.metricsPort, 'rotation_reconcile_total');
  const round = await publishRound(bench, volumes, batch, batch.length);
  const refreshes = (await metricTotal(bench.metricsPort, 'rotation_reconcile_total')) - before;
  return { ...round, refreshes };
}

async function measure(bench: BenchWorld, volumes: Volumes): Promise<Results> {
  const [warmUp, sequentialPods, concurrentPods, fullNode] = [
    await bench.createPods('warm-up', WARM_UP_VOLUMES),
    await bench.createPods('seq', SEQUENTIAL_VOLUMES),
    await bench.createPods('conc', FULL_NODE),
    await bench.createPods('node', FULL_NODE),
  ];
  await sleep(IDLE_SETTLE_MS);
  const idle = await driverMemory(bench);
  progress(`driver idle RSS ${mib(idle.rssBytes)}; warming up with ${WARM_UP_VOLUMES} volumes`);
  await publishRound(bench, volumes, warmUp, 1);
  await volumes.unpublishAll();

  progress(`round 1: ${SEQUENTIAL_VOLUMES} publishes, one at a time, then their unpublishes one at a time`);
  const sequential = await publishRound(bench, volumes, sequentialPods, 1);
  const unpublishSequential = await volumes.unpublishAll(1);
  progress(`round 2: ${FULL_NODE} publishes, ${CONCURRENCY} in flight, then their unpublishes likewise`);
  const concurrent = await publishRound(bench, volumes, concurrentPods, CONCURRENCY);
  const unpublishConcurrent = await volumes.unpublishAll(CONCURRENCY);
  progress(`burst: ${FULL_NODE} publishes at once`);
  const burst = await publishRound(bench, volumes, fullNode, fullNode.length);
  const apiConnectionsAfterBurst = await connectionsTo(bench.driver.pid, bench.apiServerPort);

  const sweeps: Sweep[] = [];
  for (let i = 1; i <= 2; i++) {
    progress(`rotation sweep ${i}: waiting ${ROTATION_WAIT_MS} ms, then ${FULL_NODE} republishes at once`);
    sweeps.push(await rotationSweep(bench, volumes, fullNode));
  }
  const loaded = await driverMemory(bench);
  progress('unpublishing everything');
  await volumes.unpublishAll();
  await sleep(DRAIN_EARLY_MS);
  const drainedEarly = await driverMemory(bench);
  await sleep(DRAIN_SETTLE_MS - DRAIN_EARLY_MS);
  const drained = await driverMemory(bench);
  const apiConnectionsAtEnd = await connectionsTo(bench.driver.pid, bench.apiServerPort);
  const burstCores = burst.driverCpu.ownSeconds / (burst.wallMs / 1000);
  const provider = await memory(bench.provider.pid);
  return {
    startToProbeMs: bench.startToProbeMs,
    sequential,
    concurrent,
    burst,
    sweeps,
    unpublishSequential,
    unpublishConcurrent,
    apiConnectionsAfterBurst,
    apiConnectionsAtEnd,
    idle,
    loaded,
    drainedEarly,
    drained,
    burstCores,
    provider,
  };
}

function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const seconds = (valueMs: number) => `${(valueMs / 1000).toFixed(2)} s`;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
const cpu = (times: CpuTimes) =>
  `${times.ownSeconds.toFixed(2)} s (+${times.childrenSeconds.toFixed(2)} s children)`;

type Row = readonly [measure: string, figure: string, goal: string, verdict: string];

/** The goal column (`<= limit`) and the verdict column (met / NOT MET). */
function goal(value: number, limit: number, shown: string): [string, string] {
  return [`<= ${shown}`, value <= limit ? 'met' : 'NOT MET'];
}

/** The driver container's resources in deploy/driver/daemonset.yaml. */
function driverResources(): {
  memoryLimit: number;
  memoryRequest: number;
  cpuLimit: number;
  cpuRequest: number;
  text: string;
} {
  const resources = daemonSetContainer('deploy/driver/daemonset.yaml', 'secrets-store').resources ?? {};
  const value = (kind: 'requests' | 'limits', name: string) => resources[kind]?.[name] ?? '0';
  return {
    memoryLimit: memoryQuantity(value('limits', 'memory')),
    memoryRequest: memoryQuantity(value('requests', 'memory')),
    cpuLimit: cpuQuantity(value('limits', 'cpu')),
    cpuRequest: cpuQuantity(value('requests', 'cpu')),
    text: `requests ${value('requests', 'cpu')}/${value('requests', 'memory')}, limits ${value('limits', 'cpu')}/${value('limits', 'memory')}`,
  };
}

function rows(results: Results): Row[] {
  const { sequential, concurrent, burst, sweeps, idle, loaded, drainedEarly, drained } = results;
  const p = (round: Round, q: number) => percentile(round.latenciesMs, q);
  const cpuPerCallMs = (round: Round) => (round.driverCpu.ownSeconds * 1000) / round.latenciesMs.length;
  const [first, steady] = [sweeps[0], sweeps[1]];
  if (first === undefined || steady === undefined) throw new Error('two sweeps expected');
  const unpublish1 = percentile(results.unpublishSequential, 50);
  const unpublish32 = percentile(results.unpublishConcurrent, 50);
  const limits = driverResources();
  const table: Row[] = [
    ['start to first Probe OK', ms(results.startToProbeMs), ...goal(results.startToProbeMs, 1200, '1.2 s')],
    ['driver RSS idle (before any mount)', mib(idle.rssBytes), ...goal(idle.rssBytes, 65 * MIB, '65 MiB')],
    [
      `driver RSS with ${FULL_NODE} volumes mounted (after the sweeps)`,
      mib(loaded.rssBytes),
      ...goal(loaded.rssBytes, 85 * MIB, '85 MiB'),
    ],
    [
      `driver RSS ${DRAIN_SETTLE_MS / 1000} s after everything is unpublished`,
      mib(drained.rssBytes),
      ...goal(drained.rssBytes, idle.rssBytes + 10 * MIB, `idle + 10 MiB = ${mib(idle.rssBytes + 10 * MIB)}`),
    ],
    [
      `driver CPU per first mount (${CONCURRENCY} in flight)`,
      ms(cpuPerCallMs(concurrent)),
      ...goal(cpuPerCallMs(concurrent), 6, '6 ms'),
    ],
    [
      `rotation sweep 1 over ${FULL_NODE} volumes (status writes): driver CPU`,
      cpu(first.driverCpu),
      ...goal(first.driverCpu.ownSeconds, 0.5, '0.5 s'),
    ],
    [
      `rotation sweep 2 (steady, no status writes): driver CPU`,
      cpu(steady.driverCpu),
      ...goal(steady.driverCpu.ownSeconds, 0.4, '0.4 s'),
    ],
    [
      `publish p50, 1 in flight (${SEQUENTIAL_VOLUMES} first mounts)`,
      ms(p(sequential, 50)),
      ...goal(p(sequential, 50), 20, '20 ms'),
    ],
    [
      `burst: ${FULL_NODE} publishes at once, wall`,
      seconds(burst.wallMs),
      ...goal(burst.wallMs, 3000, '3 s'),
    ],
    [`unpublish p50, 1 in flight`, ms(unpublish1), ...goal(unpublish1, 6, '6 ms')],
    [`unpublish p50, ${CONCURRENCY} in flight`, ms(unpublish32), ...goal(unpublish32, 80, '80 ms')],
    [
      `API-server connections right after the ${FULL_NODE}-publish burst`,
      String(results.apiConnectionsAfterBurst),
      ...goal(results.apiConnectionsAfterBurst, 1, '1'),
    ],
    [
      'API-server connections at the end',
      String(results.apiConnectionsAtEnd),
      ...goal(results.apiConnectionsAtEnd, 1, '1'),
    ],
    [
      'driver peak RSS (VmHWM) vs the DaemonSet memory limit',
      `${mib(drained.peakRssBytes)} (${((100 * drained.peakRssBytes) / limits.memoryLimit).toFixed(0)} % of ${mib(limits.memoryLimit)})`,
      `<= limit / 2 (2x headroom)`,
      drained.peakRssBytes <= limits.memoryLimit / 2 ? 'met' : 'NOT MET',
    ],
    [
      'driver CPU during the burst (busiest round) vs the DaemonSet CPU limit',
      `${results.burstCores.toFixed(2)} cores (limit ${limits.cpuLimit} cores, request ${limits.cpuRequest})`,
      'informational: a CPU limit throttles, it does not kill',
      '',
    ],
    ['DaemonSet resources (deploy/driver/daemonset.yaml)', limits.text, '', ''],
    (() => {
      const resources =
        daemonSetContainer('deploy/provider-directory/daemonset.yaml', 'provider-directory').resources ?? {};
      const limit = memoryQuantity(resources.limits?.memory ?? '0');
      const peak = results.provider.peakRssBytes;
      return [
        'directory provider peak RSS (VmHWM) vs its DaemonSet memory limit',
        `${mib(peak)} (${((100 * peak) / limit).toFixed(0)} % of ${mib(limit)}; requests ${resources.requests?.memory ?? '-'}, limits ${resources.limits?.cpu ?? '-'}/${resources.limits?.memory ?? '-'})`,
        '<= limit / 2 (2x headroom)',
        peak <= limit / 2 ? 'met' : 'NOT MET',
      ] as const;
    })(),
    [`publish p99, 1 in flight`, ms(p(sequential, 99)), '', ''],
    [
      `publish p50 / p99, ${CONCURRENCY} in flight`,
      `${ms(p(concurrent, 50))} / ${ms(p(concurrent, 99))}`,
      '',
      '',
    ],
    [`burst: publish p50 / p99`, `${ms(p(burst, 50))} / ${ms(p(burst, 99))}`, '', ''],
    [
      `unpublish p99, 1 / ${CONCURRENCY} in flight`,
      `${ms(percentile(results.unpublishSequential, 99))} / ${ms(percentile(results.unpublishConcurrent, 99))}`,
      '',
      '',
    ],
  ];
  sweeps.forEach((sweep, i) => {
    table.push(
      [`rotation sweep ${i + 1}: wall`, seconds(sweep.wallMs), '', ''],
      [
        `rotation sweep ${i + 1}: refreshes counted`,
        `${sweep.refreshes} of ${sweep.latenciesMs.length}`,
        '',
        '',
      ],
    );
  });
  table.push(
    [
      'driver V8 heap used, idle / loaded / drained',
      `${mib(idle.heapUsedBytes)} / ${mib(loaded.heapUsedBytes)} / ${mib(drained.heapUsedBytes)}`,
      '',
      '',
    ],
    [
      `driver RSS ${DRAIN_EARLY_MS / 1000} s after everything is unpublished`,
      mib(drainedEarly.rssBytes),
      '',
      '',
    ],
    [
      'driver V8 heap committed, idle / loaded / drained',
      `${mib(idle.heapTotalBytes)} / ${mib(loaded.heapTotalBytes)} / ${mib(drained.heapTotalBytes)}`,
      '',
      '',
    ],
    [
      'driver RssAnon / RssFile, idle / loaded / drained',
      [idle, loaded, drained].map((m) => `${mib(m.rssAnonBytes)} / ${mib(m.rssFileBytes)}`).join(', '),
      '',
      '',
    ],
    [
      'driver external memory, idle / loaded / drained',
      `${mib(idle.externalBytes)} / ${mib(loaded.externalBytes)} / ${mib(drained.externalBytes)}`,
      '',
      '',
    ],
    [`driver CPU per first mount (1 in flight)`, ms(cpuPerCallMs(sequential)), '', ''],
    [`driver CPU per first mount (burst)`, ms(cpuPerCallMs(burst)), '', ''],
    ['driver CPU per republish (sweep 2)', ms(cpuPerCallMs(steady)), '', ''],
    [
      `throughput, ${CONCURRENCY} in flight / burst`,
      `${((concurrent.latenciesMs.length * 1000) / concurrent.wallMs).toFixed(0)} / ${(
        (burst.latenciesMs.length * 1000) /
        burst.wallMs
      ).toFixed(0)} publishes/s`,
      '',
      '',
    ],
  );
  return table;
}

function printTable(header: Row, body: readonly Row[]): void {
  const widths = header.map((_, column) =>
    Math.max(...[header, ...body].map((row) => (row[column] ?? '').length)),
  );
  const line = (row: Row) => `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  process.stdout.write(
    [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line), ''].join('\n'),
  );
}

function printReport(bench: BenchWorld, results: Results, loadAtStart: number): void {
  const processors = cpus();
  process.stdout.write(
    [
      '',
      'Secrets Store CSI driver benchmark',
      `machine: ${processors.length} CPUs (${processors[0]?.model.trim() ?? 'unknown'}), Linux ${release()}, Node ${process.version}`,
      `load average (1 min) at start / end: ${loadAtStart.toFixed(2)} / ${(loadavg()[0] ?? 0).toFixed(2)} (other work on the machine skews every figure)`,
      `driver: ${Object.entries(driverProgram.env)
        .map(([name, value]) => `${name}=${value} `)
        .join(
          '',
        )}${relative(process.cwd(), driverProgram.entry)} on plain Node ${driverProgram.nodeArgs.join(' ')}, --enable-secret-rotation ` +
        `--rotation-poll-interval=${bench.rotationPollInterval}; provider: directory (3 small files); ` +
        'kube-apiserver, etcd and the bench share the same CPUs',
      '',
      '',
    ].join('\n'),
  );
  printTable(['measure', 'figure', 'goal', 'result'], rows(results));
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? 0;
  const teardown = new Teardown();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(
      `\n[bench] ${signal}: killing processes, unmounting, removing temporary directories\n`,
    );
    teardown.emergency();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress('starting the test world, the directory provider and the driver');
    const bench = await setUpBenchWorld(teardown, ROTATION_POLL_INTERVAL);
    const volumes = new Volumes(bench.client);
    teardown.add('unpublish the mounted volumes', async () => {
      await volumes.unpublishAll();
    });
    const results = await measure(bench, volumes);
    printReport(bench, results, loadAtStart);
  } finally {
    progress('tearing down');
    await teardown.run();
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(
    `[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
}
