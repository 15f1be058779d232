/**
 * The real helm (built by scripts/test-world/build.sh) run against a copy of deploy/charts, and the rendered
 * objects parsed as YAML so tests assert on fields, never on whole files.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { artifact } from '@secrets-store-csi/test-support';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const CHARTS_SOURCE = fileURLToPath(new URL('../../../deploy/charts', import.meta.url));
export const DRIVER_CHART = 'secrets-store-csi-driver';
export const AZURE_CHART = 'csi-secrets-store-provider-azure';
export const DIRECTORY_CHART = 'csi-secrets-store-provider-directory';
export const CHARTS = [DRIVER_CHART, AZURE_CHART, DIRECTORY_CHART] as const;

/** A Kubernetes object as rendered; fields are read through the helpers below. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string } & Record<string, unknown>;
  readonly [field: string]: unknown;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value?: string }[];
  readonly [field: string]: unknown;
}

export interface HelmResult {
  readonly stdout: string;
  readonly stderr: string;
}

let scratch: Promise<string> | undefined;

/** One scratch directory per run: helm's config, cache and data homes, and the chart copies. */
export function scratchDir(): Promise<string> {
  scratch ??= mkdtemp(join(tmpdir(), 'sscsi-charts-'));
  return scratch;
}

export async function removeScratch(): Promise<void> {
  if (scratch === undefined) return;
  const dir = await scratch;
  scratch = undefined;
  await rm(dir, { recursive: true, force: true });
}

/** helm's homes in the scratch directory, and HELM naming the binary (for scripts). */
export async function helmEnvironment(): Promise<NodeJS.ProcessEnv> {
  const dir = await scratchDir();
  return {
    PATH: process.env.PATH,
    HOME: dir,
    HELM: await helmBinary(),
    HELM_CONFIG_HOME: join(dir, 'helm-config'),
    HELM_CACHE_HOME: join(dir, 'helm-cache'),
    HELM_DATA_HOME: join(dir, 'helm-data'),
  };
}

/** The test world's helm, or the binary SSCSI_HELM names. */
export async function helmBinary(): Promise<string> {
  return process.env.SSCSI_HELM ?? (await artifact('helm'));
}

/**
 * Runs helm with homes of its own (nothing of the machine's helm configuration leaks in): the test world's
 * helm, or the binary SSCSI_HELM names.
 */
export async function helm(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<HelmResult> {
  const bin = await helmBinary();
  try {
    const { stdout, stderr } = await run(bin, [...args], {
      maxBuffer: 64 * 1024 * 1024,
      env: { ...(await helmEnvironment()), ...options.env },
    });
    return { stdout, stderr };
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`helm ${args.join(' ')} failed: ${failure.stderr ?? failure.message}`, { cause: error });
  }
}

let charts: Promise<string> | undefined;

/**
 * A copy of deploy/charts with the Azure chart's dependency (the driver chart, `file://`) vendored by
 * `helm dependency build`, so the repository itself is never written to.
 */
export function chartsDir(): Promise<string> {
  charts ??= (async () => {
    const dir = join(await scratchDir(), 'charts');
    await mkdir(dir, { recursive: true });
    await cp(CHARTS_SOURCE, dir, { recursive: true });
    await helm(['dependency', 'build', join(dir, AZURE_CHART)]);
    return dir;
  })();
  return charts;
}

export async function chartPath(chart: string): Promise<string> {
  return join(await chartsDir(), chart);
}

export interface RenderOptions {
  /** `--set` expressions. */
  readonly set?: readonly string[];
  readonly release?: string;
  readonly namespace?: string;
  /** The Kubernetes version helm renders for (`.Capabilities.KubeVersion`). */
  readonly kubeVersion?: string;
  readonly includeCrds?: boolean;
}

export async function renderText(chart: string, options: RenderOptions = {}): Promise<string> {
  const args = [
    'template',
    options.release ?? 'csi',
    await chartPath(chart),
    '--namespace',
    options.namespace ?? 'kube-system',
    '--kube-version',
    options.kubeVersion ?? '1.37.1',
    ...(options.includeCrds === true ? ['--include-crds'] : []),
    ...(options.set ?? []).flatMap((expression) => ['--set', expression]),
  ];
  return (await helm(args)).stdout;
}

/** `helm template` parsed into objects (empty documents dropped). */
export async function render(chart: string, options: RenderOptions = {}): Promise<KubeObject[]> {
  return parseObjects(await renderText(chart, options));
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0)
        throw new Error(`invalid YAML rendered: ${document.errors[0]!.message}`);
      return document.toJS() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null && typeof object === 'object');
}

export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject | undefined {
  return objects.find((object) => object.kind === kind && object.metadata.name === name);
}

export function get(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const object = find(objects, kind, name);
  if (object === undefined) {
    const present = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind}/${name} rendered (rendered: ${present})`);
  }
  return object;
}

export function kinds(objects: readonly KubeObject[]): string[] {
  return objects.map((object) => `${object.kind}/${object.metadata.name}`).sort();
}

/** The pod spec of a DaemonSet (or Job). */
export function podSpec(workload: KubeObject): Record<string, unknown> & {
  containers: Container[];
  volumes?: { name: string; hostPath?: { path: string; type?: string } }[];
} {
  const spec = workload.spec as { template: { spec: ReturnType<typeof podSpec> } };
  return spec.template.spec;
}

export function podTemplateMetadata(workload: KubeObject): {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
} {
  return (workload.spec as { template: { metadata: ReturnType<typeof podTemplateMetadata> } }).template
    .metadata;
}

export function container(workload: KubeObject, name: string): Container {
  const found = podSpec(workload).containers.find((c) => c.name === name);
  if (found === undefined)
    throw new Error(`no container ${name} in ${workload.kind}/${workload.metadata.name}`);
  return found;
}

/** The container's args with `$(VAR)` replaced from its literal env, as kubelet expands them. */
export function expandedArgs(c: Container, fieldValues: Readonly<Record<string, string>> = {}): string[] {
  const env = new Map<string, string>();
  for (const variable of c.env ?? []) {
    const value = variable.value ?? fieldValues[variable.name];
    if (value !== undefined) env.set(variable.name, value);
  }
  return (c.args ?? []).map((arg) =>
    arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env.get(name) ?? whole),
  );
}

/** Every string leaf of the objects (paths, args, annotations...), for "nowhere in the output" checks. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/**
 * A container of a raw manifest in `deploy/<dir>/daemonset.yaml`: the measured resources and V8 flags live
 * there and in each chart's values; tests keep the two equal.
 */
export async function manifestContainer(dir: string, name: string): Promise<Container> {
  const objects = parseObjects(await readFile(join(CHARTS_SOURCE, '..', dir, 'daemonset.yaml'), 'utf8'));
  const daemonSet = objects.find((o) => o.kind === 'DaemonSet');
  if (daemonSet === undefined) throw new Error(`no DaemonSet in deploy/${dir}/daemonset.yaml`);
  return container(daemonSet, name);
}

/** The value of an environment variable set literally on a container, or undefined. */
export function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}
