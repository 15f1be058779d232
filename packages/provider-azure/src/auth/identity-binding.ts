/**
 * Identity binding (AKS, `useAzureTokenProxy: "true"`): token requests to Entra ID go to the cluster's token
 * proxy instead, over TLS with the service-account CA and a server name (SNI) that is either given
 * (`--sni-name`) or derived from the cluster ID found in the API server's certificate.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import {
  createDefaultHttpClient,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

export const defaultTokenProxyUrl = 'https://kubernetes.default.svc.cluster.local';
export const defaultServiceAccountCaFile = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';
export const defaultApiServerHost = 'kubernetes.default.svc.cluster.local';

const base32HexAlphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** RFC 4648 base32hex without padding. */
export function base32HexNoPadding(data: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += base32HexAlphabet.charAt((value >>> (bits - 5)) & 31);
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += base32HexAlphabet.charAt((value << (5 - bits)) & 31);
  return out;
}

/** The token proxy's server name for a cluster: lowercase("a" + base32hex(sha256("identity-binding" + id)) + ".ests.aks"). */
export function sniNameForCluster(clusterId: string): string {
  const digest = createHash('sha256').update(`identity-binding${clusterId}`, 'utf8').digest();
  return `a${base32HexNoPadding(digest)}.ests.aks`.toLowerCase();
}

const clusterSanPattern = /^hcp-kubernetes\.([^.]+)\.svc\.cluster\.local$/;

/** The cluster ID from a SAN list such as `DNS:a, DNS:hcp-kubernetes.<id>.svc.cluster.local`, or undefined. */
export function clusterIdFromSubjectAltNames(subjectaltname: string | undefined): string | undefined {
  for (const entry of (subjectaltname ?? '').split(',')) {
    const trimmed = entry.trim();
    if (!trimmed.startsWith('DNS:')) continue;
    const match = clusterSanPattern.exec(trimmed.slice(4));
    if (match?.[1] !== undefined) return match[1];
  }
  return undefined;
}

export interface SniDiscoveryOptions {
  readonly host?: string;
  /** Defaults to $KUBERNETES_SERVICE_PORT, else 443. */
  readonly port?: number;
  /** The CA to verify the API server with; the default trust store when the file does not exist. */
  readonly caFile?: string;
  readonly timeoutMs?: number;
}

/** TLS-dials the API server and derives the token proxy's SNI from its certificate (§4.5). */
export async function discoverSniName(options: SniDiscoveryOptions = {}): Promise<string> {
  const host = options.host ?? defaultApiServerHost;
  const port = options.port ?? Number(process.env.KUBERNETES_SERVICE_PORT ?? 443);
  const ca = await readOptionalFile(options.caFile ?? defaultServiceAccountCaFile);
  const certificate = await new Promise<PeerCertificate>((resolve, reject) => {
    const socket = connect({ host, port, servername: host, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) });
    socket.setTimeout(options.timeoutMs ?? 10_000, () => {
      socket.destroy(new Error(`timed out connecting to ${host}:${port}`));
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      resolve(peer);
    });
    socket.once('error', reject);
  }).catch((error: unknown) => {
    throw new Error(
      `failed to connect to the API server ${host}:${port} to resolve the identity binding SNI name (use --sni-name flag to set it): ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  });
  const clusterId = clusterIdFromSubjectAltNames(certificate.subjectaltname);
  if (clusterId === undefined) {
    throw new Error(
      `the API server certificate at ${host}:${port} has no SAN hcp-kubernetes.<clusterID>.svc.cluster.local; use --sni-name flag to set the identity binding SNI name`,
    );
  }
  return sniNameForCluster(clusterId);
}

/**
 * Where a token request goes through the proxy: the proxy's origin, then the proxy's path, then the original
 * path; the original query (and fragment) kept.
 */
export function rewriteToProxy(originalUrl: string, proxyUrl: string): string {
  const original = new URL(originalUrl);
  const proxy = new URL(proxyUrl);
  const proxyPath = proxy.pathname.endsWith('/') ? proxy.pathname : `${proxy.pathname}/`;
  const target = new URL(proxy.origin);
  target.pathname = proxyPath + original.pathname.replace(/^\//, '');
  target.search = original.search;
  target.hash = original.hash;
  return target.toString();
}

/** Checks `--token-proxy-url`: https, no user info, query or fragment. */
export function validateTokenProxyUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`invalid token proxy URL "${value}"`);
  }
  if (url.protocol !== 'https:') throw new Error(`token proxy URL must use https, got "${url.protocol}"`);
  if (url.username !== '' || url.password !== '')
    throw new Error('token proxy URL must not contain user info');
  if (url.search !== '' || url.hash !== '')
    throw new Error('token proxy URL must not contain a query or fragment');
  return url.toString();
}

export interface ProxyHttpClientOptions {
  readonly proxyUrl: string;
  readonly sniName: string;
  /** Re-read on each token request so a rotated CA is picked up; the default trust store when it does not exist. */
  readonly caFile: string;
  /** The client that sends the rewritten request; defaults to core-rest-pipeline's. */
  readonly inner?: HttpClient;
}

/**
 * An HttpClient for ClientAssertionCredential's `httpClient` option: every request (token requests; instance
 * discovery is disabled) is sent to the token proxy, over an agent with the SNI and the service-account CA.
 */
export function createTokenProxyHttpClient(options: ProxyHttpClientOptions): HttpClient {
  const inner = options.inner ?? createDefaultHttpClient();
  let agent: { ca: string | undefined; agent: Agent } | undefined;
  const agentFor = async (): Promise<Agent> => {
    const ca = await readOptionalFile(options.caFile);
    // A CA file that is empty mid-rotation keeps the agent already built.
    if (agent !== undefined && (agent.ca === ca || ca === '')) return agent.agent;
    agent?.agent.destroy();
    agent = {
      ca,
      // Idle keep-alive sockets are closed after a minute.
      agent: new Agent({
        keepAlive: true,
        timeout: 60_000,
        servername: options.sniName,
        ...(ca ? { ca } : {}),
      }),
    };
    return agent.agent;
  };
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      request.url = rewriteToProxy(request.url, options.proxyUrl);
      request.agent = await agentFor();
      return inner.sendRequest(request);
    },
  };
}

async function readOptionalFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
