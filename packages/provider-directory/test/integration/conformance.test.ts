import { rm } from 'node:fs/promises';
import { describeProviderConformance, startProviderServer } from '@secrets-store-csi/provider-sdk/testing';
import { DirectoryProvider } from '../../src/provider.js';
import { makeRoot, objectsParameter } from '../fixtures.js';

describeProviderConformance({
  name: 'directory',
  async start() {
    const { base, root, write } = await makeRoot();
    const running = await startProviderServer(await DirectoryProvider.open(root), {
      healthz: { port: 0, host: '127.0.0.1' },
    });
    const objects = (...items: string[]) => ({ objects: objectsParameter(...items) });
    return {
      socketPath: running.socketPath,
      goodAttributes: objects(
        'objectName: db-password\nobjectAlias: password',
        'objectName: tls/tls.crt\nfilePermission: 0440',
      ),
      unknownObjectAttributes: objects('objectName: db-password', 'objectName: not-there'),
      traversalAttributes: [
        objects('objectName: ../outside/node-secret'),
        objects('objectName: /etc/passwd'),
        objects('objectName: tls/../../outside/node-secret'),
        objects('objectName: escape'),
        objects('objectName: db-password\nobjectAlias: ../../etc/cron.d/evil'),
        objects('objectName: db-password\nobjectAlias: /etc/passwd'),
        objects('objectName: db-password\nobjectAlias: ..data'),
      ],
      invalidAttributes: [
        {},
        { objects: 'array: [' },
        { objects: 'array: []' },
        objects('objectName: db-password\nfilePermission: rw-r--r--'),
        objects('objectName: db-password', 'objectName: tls/tls.crt\nobjectAlias: db-password'),
        objects('objectName: tls'),
      ],
      rotate: () => write('db-password', 'rotated'),
      healthzUrl: `http://127.0.0.1:${running.server.healthzPort}/healthz`,
      stop: async () => {
        await running.stop();
        await rm(base, { recursive: true, force: true });
      },
    };
  },
});
