/**
 * The alerts (PrometheusRule) and Grafana dashboards the driver and Azure charts ship: off by default, rendered
 * when enabled, and using only series the components export (the metrics reference of docs/metrics.md, which
 * docs.test.ts checks against the running components) or Prometheus's own `up`, as Prometheus's own parser
 * (scripts/test-world/promql-check) reads them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifact } from '@secrets-store-csi/test-support';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { ROOT, codeSpans, metricsReference, section, tableRows } from './docs-support.js';
import { AZURE_CHART, DRIVER_CHART, render, type KubeObject } from './helm.js';

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

const rulesOf = (object: KubeObject): Rule[] =>
  (object.spec as { groups: { rules: Rule[] }[] }).groups.flatMap((group) => group.rules);

interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: { title: string; targets: { expr: string }[] }[];
}

function dashboardsOf(objects: readonly KubeObject[]): Dashboard[] {
  return objects
    .filter((object) => object.kind === 'ConfigMap' && object.metadata.name.endsWith('-dashboard'))
    .flatMap((object) => Object.values(object.data as Record<string, string>))
    .map((json) => JSON.parse(json) as Dashboard);
}

const enabled = (prefix = '') => [
  `${prefix}monitoring.prometheusRule.enabled=true`,
  `${prefix}monitoring.dashboard.enabled=true`,
];

/** Series names the reference lists, with the `_bucket`/`_sum`/`_count` of its histograms. */
async function referencedSeries(): Promise<Set<string>> {
  const metricsPage = await readFile(join(ROOT, 'docs', 'metrics.md'), 'utf8');
  const histograms = new Set(
    tableRows(section(metricsPage, 'Reference'))
      .filter((cells) => cells[1] === 'histogram')
      .flatMap((cells) => codeSpans(cells[0] ?? '')),
  );
  const names = new Set<string>();
  for (const name of metricsReference(metricsPage)) {
    if (histograms.has(name))
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    else names.add(name);
  }
  return names;
}

describe('alerts and dashboards in the charts', () => {
  it('are off by default in the driver and Azure charts', async () => {
    for (const chart of [DRIVER_CHART, AZURE_CHART]) {
      const objects = await render(chart);
      expect(objects.filter((o) => o.kind === 'PrometheusRule').map((o) => o.metadata.name)).to.deep.equal(
        [],
      );
      expect(dashboardsOf(objects)).to.deep.equal([]);
    }
  });

  it('render when enabled: the driver’s and the Azure provider’s rules and dashboards, with the given labels', async () => {
    const objects = await render(AZURE_CHART, {
      set: [
        ...enabled(),
        ...enabled(`${DRIVER_CHART}.`),
        'monitoring.prometheusRule.labels.release=prometheus',
        'monitoring.prometheusRule.upSelector=job="azure"',
        `${DRIVER_CHART}.monitoring.dashboard.namespace=grafana`,
      ],
    });
    const rules = objects.filter((o) => o.kind === 'PrometheusRule');
    expect(rules.map((o) => o.apiVersion)).to.deep.equal([
      'monitoring.coreos.com/v1',
      'monitoring.coreos.com/v1',
    ]);
    const alerts = rules.flatMap(rulesOf);
    expect(alerts.map((rule) => rule.alert).sort()).to.deep.equal([
      'SecretsStoreAzureKeyVaultThrottling',
      'SecretsStoreAzureProviderDown',
      'SecretsStoreAzureProviderMountErrors',
      'SecretsStoreCSIDriverDown',
      'SecretsStoreCSIDriverMountFailures',
      'SecretsStoreCSIDriverProviderNotFound',
      'SecretsStoreCSIDriverRotationFailures',
    ]);
    for (const rule of alerts) {
      expect(rule.for, rule.alert).to.match(/^\d+m$/);
      expect(rule.labels?.severity, rule.alert).to.be.oneOf(['warning', 'critical']);
      // Prometheus's own templates survive helm's.
      expect(rule.annotations?.description, rule.alert).to.include('{{ $labels.instance }}');
    }
    expect(alerts.find((rule) => rule.alert === 'SecretsStoreAzureProviderDown')?.expr).to.equal(
      'up{job="azure"} == 0',
    );
    expect(alerts.find((rule) => rule.alert === 'SecretsStoreCSIDriverDown')?.expr).to.equal(
      'up{job="secrets-store-csi-driver"} == 0',
    );
    const azureRule = rules.find((o) =>
      rulesOf(o).some((rule) => rule.alert.startsWith('SecretsStoreAzure')),
    );
    expect(azureRule?.metadata.labels).to.include({ release: 'prometheus' });

    const dashboards = objects.filter(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'),
    );
    expect(
      dashboards.map((o) => [
        o.metadata.namespace,
        (o.metadata.labels as Record<string, string>).grafana_dashboard,
      ]),
    ).to.have.deep.members([
      ['kube-system', '1'],
      ['grafana', '1'],
    ]);
    expect(
      dashboardsOf(objects)
        .map((d) => d.uid)
        .sort(),
    ).to.deep.equal(['sscsi-driver', 'sscsi-provider-azure']);
  });

  it('the driver chart alone renders its own rules and dashboard', async () => {
    const objects = await render(DRIVER_CHART, { set: enabled() });
    expect(
      objects
        .filter((o) => o.kind === 'PrometheusRule')
        .flatMap(rulesOf)
        .map((r) => r.alert),
    ).to.have.length(4);
    expect(dashboardsOf(objects).map((d) => d.uid)).to.deep.equal(['sscsi-driver']);
  });

  it('the alert table of docs/metrics.md names exactly the alerts the charts render', async () => {
    const metricsPage = await readFile(join(ROOT, 'docs', 'metrics.md'), 'utf8');
    const documented = tableRows(section(metricsPage, 'Alerts and dashboard'))
      .flatMap((cells) => codeSpans(cells[0] ?? ''))
      .filter((name) => name.startsWith('SecretsStore'));
    const objects = await render(AZURE_CHART, { set: [...enabled(), ...enabled(`${DRIVER_CHART}.`)] });
    const rendered = objects
      .filter((o) => o.kind === 'PrometheusRule')
      .flatMap(rulesOf)
      .map((r) => r.alert);
    expect(documented.sort()).to.deep.equal(rendered.sort());
  });

  it('Prometheus’s own rule parser accepts the rule files, and every series the rules, dashboards and examples select is in the metrics reference (or is Prometheus’s up)', async () => {
    const known = await referencedSeries();
    known.add('up');
    const objects = await render(AZURE_CHART, { set: [...enabled(), ...enabled(`${DRIVER_CHART}.`)] });
    const dir = await mkdtemp(join(tmpdir(), 'promql-check-'));
    try {
      const files = await Promise.all(
        objects
          .filter((o) => o.kind === 'PrometheusRule')
          .map(async (o) => {
            const file = join(dir, `${o.metadata.name}.yaml`);
            await writeFile(file, stringify(o.spec));
            return file;
          }),
      );
      const fromRules = await promqlCheck(['rules', ...files]);
      expect(fromRules).to.have.length(7);
      const metricsPage = await readFile(join(ROOT, 'docs', 'metrics.md'), 'utf8');
      const examples = (/```promql\n([\s\S]*?)```/.exec(metricsPage)?.[1] ?? '')
        .split('\n')
        .filter((line) => line.trim() !== '' && !line.startsWith('#'));
      expect(examples.length).to.be.greaterThan(2);
      const dashboardExprs = dashboardsOf(objects).flatMap((d) =>
        d.panels.flatMap((panel) => panel.targets.map((t) => t.expr)),
      );
      expect(dashboardExprs.length).to.be.greaterThan(10);
      const fromExprs = await promqlCheck(['exprs'], [...dashboardExprs, ...examples].join('\n'));
      const unknown = [...fromRules, ...fromExprs].flatMap((result) =>
        result.metrics.filter((name) => !known.has(name)).map((name) => `${name} in ${result.expr}`),
      );
      expect(unknown).to.deep.equal([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('promql-check refuses a broken rule file, so the check above can fail', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'promql-check-'));
    try {
      const file = join(dir, 'bad.yaml');
      await writeFile(
        file,
        stringify({ groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'sum(rate(x[5m])' }] }] }),
      );
      const error = await promqlCheck(['rules', file]).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).to.include('unclosed left parenthesis');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface PromqlResult {
  readonly expr: string;
  readonly metrics: readonly string[];
  readonly error?: string;
}

/** The test world's promql-check: Prometheus's rulefmt and PromQL parser (scripts/test-world/promql-check). */
async function promqlCheck(args: readonly string[], stdin?: string): Promise<PromqlResult[]> {
  const bin = await artifact('promql-check');
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [...args], (error, stdout, stderr) => {
      if (error !== null)
        reject(new Error(`promql-check ${args[0] ?? ''} failed: ${stderr}${stdout}`, { cause: error }));
      else resolve(JSON.parse(stdout) as PromqlResult[]);
    });
    child.stdin?.end(stdin ?? '');
  });
}
