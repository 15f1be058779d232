/**
 * The command line, as kubectl's own commands take it (pflag rules): `--flag value`, `--flag=value`,
 * `-n value`, `-nvalue`, `-n=value`, flags before or after the arguments, `--` ends the flags. kubectl passes
 * a plugin every argument after its name and nothing of its own flags, so `--namespace`, `--kubeconfig` and
 * `--context` are the plugin's to read; `KUBECONFIG` comes through the environment.
 */
import { parseArgs } from 'node:util';
import { CodedError, parseDuration } from '@secrets-store-csi/core';

export const usageErrorCode = 'InvalidArguments';

export class UsageError extends CodedError {
  constructor(message: string) {
    super(usageErrorCode, message);
    this.name = 'UsageError';
  }
}

export type OutputFormat = 'text' | 'json';

export interface ClusterFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** `--namespace`; undefined means the context's namespace, else `default`. */
  readonly namespace?: string;
}

export interface ExplainCommand extends ClusterFlags {
  readonly command: 'explain';
  readonly pod: string;
  readonly output: OutputFormat;
  /** The driver's `--rotation-poll-interval`, for the next-due estimate (upstream's default 2m). */
  readonly rotationPollIntervalMs: number;
}

export interface DryRunCommand extends ClusterFlags {
  readonly command: 'dry-run';
  readonly file: string;
  readonly serviceAccount: { readonly namespace?: string; readonly name: string };
  readonly output: OutputFormat;
  readonly providerVolume: string;
  /** Audiences to request tokens for; undefined: those of the CSIDriver object. */
  readonly audiences?: readonly string[];
  /** A node-publish Secret (`nodePublishSecretRef`) to read from the service account's namespace. */
  readonly nodePublishSecret?: string;
  readonly timeoutMs: number;
}

export type Command =
  | ExplainCommand
  | DryRunCommand
  | { readonly command: 'help'; readonly topic?: string }
  | { readonly command: 'version' };

export const DEFAULT_PROVIDER_VOLUME = '/var/run/secrets-store-csi-providers';
export const DEFAULT_ROTATION_POLL_INTERVAL_MS = 120_000;

export const usage = `kubectl secrets-store: explain Secrets Store CSI volumes

Usage:
  kubectl secrets-store explain (pod/NAME | NAME) [-n NAMESPACE] [-o text|json]
  kubectl secrets-store dry-run -f CLASS.yaml --service-account [NAMESPACE/]NAME [-o text|json]
  kubectl secrets-store version

explain reads the pod, its secrets-store.csi.k8s.io volumes, their SecretProviderClasses, the
SecretProviderClassPodStatus objects and the pod's events, and prints per volume what is mounted (object
names and versions, never contents), when it was refreshed, when it is next due, and for a failure its
cause and fix.

dry-run mounts the class into a temporary directory through the driver's standalone mode, with a
TokenRequest token of the service account, prints the same report and removes the directory. It needs the
provider's socket on this machine (run it on a node, or next to a provider started locally).

Flags:
  -n, --namespace NAME             namespace (default: the context's, else "default")
      --kubeconfig PATH            kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
      --context NAME               kubeconfig context
  -o, --output text|json           output format (default text)
      --rotation-poll-interval D   the driver's --rotation-poll-interval, for the estimate (default 2m)
  -f, --filename PATH              dry-run: YAML with a SecretProviderClass (and optionally a Pod, a Secret)
      --service-account [NS/]NAME  dry-run: the identity to mount with
      --audience AUD               dry-run: token audience (repeatable; default: the CSIDriver's)
      --node-publish-secret NAME   dry-run: Secret to send as nodePublishSecretRef (service principal)
      --provider-volume DIR        dry-run: provider sockets (default ${DEFAULT_PROVIDER_VOLUME})
      --timeout D                  dry-run: how long the provider may take (default 60s)
  -h, --help                       this help
`;

const options = {
  namespace: { type: 'string', short: 'n' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f' },
  'service-account': { type: 'string' },
  audience: { type: 'string', multiple: true },
  'node-publish-secret': { type: 'string' },
  'provider-volume': { type: 'string' },
  'rotation-poll-interval': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flag = keyof typeof options;
const explainFlags: ReadonlySet<Flag> = new Set([
  'namespace',
  'kubeconfig',
  'context',
  'output',
  'rotation-poll-interval',
  'help',
]);
const dryRunFlags: ReadonlySet<Flag> = new Set([
  'namespace',
  'kubeconfig',
  'context',
  'output',
  'filename',
  'service-account',
  'audience',
  'node-publish-secret',
  'provider-volume',
  'timeout',
  'help',
]);

/** pflag takes `-n=ns` as `ns`; node's parseArgs would keep the `=`. */
function normalise(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const short = /^-([a-zA-Z])=(.*)$/s.exec(arg);
    if (short !== null) out.push(`-${short[1] ?? ''}`, short[2] ?? '');
    else out.push(arg);
  }
  return out;
}

/** A DNS-1123 subdomain, which pod, namespace, class and service account names are. */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function checkName(value: string, what: string): string {
  if (value.length > 253 || !NAME.test(value))
    throw new UsageError(`invalid ${what} ${JSON.stringify(value)}: must be a lowercase DNS-1123 name`);
  return value;
}

function outputOf(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'text' || value === 'wide') return 'text';
  if (value === 'json') return 'json';
  throw new UsageError(
    `unable to match a printer suitable for the output format "${value}", allowed formats are: json, text`,
  );
}

function durationOf(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    const ms = parseDuration(value);
    if (ms <= 0) throw new UsageError(`--${flag} must be positive`);
    return ms;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`invalid --${flag}: ${(error as Error).message}`);
  }
}

/** `pod/NAME`, `pods/NAME`, `po/NAME` or `NAME`; any other resource is refused, as kubectl would. */
export function podNameOf(argument: string): string {
  const slash = argument.indexOf('/');
  if (slash === -1) return checkName(argument, 'pod name');
  const resource = argument.slice(0, slash).toLowerCase();
  if (!['pod', 'pods', 'po'].includes(resource))
    throw new UsageError(`explain takes a pod (pod/NAME), not ${JSON.stringify(argument.slice(0, slash))}`);
  return checkName(argument.slice(slash + 1), 'pod name');
}

/** `NAMESPACE/NAME` or `NAME` (then in `--namespace`). */
export function serviceAccountOf(value: string): { namespace?: string; name: string } {
  const parts = value.split('/');
  if (parts.length === 1) return { name: checkName(value, 'service account name') };
  if (parts.length === 2)
    return {
      namespace: checkName(parts[0] ?? '', 'service account namespace'),
      name: checkName(parts[1] ?? '', 'service account name'),
    };
  throw new UsageError(`invalid --service-account ${JSON.stringify(value)}: want NAMESPACE/NAME or NAME`);
}

export function parseCommandLine(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: normalise(argv), options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (command === undefined || command === 'help') {
    return { command: 'help', ...(rest[0] !== undefined && { topic: rest[0] }) };
  }
  if (values.help === true) return { command: 'help', topic: command };
  const given = Object.keys(values) as Flag[];
  const allowedBy = (allowed: ReadonlySet<Flag>) => {
    const refused = given.filter((flag) => !allowed.has(flag));
    if (refused.length > 0)
      throw new UsageError(`${command} does not take ${refused.map((flag) => `--${flag}`).join(', ')}`);
  };
  const cluster: ClusterFlags = {
    ...(values.kubeconfig !== undefined && { kubeconfig: values.kubeconfig }),
    ...(values.context !== undefined && { context: values.context }),
    ...(values.namespace !== undefined && { namespace: checkName(values.namespace, 'namespace') }),
  };
  switch (command) {
    case 'version':
      if (rest.length > 0 || given.length > 0) throw new UsageError('version takes no arguments');
      return { command: 'version' };
    case 'explain': {
      allowedBy(explainFlags);
      if (rest.length !== 1) throw new UsageError('explain takes one pod: explain pod/NAME');
      return {
        command: 'explain',
        ...cluster,
        pod: podNameOf(rest[0] ?? ''),
        output: outputOf(values.output),
        rotationPollIntervalMs: durationOf(
          values['rotation-poll-interval'],
          'rotation-poll-interval',
          DEFAULT_ROTATION_POLL_INTERVAL_MS,
        ),
      };
    }
    case 'dry-run': {
      allowedBy(dryRunFlags);
      if (rest.length > 0) throw new UsageError(`dry-run takes no arguments, got ${JSON.stringify(rest[0])}`);
      if (values.filename === undefined || values.filename === '')
        throw new UsageError('dry-run needs -f CLASS.yaml');
      if (values['service-account'] === undefined)
        throw new UsageError('dry-run needs --service-account NAMESPACE/NAME');
      const serviceAccount = serviceAccountOf(values['service-account']);
      if (
        serviceAccount.namespace !== undefined &&
        cluster.namespace !== undefined &&
        serviceAccount.namespace !== cluster.namespace
      )
        throw new UsageError(
          `--service-account ${values['service-account']} is not in --namespace ${cluster.namespace}`,
        );
      return {
        command: 'dry-run',
        ...cluster,
        file: values.filename,
        serviceAccount,
        output: outputOf(values.output),
        providerVolume: values['provider-volume'] ?? DEFAULT_PROVIDER_VOLUME,
        ...(values.audience !== undefined && { audiences: values.audience }),
        ...(values['node-publish-secret'] !== undefined && {
          nodePublishSecret: checkName(values['node-publish-secret'], 'Secret name'),
        }),
        timeoutMs: durationOf(values.timeout, 'timeout', 60_000),
      };
    }
    default:
      throw new UsageError(
        `unknown command ${JSON.stringify(command)} for "kubectl secrets-store"; want explain or dry-run`,
      );
  }
}
