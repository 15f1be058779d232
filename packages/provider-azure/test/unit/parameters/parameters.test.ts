import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import type { CloudEnvironment } from '../../../src/model.js';
import {
  azureChinaCloud,
  azureGermanCloud,
  azurePublicCloud,
  azureUSGovernmentCloud,
} from '../../../src/parameters/clouds.js';
import { parseGoBool } from '../../../src/parameters/go-text.js';
import { parseMountParameters, vaultUrl } from '../../../src/parameters/parameters.js';

const CLIENT_SECRET = 'sp-secret-value-SECRET';
const TOKEN = 'eyJ-sa-token-SECRET';
const OBJECTS = 'array:\n  - |\n    objectName: secret1\n    objectType: secret\n';
const TOKENS = JSON.stringify({
  'api://AzureADTokenExchange': { token: TOKEN, expirationTimestamp: '2030-01-01T00:00:00Z' },
});

const stack: CloudEnvironment = {
  name: 'AzureStackCloud',
  activeDirectoryEndpoint: 'https://login.stack.test/adfs/',
  keyVaultEndpoint: 'https://vault.stack.test/',
  keyVaultDNSSuffix: 'vault.test:8443',
};

/** A valid service-principal request; tests override or delete keys. */
function attributes(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    'csi.storage.k8s.io/pod.name': 'pod1',
    'csi.storage.k8s.io/pod.namespace': 'ns1',
    'csi.storage.k8s.io/serviceAccount.name': 'sa1',
    keyvaultName: 'kv1',
    tenantID: 'tenant1',
    objects: OBJECTS,
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

const spSecrets = { clientid: 'app', clientsecret: CLIENT_SECRET };
const options = { defaultCloud: azurePublicCloud, env: {} };

async function parse(
  overrides: Record<string, string | undefined>,
  secrets: Record<string, string> = spSecrets,
) {
  return parseMountParameters({ attributes: attributes(overrides), secrets }, options);
}

async function failure(
  overrides: Record<string, string | undefined>,
  secrets: Record<string, string> = spSecrets,
): Promise<ProviderError> {
  try {
    await parse(overrides, secrets);
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    const message = (error as Error).message;
    expect(message).not.to.include(CLIENT_SECRET);
    expect(message).not.to.include(TOKEN);
    return error as ProviderError;
  }
  throw new Error('expected a failure');
}

describe('parameters/parseMountParameters', () => {
  it('reads a service-principal request', async () => {
    expect(await parse({})).to.deep.equal({
      podName: 'pod1',
      podNamespace: 'ns1',
      serviceAccountName: 'sa1',
      keyvaultName: 'kv1',
      tenantId: 'tenant1',
      cloud: azurePublicCloud,
      auth: { mode: 'service-principal', tenantId: 'tenant1', clientId: 'app', clientSecret: CLIENT_SECRET },
      objects: [
        {
          objectName: 'secret1',
          objectAlias: '',
          objectType: 'secret',
          objectVersion: '',
          objectFormat: '',
          objectEncoding: '',
          filePermission: '',
          objectVersionHistory: 0,
        },
      ],
      disableChallengeResourceVerification: false,
    });
  });

  it('trims every parameter', async () => {
    const parsed = await parse(
      {
        'csi.storage.k8s.io/pod.name': ' pod1\n',
        'csi.storage.k8s.io/pod.namespace': '\tns1 ',
        'csi.storage.k8s.io/serviceAccount.name': ' sa1 ',
        keyvaultName: '  kv1  ',
        tenantID: ' tenant1 ',
        cloudName: ' AzureChinaCloud ',
        usePodIdentity: ' true ',
        objects: `\n${OBJECTS}\n  `,
      },
      {},
    );
    expect(parsed).to.include({
      podName: 'pod1',
      podNamespace: 'ns1',
      serviceAccountName: 'sa1',
      keyvaultName: 'kv1',
      tenantId: 'tenant1',
    });
    expect(parsed.cloud).to.equal(azureChinaCloud);
    expect(parsed.auth.mode).to.equal('pod-identity');
  });

  it('trims clientID, userAssignedIdentityID and the tokens attribute', async () => {
    const wi = await parse(
      { clientID: ' wi-app ', 'csi.storage.k8s.io/serviceAccount.tokens': ` ${TOKENS} ` },
      {},
    );
    expect(wi.auth).to.deep.equal({
      mode: 'workload-identity',
      tenantId: 'tenant1',
      clientId: 'wi-app',
      serviceAccountToken: TOKEN,
    });
    const mi = await parse({ useVMManagedIdentity: 'True', userAssignedIdentityID: ' uami ' }, {});
    expect(mi.auth).to.deep.equal({ mode: 'vm-managed-identity', userAssignedIdentityId: 'uami' });
  });

  it('prefers tenantID over the legacy tenantId, which is used when tenantID is blank', async () => {
    expect((await parse({ tenantID: 'new', tenantId: 'old' })).tenantId).to.equal('new');
    expect((await parse({ tenantID: '  ', tenantId: ' old ' })).tenantId).to.equal('old');
    expect((await parse({ tenantID: undefined, tenantId: 'old' })).tenantId).to.equal('old');
  });

  it('requires the tenant in VM managed identity and pod identity modes too', async () => {
    for (const mode of ['useVMManagedIdentity', 'usePodIdentity']) {
      expect((await failure({ [mode]: 'true', tenantID: undefined }, {})).message).to.equal(
        'tenantId is not provided',
      );
    }
  });

  it('accepts Go ParseBool forms and empty as false', async () => {
    for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect((await parse({ usePodIdentity: text }, {})).auth.mode).to.equal('pod-identity');
    }
    for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False', '', ' ']) {
      expect((await parse({ usePodIdentity: text })).auth.mode).to.equal('service-principal');
    }
  });

  it('refuses other boolean spellings with Go’s text', () => {
    for (const text of ['yes', 'on', 'tRUE', 'tru', 'y']) {
      expect(() => parseGoBool(text)).to.throw(`strconv.ParseBool: parsing "${text}": invalid syntax`);
    }
  });

  it('returns no objects for an array without entries', async () => {
    expect((await parse({ objects: 'array: []' })).objects).to.deep.equal([]);
    expect((await parse({ objects: 'other: 1' })).objects).to.deep.equal([]);
  });

  it('uses the default cloud when cloudName is empty', async () => {
    const parsed = await parseMountParameters(
      { attributes: attributes(), secrets: spSecrets },
      { defaultCloud: azureGermanCloud, env: {} },
    );
    expect(parsed.cloud).to.equal(azureGermanCloud);
  });

  describe('with an Azure Stack environment file', () => {
    let dir: string;
    let path: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'azure-params-'));
      path = join(dir, 'stack.json');
      await writeFile(path, JSON.stringify(stack));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('loads the cloud from cloudEnvFileName and allows disableChallengeResourceVerification', async () => {
      const parsed = await parse({
        cloudName: 'AzureStackCloud',
        cloudEnvFileName: ` ${path} `,
        disableChallengeResourceVerification: 'true',
      });
      expect(parsed.cloud).to.deep.equal(stack);
      expect(parsed.disableChallengeResourceVerification).to.equal(true);
      expect(vaultUrl(parsed.keyvaultName, parsed.cloud)).to.equal('https://kv1.vault.test:8443/');
    });

    it('allows disableChallengeResourceVerification when the default cloud is Azure Stack', async () => {
      const parsed = await parseMountParameters(
        { attributes: attributes({ disableChallengeResourceVerification: '1' }), secrets: spSecrets },
        { defaultCloud: stack, env: {} },
      );
      expect(parsed.disableChallengeResourceVerification).to.equal(true);
    });

    it('ignores cloudEnvFileName without cloudName AzureStackCloud, as upstream', async () => {
      expect((await parse({ cloudEnvFileName: path })).cloud).to.equal(azurePublicCloud);
    });

    it('does not let one request’s file leak into the next (our fix)', async () => {
      await parse({ cloudName: 'AzureStackCloud', cloudEnvFileName: path });
      expect((await failure({ cloudName: 'AzureStackCloud' })).message).to.equal(
        'cloudName AzureStackCloud is not valid, error: open : no such file or directory',
      );
    });
  });

  const step = (
    n: number,
    overrides: Record<string, string | undefined>,
    message: string,
    secrets?: Record<string, string>,
  ) => ({ n, overrides, message, secrets }) as const;
  const faults = [
    step(1, { 'csi.storage.k8s.io/pod.name': ' ' }, 'pod name is not provided'),
    step(2, { 'csi.storage.k8s.io/pod.namespace': undefined }, 'pod namespace is not provided'),
    step(
      3,
      { usePodIdentity: 'tru' },
      'failed to parse usePodIdentity flag, error: strconv.ParseBool: parsing "tru": invalid syntax',
    ),
    step(
      4,
      { useVMManagedIdentity: 'yes' },
      'failed to parse useVMManagedIdentity flag, error: strconv.ParseBool: parsing "yes": invalid syntax',
    ),
    step(
      5,
      { useAzureTokenProxy: 'on' },
      'failed to parse useAzureTokenProxy flag, error: strconv.ParseBool: parsing "on": invalid syntax',
    ),
    step(
      6,
      { usePodIdentity: 'true', useAzureTokenProxy: '1' },
      'only one identity mode can be enabled at a time: usePodIdentity, useVMManagedIdentity, or useAzureTokenProxy',
    ),
    step(7, { keyvaultName: '' }, 'keyvaultName is not provided'),
    step(8, { tenantID: ' ', tenantId: '' }, 'tenantId is not provided'),
    step(
      10,
      { cloudName: 'AzureCloud1' },
      'cloudName AzureCloud1 is not valid, error: autorest/azure: There is no cloud environment matching the name "AZURECLOUD1"',
    ),
    step(
      10,
      { cloudName: 'AzureStackCloud', cloudEnvFileName: '/no/such/env.json' },
      'cloudName AzureStackCloud is not valid, error: open /no/such/env.json: no such file or directory',
    ),
    step(
      10.5,
      { disableChallengeResourceVerification: 'maybe' },
      'failed to parse disableChallengeResourceVerification flag, error: strconv.ParseBool: parsing "maybe": invalid syntax',
    ),
    step(
      10.5,
      { disableChallengeResourceVerification: 'true' },
      'disableChallengeResourceVerification is only supported with cloudName AzureStackCloud',
    ),
    step(
      11,
      {},
      'failed to build auth config for mode None: failed to get credentials, nodePublishSecretRef secret is not set',
      {},
    ),
    step(11, {}, 'failed to build auth config for mode None: could not find clientsecret in secrets', {
      ClientId: 'app',
    }),
    step(
      11,
      { clientID: 'app' },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: service account tokens not found',
    ),
    step(
      11,
      { useAzureTokenProxy: 'true' },
      'failed to build auth config for mode AzureTokenProxy: clientID is required for identity binding',
    ),
    step(12, { objects: '  ' }, 'objects is not set'),
    step(
      13,
      { objects: '- a' },
      'failed to yaml unmarshal objects, error: yaml: unmarshal errors: line 1: cannot unmarshal !!seq into a mapping with an "array" list',
    ),
    step(
      14,
      { objects: 'array:\n  - "objectName: a\\nobjectVersionHistory: \\"2\\""' },
      'unmarshal failed for keyVaultObjects at index 0, error: yaml: unmarshal errors: line 2: cannot unmarshal !!str `2` into int32',
    ),
    step(
      14,
      { objects: 'array:\n  - "objectName: /abs"' },
      'failed to get objectType:, objectName:/abs, objectVersion:: file name must be a relative path',
    ),
  ];
  for (const fault of faults) {
    it(`reports step ${fault.n}: ${fault.message}`, async () => {
      const error = await failure(fault.overrides, fault.secrets ?? spSecrets);
      expect(error.message).to.equal(fault.message);
      expect(error.code).to.equal(fault.n === 11 ? 'InvalidIdentity' : 'InvalidParameter');
    });
  }

  it('reports the earlier of two faults, for every pair of steps', async () => {
    for (const [i, earlier] of faults.entries()) {
      for (const later of faults.slice(i + 1)) {
        if (later.n === earlier.n) continue;
        const secrets = earlier.secrets ?? later.secrets ?? spSecrets;
        const error = await failure({ ...later.overrides, ...earlier.overrides }, secrets);
        expect(error.message, `step ${earlier.n} before ${later.n}`).to.equal(earlier.message);
      }
    }
  });

  it('validates each object before reading the next', async () => {
    const objects = 'array:\n  - "objectName: a\\nobjectFormat: der"\n  - "objectName: ["';
    expect((await failure({ objects })).message).to.equal(
      'failed to get objectType:, objectName:a, objectVersion:: invalid objectFormat: der, should be PEM or PFX',
    );
  });

  it('does not parse workload identity tokens for clientID in VM managed identity mode (our fix)', async () => {
    const parsed = await parse({ useVMManagedIdentity: 'true', clientID: 'app' }, {});
    expect(parsed.auth).to.deep.equal({ mode: 'vm-managed-identity', userAssignedIdentityId: undefined });
  });
});

describe('parameters/vaultUrl', () => {
  const clouds: readonly [CloudEnvironment, string][] = [
    [azurePublicCloud, 'https://my-vault.vault.azure.net/'],
    [azureChinaCloud, 'https://my-vault.vault.azure.cn/'],
    [azureGermanCloud, 'https://my-vault.vault.microsoftazure.de/'],
    [azureUSGovernmentCloud, 'https://my-vault.vault.usgovcloudapi.net/'],
    [stack, 'https://my-vault.vault.test:8443/'],
  ];
  for (const [cloud, url] of clouds) {
    it(`builds ${url}`, () => {
      expect(vaultUrl('my-vault', cloud)).to.equal(url);
    });
  }

  const bad: readonly [string, string][] = [
    ['ab', 'failed to get vault: Invalid vault name: "ab", must be between 3 and 24 chars'],
    [
      'a'.repeat(25),
      `failed to get vault: Invalid vault name: "${'a'.repeat(25)}", must be between 3 and 24 chars`,
    ],
    ['my_vault', 'failed to get vault: Invalid vault name: "my_vault", must match [-a-zA-Z0-9]{3,24}'],
    ['vault.x', 'failed to get vault: Invalid vault name: "vault.x", must match [-a-zA-Z0-9]{3,24}'],
    ['éé', 'failed to get vault: Invalid vault name: "éé", must match [-a-zA-Z0-9]{3,24}'],
  ];
  for (const [name, message] of bad) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      expect(() => vaultUrl(name, azurePublicCloud)).to.throw(ProviderError, message);
    });
  }

  it('accepts 3 and 24 characters and leading or trailing hyphens, as upstream', () => {
    expect(vaultUrl('-a-', azurePublicCloud)).to.equal('https://-a-.vault.azure.net/');
    expect(vaultUrl('a'.repeat(24), azurePublicCloud)).to.equal(`https://${'a'.repeat(24)}.vault.azure.net/`);
  });
});
