/**
 * The plugin's only side-effect seam towards Kubernetes: what `explain` and `dry-run` read (and the one
 * TokenRequest dry-run makes). The implementation is @kubernetes/client-node, whose KubeConfig handles
 * kubeconfig files, `KUBECONFIG`, contexts and every auth plugin a user's kubeconfig may name, as kubectl
 * does; tests use a fake behind this interface.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  StorageV1Api,
  type CoreV1Event,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  CodedError,
  GROUP,
  SECRET_PROVIDER_CLASS_PLURAL,
  SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL,
} from '@secrets-store-csi/core';
import type { ClusterFlags } from './args.js';

export const DRIVER_NAME = 'secrets-store.csi.k8s.io';

export const clusterErrorCodes = {
  kubeconfig: 'KubeconfigError',
  notFound: 'NotFound',
  forbidden: 'Forbidden',
  api: 'ApiError',
} as const;

export type Json = Record<string, unknown>;

export interface ClusterReader {
  /** The namespace a command uses when --namespace is not given: the context's, else `default`. */
  readonly defaultNamespace: string;
  pod(namespace: string, name: string): Promise<V1Pod>;
  /** Undefined when not found. */
  secretProviderClass(namespace: string, name: string): Promise<Json | undefined>;
  /** Undefined when not found. */
  podStatus(namespace: string, name: string): Promise<Json | undefined>;
  podEvents(namespace: string, name: string): Promise<CoreV1Event[]>;
  /** The audiences the CSIDriver object asks kubelet to request tokens for; undefined when unreadable. */
  tokenAudiences(): Promise<string[] | undefined>;
  /** A TokenRequest token of the service account per audience, as kubelet sends them to the driver. */
  serviceAccountTokens(
    namespace: string,
    name: string,
    audiences: readonly string[],
  ): Promise<Record<string, { token: string; expirationTimestamp: string }>>;
  /** The Secret's data, decoded. */
  secretData(namespace: string, name: string): Promise<Record<string, string>>;
}

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The API server's own message (`pods "x" not found`), never a body that could hold data. */
function apiMessage(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON
    }
  }
  const status = statusOf(error);
  if (status !== undefined) return `the API server answered ${status}`;
  return error instanceof Error ? error.message : String(error);
}

function apiError(error: unknown, what: string): CodedError {
  const status = statusOf(error);
  const code =
    status === 404
      ? clusterErrorCodes.notFound
      : status === 403
        ? clusterErrorCodes.forbidden
        : clusterErrorCodes.api;
  return new CodedError(code, `cannot ${what}: ${apiMessage(error)}`, { cause: error });
}

async function orUndefined<T>(call: Promise<T>, what: string): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw apiError(error, what);
  }
}

export function loadKubeConfig(flags: ClusterFlags): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) kubeConfig.loadFromFile(flags.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new CodedError(
      clusterErrorCodes.kubeconfig,
      `cannot load the kubeconfig${flags.kubeconfig === undefined ? '' : ` ${flags.kubeconfig}`}: ${(error as Error).message}`,
    );
  }
  if (flags.context !== undefined) {
    if (kubeConfig.getContextObject(flags.context) === null)
      throw new CodedError(clusterErrorCodes.kubeconfig, `context "${flags.context}" does not exist`);
    kubeConfig.setCurrentContext(flags.context);
  }
  if (kubeConfig.getCurrentCluster() === null)
    throw new CodedError(
      clusterErrorCodes.kubeconfig,
      'no cluster: the kubeconfig has no current context; pass --kubeconfig or --context',
    );
  return kubeConfig;
}

export function kubeClusterReader(kubeConfig: KubeConfig): ClusterReader {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const storage = kubeConfig.makeApiClient(StorageV1Api);
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  /** One of our custom resources (v1), or undefined when it does not exist. */
  const readOurs = async (plural: string, namespace: string, name: string): Promise<Json | undefined> =>
    (await orUndefined(
      custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', plural, namespace, name }),
      `read ${plural.replace(/es$/, '')} ${namespace}/${name}`,
    )) as Json | undefined;
  return {
    defaultNamespace: context?.namespace ?? 'default',
    async pod(namespace, name) {
      try {
        return await core.readNamespacedPod({ namespace, name });
      } catch (error) {
        throw apiError(error, `read pod ${namespace}/${name}`);
      }
    },
    secretProviderClass: (namespace, name) => readOurs(SECRET_PROVIDER_CLASS_PLURAL, namespace, name),
    podStatus: (namespace, name) => readOurs(SECRET_PROVIDER_CLASS_POD_STATUS_PLURAL, namespace, name),
    async podEvents(namespace, name) {
      try {
        const list = await core.listNamespacedEvent({
          namespace,
          fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}`,
        });
        return list.items;
      } catch (error) {
        throw apiError(error, `list the events of pod ${namespace}/${name}`);
      }
    },
    async tokenAudiences() {
      try {
        const driver = await storage.readCSIDriver({ name: DRIVER_NAME });
        return (driver.spec.tokenRequests ?? []).map((request) => request.audience);
      } catch {
        return undefined;
      }
    },
    async serviceAccountTokens(namespace, name, audiences) {
      const tokens: Record<string, { token: string; expirationTimestamp: string }> = {};
      for (const audience of audiences) {
        try {
          const answer = await core.createNamespacedServiceAccountToken({
            namespace,
            name,
            body: { spec: { audiences: [audience], expirationSeconds: 600 } },
          });
          const { token, expirationTimestamp } = answer.status ?? {};
          if (token === undefined) throw new Error('the TokenRequest answer holds no token');
          tokens[audience] = {
            token,
            expirationTimestamp: new Date(expirationTimestamp ?? Date.now()).toISOString(),
          };
        } catch (error) {
          throw apiError(
            error,
            `request a token of service account ${namespace}/${name} for audience ${audience}`,
          );
        }
      }
      return tokens;
    },
    async secretData(namespace, name) {
      try {
        const secret = await core.readNamespacedSecret({ namespace, name });
        return Object.fromEntries(
          Object.entries(secret.data ?? {}).map(([key, value]) => [
            key,
            Buffer.from(value, 'base64').toString('utf8'),
          ]),
        );
      } catch (error) {
        throw apiError(error, `read secret ${namespace}/${name}`);
      }
    },
  };
}
