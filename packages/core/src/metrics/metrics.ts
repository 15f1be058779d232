/**
 * Prometheus helpers shared by the daemons: one registry per process, names checked against the conventions
 * upstream's dashboards rely on (counters end in `_total`; durations in seconds), and upstream's buckets.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The `os_type` label value upstream records (Go's runtime.GOOS). */
export const OS_TYPE: string = process.platform === 'win32' ? 'windows' : process.platform;

/**
 * Go's prometheus.ExponentialBucketsRange: `count` buckets from `min` to `max`, each a constant factor above
 * the last.
 */
export function exponentialBucketsRange(min: number, max: number, count: number): number[] {
  if (!(min > 0) || !(max > min) || !Number.isInteger(count) || count < 2) {
    throw new RangeError('exponentialBucketsRange needs 0 < min < max and count >= 2');
  }
  const factor = (max / min) ** (1 / (count - 1));
  return Array.from({ length: count }, (_, i) => min * factor ** i);
}

/** The buckets of every upstream driver histogram: 0.1 s to 2 s in 11 steps. */
export const UPSTREAM_DRIVER_BUCKETS: readonly number[] = Object.freeze(exponentialBucketsRange(0.1, 2, 11));

export function createMetricsRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export interface CounterSpec<Label extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly Label[];
}

export function defineCounter<Label extends string>(
  registry: Registry,
  spec: CounterSpec<Label>,
): Counter<Label> {
  if (!metricName.test(spec.name) || !spec.name.endsWith('_total')) {
    throw new RangeError(`counter name "${spec.name}" must be a Prometheus name ending in _total`);
  }
  return new Counter({ ...spec, labelNames: [...spec.labelNames], registers: [registry] });
}

export interface HistogramSpec<Label extends string> extends CounterSpec<Label> {
  readonly buckets: readonly number[];
  /**
   * Set only to keep an upstream name that has no unit (the Azure provider's `grpc_request`), because
   * dashboards query it as is.
   */
  readonly upstreamNameWithoutUnit?: boolean;
}

/** Duration histograms (seconds): the name ends in `_seconds`, or `_sec` where upstream named it so. */
export function defineDurationHistogram<Label extends string>(
  registry: Registry,
  spec: HistogramSpec<Label>,
): Histogram<Label> {
  const { upstreamNameWithoutUnit, ...options } = spec;
  if (!metricName.test(spec.name) || (!upstreamNameWithoutUnit && !/_(seconds|sec)$/.test(spec.name))) {
    throw new RangeError(`duration histogram name "${spec.name}" must end in _seconds (or upstream's _sec)`);
  }
  return new Histogram({
    ...options,
    labelNames: [...spec.labelNames],
    buckets: [...spec.buckets],
    registers: [registry],
  });
}

/** Runs `work` and observes its duration in seconds, also when it throws. */
export async function timeSeconds<T>(
  observe: (seconds: number) => void,
  work: () => Promise<T>,
  now: () => bigint = () => process.hrtime.bigint(),
): Promise<T> {
  const start = now();
  try {
    return await work();
  } finally {
    observe(Number(now() - start) / 1e9);
  }
}
