/**
 * The `--endpoint` a provider listens on, read as upstream's providers read it: `unix://<path>` or
 * `tcp://<host:port>` (scheme case-insensitive), anything else refused with `invalid endpoint: <endpoint>`.
 * A unix path always ends up absolute: `unix://tmp/p.sock` is `/tmp/p.sock`, `unix:///provider/p.sock` is
 * `/provider/p.sock`.
 */
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { posix } from 'node:path';
import { CodedError } from '../errors.js';

export type Endpoint =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export const endpointErrorCodes = {
  invalidEndpoint: 'InvalidEndpoint',
  socketInUse: 'SocketInUse',
  notASocket: 'NotASocket',
} as const;

export function parseEndpoint(endpoint: string): Endpoint {
  const invalid = () => new CodedError(endpointErrorCodes.invalidEndpoint, `invalid endpoint: ${endpoint}`);
  const match = /^(unix|tcp):\/\/(.+)$/i.exec(endpoint);
  if (match === null) throw invalid();
  const [, scheme = '', rest = ''] = match;
  if (scheme.toLowerCase() === 'unix') return { kind: 'unix', path: posix.normalize(`/${rest}`) };
  const hostPort = /^(.*):(\d{1,5})$/.exec(rest);
  const port = Number(hostPort?.[2]);
  if (hostPort === null || port > 65535) throw invalid();
  return { kind: 'tcp', host: (hostPort[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port };
}

/** The gRPC target (for a server bind or a client dial) of `endpoint`. */
export function grpcAddress(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`;
  const host = endpoint.host === '' ? '0.0.0.0' : endpoint.host;
  return `${host.includes(':') ? `[${host}]` : host}:${endpoint.port}`;
}

function isRunning(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * Makes way for a unix socket at `path`: a socket left by an earlier run is removed, as upstream does. Unlike
 * upstream, a socket a live process still answers on, or a file that is not a socket, is left alone and
 * reported: removing either would break something that is not ours.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  const stats = await lstat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) return;
  if (!stats.isSocket()) {
    throw new CodedError(
      endpointErrorCodes.notASocket,
      `${path} exists and is not a socket; remove it or choose another --endpoint`,
    );
  }
  if (await isRunning(path)) {
    throw new CodedError(
      endpointErrorCodes.socketInUse,
      `${path} is in use by a running process; stop it or choose another --endpoint`,
    );
  }
  await unlink(path);
}
