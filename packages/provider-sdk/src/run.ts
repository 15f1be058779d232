/**
 * `runProvider()`: the whole `main` of a provider process but the provider itself. Parses the standard
 * flags (upstream's Azure provider's names) plus the provider's own once into a frozen object, answers
 * `--version` and `--help`, builds the logger, asks the provider package to build its provider, serves it
 * until SIGTERM/SIGINT, and returns the exit code.
 */
import type { Writable } from 'node:stream';
import { createLogger, createMetricsRegistry, type Logger } from '@secrets-store-csi/core';
import type { Registry } from 'prom-client';
import { runtimeNameOf, type SecretProvider } from './contract.js';
import {
  flagErrorCodes,
  formatUsage,
  parseFlags,
  type FlagSpecs,
  type FlagValues,
} from '@secrets-store-csi/core';
import { DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES } from './rules.js';
import { serve, type ProviderServer } from './serve.js';

export interface StandardFlagDefaults {
  /** For example `unix:///var/run/secrets-store-csi-providers/<name>.sock`. */
  readonly endpoint: string;
  readonly healthzPort: number;
  readonly prometheusPort: number;
}

export function standardProviderFlags(defaults: StandardFlagDefaults) {
  return {
    endpoint: {
      type: 'string',
      default: defaults.endpoint,
      usage: 'gRPC endpoint: unix://<path> or tcp://<host:port>',
    },
    'log-format-json': { type: 'boolean', default: false, usage: 'log in JSON instead of text' },
    v: { type: 'integer', default: 0, usage: 'log verbosity; 5 or more logs every gRPC call' },
    'healthz-port': {
      type: 'integer',
      default: defaults.healthzPort,
      usage: 'port of the healthz HTTP listener',
    },
    'healthz-path': { type: 'string', default: '/healthz', usage: 'path of the healthz endpoint' },
    'healthz-timeout': {
      type: 'duration',
      default: '5s',
      usage: 'timeout of the gRPC health check healthz runs',
    },
    'prometheus-port': {
      type: 'integer',
      default: defaults.prometheusPort,
      usage: 'port of the /metrics listener',
    },
    'metrics-backend': { type: 'string', default: 'Prometheus', usage: 'metrics backend; only Prometheus' },
    'max-response-size': {
      type: 'integer',
      default: DEFAULT_MAX_RESPONSE_SIZE_IN_BYTES,
      usage: "largest mount response in bytes; keep it equal to the driver's --max-call-recv-msg-size",
    },
    'shutdown-timeout': {
      type: 'duration',
      default: '20s',
      usage: 'how long in-flight mounts may finish after SIGTERM before they are aborted',
    },
    version: { type: 'boolean', default: false, usage: 'print the version and exit' },
  } as const;
}

export type StandardFlagSpecs = ReturnType<typeof standardProviderFlags>;

export interface RunProviderOptions<Extra extends FlagSpecs> {
  /** The provider's short name (socket `<name>.sock`, SecretProviderClass `spec.provider`). */
  readonly name: string;
  readonly runtimeName?: string;
  readonly version: string;
  /** What `--version` prints as JSON; `{runtimeName, version}` when unset (upstream Azure prints `{version, buildDate}`). */
  readonly versionJson?: Readonly<Record<string, string>>;
  readonly defaults: StandardFlagDefaults;
  /** The provider's own flags, next to the standard ones. */
  readonly flags: Extra;
  /** Builds the provider from the parsed flags; a thrown error's message is the startup failure shown. */
  create(context: {
    readonly flags: FlagValues<StandardFlagSpecs & Extra>;
    readonly logger: Logger;
    /** The registry `/metrics` serves; a provider adds its own metrics here. */
    readonly registry: Registry;
  }): SecretProvider | Promise<SecretProvider>;
  /** `process.argv.slice(2)` by default. */
  readonly argv?: readonly string[];
  readonly stdout?: Writable;
  /** Where logs and usage go; standard error by default. */
  readonly stderr?: Writable;
  readonly signals?: readonly NodeJS.Signals[];
  /** Called once the provider serves; tests use it to learn the bound ports. */
  readonly onListening?: (server: ProviderServer) => void;
}

/** Runs the provider process; resolves with the exit code once the server has stopped (or failed to start). */
export async function runProvider<Extra extends FlagSpecs>(
  options: RunProviderOptions<Extra>,
): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const program = `secrets-store-csi-driver-provider-${options.name}`;
  const specs = { ...standardProviderFlags(options.defaults), ...options.flags };
  let flags: FlagValues<StandardFlagSpecs & Extra>;
  try {
    flags = parseFlags(specs, options.argv ?? process.argv.slice(2));
  } catch (error) {
    const help = (error as { code?: unknown }).code === flagErrorCodes.helpRequested;
    stderr.write(`${help ? '' : `${(error as Error).message}\n`}${formatUsage(program, specs)}`);
    return help ? 0 : 2;
  }
  const runtimeName = runtimeNameOf(options);
  if (flags.version) {
    stdout.write(`${JSON.stringify(options.versionJson ?? { runtimeName, version: options.version })}\n`);
    return 0;
  }
  const logger = createLogger({
    format: flags['log-format-json'] ? 'json' : 'text',
    level: flags.v >= 5 ? 'debug' : 'info',
    ...(options.stderr ? { stream: options.stderr } : {}),
  });
  try {
    if (flags['metrics-backend'].toLowerCase() !== 'prometheus') {
      throw new Error(`unsupported metrics backend ${flags['metrics-backend']}`);
    }
    if (flags['max-response-size'] <= 0)
      throw new Error('--max-response-size must be a positive number of bytes');
    logger.info(`Starting ${runtimeName}`, { version: options.version });
    const registry = createMetricsRegistry();
    const provider = await options.create({ flags, logger, registry });
    const server = await serve(provider, {
      endpoint: flags.endpoint,
      logger,
      registry,
      maxResponseSizeInBytes: flags['max-response-size'],
      healthz: {
        port: flags['healthz-port'],
        path: flags['healthz-path'],
        timeoutInMs: flags['healthz-timeout'],
      },
      metrics: { port: flags['prometheus-port'] },
      shutdownTimeoutInMs: flags['shutdown-timeout'],
      ...(options.signals ? { signals: options.signals } : {}),
    });
    options.onListening?.(server);
    await server.closed;
    return 0;
  } catch (error) {
    logger.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
}
