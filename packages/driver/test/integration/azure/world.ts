/**
 * The Azure end-to-end world on top of the driver fixture (../support.ts): the Azure Key Vault provider as a
 * real separate process (`packages/provider-azure/src/main.ts`) on `<providers dir>/azure.sock`, an Entra ID
 * stand-in that verifies workload-identity assertions against the test API server's service-account key and
 * serves managed identities through its IMDS route, and the Key Vault double on `https://<vault>.<random>.vault.test`
 * (port 443 of a loopback address of its own, mapped in /etc/hosts). SecretProviderClasses reach both stand-ins through a
 * custom cloud: `cloudName: AzureStackCloud` and a `cloudEnvFileName` JSON file.
 *
 * `useAzureWorld` registers the mocha hooks: this world's stop (provider process, servers, hosts block) and the
 * fixture's (pods, mounts, driver, with its check that nothing was left behind).
 */
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import {
  issueLocalhostServing,
  startKeyVaultCloud,
  startProcess,
  startTokenEndpoint,
  waitUntil,
  type KeyVaultCloud,
  type KeyVaultDouble,
  type KubeletPod,
  type ManagedProcess,
  type TokenEndpoint,
} from '@secrets-store-csi/test-support';
import {
  inlineCsiVolume,
  objectsParameter,
  useDriverFixture,
  type DriverFixture,
  type SecretObjectSpec,
} from '../support.js';
import { startTokenProxy, type TokenProxy } from './token-proxy.js';

export const TENANT_ID = 'tenant-e2e';
/** The label upstream's docs put on nodePublishSecretRef Secrets (the driver's filtered watch). */
export const USED_LABEL = { 'secrets-store.csi.k8s.io/used': 'true' };
/** The provider's object cache; below the fixture's rotation poll interval (2 s). */
export const OBJECT_CACHE_TTL = '1s';
/** The identity-binding token proxy's server name (what AKS derives from the cluster ID). */
export const TOKEN_PROXY_SNI_NAME = 'aidentitybindingtest.ests.aks';
/** The audience of identity binding's service-account token. */
export const IDENTITY_BINDING_AUDIENCE = 'api://AKSIdentityBinding';

const providerMain = new URL('../../../../provider-azure/src/main.ts', import.meta.url).pathname;
/** The provider package: `--import=tsx` and its dependencies are resolved from here. */
const providerPackageDir = new URL('../../../../provider-azure/', import.meta.url).pathname;

/** One element of the provider's `objects` parameter, with upstream's field names. */
export interface AzureObject {
  readonly objectName: string;
  readonly objectType: 'secret' | 'key' | 'cert';
  readonly objectAlias?: string;
  readonly objectVersion?: string;
  readonly objectFormat?: string;
  readonly objectEncoding?: string;
  // Ours (issue 16 §2, §4): extraction and certificate shaping.
  readonly filePermission?: string;
  readonly jmesPath?: readonly { path: string; objectAlias: string; filePermission?: string }[];
  readonly objectContentType?: string;
  readonly pemContent?: string;
  readonly pfxPasswordSecretKey?: string;
  /** Ours (docs/multi-vault-and-optional.md). */
  readonly keyvaultName?: string;
  readonly optional?: boolean;
}

/** The parameters of an Azure SecretProviderClass reading `vault` through the custom cloud file. */
export function customCloudParameters(
  vault: string,
  tenantId: string,
  cloudEnvFile: string,
  objects: readonly AzureObject[],
): Record<string, string> {
  return {
    keyvaultName: vault,
    tenantId,
    cloudName: 'AzureStackCloud',
    cloudEnvFileName: cloudEnvFile,
    objects: objectsParameter(objects),
  };
}

/** How a class authenticates: the parameters each mode adds (the service principal comes from the pod). */
export type AzureIdentity =
  | { readonly mode: 'service-principal' }
  | { readonly mode: 'vm-managed-identity'; readonly userAssignedIdentityID?: string }
  | { readonly mode: 'workload-identity'; readonly clientID: string }
  | { readonly mode: 'identity-binding'; readonly clientID: string };

function identityParameters(identity: AzureIdentity): Record<string, string> {
  switch (identity.mode) {
    case 'service-principal':
      return {};
    case 'vm-managed-identity':
      return {
        useVMManagedIdentity: 'true',
        ...(identity.userAssignedIdentityID !== undefined && {
          userAssignedIdentityID: identity.userAssignedIdentityID,
        }),
      };
    case 'workload-identity':
      return { clientID: identity.clientID };
    case 'identity-binding':
      return { clientID: identity.clientID, useAzureTokenProxy: 'true' };
  }
}

export interface AzurePodSpec {
  /** The SecretProviderClass of the pod's one volume, `secrets`. */
  readonly spc: string;
  readonly nodePublishSecretRef?: string;
  readonly serviceAccountName?: string;
  /** The container's environment (e.g. from the synced Secret). */
  readonly env?: V1EnvVar[];
}

export class AzureWorld {
  readonly fixture: DriverFixture;
  readonly entra: TokenEndpoint;
  readonly keyVault: KeyVaultDouble;
  readonly vault: string;
  /** A second vault of the same tenant, for classes that name vaults per object. */
  readonly secondVault: string;
  readonly cloudEnvFile: string;
  readonly provider: ManagedProcess;
  /** AKS's identity-binding token proxy, in front of the Entra ID stand-in. */
  readonly tokenProxy: TokenProxy;
  readonly #cloud: KeyVaultCloud;

  private constructor(init: {
    fixture: DriverFixture;
    entra: TokenEndpoint;
    vault: string;
    provider: ManagedProcess;
    cloud: KeyVaultCloud;
    tokenProxy: TokenProxy;
  }) {
    this.fixture = init.fixture;
    this.entra = init.entra;
    this.keyVault = init.cloud.keyVault;
    this.vault = init.vault;
    this.secondVault = `${init.vault}-b`;
    this.cloudEnvFile = init.cloud.cloudEnvFile;
    this.provider = init.provider;
    this.tokenProxy = init.tokenProxy;
    this.#cloud = init.cloud;
  }

  /**
   * Starts the stand-ins and the provider process. Whatever was started is stopped again when a later step
   * fails.
   */
  static async start(fixture: DriverFixture): Promise<AzureWorld> {
    const { world } = fixture;
    const dir = join(fixture.dir, 'azure');
    await mkdir(dir);
    const cleanups: (() => Promise<unknown>)[] = [];
    try {
      const entraServing = await issueLocalhostServing(world.pki, `azure-entra-${fixture.nodeName}`);
      const entra = await startTokenEndpoint({
        ...entraServing,
        // Workload identity: the pod's TokenRequest tokens are signed with the API server's key.
        assertionPublicKeyPaths: [world.kube.serviceAccountPublicKeyPath],
      });
      cleanups.push(() => entra.stop());
      const vault = `kv-${fixture.nodeName.split('-').at(-1) ?? 'e2e'}`;
      const cloud = await startKeyVaultCloud({
        dir,
        name: `azure-${fixture.nodeName}`,
        pki: world.pki,
        entra,
        vaults: [
          { name: vault, tenantId: TENANT_ID },
          { name: `${vault}-b`, tenantId: TENANT_ID },
        ],
      });
      cleanups.push(() => cloud.stop());
      const tokenProxy = await startTokenProxy({
        pki: world.pki,
        name: `azure-token-proxy-${fixture.nodeName}`,
        sniName: TOKEN_PROXY_SNI_NAME,
        upstream: entra.authorityHost,
      });
      cleanups.push(() => tokenProxy.stop());

      const socketPath = join(fixture.providersDir, 'azure.sock');
      const provider = await startProcess({
        name: 'provider-azure',
        command: process.execPath,
        cwd: providerPackageDir,
        args: [
          '--conditions=source',
          '--import=tsx',
          providerMain,
          `--endpoint=unix://${socketPath}`,
          '--healthz-port=0',
          '--prometheus-port=0',
          `--object-cache-ttl=${OBJECT_CACHE_TTL}`,
          '--keyvault-max-retries=1',
          // identity binding: the proxy stand-in, reached with the server name AKS would derive
          `--token-proxy-url=${tokenProxy.url}`,
          `--sni-name=${TOKEN_PROXY_SNI_NAME}`,
          '-v=5',
        ],
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: world.pki.caCertPath,
          // MSAL's IMDS source reads the managed-identity host from here.
          AZURE_POD_IDENTITY_AUTHORITY_HOST: entra.imdsEndpoint,
        },
        logPath: join(fixture.dir, 'provider-azure.log'),
      });
      cleanups.push(() => provider.stop());
      await waitUntil(
        () =>
          stat(socketPath).then(
            () => true,
            () => false,
          ),
        { description: 'the Azure provider socket', timeoutMs: 30_000, process: provider },
      );
      return new AzureWorld({ fixture, entra, vault, provider, cloud, tokenProxy });
    } catch (error) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      throw error;
    }
  }

  /** Stops the provider process and the stand-ins, and removes the hosts block. */
  async stop(): Promise<void> {
    await this.provider.stop();
    await this.tokenProxy.stop();
    await this.entra.stop();
    await this.#cloud.stop();
  }

  /** A SecretProviderClass of the Azure provider reading this world's vault through the custom cloud. */
  createSpc(
    name: string,
    options: {
      readonly identity: AzureIdentity;
      readonly objects: readonly AzureObject[];
      readonly secretObjects?: readonly SecretObjectSpec[];
    },
  ): Promise<void> {
    return this.fixture.createSpc(name, {
      provider: 'azure',
      parameters: {
        ...customCloudParameters(this.vault, TENANT_ID, this.cloudEnvFile, options.objects),
        ...identityParameters(options.identity),
      },
      ...(options.secretObjects !== undefined && { secretObjects: options.secretObjects }),
    });
  }

  /** A nodePublishSecretRef Secret with a service principal, labelled as upstream's docs ask. */
  async createServicePrincipalSecret(name: string, clientId: string, clientSecret: string): Promise<void> {
    await this.fixture.core.createNamespacedSecret({
      namespace: this.fixture.namespace,
      body: {
        metadata: { name, labels: USED_LABEL },
        type: 'Opaque',
        stringData: { clientid: clientId, clientsecret: clientSecret },
      },
    });
  }

  async createServiceAccount(name: string): Promise<void> {
    await this.fixture.core.createNamespacedServiceAccount({
      namespace: this.fixture.namespace,
      body: { metadata: { name } },
    });
  }

  /** `system:serviceaccount:<namespace>:<name>`, the subject of the pod's service-account tokens. */
  subject(serviceAccountName: string): string {
    return `system:serviceaccount:${this.fixture.namespace}:${serviceAccountName}`;
  }

  /** Runs a pod with one inline volume `secrets` of `spec.spc` on the fixture's kubelet. */
  runPod(name: string, spec: AzurePodSpec): Promise<KubeletPod> {
    return this.fixture.kubelet.runPod(azurePodManifest(this.fixture.namespace, name, spec));
  }

  /** The Key Vault requests of this world's vault that carried a valid token, with the token's claims. */
  vaultClaims(): Record<string, unknown>[] {
    return this.keyVault.requests
      .filter((r) => r.vault === this.vault && r.authenticated && r.status === 200)
      .map((r) => r.claims ?? {});
  }
}

export function azurePodManifest(namespace: string, name: string, spec: AzurePodSpec): V1Pod {
  return {
    metadata: { name, namespace },
    spec: {
      ...(spec.serviceAccountName !== undefined && { serviceAccountName: spec.serviceAccountName }),
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          volumeMounts: [{ name: 'secrets', mountPath: '/mnt/secrets-store', readOnly: true }],
          ...(spec.env !== undefined && { env: spec.env }),
        },
      ],
      volumes: [inlineCsiVolume('secrets', spec.spc, spec.nodePublishSecretRef)],
    },
  };
}

/** The claims of a JWT (unverified): what a test checks the driver passed on. */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * The driver fixture plus the Azure world, with their mocha hooks: `fixture()` and `azure()` give them once
 * `before` has run.
 */
export function useAzureWorld(label: string): { fixture: () => DriverFixture; azure: () => AzureWorld } {
  let azure: AzureWorld | undefined;
  // Registered before the fixture's hooks, so it runs even when the fixture's own checks fail; the fixture's
  // afterEach has deleted every pod by then, and unmounting needs no provider.
  after(async () => {
    await azure?.stop();
  });
  const fixture = useDriverFixture(label, async (f) => {
    azure = await AzureWorld.start(f);
  });
  return {
    fixture,
    azure: () => {
      if (azure === undefined) throw new Error('the Azure world has not started');
      return azure;
    },
  };
}
