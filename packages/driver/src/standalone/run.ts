/**
 * `secrets-store-csi standalone`: one volume, no cluster. Reads a SecretProviderClass (and optional Pod and
 * node-publish Secret) from a YAML file, publishes it into a local directory through the real provider
 * socket (a tmpfs when run as root, a plain directory otherwise), prints what it wrote (names, sizes, modes,
 * object versions; contents only with --show-contents), and keeps refreshing it on the rotation interval
 * until stopped, when it unpublishes the volume.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  CodedError,
  createLogger,
  flagErrorCodes,
  formatUsage,
  parseFlags,
  type FlagValues,
} from '@secrets-store-csi/core';
import { configFromFlags, driverFlags } from '../config.js';
import { AtomicWriter, readMountedContents, readMountedFiles } from '../fs/index.js';
import { DriverMetrics } from '../metrics.js';
import { DirectoryMounter, LinuxMounter } from '../mount/index.js';
import type { Mounter } from '../mount/mounter.js';
import { GrpcProviderClients } from '../providers/client.js';
import { VolumePublisher, type PublishOutcome } from '../publish/publisher.js';
import { RotationTracker } from '../rotation/tracker.js';
import { readStandaloneInput } from './input.js';
import { localKube } from './local-kube.js';

export const standaloneFlags = {
  spc: {
    type: 'string',
    default: '',
    usage: 'YAML file with a SecretProviderClass, and optionally a Pod and a node-publish Secret (required)',
  },
  target: { type: 'string', default: '', usage: 'directory to publish the volume into (required)' },
  'provider-volume': driverFlags['provider-volume'],
  'additional-provider-volume-paths': { ...driverFlags['additional-provider-volume-paths'], default: '' },
  'rotation-poll-interval': { ...driverFlags['rotation-poll-interval'], default: '30s' },
  'max-call-recv-msg-size': driverFlags['max-call-recv-msg-size'],
  'tmpfs-noexec': driverFlags['tmpfs-noexec'],
  'tmpfs-size': driverFlags['tmpfs-size'],
  mount: {
    type: 'string',
    default: 'auto',
    usage: 'tmpfs, directory, or auto (tmpfs when running as root)',
  },
  'show-contents': { type: 'boolean', default: false, usage: 'also print file contents (secrets!)' },
  once: { type: 'boolean', default: false, usage: 'publish, print, unpublish and exit' },
  'log-format-json': driverFlags['log-format-json'],
  v: driverFlags.v,
} as const;

type StandaloneFlags = FlagValues<typeof standaloneFlags>;

export interface StandaloneIo {
  readonly print: (line: string) => void;
  /** Resolves when the run should stop (SIGINT/SIGTERM by default). */
  readonly stopped: Promise<void>;
}

function chooseMounter(choice: string): { mounter: Mounter; kind: string } {
  const root = process.getuid?.() === 0;
  if (choice === 'tmpfs' || (choice === 'auto' && root))
    return { mounter: new LinuxMounter(), kind: 'tmpfs' };
  if (choice === 'directory' || choice === 'auto')
    return { mounter: new DirectoryMounter(), kind: 'directory' };
  throw new CodedError(
    flagErrorCodes.invalidFlags,
    `invalid --mount "${choice}": want tmpfs, directory or auto`,
  );
}

async function describeVolume(
  targetPath: string,
  tracker: RotationTracker,
  showContents: boolean,
  print: (line: string) => void,
): Promise<void> {
  const files = await readMountedFiles(targetPath);
  const contents = showContents ? await readMountedContents(targetPath) : undefined;
  for (const [relative, absolute] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const stats = await stat(absolute);
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    print(`  ${relative}  ${stats.size} bytes  mode ${mode}`);
    const text = contents?.get(relative);
    if (text !== undefined) print(`    ${Buffer.from(text).toString('utf8')}`);
  }
  for (const { id, version } of tracker.get(targetPath)?.objectVersions ?? []) {
    print(`  object ${id} version ${version}`);
  }
}

function describeOutcome(outcome: PublishOutcome, targetPath: string, kind: string): string | undefined {
  switch (outcome.kind) {
    case 'mounted':
      return `mounted ${targetPath} (${kind}) with ${outcome.files} files:`;
    case 'refreshed':
      return outcome.changed ? `rotated: the content of ${targetPath} changed:` : undefined;
    case 'refreshFailed':
      return `refresh failed, the last good content stays mounted: ${outcome.error.message}`;
    case 'alreadyMounted':
    case 'notDue':
      return undefined;
  }
}

export async function runStandaloneWith(flags: StandaloneFlags, io: StandaloneIo): Promise<number> {
  if (flags.spc === '' || flags.target === '') {
    io.print('standalone needs --spc=<file> and --target=<directory>');
    return 2;
  }
  const config = configFromFlags({
    ...parseFlags(driverFlags, []),
    'provider-volume': flags['provider-volume'],
    'additional-provider-volume-paths': flags['additional-provider-volume-paths'],
    'rotation-poll-interval': flags['rotation-poll-interval'],
    'max-call-recv-msg-size': flags['max-call-recv-msg-size'],
    'tmpfs-noexec': flags['tmpfs-noexec'],
    'tmpfs-size': flags['tmpfs-size'],
  });
  const input = await readStandaloneInput(flags.spc);
  const { mounter, kind } = chooseMounter(flags.mount);
  const logger = createLogger({
    format: flags['log-format-json'] ? 'json' : 'text',
    level: flags.v >= 4 ? 'debug' : 'warn',
  });
  const tracker = new RotationTracker(config.rotationPolicy);
  const providers = new GrpcProviderClients(config.providerDirectories, {
    maxReceiveMessageBytes: config.maxReceiveMessageBytes,
  });
  const publisher = new VolumePublisher(
    { nodeName: 'standalone', rotationEnabled: true, tmpfs: config.tmpfs },
    {
      mounter,
      writer: new AtomicWriter(),
      providers,
      kube: localKube(input.spc, input.pod, io.print),
      tracker,
      metrics: new DriverMetrics(),
      logger,
      readMountedContents,
    },
  );
  const targetPath = resolve(flags.target);
  const publish = async (): Promise<boolean> => {
    let outcome: PublishOutcome;
    try {
      outcome = await publisher.publish({
        volumeId: `standalone-${input.pod.uid}`,
        targetPath,
        readonly: true,
        volumeContext: input.volumeContext,
        secrets: input.secrets,
        deadline: new Date(Date.now() + 60_000),
      });
    } catch (error) {
      io.print(`publish failed: ${(error as Error).message}`);
      return false;
    }
    const line = describeOutcome(outcome, targetPath, kind);
    if (line !== undefined) io.print(line);
    if (outcome.kind === 'mounted' || (outcome.kind === 'refreshed' && outcome.changed)) {
      await describeVolume(targetPath, tracker, flags['show-contents'], io.print);
    }
    return true;
  };
  try {
    if (!(await publish())) return 1;
    if (flags.once) return 0;
    io.print(`refreshing every ${flags['rotation-poll-interval'] / 1000}s; stop with Ctrl-C`);
    const tickMs = Math.min(1000, config.rotationPolicy.pollIntervalMs);
    let running = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(async () => {
        await publish();
      });
    }, tickMs);
    await io.stopped;
    clearInterval(timer);
    await running;
    return 0;
  } finally {
    await publisher.unpublish(targetPath).catch((error: unknown) => {
      io.print(`unpublish failed: ${(error as Error).message}`);
    });
    providers.close();
    io.print(`unpublished ${targetPath}`);
  }
}

export async function runStandalone(argv: readonly string[]): Promise<number> {
  let flags: StandaloneFlags;
  try {
    flags = parseFlags(standaloneFlags, argv);
  } catch (error) {
    const usage = formatUsage('secrets-store-csi standalone', standaloneFlags);
    if (error instanceof CodedError && error.code === flagErrorCodes.helpRequested) {
      process.stderr.write(usage);
      return 0;
    }
    process.stderr.write(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const stopped = new Promise<void>((done) => {
    process.once('SIGINT', () => {
      done();
    });
    process.once('SIGTERM', () => {
      done();
    });
  });
  try {
    return await runStandaloneWith(flags, {
      print: (line) => process.stdout.write(`${line}\n`),
      stopped,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 1;
  }
}
