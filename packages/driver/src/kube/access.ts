/**
 * How the driver reaches the API server: the server URL, the CA to trust, and its credentials, from a
 * kubeconfig file or from the pod's service account (in-cluster). Parsed once in main; files (CA, client
 * certificate and key, token file) are read again where they can rotate: the token file at most once a
 * minute, the certificate files on every new connection.
 *
 * We load the kubeconfig ourselves instead of through @kubernetes/client-node, which alone brings the idle
 * RSS of a process from 44 to 131 MiB. The load order is client-node's `loadFromDefault`: the given path;
 * else $KUBECONFIG (its first file); else ~/.kube/config; else the in-cluster service account; else an error
 * that names all four (client-node would fall back to http://localhost:8080 and retry forever). Credentials
 * supported: bearer token, token file, client certificate and key, basic auth. `exec` and `auth-provider`
 * users are refused with a message that names them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** PEM given inline (a kubeconfig's `*-data` field) or as a file read when needed. */
export type PemSource = { readonly pem: string } | { readonly path: string };

export interface KubeAccess {
  /** `https://host:port` (or `http://` in tests), without a trailing slash. */
  readonly server: string;
  readonly ca?: PemSource;
  readonly insecureSkipTlsVerify?: boolean;
  /** TLS server name to verify instead of the server URL's host. */
  readonly tlsServerName?: string;
  readonly clientCertificate?: PemSource;
  readonly clientKey?: PemSource;
  readonly token?: string;
  /** Read again at most once a minute, as client-go does (the service account token rotates). */
  readonly tokenFile?: string;
  readonly username?: string;
  readonly password?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function readPem(source: PemSource): string {
  return 'pem' in source ? source.pem : readFileSync(source.path, 'utf8');
}

/** The kubeconfig at `path`, or, when `path` is empty, the default one (see the module comment). */
export function loadKubeAccess(path: string, env: NodeJS.ProcessEnv = process.env): KubeAccess {
  if (path !== '') return kubeAccessFromFile(path);
  const fromEnv = (env.KUBECONFIG ?? '').split(':').find((file) => file !== '' && existsSync(file));
  if (fromEnv !== undefined) return kubeAccessFromFile(fromEnv);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeAccessFromFile(home);
  const inCluster = inClusterAccess(env);
  if (inCluster !== undefined) return inCluster;
  const kubeconfigEnv = env.KUBECONFIG === undefined || env.KUBECONFIG === '' ? 'unset' : 'no such file';
  throw new Error(
    `found no kubeconfig and no in-cluster configuration (looked for: the --kubeconfig flag, ` +
      `$KUBECONFIG (${kubeconfigEnv}), ${home}, $KUBERNETES_SERVICE_HOST/PORT); ` +
      `outside a cluster pass --kubeconfig=<path>`,
  );
}

export function kubeAccessFromFile(path: string): KubeAccess {
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the kubeconfig ${path}: ${(error as Error).message}`, { cause: error });
  }
  return kubeAccessFromKubeconfig(document, dirname(resolve(path)));
}

/** The service account's access, when running in a pod (KUBERNETES_SERVICE_HOST/PORT set). */
export function inClusterAccess(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): KubeAccess | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host === undefined || host === '' || port === undefined || port === '') return undefined;
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: { path: join(dir, 'ca.crt') },
    tokenFile: join(dir, 'token'),
  };
}

type Json = Record<string, unknown>;

function named(list: unknown, name: string, kind: string, field: string): Json {
  const entry = (Array.isArray(list) ? (list as Json[]) : []).find((item) => item.name === name);
  const value = entry?.[field];
  if (typeof value !== 'object' || value === null) throw new Error(`the kubeconfig has no ${kind} "${name}"`);
  return value as Json;
}

function text(object: Json, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A parsed kubeconfig document (its current context); relative file paths are taken from `baseDir`. */
export function kubeAccessFromKubeconfig(document: unknown, baseDir: string): KubeAccess {
  const config = (document ?? {}) as Json;
  const contextName = text(config, 'current-context');
  if (contextName === undefined) throw new Error('the kubeconfig has no current-context');
  const context = named(config.contexts, contextName, 'context', 'context');
  const clusterName = text(context, 'cluster') ?? '';
  const userName = text(context, 'user');
  const cluster = named(config.clusters, clusterName, 'cluster', 'cluster');
  const user = userName === undefined ? {} : named(config.users, userName, 'user', 'user');
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(
      `the kubeconfig user "${userName ?? ''}" uses ${user.exec !== undefined ? 'exec' : 'auth-provider'} credentials, which this driver does not support: use a token, a token file or a client certificate`,
    );
  }
  const server = text(cluster, 'server');
  if (server === undefined)
    throw new Error(`the kubeconfig cluster "${String(context.cluster)}" has no server`);
  const file = (path: string) => (isAbsolute(path) ? path : join(baseDir, path));
  const pem = (object: Json, key: string): PemSource | undefined => {
    const data = text(object, `${key}-data`);
    if (data !== undefined) return { pem: Buffer.from(data, 'base64').toString('utf8') };
    const path = text(object, key);
    return path === undefined ? undefined : { path: file(path) };
  };
  const ca = pem(cluster, 'certificate-authority');
  const clientCertificate = pem(user, 'client-certificate');
  const clientKey = pem(user, 'client-key');
  const tlsServerName = text(cluster, 'tls-server-name');
  const token = text(user, 'token');
  const tokenFile = text(user, 'tokenFile');
  const username = text(user, 'username');
  const password = text(user, 'password');
  return {
    server: server.replace(/\/+$/, ''),
    ...(ca !== undefined && { ca }),
    ...(cluster['insecure-skip-tls-verify'] === true && { insecureSkipTlsVerify: true }),
    ...(tlsServerName !== undefined && { tlsServerName }),
    ...(clientCertificate !== undefined && { clientCertificate }),
    ...(clientKey !== undefined && { clientKey }),
    ...(token !== undefined && { token }),
    ...(tokenFile !== undefined && { tokenFile: file(tokenFile) }),
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
  };
}
