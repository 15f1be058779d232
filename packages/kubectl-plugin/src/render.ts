/**
 * Prints a report: `-o json` is the report object itself; text is for people, one block per volume. Every
 * field of the pod status is printed, known ones in words and any other as `name: <json>`, so what a newer
 * driver adds to the status (absent optional objects, for one) shows without a change here.
 */
import type { Problem, Report, VolumeReport } from './report.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

const KNOWN_STATUS_FIELDS = new Set([
  'podName',
  'secretProviderClassName',
  'mounted',
  'targetPath',
  'objects',
  'conditions',
]);

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line, index) => (index === 0 ? line : `${prefix}${line}`))
    .join('\n');
}

function problemLines(problem: Problem, prefix: string): string[] {
  const where =
    problem.source === 'condition'
      ? `condition ${problem.type}=${problem.status ?? 'False'}`
      : problem.source === 'event'
        ? `${problem.type} event${problem.count !== undefined && problem.count > 1 ? `, ${problem.count} times` : ''}`
        : problem.type;
  const lines = [
    `${prefix}${problem.reason} (${where}${problem.at === undefined ? '' : `, ${problem.at}`}):`,
    `${prefix}  ${indent(problem.message.trimEnd(), `${prefix}  `)}`,
  ];
  if (problem.diagnosis !== undefined) {
    lines.push(`${prefix}  cause (${problem.diagnosis.category}): ${problem.diagnosis.cause}`);
    lines.push(`${prefix}  fix: ${problem.diagnosis.fix}`);
  }
  return lines;
}

function volumeLines(volume: VolumeReport): string[] {
  const lines = [`Volume ${volume.name}: ${volume.state}`];
  const provider = volume.provider === undefined ? '' : ` (provider ${volume.provider})`;
  lines.push(
    `  class:        ${volume.secretProviderClass === '' ? '(none)' : volume.secretProviderClass}${provider}${volume.classFound ? '' : ' (not found)'}`,
  );
  if (volume.podStatus !== undefined) {
    const node = volume.podStatus.node === undefined ? '' : ` (node ${volume.podStatus.node})`;
    lines.push(`  pod status:   ${volume.podStatus.name}${node}`);
    const status = volume.podStatus.status;
    if (typeof status.mounted === 'boolean') lines.push(`  mounted:      ${status.mounted}`);
    if (typeof status.targetPath === 'string' && status.targetPath !== '')
      lines.push(`  target path:  ${status.targetPath}`);
  } else if (volume.files === undefined) {
    lines.push('  pod status:   none (the driver has not mounted this volume yet)');
  }
  lines.push(
    `  objects:      ${volume.objects.length === 0 ? 'none recorded' : String(volume.objects.length)}`,
  );
  for (const object of volume.objects)
    lines.push(`    ${object.id}  version ${object.version === '' ? '(none)' : object.version}`);
  if (volume.files !== undefined) {
    lines.push(`  files:        ${volume.files.length === 0 ? 'none' : String(volume.files.length)}`);
    for (const file of volume.files) lines.push(`    ${file.path}  ${file.bytes} bytes  mode ${file.mode}`);
  }
  for (const secret of volume.secrets ?? [])
    lines.push(`  secret:       ${secret.name} (${secret.type}) would hold keys ${secret.keys.join(', ')}`);
  if (volume.refresh !== undefined) {
    const { lastRefresh, nextDue, intervalSeconds, intervalSource, note } = volume.refresh;
    lines.push(
      `  last refresh: ${lastRefresh === undefined ? 'unknown' : `${lastRefresh.at} (from the ${lastRefresh.source})`}`,
    );
    lines.push(
      `  next due:     ${nextDue === undefined ? 'unknown' : `${nextDue} (estimated)`}; interval ${intervalSeconds}s from the ${intervalSource}`,
    );
    lines.push(`                ${note}`);
  }
  const status = volume.podStatus?.status ?? {};
  const conditions = Array.isArray(status.conditions) ? (status.conditions as Record<string, unknown>[]) : [];
  if (conditions.length > 0) {
    lines.push('  conditions:');
    for (const c of conditions) {
      const since = typeof c.lastTransitionTime === 'string' ? ` since ${c.lastTransitionTime}` : '';
      const message = typeof c.message === 'string' && c.status === 'True' ? `: ${c.message}` : '';
      lines.push(`    ${String(c.type)}=${String(c.status)} ${String(c.reason)}${since}${message}`);
    }
  }
  for (const [key, value] of Object.entries(status)) {
    if (KNOWN_STATUS_FIELDS.has(key)) continue;
    lines.push(`  ${key}: ${JSON.stringify(value)}`);
  }
  if (volume.problems.length > 0) {
    lines.push('  problems:');
    for (const problem of volume.problems) lines.push(...problemLines(problem, '    '));
  }
  return lines;
}

export function renderText(report: Report): string {
  const { pod } = report;
  const facts = [
    pod.uid === undefined ? undefined : `uid ${pod.uid}`,
    pod.node === undefined ? undefined : `node ${pod.node}`,
    pod.phase,
    `service account ${pod.serviceAccount}`,
  ].filter((f): f is string => f !== undefined);
  const lines =
    report.kind === 'DryRun'
      ? [
          `Dry run of ${report.volumes[0]?.secretProviderClass ?? ''} as service account ${pod.namespace}/${pod.serviceAccount} (pod ${pod.name})`,
        ]
      : [`Pod ${pod.namespace}/${pod.name} (${facts.join(', ')})`];
  for (const volume of report.volumes) lines.push('', ...volumeLines(volume));
  if (report.problems.length > 0) {
    lines.push('', 'Pod events:');
    for (const problem of report.problems) lines.push(...problemLines(problem, '  '));
  }
  return `${lines.join('\n')}\n`;
}
