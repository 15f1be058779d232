/**
 * The provider SDK's conformance suite against the Azure provider: built by `createAzureProvider` from real
 * flags, served with `serve()` on a unix socket, reading from the Key Vault double through the real Azure
 * SDK. The good parameters use workload identity (a signed service-account token in the attributes), so they
 * mount without a nodePublishSecretRef, as the suite's `secrets: null` check requires.
 */
import { describeProviderConformance } from '@secrets-store-csi/provider-sdk/testing';
import { objectsYaml, SA_ISSUER, startWorld, TENANT } from './world.js';

const VAULT = 'conformkv';
const CLIENT_ID = 'conformance-workload';

describeProviderConformance({
  name: 'azure',
  async start() {
    const world = await startWorld({ prefix: 'provider-azure-conformance-', vaults: [VAULT] });
    try {
      const { kv, entra } = world;
      // The suite's pod runs as default/default.
      entra.addFederatedCredential({
        tenantId: TENANT,
        clientId: CLIENT_ID,
        issuer: SA_ISSUER,
        subject: 'system:serviceaccount:default:default',
      });
      kv.createVault(VAULT, { tenantId: TENANT });
      kv.setSecret(VAULT, 'secret1', 'test');
      kv.createKey(VAULT, 'key1', { kty: 'RSA' });
      // The suite rotates right after a mount: the object cache is off so the new version is seen.
      const served = await world.startProvider(['--object-cache-ttl=0s'], { healthz: true });
      const base = {
        keyvaultName: VAULT,
        tenantID: TENANT,
        cloudName: 'AzureStackCloud',
        cloudEnvFileName: await world.cloudFile(kv),
        clientID: CLIENT_ID,
        'csi.storage.k8s.io/serviceAccount.tokens': JSON.stringify({
          'api://AzureADTokenExchange': {
            token: world.serviceAccountToken('default', 'default'),
            expirationTimestamp: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          },
        }),
      };
      const withObjects = (...objects: string[]) => ({ ...base, objects: objectsYaml(...objects) });
      const secret1 = 'objectName: secret1\nobjectType: secret';
      let rotations = 0;
      return {
        socketPath: served.socketPath,
        goodAttributes: withObjects(
          secret1,
          'objectName: key1\nobjectType: key\nobjectAlias: keys/key1.pem\nfilePermission: 0440',
        ),
        unknownObjectAttributes: withObjects(secret1, 'objectName: not-there\nobjectType: secret'),
        traversalAttributes: [
          withObjects('objectName: secret1\nobjectType: secret\nobjectAlias: ../outside'),
          withObjects('objectName: secret1\nobjectType: secret\nobjectAlias: /etc/passwd'),
          withObjects('objectName: secret1\nobjectType: secret\nobjectAlias: keys/../../outside'),
          withObjects('objectName: secret1\nobjectType: secret\nobjectAlias: ..data'),
        ],
        invalidAttributes: [
          { ...base, keyvaultName: '' },
          { ...base, keyvaultName: 'not_a_vault!' },
          { ...base, tenantID: '' },
          { ...base, cloudName: 'NoSuchCloud' },
          { ...base, objects: 'array: [' },
          { ...base, objects: 'array: []' },
          withObjects('objectName: secret1\nobjectType: blob'),
          withObjects('objectName: secret1\nobjectType: secret\nfilePermission: rw-r--r--'),
          withObjects('objectName: secret1\nobjectType: secret\nobjectEncoding: base32'),
          withObjects('objectName: key1\nobjectType: key\nobjectFormat: pfx'),
          {
            ...base,
            cloudName: 'AzurePublicCloud',
            disableChallengeResourceVerification: 'true',
            objects: objectsYaml(secret1),
          },
        ],
        rotate: () => {
          kv.setSecret(VAULT, 'secret1', `rotated ${++rotations}`);
          return Promise.resolve();
        },
        healthzUrl: `http://127.0.0.1:${served.server.healthzPort}/healthz`,
        stop: () => world.close(),
      };
    } catch (error) {
      await world.close();
      throw error;
    }
  },
});
