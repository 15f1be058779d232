/**
 * The driver's command line, with upstream's flag names and defaults (so a DaemonSet written for upstream
 * runs unchanged), parsed once into a frozen `DriverConfig` that `main` passes down. Our additions are
 * marked; klog's most used flags are accepted so existing command lines keep working.
 */
import {
  CodedError,
  defaultRotationPolicy,
  parseEndpoint,
  parseFlags,
  validateRotationPolicy,
  type Endpoint,
  type FlagValues,
  type LogFormat,
  type LogLevel,
  type RotationPolicy,
} from '@secrets-store-csi/core';
import { parseAdditionalProviderPaths, type ProviderDirectories } from './providers/discovery.js';
import type { TmpfsOptions } from './mount/mounter.js';

export const DEFAULT_DRIVER_NAME = 'secrets-store.csi.k8s.io';

export const driverFlags = {
  endpoint: { type: 'string', default: 'unix://tmp/csi.sock', usage: 'CSI endpoint' },
  drivername: { type: 'string', default: DEFAULT_DRIVER_NAME, usage: 'name of the driver' },
  nodeid: { type: 'string', default: '', usage: 'node id' },
  'log-format-json': { type: 'boolean', default: false, usage: 'set log formatter to json' },
  'provider-volume': {
    type: 'string',
    default: '/var/run/secrets-store-csi-providers',
    usage: 'Volume path for provider',
  },
  'additional-provider-volume-paths': {
    type: 'string',
    default: '/etc/kubernetes/secrets-store-csi-providers',
    usage: 'Comma separated list of additional paths to communicate with providers',
  },
  'metrics-addr': { type: 'string', default: ':8095', usage: 'The address the metric endpoint binds to' },
  'enable-secret-rotation': {
    type: 'boolean',
    default: false,
    usage: 'Enable secret rotation feature [alpha]',
  },
  'rotation-poll-interval': {
    type: 'duration',
    default: '2m',
    usage: 'Secret rotation poll interval duration',
  },
  'enable-pprof': {
    type: 'boolean',
    default: false,
    usage: 'enable pprof profiling (not available; ignored)',
  },
  'pprof-port': { type: 'integer', default: 6065, usage: 'port for pprof profiling (ignored)' },
  'max-call-recv-msg-size': {
    type: 'integer',
    default: 4 * 1024 * 1024,
    usage: 'maximum size in bytes of gRPC response from plugins',
  },
  version: { type: 'boolean', default: false, usage: 'Print the version and exit' },
  'provider-health-check': {
    type: 'boolean',
    default: false,
    usage: 'Enable health check for configured providers',
  },
  'provider-health-check-interval': {
    type: 'duration',
    default: '2m',
    usage: 'Provider healthcheck interval duration',
  },
  'metrics-backend': { type: 'string', default: 'Prometheus', usage: 'Backend used for metrics' },
  kubeconfig: {
    type: 'string',
    default: '',
    usage: 'Paths to a kubeconfig. Only required if out-of-cluster.',
  },
  // Ours.
  'tmpfs-noexec': {
    type: 'boolean',
    default: false,
    usage: 'mount volumes noexec (off by default, as upstream: some users mount executable scripts)',
  },
  'tmpfs-size': {
    type: 'string',
    default: '',
    usage: 'size limit of each volume tmpfs, e.g. 4Mi or 1048576 (empty: the kernel default, as upstream)',
  },
  // klog's flags that upstream deployments pass.
  v: { type: 'integer', default: 0, usage: 'log verbosity; 4 or more logs at debug level' },
  vmodule: { type: 'string', default: '', usage: 'accepted for compatibility; ignored' },
  logtostderr: { type: 'boolean', default: true, usage: 'accepted for compatibility; logs go to stderr' },
  alsologtostderr: { type: 'boolean', default: false, usage: 'accepted for compatibility; ignored' },
} as const;

export type DriverFlagValues = FlagValues<typeof driverFlags>;

export interface DriverConfig {
  readonly endpoint: Endpoint;
  readonly driverName: string;
  readonly nodeId: string;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
  readonly providerDirectories: ProviderDirectories;
  readonly metricsAddress: { readonly host: string; readonly port: number } | undefined;
  readonly rotationEnabled: boolean;
  readonly rotationPolicy: RotationPolicy;
  readonly maxReceiveMessageBytes: number;
  readonly providerHealthCheckIntervalMs: number | undefined;
  readonly kubeconfigPath: string;
  readonly tmpfs: TmpfsOptions;
  readonly pprofRequested: boolean;
}

export const configErrorCodes = { invalidConfig: 'InvalidConfig' } as const;

function invalid(message: string): CodedError {
  return new CodedError(configErrorCodes.invalidConfig, message);
}

/** `:8095`, `0.0.0.0:8095`, `[::1]:8095`; an empty value turns the listener off. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  if (text === '' || text === '0') return undefined;
  const match = /^(.*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || port > 65535) throw invalid(`invalid --metrics-addr "${text}": want [host]:port`);
  return { host: (match[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port };
}

const sizeUnits: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  Ki: 1024,
  m: 1024 ** 2,
  Mi: 1024 ** 2,
  g: 1024 ** 3,
  Gi: 1024 ** 3,
};

/** A tmpfs size: bytes, or a number with k/m/g (as mount writes them) or Ki/Mi/Gi (as Kubernetes does). */
export function parseTmpfsSize(text: string): number | undefined {
  if (text === '') return undefined;
  const match = /^(\d+)(k|Ki|m|Mi|g|Gi)?$/.exec(text);
  const bytes = Number(match?.[1]) * (sizeUnits[match?.[2] ?? ''] ?? Number.NaN);
  if (match === null || !Number.isSafeInteger(bytes) || bytes <= 0) {
    throw invalid(`invalid --tmpfs-size "${text}": want a positive size such as 4Mi or 1048576`);
  }
  return bytes;
}

export function configFromFlags(flags: DriverFlagValues): DriverConfig {
  if (flags['metrics-backend'].toLowerCase() !== 'prometheus') {
    throw invalid(`unsupported metrics backend ${flags['metrics-backend']}`);
  }
  if (flags['max-call-recv-msg-size'] <= 0) {
    throw invalid('--max-call-recv-msg-size must be a positive number of bytes');
  }
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(flags.endpoint);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  if (flags['rotation-poll-interval'] <= 0) throw invalid('--rotation-poll-interval must be positive');
  const rotationPolicy: RotationPolicy = {
    ...defaultRotationPolicy,
    pollIntervalMs: flags['rotation-poll-interval'],
    minIntervalMs: Math.min(defaultRotationPolicy.minIntervalMs, flags['rotation-poll-interval']),
  };
  validateRotationPolicy(rotationPolicy);
  const sizeBytes = parseTmpfsSize(flags['tmpfs-size']);
  return Object.freeze({
    endpoint,
    driverName: flags.drivername,
    nodeId: flags.nodeid,
    logFormat: flags['log-format-json'] ? 'json' : 'text',
    logLevel: flags.v >= 4 ? 'debug' : 'info',
    providerDirectories: {
      additional: parseAdditionalProviderPaths(flags['additional-provider-volume-paths']),
      primary: flags['provider-volume'],
    },
    metricsAddress: parseListenAddress(flags['metrics-addr']),
    rotationEnabled: flags['enable-secret-rotation'],
    rotationPolicy,
    maxReceiveMessageBytes: flags['max-call-recv-msg-size'],
    providerHealthCheckIntervalMs: flags['provider-health-check']
      ? flags['provider-health-check-interval']
      : undefined,
    kubeconfigPath: flags.kubeconfig,
    tmpfs: { noexec: flags['tmpfs-noexec'], ...(sizeBytes !== undefined && { sizeBytes }) },
    pprofRequested: flags['enable-pprof'],
  } satisfies DriverConfig);
}

export function parseDriverArgs(argv: readonly string[]): { flags: DriverFlagValues; config: DriverConfig } {
  const flags = parseFlags(driverFlags, argv);
  return { flags, config: configFromFlags(flags) };
}
