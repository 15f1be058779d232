/**
 * `dry-run`: mounts a class with a service account's identity into a temporary directory through the
 * driver's standalone mode (the real publish path and the real provider socket), then removes it. The
 * identity is what kubelet would send: a TokenRequest token of the service account for each audience the
 * CSIDriver object names (or `--audience`), and the `--node-publish-secret` Secret's data. Only names, sizes,
 * modes and object versions are reported; the files are never read.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CodedError } from '@secrets-store-csi/core';
import { publishOnce, type PublishOnceReport } from '@secrets-store-csi/driver';
import type { DryRunCommand } from './args.js';
import { diagnose } from './causes.js';
import type { ClusterReader } from './cluster.js';
import { REPORT_API_VERSION, type Problem, type Report } from './report.js';

export const dryRunErrorCodes = { unreadableFile: 'UnreadableFile' } as const;

/** The report of one standalone publish, in explain's shape. */
export function dryRunReport(result: PublishOnceReport): Report {
  const problems: Problem[] = [];
  if (result.error !== undefined) {
    const diagnosis = diagnose(result.error.code, result.error.message);
    problems.push({
      source: 'mount',
      type: 'Mount',
      reason: result.error.code,
      message: result.error.message,
      ...(diagnosis !== undefined && { diagnosis }),
    });
  }
  for (const event of result.events) {
    if (event.type !== 'Warning' && event.reason !== 'OptionalObjectAbsent') continue;
    if (problems.some((p) => p.message === event.message)) continue;
    const diagnosis = diagnose(event.reason, event.message);
    problems.push({
      source: 'event',
      type: event.type,
      reason: event.reason,
      message: event.message,
      ...(diagnosis !== undefined && { diagnosis }),
    });
  }
  return {
    apiVersion: REPORT_API_VERSION,
    kind: 'DryRun',
    pod: {
      namespace: result.pod.namespace,
      name: result.pod.name,
      serviceAccount: result.pod.serviceAccount,
    },
    volumes: [
      {
        name: 'dry-run',
        secretProviderClass: result.secretProviderClass.name,
        provider: result.secretProviderClass.provider,
        classFound: true,
        state: result.mounted ? 'Mounted' : 'Failed',
        ...(result.podStatus !== undefined && {
          podStatus: {
            name: `${result.pod.name}-${result.pod.namespace}-${result.secretProviderClass.name}`,
            status: { ...result.podStatus },
          },
        }),
        objects: result.objects.map(({ id, version }) => ({ id, version })),
        files: result.files,
        secrets: result.secrets,
        problems,
      },
    ],
    problems: [],
  };
}

export async function dryRun(
  reader: ClusterReader,
  command: DryRunCommand,
  publish: typeof publishOnce = publishOnce,
): Promise<Report> {
  let text: string;
  try {
    text = await readFile(command.file, 'utf8');
  } catch (error) {
    throw new CodedError(
      dryRunErrorCodes.unreadableFile,
      `cannot read ${command.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const namespace = command.serviceAccount.namespace ?? command.namespace ?? reader.defaultNamespace;
  const serviceAccount = { namespace, name: command.serviceAccount.name };
  const audiences = command.audiences ?? (await reader.tokenAudiences()) ?? [];
  const tokens =
    audiences.length === 0
      ? undefined
      : await reader.serviceAccountTokens(namespace, serviceAccount.name, audiences);
  const secrets =
    command.nodePublishSecret === undefined
      ? undefined
      : await reader.secretData(namespace, command.nodePublishSecret);
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-secrets-store-'));
  try {
    const result = await publish({
      text,
      file: command.file,
      target: join(dir, 'volume'),
      serviceAccount,
      ...(tokens !== undefined && { serviceAccountTokens: JSON.stringify(tokens) }),
      ...(secrets !== undefined && { secrets }),
      providerVolume: command.providerVolume,
      // A private temporary directory (mkdtemp, 0700); a tmpfs would need root and the mount(2) binding.
      mount: 'directory',
      timeoutMs: command.timeoutMs,
    });
    return dryRunReport(result);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
