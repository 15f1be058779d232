/**
 * The user's guide (docs/, README.md, package READMEs) against the code, where that is cheap: links resolve,
 * documented flags are ones the commands accept, helm `--set` values exist in the charts, the metrics
 * reference is exactly what the running driver and Azure provider export, and the event reasons and texts of
 * the troubleshooting page are ones the code emits. A renamed flag, value, metric, reason or text fails here.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { sharedTestWorld } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { parse } from 'yaml';
import {
  ROOT,
  anchorsOf,
  codeSpans,
  flagsOf,
  isRuntimeMetric,
  markdownFiles,
  metricsReference,
  runningComponentsMetrics,
  section,
  splitFences,
  tableRows,
  type Command,
  type MarkdownFile,
} from './docs-support.js';
import { AZURE_CHART, CHARTS_SOURCE, DIRECTORY_CHART, DRIVER_CHART } from './helm.js';

const page = (files: readonly MarkdownFile[], path: string): string => {
  const file = files.find((candidate) => candidate.path === path);
  if (file === undefined) throw new Error(`${path} is missing`);
  return file.text;
};

async function sourceText(packageDir: string): Promise<string> {
  const parts: string[] = [];
  for (const entry of await readdir(join(ROOT, packageDir, 'src'), { recursive: true, withFileTypes: true }))
    if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts'))
      parts.push(await readFile(join(entry.parentPath, entry.name), 'utf8'));
  return parts.join('\n');
}

describe('the user’s guide matches the code', function () {
  this.timeout(180_000);
  let files: MarkdownFile[];

  before(async () => {
    files = await markdownFiles();
  });

  it('the README and the guide link the guide’s pages in the order a user takes them, and the guide links every page under docs/', () => {
    expect(page(files, 'README.md')).to.include('](docs/README.md)');
    const guide = page(files, 'docs/README.md');
    const order = [
      'install.md',
      'identity/service-principal.md',
      'identity/managed-identity.md',
      'identity/workload-identity.md',
      'identity/identity-binding.md',
      'identity/pod-identity.md',
      'mounting.md',
      'sync.md',
      'rotation.md',
      'metrics.md',
      'troubleshooting.md',
      'multi-vault-and-optional.md',
      'extraction-and-certificates.md',
      'kubectl-plugin.md',
    ];
    const readme = page(files, 'README.md');
    const inReadme = order.map((target) => readme.indexOf(`](docs/${target})`));
    expect(
      inReadme.every((position) => position >= 0),
      `${order.join(', ')} in README.md`,
    ).to.equal(true);
    expect(inReadme).to.deep.equal([...inReadme].sort((a, b) => a - b));
    const positions = order.map((target) => guide.indexOf(`](${target})`));
    expect(
      positions.every((position) => position >= 0),
      `${order.join(', ')} in docs/README.md`,
    ).to.equal(true);
    expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
    for (const file of files.filter((f) => f.path.startsWith('docs/') && f.path !== 'docs/README.md'))
      expect(guide, `docs/README.md links ${file.path}`).to.include(`](${file.path.slice('docs/'.length)}`);
  });

  it('every relative link resolves, anchors included', () => {
    const broken: string[] = [];
    for (const file of files) {
      const { prose } = splitFences(file.text);
      for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const resolved = path === '' ? file.path : normalize(join(dirname(file.path), path));
        if (!existsSync(join(ROOT, resolved))) {
          broken.push(`${file.path}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md')) {
          const text = files.find((f) => f.path === resolved)?.text;
          if (text !== undefined && !anchorsOf(text).has(anchor))
            broken.push(`${file.path}: ${target} (no heading for #${anchor})`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('every flag in a command’s flag table, and every flag the guide names, is one the commands accept', async () => {
    const flags: Record<Command, Set<string>> = {
      driver: await flagsOf('driver'),
      standalone: await flagsOf('standalone'),
      azure: await flagsOf('azure'),
      directory: await flagsOf('directory'),
      plugin: await flagsOf('plugin'),
    };
    const tables: [string, Command][] = [
      ['packages/driver/README.md', 'driver'],
      ['packages/provider-azure/README.md', 'azure'],
      ['packages/provider-directory/README.md', 'directory'],
    ];
    const unknown: string[] = [];
    for (const [path, command] of tables) {
      const rows = tableRows(section(page(files, path), 'Flags'));
      expect(rows.length, `${path} has a flag table`).to.be.greaterThan(5);
      for (const cells of rows)
        for (const span of codeSpans(cells[0] ?? ''))
          if (!flags[command].has(span.replace(/^--?/, ''))) unknown.push(`${path}: ${span}`);
    }
    // Flags named in the guide's prose, outside commands: any of the five commands' (helm, kubectl and az
    // flags appear in prose only where listed here; `--flag` is the plugin page's placeholder).
    const others = new Set(['issuer', 'subject', 'set', 'flag']);
    const every = new Set([...Object.values(flags).flatMap((set) => [...set]), ...others]);
    for (const file of files.filter(
      (f) =>
        f.path.startsWith('docs/') &&
        !/(testing|architecture|compatibility|writing-a-provider)\.md$/.test(f.path),
    ))
      for (const span of codeSpans(splitFences(file.text).prose).filter(
        (s) => !/^(az|kubectl|helm|pnpm|docker|sudo|bash) /.test(s),
      ))
        for (const match of span.matchAll(/(?:^|\s)--([a-z][\w-]*)/g))
          if (!every.has(match[1]!)) unknown.push(`${file.path}: --${match[1]!}`);
    expect(unknown).to.deep.equal([]);
  });

  it('every --set of a documented helm install or upgrade names a value of the chart it installs', async () => {
    const values = {
      [DRIVER_CHART]: parse(
        await readFile(join(CHARTS_SOURCE, DRIVER_CHART, 'values.yaml'), 'utf8'),
      ) as unknown,
      [AZURE_CHART]: parse(
        await readFile(join(CHARTS_SOURCE, AZURE_CHART, 'values.yaml'), 'utf8'),
      ) as unknown,
      [DIRECTORY_CHART]: parse(
        await readFile(join(CHARTS_SOURCE, DIRECTORY_CHART, 'values.yaml'), 'utf8'),
      ) as unknown,
    };
    const has = (chart: keyof typeof values, path: string): boolean => {
      if (chart === AZURE_CHART && path.startsWith(`${DRIVER_CHART}.`)) {
        // The dependency's values: the Azure chart's block over the driver chart's defaults.
        const rest = path.slice(DRIVER_CHART.length + 1);
        return lookup(values[AZURE_CHART], path) || lookup(values[DRIVER_CHART], rest);
      }
      return lookup(values[chart], path);
    };
    let commands = 0;
    const missing: string[] = [];
    for (const file of files)
      for (const block of splitFences(file.text).blocks.filter((b) => b.lang === 'sh')) {
        for (const command of block.body.replace(/\\\n/g, ' ').split('\n')) {
          if (!/^helm (install|upgrade)\b/.test(command.trim())) continue;
          const chart = Object.keys(values).find(
            (name) => command.includes(`/${name} `) || command.endsWith(`/${name}`),
          );
          expect(chart, `the chart of: ${command}`).to.not.equal(undefined);
          commands++;
          for (const match of command.matchAll(/--set\s+([\w.-]+)=/g))
            if (!has(chart as keyof typeof values, match[1]!))
              missing.push(`${file.path}: ${chart}: ${match[1]!}`);
        }
      }
    expect(commands).to.be.greaterThan(4);
    expect(missing).to.deep.equal([]);
  });

  it('the metrics reference lists exactly the series the running driver and Azure provider export', async () => {
    const world = await sharedTestWorld();
    const { driver, azure } = await runningComponentsMetrics(world.kube.adminKubeconfigPath);
    const exported = [...driver, ...azure]
      .map((family) => family.name)
      .filter((name) => !isRuntimeMetric(name));
    expect(driver.map((family) => family.name)).to.include('node_publish_total');
    expect(azure.map((family) => family.name)).to.include('keyvault_request');
    expect([...new Set(metricsReference(page(files, 'docs/metrics.md')))].sort()).to.deep.equal(
      [...new Set(exported)].sort(),
    );
  });

  it('every event reason and text of the troubleshooting table is one the driver emits', async () => {
    const driverSource = await sourceText('packages/driver');
    const rows = tableRows(section(page(files, 'docs/troubleshooting.md'), 'By event reason'));
    expect(rows.length).to.be.greaterThan(10);
    const unknown: string[] = [];
    for (const cells of rows) {
      for (const reason of codeSpans(cells[0] ?? ''))
        if (!driverSource.includes(`'${reason}'`)) unknown.push(`reason ${reason}`);
      // The literal start of each text (up to its first placeholder) is in the driver's or a provider's source.
      for (const text of codeSpans(cells[1] ?? '')) {
        const literal = literalStart(text);
        if (literal.length >= 8 && !driverSource.includes(literal)) unknown.push(`text ${literal}`);
      }
    }
    const conditions = tableRows(section(page(files, 'docs/troubleshooting.md'), 'Conditions'));
    for (const cells of conditions)
      for (const name of [
        ...codeSpans(cells[0] ?? ''),
        ...codeSpans(cells[1] ?? '').filter((s) => /^[A-Z]\w+$/.test(s) && s !== 'True' && s !== 'False'),
      ])
        if (!driverSource.includes(`'${name}'`)) unknown.push(`condition ${name}`);
    expect(unknown).to.deep.equal([]);
  });

  it('the Azure provider’s texts the guide quotes are in its source', async () => {
    const source = `${await sourceText('packages/provider-azure')}\n${await sourceText('packages/provider-sdk')}`;
    const pages = [
      'docs/troubleshooting.md',
      'docs/mounting.md',
      ...files.filter((f) => f.path.startsWith('docs/identity/')).map((f) => f.path),
    ];
    const unknown: string[] = [];
    for (const path of pages) {
      for (const cells of tableRows(page(files, path))) {
        for (const text of codeSpans(cells[0] ?? '')) {
          // Texts with a verb of ours (not Key Vault's, Entra ID's or kubelet's): `failed ...`, `... is not provided`, ...
          if (
            !/^(failed|could not|only one|clientID|service account|nmi|objects|keyvaultName|tenantId|invalid|Key Vault throttled|the token endpoint)/.test(
              text,
            )
          )
            continue;
          const literal = literalStart(text).trimEnd();
          if (!source.includes(literal)) unknown.push(`${path}: ${literal}`);
        }
      }
    }
    expect(unknown).to.deep.equal([]);
  });
});

/** A quoted text up to its first placeholder (`<name>`, `...`) or the nested error after `error: `. */
function literalStart(text: string): string {
  return text.split(/<|\.\.\.|error: /)[0]!;
}

function lookup(values: unknown, path: string): boolean {
  let current: unknown = values;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return false;
    current = (current as Record<string, unknown>)[key];
  }
  return true;
}
