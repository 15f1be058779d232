import { expect } from 'chai';
import { diagnose, rules } from '../../src/causes.js';

const mountPrefix = 'failed to mount secrets store objects for pod team/app, err: ';
const objectPrefix = 'failed to get objectType:secret, objectName:db-password, objectVersion:';
const provider = (grpc: string, text: string) =>
  `${mountPrefix}rpc error: code = ${grpc} desc = failed to mount objects, error: ${objectPrefix}: ${text}`;
const keyVaultAnswer = (status: number, code: string, message: string) =>
  [
    'GET https://kv1.vault.azure.net/secrets/db-password/',
    '-'.repeat(80),
    `RESPONSE ${status}: ${status} Status`,
    `ERROR CODE: ${code}`,
    '-'.repeat(80),
    JSON.stringify({ error: { code, message } }, null, 2),
    '-'.repeat(80),
  ].join('\n');

/** One real text per rule: the driver's and the Azure provider's words as a pod's event or condition holds them. */
const cases: { reason: string; message: string; id: string; category: string }[] = [
  {
    reason: 'OptionalObjectAbsent',
    message: 'optional object secret/feature-flag is absent from vault kv1; mounted without it',
    id: 'optional-object-absent',
    category: 'object',
  },
  {
    reason: 'SecretProviderClassNotFound',
    message: `${mountPrefix}failed to get secretproviderclass team/azure-kv, error: secretproviderclasses.secrets-store.csi.x-k8s.io "azure-kv" not found`,
    id: 'class-not-found',
    category: 'class',
  },
  {
    reason: 'FailedMount',
    message:
      'MountVolume.SetUp failed for volume "secrets" : rpc error: code = Unknown desc = failed to get secretproviderclass team/x, error: secretproviderclasses.secrets-store.csi.x-k8s.io "x" not found',
    id: 'class-not-found',
    category: 'class',
  },
  {
    reason: 'SecretProviderClassInvalid',
    message: 'spec.provider must be set',
    id: 'class-invalid',
    category: 'class',
  },
  {
    reason: 'ProviderNotFound',
    message: `${mountPrefix}provider not found: provider "azure"`,
    id: 'provider-not-found',
    category: 'provider',
  },
  {
    reason: 'FailedMount',
    message:
      'MountVolume.SetUp failed for volume "secrets" : kubernetes.io/csi: mounter.SetUpAt failed to get CSI client: driver name secrets-store.csi.k8s.io not found in the list of registered CSI drivers',
    id: 'driver-not-registered',
    category: 'driver',
  },
  {
    reason: 'GRPCProviderError',
    message: `${mountPrefix}rpc error: code = Unavailable desc = No connection established (provider "azure" is not answering on /var/run/secrets-store-csi-providers/azure.sock; is it running?)`,
    id: 'provider-not-answering',
    category: 'provider',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      "AADSTS90002: Tenant 'contoso-typo' not found. Check to make sure you have the correct tenant ID",
    ),
    id: 'tenant-not-found',
    category: 'tenant',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      "AADSTS700016: Application with identifier '1111' was not found in the directory 'contoso'.",
    ),
    id: 'client-not-found',
    category: 'identity',
  },
  {
    reason: 'MountRotationFailed',
    message: provider('PermissionDenied', 'AADSTS7000215: Invalid client secret provided.'),
    id: 'client-secret-invalid',
    category: 'identity',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://oidc'. Assertion Subject: 'system:serviceaccount:team:app'.",
    ),
    id: 'federation-mismatch',
    category: 'identity',
  },
  {
    reason: 'InvalidIdentity',
    message: 'clientID is not set',
    id: 'identity-missing',
    category: 'identity',
  },
  {
    reason: 'GRPCProviderError',
    message: `${mountPrefix}rpc error: code = InvalidArgument desc = failed to mount objects, error: could not find clientid in secrets(map[])`,
    id: 'identity-missing',
    category: 'identity',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      'Entra ID throttled the token request (429 Too Many Requests) and the retries ran out; Entra ID expects to accept requests again in 30s. AADSTS50196',
    ),
    id: 'token-throttled',
    category: 'throttling',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      'AADSTS50079: Due to a configuration change made by your administrator',
    ),
    id: 'authentication-failed',
    category: 'identity',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'NotFound',
      "the vault host kv-typo.vault.azure.net does not resolve (ENOTFOUND); check keyvaultName and cloudName, and the node's DNS for private endpoints",
    ),
    id: 'vault-not-found',
    category: 'vault',
  },
  {
    reason: 'MountRotationFailed',
    message: provider(
      'ResourceExhausted',
      'Key Vault throttled the request (429 Too Many Requests) and retries ran out; Key Vault expects to accept requests again in 12s (at 2026-12-03T10:00:12Z)',
    ),
    id: 'vault-throttled',
    category: 'throttling',
  },
  { reason: 'Throttled', message: 'too many requests', id: 'throttled', category: 'throttling' },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      keyVaultAnswer(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.'),
    ),
    id: 'object-disabled',
    category: 'object',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'NotFound',
      keyVaultAnswer(
        404,
        'SecretNotFound',
        'A secret with (name/id) db-password was not found in this key vault.',
      ),
    ),
    id: 'object-not-found',
    category: 'object',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'PermissionDenied',
      keyVaultAnswer(
        403,
        'Forbidden',
        'Caller is not authorized to perform action on resource. Inner error: ForbiddenByRbac',
      ),
    ),
    id: 'access-denied',
    category: 'permission',
  },
  {
    reason: 'GRPCProviderError',
    message: provider(
      'Unavailable',
      'Key Vault kv1.vault.azure.net could not be reached: connect ECONNREFUSED',
    ),
    id: 'store-unavailable',
    category: 'vault',
  },
  { reason: 'InvalidContent', message: 'bad', id: 'invalid-content', category: 'content' },
  {
    reason: 'GRPCProviderError',
    message: provider('Internal', 'failed to decode pfx: wrong password'),
    id: 'invalid-content',
    category: 'content',
  },
  {
    reason: 'GRPCProviderError',
    message: `${mountPrefix}rpc error: code = InvalidArgument desc = failed to mount objects, error: keyvaultName is not set`,
    id: 'parameter-invalid',
    category: 'class',
  },
  {
    reason: 'ProviderResponseTooLarge',
    message: 'the response of provider "azure" is larger than the driver accepts (4194304 bytes)',
    id: 'response-too-large',
    category: 'driver',
  },
  {
    reason: 'KubernetesForbidden',
    message: 'secretproviderclasspodstatuses is forbidden',
    id: 'driver-forbidden',
    category: 'driver',
  },
  {
    reason: 'FailedToCreateSecret',
    message: 'failed to get data in spc team/x for secret app-secret',
    id: 'secret-sync-failed',
    category: 'secret-sync',
  },
  {
    reason: 'DuplicateFilePath',
    message: 'the provider returned these paths more than once: a',
    id: 'duplicate-file-path',
    category: 'class',
  },
  { reason: 'FileWriteError', message: 'EROFS', id: 'node-filesystem', category: 'node' },
  { reason: 'PodStatusError', message: 'timeout', id: 'pod-status-failed', category: 'driver' },
  {
    reason: 'GRPCProviderError',
    message: `${mountPrefix}rpc error: code = Unknown desc = failed to mount objects, error: backend exploded`,
    id: 'provider-error',
    category: 'provider',
  },
];

describe('causes and fixes', () => {
  for (const { reason, message, id, category } of cases) {
    it(`reads ${reason} "${message.slice(0, 60).replace(/\n/g, ' ')}..." as ${id}`, () => {
      const diagnosis = diagnose(reason, message);
      expect(diagnosis?.id).to.equal(id);
      expect(diagnosis?.category).to.equal(category);
      expect(diagnosis?.cause).to.be.a('string').and.not.equal('');
      expect(diagnosis?.fix).to.be.a('string').and.not.equal('');
    });
  }

  it('has a case above for every rule of the table', () => {
    const tested = new Set(cases.map((c) => c.id));
    expect(rules.map((r) => r.id).filter((id) => !tested.has(id))).to.deep.equal([]);
  });

  it('knows nothing of reasons and texts that are not failures of ours', () => {
    expect(diagnose('Scheduled', 'Successfully assigned team/app to node-1')).to.equal(undefined);
    expect(diagnose('BackOff', 'Back-off restarting failed container')).to.equal(undefined);
  });

  it('never quotes the message in its words, so a secret in a message cannot spread', () => {
    for (const rule of rules) {
      const diagnosis = diagnose(rule.reasons?.[0] ?? 'GRPCProviderError', 'AADSTS90002 s3cr3t-value');
      if (diagnosis !== undefined) {
        expect(diagnosis.cause).not.to.include('s3cr3t');
        expect(diagnosis.fix).not.to.include('s3cr3t');
      }
    }
  });
});
