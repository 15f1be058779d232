/**
 * What the docs tests read: the user's guide and READMEs as markdown, the commands' flags from their own
 * `--help`, and the metric families the running driver and Azure provider export.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startProcess, waitUntil, type ManagedProcess } from '@secrets-store-csi/test-support';

const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DRIVER_DIR = join(ROOT, 'packages', 'driver');
const AZURE_DIR = join(ROOT, 'packages', 'provider-azure');
const DIRECTORY_DIR = join(ROOT, 'packages', 'provider-directory');
const PLUGIN_DIR = join(ROOT, 'packages', 'kubectl-plugin');

export interface MarkdownFile {
  /** Relative to the repository root, with `/`. */
  readonly path: string;
  readonly text: string;
}

/** README.md, every page under docs/ and every package README: what users read. */
export async function markdownFiles(): Promise<MarkdownFile[]> {
  const paths = ['README.md'];
  for (const entry of await readdir(join(ROOT, 'docs'), { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name.endsWith('.md'))
      paths.push(relative(ROOT, join(entry.parentPath, entry.name)));
  for (const entry of await readdir(join(ROOT, 'packages'), { withFileTypes: true }))
    if (entry.isDirectory())
      for (const name of await readdir(join(ROOT, 'packages', entry.name)))
        if (name === 'README.md') paths.push(join('packages', entry.name, name));
  return Promise.all(
    paths.sort().map(async (path) => ({ path, text: await readFile(join(ROOT, path), 'utf8') })),
  );
}

/** The text outside fenced code blocks, and the fenced blocks themselves. */
export function splitFences(text: string): { prose: string; blocks: { lang: string; body: string }[] } {
  const blocks: { lang: string; body: string }[] = [];
  const prose = text.replace(/^```([\w-]*)\n([\s\S]*?)^```$/gm, (_all, lang: string, body: string) => {
    blocks.push({ lang, body });
    return '';
  });
  return { prose, blocks };
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to `-`. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  for (const match of splitFences(text).prose.matchAll(/^#{1,6}\s+(.+)$/gm))
    anchors.add(headingAnchor(match[1]!));
  return anchors;
}

/** The rows of every markdown table, as cells (the header and the `---` line dropped). */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  const lines = splitFences(text).prose.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('|') || /^\|\s*-/.test(line)) continue;
    if (/^\|\s*-/.test(lines[i + 1] ?? '')) continue; // a header
    rows.push(
      line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The text between a heading and the next heading of the same or a higher level. */
export function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => /^#+\s/.test(line) && line.replace(/^#+\s+/, '') === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex(
    (line, i) => i > start && /^#+\s/.test(line) && /^#+/.exec(line)![0].length <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Inline code spans of a text. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((match) => match[1]!);
}

/** The metric names in the first column of the metrics reference table. */
export function metricsReference(metricsPage: string): string[] {
  const reference = section(metricsPage, 'Reference');
  return tableRows(reference)
    .map((cells) => /^`([a-z_:][\w:]*)`$/.exec(cells[0] ?? '')?.[1])
    .filter((name): name is string => name !== undefined);
}

// --- the commands -------------------------------------------------------------------------------------------

export type Command = 'driver' | 'standalone' | 'azure' | 'directory' | 'plugin';

const commandArgs: Record<Command, { dir: string; args: string[] }> = {
  driver: { dir: DRIVER_DIR, args: ['src/main.ts', '--help'] },
  standalone: { dir: DRIVER_DIR, args: ['src/main.ts', 'standalone', '--help'] },
  azure: { dir: AZURE_DIR, args: ['src/main.ts', '--help'] },
  directory: { dir: DIRECTORY_DIR, args: ['src/main.ts', '--help'] },
  plugin: { dir: PLUGIN_DIR, args: ['src/cli.ts', '--help'] },
};

/**
 * The flags a command's own `--help` lists: Go's usage format on stderr (`  -name type`) for the driver and
 * providers, kubectl's on stdout (`  -n, --namespace NAME`, `      --context NAME`) for the plugin.
 */
export async function flagsOf(command: Command): Promise<Set<string>> {
  const { dir, args } = commandArgs[command];
  const { stdout, stderr } = await run(process.execPath, ['--conditions=source', '--import=tsx', ...args], {
    cwd: dir,
  });
  const goStyle = [...stderr.matchAll(/^ {2}-([\w-]+)/gm)].map((match) => match[1]!);
  const kubectlStyle = [...stdout.matchAll(/^ +(?:-(\w), )?--([\w-]+)/gm)].flatMap((match) =>
    match[1] === undefined ? [match[2]!] : [match[1], match[2]!],
  );
  const flags = new Set([...goStyle, ...kubectlStyle]);
  if (flags.size === 0) throw new Error(`no flags in the --help of ${command}:\n${stdout}${stderr}`);
  return flags;
}

// --- metrics ------------------------------------------------------------------------------------------------

export interface MetricFamily {
  readonly name: string;
  readonly type: string;
}

/** `# TYPE` lines of a Prometheus text exposition. */
export function metricFamilies(text: string): MetricFamily[] {
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => ({ name: match[1]!, type: match[2]! }));
}

/** The series names a family's samples have (`_bucket`, `_sum`, `_count` for histograms). */
export function seriesNames(family: MetricFamily): string[] {
  if (family.type === 'histogram' || family.type === 'summary')
    return [
      ...(family.type === 'histogram' ? [`${family.name}_bucket`] : [family.name]),
      `${family.name}_sum`,
      `${family.name}_count`,
    ];
  return [family.name];
}

/** Node's own process metrics, which every component exports and the reference does not list. */
export const isRuntimeMetric = (name: string): boolean => /^(process|nodejs)_/.test(name);

async function metricsText(url: string, process: ManagedProcess): Promise<string> {
  let text = '';
  await waitUntil(
    async () => {
      const response = await fetch(url).catch(() => undefined);
      if (response?.ok !== true) return false;
      text = await response.text();
      return true;
    },
    { description: `GET ${url}`, timeoutMs: 60_000, process },
  );
  return text;
}

/**
 * Starts the driver (against `kubeconfig`) and the Azure provider as processes from their sources, as the
 * integration tests do, and returns the families each one's `/metrics` lists before any mount.
 */
export async function runningComponentsMetrics(
  kubeconfig: string,
): Promise<{ driver: MetricFamily[]; azure: MetricFamily[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'docs-metrics-'));
  const started: ManagedProcess[] = [];
  try {
    const driverPort = await freePort();
    const driver = await startProcess({
      name: 'docs-driver',
      command: process.execPath,
      cwd: DRIVER_DIR,
      args: [
        '--conditions=source',
        '--import=tsx',
        'src/main.ts',
        `--endpoint=unix://${join(dir, 'csi.sock')}`,
        '--nodeid=docs-node',
        `--kubeconfig=${kubeconfig}`,
        `--provider-volume=${dir}`,
        '--additional-provider-volume-paths=',
        `--metrics-addr=127.0.0.1:${driverPort}`,
      ],
      logPath: join(dir, 'driver.log'),
    });
    started.push(driver);
    const azurePort = await freePort();
    const azure = await startProcess({
      name: 'docs-provider-azure',
      command: process.execPath,
      cwd: AZURE_DIR,
      args: [
        '--conditions=source',
        '--import=tsx',
        'src/main.ts',
        `--endpoint=unix://${join(dir, 'azure.sock')}`,
        `--prometheus-port=${azurePort}`,
        `--healthz-port=${await freePort()}`,
      ],
      logPath: join(dir, 'azure.log'),
    });
    started.push(azure);
    return {
      driver: metricFamilies(await metricsText(`http://127.0.0.1:${driverPort}/metrics`, driver)),
      azure: metricFamilies(await metricsText(`http://127.0.0.1:${azurePort}/metrics`, azure)),
    };
  } finally {
    for (const process of started) await process.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
