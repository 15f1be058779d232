/**
 * The few API calls the driver makes, typed as client-node's generated clients type them (the adapters take
 * `Pick<CoreV1Api, ...>` and `Pick<CustomObjectsApi, ...>`, so their unit-test fakes are unchanged), made
 * over one {@link KubeHttp} connection. Only the types come from @kubernetes/client-node: nothing of it is
 * loaded at run time. Answers are the API server's JSON as it is: timestamps stay RFC 3339 strings where
 * client-node's models would hold Date objects (the adapters read both), and request bodies are sent with
 * JSON.stringify (a Date, and client-node's V1MicroTime, serialize through their toISOString).
 */
import type { CoreV1Event, V1Pod, V1PodList, V1Secret } from '@kubernetes/client-node';
import type { KubeHttp } from './http.js';

const segment = encodeURIComponent;

interface Named {
  readonly name: string;
  readonly namespace: string;
}

interface CustomResource {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

function customPath(resource: CustomResource, namespace?: string, name?: string): string {
  const base = `/apis/${segment(resource.group)}/${segment(resource.version)}`;
  const scoped = namespace === undefined ? base : `${base}/namespaces/${segment(namespace)}`;
  const collection = `${scoped}/${segment(resource.plural)}`;
  return name === undefined ? collection : `${collection}/${segment(name)}`;
}

const corePath = (namespace: string, resource: string, name?: string) =>
  `/api/v1/namespaces/${segment(namespace)}/${resource}${name === undefined ? '' : `/${segment(name)}`}`;

export function withQuery(
  path: string,
  query: Record<string, string | boolean | number | undefined>,
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? path : `${path}?${text}`;
}

export class KubeApi {
  readonly #http: KubeHttp;

  constructor(http: KubeHttp) {
    this.#http = http;
  }

  async readNamespacedPod(param: Named): Promise<V1Pod> {
    return (await this.#http.request('GET', corePath(param.namespace, 'pods', param.name))) as V1Pod;
  }

  async listPodForAllNamespaces(param: { fieldSelector?: string }): Promise<V1PodList> {
    const path = withQuery('/api/v1/pods', { fieldSelector: param.fieldSelector });
    return (await this.#http.request('GET', path)) as V1PodList;
  }

  async readNamespacedSecret(param: Named): Promise<V1Secret> {
    return (await this.#http.request('GET', corePath(param.namespace, 'secrets', param.name))) as V1Secret;
  }

  async createNamespacedSecret(param: { namespace: string; body: V1Secret }): Promise<V1Secret> {
    return (await this.#http.request('POST', corePath(param.namespace, 'secrets'), param.body)) as V1Secret;
  }

  async replaceNamespacedSecret(param: Named & { body: V1Secret }): Promise<V1Secret> {
    const path = corePath(param.namespace, 'secrets', param.name);
    return (await this.#http.request('PUT', path, param.body)) as V1Secret;
  }

  async createNamespacedEvent(param: { namespace: string; body: CoreV1Event }): Promise<CoreV1Event> {
    return (await this.#http.request('POST', corePath(param.namespace, 'events'), param.body)) as CoreV1Event;
  }

  async listClusterCustomObject(param: CustomResource): Promise<object> {
    return (await this.#http.request('GET', customPath(param))) as object;
  }

  async getNamespacedCustomObject(param: CustomResource & Named): Promise<object> {
    return (await this.#http.request('GET', customPath(param, param.namespace, param.name))) as object;
  }

  async createNamespacedCustomObject(
    param: CustomResource & { namespace: string; body: object },
  ): Promise<object> {
    return (await this.#http.request('POST', customPath(param, param.namespace), param.body)) as object;
  }

  async replaceNamespacedCustomObject(param: CustomResource & Named & { body: object }): Promise<object> {
    const path = customPath(param, param.namespace, param.name);
    return (await this.#http.request('PUT', path, param.body)) as object;
  }
}
