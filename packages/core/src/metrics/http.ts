/**
 * The two small HTTP listeners of a provider: healthz (for the liveness probe) and Prometheus metrics. Each
 * answers one exact path and 404 elsewhere; nothing else (no pprof) is reachable on them.
 */
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpListener {
  /** The bound port (useful when 0 asked for any free port). */
  readonly port: number;
  close(): Promise<void>;
}

function notFound(response: Parameters<RequestListener>[1]): void {
  response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
}

/** Answers `path` with 200 `ok` when `check` resolves and 503 with the reason when it rejects. */
export function healthzHandler(path: string, check: () => Promise<void>): RequestListener {
  return (request, response) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== path) {
      notFound(response);
      return;
    }
    check().then(
      () => {
        response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
      },
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${reason}\n`);
      },
    );
  };
}

/** Serves `registry` at `/metrics`. */
export function metricsHandler(registry: Registry): RequestListener {
  return (request, response) => {
    if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/metrics') {
      notFound(response);
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType }).end(text);
      },
      /* c8 ignore next 3 */
      (error: unknown) => {
        response.writeHead(500).end(`${error instanceof Error ? error.message : String(error)}\n`);
      },
    );
  };
}

/** Listens on `host:port` (all interfaces when host is empty, as Go's `:port`). */
export async function listenHttp(
  handler: RequestListener,
  options: { readonly port: number; readonly host?: string },
): Promise<HttpListener> {
  const server = createServer(handler);
  server.headersTimeout = 5000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host === '' ? undefined : options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
