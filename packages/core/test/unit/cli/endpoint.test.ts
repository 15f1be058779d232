import { lstat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { grpcAddress, parseEndpoint, removeStaleSocket } from '../../../src/cli/endpoint.js';
import { leaveStaleSocket } from '@secrets-store-csi/test-support';

describe('endpoints', () => {
  const parsed: readonly [string, ReturnType<typeof parseEndpoint>][] = [
    ['unix:///provider/azure.sock', { kind: 'unix', path: '/provider/azure.sock' }],
    ['unix://tmp/azure.sock', { kind: 'unix', path: '/tmp/azure.sock' }],
    ['UNIX:///var/run/p.sock', { kind: 'unix', path: '/var/run/p.sock' }],
    ['tcp://:7777', { kind: 'tcp', host: '', port: 7777 }],
    ['tcp://127.0.0.1:0', { kind: 'tcp', host: '127.0.0.1', port: 0 }],
    ['tcp://[::1]:7777', { kind: 'tcp', host: '::1', port: 7777 }],
  ];
  for (const [text, endpoint] of parsed) {
    it(`reads ${text}`, () => {
      expect(parseEndpoint(text)).to.deep.equal(endpoint);
    });
  }

  for (const text of ['udp://:7777', 'unix://', '/tmp/p.sock', 'tcp://nohost', 'tcp://:99999']) {
    it(`refuses ${JSON.stringify(text)} with upstream's message`, () => {
      expect(() => parseEndpoint(text)).to.throw(`invalid endpoint: ${text}`);
    });
  }

  it('gives gRPC targets for servers and clients', () => {
    expect(grpcAddress({ kind: 'unix', path: '/p.sock' })).to.equal('unix:/p.sock');
    expect(grpcAddress({ kind: 'tcp', host: '', port: 7777 })).to.equal('0.0.0.0:7777');
    expect(grpcAddress({ kind: 'tcp', host: '::1', port: 7777 })).to.equal('[::1]:7777');
  });

  describe('removeStaleSocket', () => {
    let directory: string;
    beforeEach(async () => {
      directory = await mkdtemp(join(tmpdir(), 'endpoint-'));
    });
    afterEach(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    const listen = (path: string) =>
      new Promise<Server>((resolve) => {
        const server = createServer();
        server.listen(path, () => {
          resolve(server);
        });
      });

    it('does nothing when there is no file', async () => {
      await removeStaleSocket(join(directory, 'none.sock'));
    });

    it('removes a socket nobody listens on any more', async () => {
      const path = join(directory, 'stale.sock');
      await leaveStaleSocket(path);
      expect((await lstat(path)).isSocket()).to.equal(true);
      await removeStaleSocket(path);
      let code: string | undefined;
      await lstat(path).catch((error: unknown) => {
        code = (error as NodeJS.ErrnoException).code;
      });
      expect(code).to.equal('ENOENT');
    });

    it('refuses to remove a socket a running process answers on', async () => {
      const path = join(directory, 'live.sock');
      const server = await listen(path);
      try {
        let message: string | undefined;
        await removeStaleSocket(path).catch((error: unknown) => {
          message = (error as Error).message;
        });
        expect(message).to.equal(
          `${path} is in use by a running process; stop it or choose another --endpoint`,
        );
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('refuses to remove a file that is not a socket', async () => {
      const path = join(directory, 'file.sock');
      await writeFile(path, 'not a socket');
      let message: string | undefined;
      await removeStaleSocket(path).catch((error: unknown) => {
        message = (error as Error).message;
      });
      expect(message).to.equal(`${path} exists and is not a socket; remove it or choose another --endpoint`);
    });

    it('passes on other errors', async () => {
      let code: string | undefined;
      await writeFile(join(directory, 'file'), '');
      await removeStaleSocket(join(directory, 'file', 'x.sock')).catch((error: unknown) => {
        code = (error as NodeJS.ErrnoException).code;
      });
      expect(code).to.equal('ENOTDIR');
    });
  });
});
