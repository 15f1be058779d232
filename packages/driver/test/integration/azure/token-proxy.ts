/**
 * A stand-in for AKS's identity-binding token proxy (test infrastructure): an HTTPS server whose certificate
 * names only the proxy's SNI name, so a client reaches it only when it sends that server name, that records
 * what it was asked and passes each request on, unchanged, to the Entra ID stand-in.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TestPki } from '@secrets-store-csi/test-support';

export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  /** The TLS server name the client sent. */
  readonly servername: string;
  readonly status: number;
}

export interface TokenProxy {
  /** `https://127.0.0.1:<port>/`, for `--token-proxy-url`. */
  readonly url: string;
  /** For `--sni-name`. */
  readonly sniName: string;
  readonly requests: readonly ProxiedRequest[];
  stop(): Promise<void>;
}

export async function startTokenProxy(options: {
  readonly pki: TestPki;
  readonly name: string;
  readonly sniName: string;
  /** Where requests go on: the Entra ID stand-in's authority host. */
  readonly upstream: string;
}): Promise<TokenProxy> {
  const serving = await options.pki.issue({
    name: options.name,
    commonName: options.sniName,
    dnsNames: [options.sniName],
    usage: 'server',
  });
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    { cert: await readFile(serving.certPath), key: await readFile(serving.keyPath) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const target = new URL(req.url ?? '/', options.upstream);
        const forward = httpsRequest(
          target,
          {
            method: req.method,
            headers: { ...req.headers, host: target.host },
          },
          (answer) => {
            requests.push({
              method: req.method ?? '',
              path: req.url ?? '',
              servername: (req.socket as TLSSocket).servername || '',
              status: answer.statusCode ?? 0,
            });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        forward.on('error', (error) => {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(error.message);
        });
        forward.end(Buffer.concat(chunks));
      });
    },
  );
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    sniName: options.sniName,
    requests,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
