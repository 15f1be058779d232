/** Shared test seams for the driver's unit tests. */
import type { WireMountRequest } from '@secrets-store-csi/protocol/wire';
import type { SecretProviderClass } from '@secrets-store-csi/core';
import type { Registry } from 'prom-client';
import { DriverError } from '../src/errors.js';
import type {
  ProviderClient,
  ProviderClients,
  ProviderMountResult,
  ProviderVersion,
} from '../src/providers/client.js';

export type FakeProviderResponder = (
  request: WireMountRequest,
) => ProviderMountResult | Promise<ProviderMountResult>;

/** Provider clients that answer from a function and keep every request. */
export class FakeProviderClients implements ProviderClients {
  readonly requests: { provider: string; request: WireMountRequest }[] = [];
  readonly #responders = new Map<string, FakeProviderResponder>();
  readonly #clients = new Map<string, ProviderClient>();

  respond(provider: string, responder: FakeProviderResponder): void {
    this.#responders.set(provider, responder);
  }

  get(provider: string): Promise<ProviderClient> {
    const responder = this.#responders.get(provider);
    if (responder === undefined) {
      return Promise.reject(
        new DriverError('ProviderNotFound', `provider not found: provider "${provider}"`),
      );
    }
    const client: ProviderClient = {
      mount: async (request) => {
        this.requests.push({ provider, request });
        return responder(request);
      },
      version: (): Promise<ProviderVersion> =>
        Promise.resolve({ version: 'v1alpha1', runtimeName: 'fake', runtimeVersion: '0.0.1' }),
    };
    this.#clients.set(provider, client);
    return Promise.resolve(client);
  }

  cached(): ReadonlyMap<string, ProviderClient> {
    return this.#clients;
  }

  close(): void {
    this.#clients.clear();
  }
}

/** A file-per-object answer: `{ name: content }` with version `v<n>`. */
export function filesAnswer(
  contents: Record<string, string>,
  version = 'v1',
  mode = 0o644,
): ProviderMountResult {
  return {
    files: Object.entries(contents).map(([path, text]) => ({ path, mode, contents: Buffer.from(text) })),
    objectVersions: Object.keys(contents).map((name) => ({ id: `secret/${name}`, version })),
  };
}

export function secretProviderClass(
  overrides: Partial<SecretProviderClass['spec']> & {
    name?: string;
    namespace?: string;
    annotations?: Record<string, string>;
  } = {},
): SecretProviderClass {
  const { name = 'my-spc', namespace = 'default', annotations, ...spec } = overrides;
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: { name, namespace, ...(annotations !== undefined && { annotations }) },
    spec: { provider: 'fake', parameters: { objects: 'array: []' }, ...spec },
  };
}

/** The value of one sample of a metric, or 0 when it was never recorded. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = (metric?.values ?? []).find((value) =>
    Object.entries(labels).every(([k, v]) => String((value.labels as Record<string, unknown>)[k]) === v),
  );
  return sample?.value ?? 0;
}

/** One sample of the Prometheus text format: `name{label="value",...} value`. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format (comments skipped, label values unescaped). */
export function parsePrometheusText(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label[1] ?? ''] = (label[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
export function metricSum(
  samples: readonly MetricSample[],
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
