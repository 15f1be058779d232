/**
 * `kubectl-secrets_store`: kubectl runs it for `kubectl secrets-store ...` (a dash in the command is an
 * underscore in the file name). Exit codes: 0 done (explain also when a volume failed: the report says
 * so), 1 the command failed (dry-run: the mount failed), 2 bad arguments.
 */
import { isCodedError } from '@secrets-store-csi/core';
import { parseCommandLine, usage, UsageError, type ClusterFlags } from './args.js';
import { kubeClusterReader, loadKubeConfig, type ClusterReader } from './cluster.js';
import { dryRun } from './dry-run.js';
import { explainPod } from './explain.js';
import { renderJson, renderText } from './render.js';

export const PLUGIN_VERSION = '0.1.0';

export interface PluginIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface PluginDeps {
  readonly reader?: (flags: ClusterFlags) => ClusterReader;
  readonly dryRun?: typeof dryRun;
}

const defaultIo: PluginIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export async function run(
  argv: readonly string[],
  io: PluginIo = defaultIo,
  deps: PluginDeps = {},
): Promise<number> {
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\nSee 'kubectl secrets-store --help' for usage.\n`);
      return 2;
    }
    throw error;
  }
  if (command.command === 'help') {
    io.out(usage);
    return 0;
  }
  if (command.command === 'version') {
    io.out(`kubectl-secrets_store ${PLUGIN_VERSION}\n`);
    return 0;
  }
  const makeReader = deps.reader ?? ((flags: ClusterFlags) => kubeClusterReader(loadKubeConfig(flags)));
  try {
    const reader = makeReader(command);
    const report =
      command.command === 'explain'
        ? await explainPod(reader, {
            namespace: command.namespace ?? reader.defaultNamespace,
            pod: command.pod,
            rotationPollIntervalMs: command.rotationPollIntervalMs,
          })
        : await (deps.dryRun ?? dryRun)(reader, command);
    io.out(command.output === 'json' ? renderJson(report) : renderText(report));
    if (command.command === 'dry-run' && report.volumes.some((v) => v.state !== 'Mounted')) return 1;
    return 0;
  } catch (error) {
    const code = isCodedError(error) ? ` (${error.code})` : '';
    io.err(`error${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
