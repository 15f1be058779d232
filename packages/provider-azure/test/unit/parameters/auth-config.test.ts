import { ProviderError } from '@secrets-store-csi/provider-sdk';
import { expect } from 'chai';
import {
  buildAuthConfig,
  identityBindingAudience,
  parseServiceAccountToken,
  workloadIdentityAudience,
  type AuthInput,
} from '../../../src/parameters/auth-config.js';

const WI_TOKEN = 'eyJ-workload-identity-token-SECRET';
const IB_TOKEN = 'eyJ-identity-binding-token-SECRET';
const CLIENT_SECRET = 'sp-client-secret-SECRET';

function tokens(entries: Record<string, unknown>): string {
  return JSON.stringify(entries);
}
const bothTokens = tokens({
  [workloadIdentityAudience]: { token: WI_TOKEN, expirationTimestamp: '2030-01-01T00:00:00Z' },
  [identityBindingAudience]: { token: IB_TOKEN, expirationTimestamp: '2030-01-01T00:00:00+01:00' },
});

function input(fields: Partial<AuthInput>): AuthInput {
  return {
    identityMode: 'None',
    tenantId: 'tenant',
    clientId: '',
    userAssignedIdentityId: '',
    podName: 'pod',
    podNamespace: 'ns',
    serviceAccountTokens: '',
    secrets: {},
    ...fields,
  };
}

function failure(fields: Partial<AuthInput>): string {
  try {
    buildAuthConfig(input(fields));
  } catch (error) {
    expect(error).to.be.instanceOf(ProviderError);
    expect((error as ProviderError).code).to.equal('InvalidIdentity');
    const message = (error as Error).message;
    for (const secret of [WI_TOKEN, IB_TOKEN, CLIENT_SECRET, 'SECRET'])
      expect(message).not.to.include(secret);
    return message;
  }
  throw new Error('expected a failure');
}

describe('parameters/auth-config', () => {
  describe('mode selection', () => {
    it('uses the nodePublishSecretRef service principal without a mode or clientID', () => {
      expect(
        buildAuthConfig(input({ secrets: { clientid: 'app', clientsecret: CLIENT_SECRET } })),
      ).to.deep.equal({
        mode: 'service-principal',
        tenantId: 'tenant',
        clientId: 'app',
        clientSecret: CLIENT_SECRET,
      });
    });

    it('matches the secret keys in any case', () => {
      expect(
        buildAuthConfig(input({ secrets: { ClientID: 'app', CLIENTSECRET: CLIENT_SECRET } })),
      ).to.include({
        clientId: 'app',
        clientSecret: CLIENT_SECRET,
      });
    });

    it('uses workload identity when clientID is set, with the AzureADTokenExchange token', () => {
      expect(
        buildAuthConfig(
          input({ clientId: 'wi-app', serviceAccountTokens: bothTokens, secrets: { clientid: 'x' } }),
        ),
      ).to.deep.equal({
        mode: 'workload-identity',
        tenantId: 'tenant',
        clientId: 'wi-app',
        serviceAccountToken: WI_TOKEN,
      });
    });

    it('uses pod identity with the pod’s name and namespace', () => {
      expect(buildAuthConfig(input({ identityMode: 'PodIdentity' }))).to.deep.equal({
        mode: 'pod-identity',
        podNamespace: 'ns',
        podName: 'pod',
      });
    });

    it('uses the system-assigned VM identity without userAssignedIdentityID, else the user-assigned one', () => {
      expect(buildAuthConfig(input({ identityMode: 'VMManagedIdentity' }))).to.deep.equal({
        mode: 'vm-managed-identity',
        userAssignedIdentityId: undefined,
      });
      expect(
        buildAuthConfig(input({ identityMode: 'VMManagedIdentity', userAssignedIdentityId: 'uami' })),
      ).to.deep.equal({
        mode: 'vm-managed-identity',
        userAssignedIdentityId: 'uami',
      });
    });

    it('uses identity binding with the AKSIdentityBinding token', () => {
      expect(
        buildAuthConfig(
          input({ identityMode: 'AzureTokenProxy', clientId: 'ib-app', serviceAccountTokens: bothTokens }),
        ),
      ).to.deep.equal({
        mode: 'identity-binding',
        tenantId: 'tenant',
        clientId: 'ib-app',
        serviceAccountToken: IB_TOKEN,
      });
    });

    it('does not parse workload identity tokens for clientID in pod identity or VM identity mode (our fix)', () => {
      expect(buildAuthConfig(input({ identityMode: 'PodIdentity', clientId: 'app' })).mode).to.equal(
        'pod-identity',
      );
      expect(
        buildAuthConfig(
          input({ identityMode: 'VMManagedIdentity', clientId: 'app', serviceAccountTokens: '{' }),
        ).mode,
      ).to.equal('vm-managed-identity');
    });

    it('ignores nodePublishSecretRef secrets in other modes', () => {
      expect(buildAuthConfig(input({ identityMode: 'PodIdentity', secrets: undefined })).mode).to.equal(
        'pod-identity',
      );
    });
  });

  const failures: readonly [string, Partial<AuthInput>, string][] = [
    [
      'no nodePublishSecretRef (empty secrets)',
      {},
      'failed to build auth config for mode None: failed to get credentials, nodePublishSecretRef secret is not set',
    ],
    [
      'no nodePublishSecretRef (absent secrets)',
      { secrets: undefined },
      'failed to build auth config for mode None: failed to get credentials, nodePublishSecretRef secret is not set',
    ],
    [
      'no clientid key',
      { secrets: { clientsecret: CLIENT_SECRET } },
      'failed to build auth config for mode None: could not find clientid in secrets',
    ],
    [
      'an empty clientid',
      { secrets: { clientid: '', clientsecret: CLIENT_SECRET } },
      'failed to build auth config for mode None: could not find clientid in secrets',
    ],
    [
      'no clientsecret key',
      { secrets: { clientid: 'app', other: CLIENT_SECRET } },
      'failed to build auth config for mode None: could not find clientsecret in secrets',
    ],
    [
      'workload identity without tokens',
      { clientId: 'app' },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: service account tokens not found',
    ],
    [
      'workload identity with invalid JSON',
      { clientId: 'app', serviceAccountTokens: `{"${workloadIdentityAudience}": ${WI_TOKEN}}` },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: failed to unmarshal service account tokens, error: invalid JSON',
    ],
    [
      'workload identity without its audience',
      { clientId: 'app', serviceAccountTokens: tokens({ [identityBindingAudience]: { token: IB_TOKEN } }) },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: token for audience api://AzureADTokenExchange not found',
    ],
    [
      'workload identity with an empty token',
      { clientId: 'app', serviceAccountTokens: tokens({ [workloadIdentityAudience]: { token: '' } }) },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: token for audience api://AzureADTokenExchange not found',
    ],
    [
      'workload identity with a number token',
      { clientId: 'app', serviceAccountTokens: tokens({ [workloadIdentityAudience]: { token: 5 } }) },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: failed to unmarshal service account tokens, error: json: cannot unmarshal number into field token of type string',
    ],
    [
      'tokens as an array',
      { clientId: 'app', serviceAccountTokens: JSON.stringify([WI_TOKEN]) },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: failed to unmarshal service account tokens, error: json: cannot unmarshal array into an object of token requests by audience',
    ],
    [
      'a token entry that is a string',
      { clientId: 'app', serviceAccountTokens: tokens({ [workloadIdentityAudience]: WI_TOKEN }) },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: failed to unmarshal service account tokens, error: json: cannot unmarshal string into the token request for audience "api://AzureADTokenExchange"',
    ],
    [
      'a malformed expiration time',
      {
        clientId: 'app',
        serviceAccountTokens: tokens({
          [workloadIdentityAudience]: { token: WI_TOKEN, expirationTimestamp: WI_TOKEN },
        }),
      },
      'failed to build auth config for mode None: failed to parse workload identity tokens, error: failed to unmarshal service account tokens, error: json: expirationTimestamp is not an RFC 3339 time',
    ],
    [
      'identity binding without clientID',
      { identityMode: 'AzureTokenProxy', serviceAccountTokens: bothTokens },
      'failed to build auth config for mode AzureTokenProxy: clientID is required for identity binding',
    ],
    [
      'identity binding without tokens',
      { identityMode: 'AzureTokenProxy', clientId: 'app' },
      'failed to build auth config for mode AzureTokenProxy: service account tokens are required for identity binding',
    ],
    [
      'identity binding without its audience',
      {
        identityMode: 'AzureTokenProxy',
        clientId: 'app',
        serviceAccountTokens: tokens({ [workloadIdentityAudience]: { token: WI_TOKEN } }),
      },
      'failed to build auth config for mode AzureTokenProxy: failed to parse service account token for identity binding, error: token for audience api://AKSIdentityBinding not found',
    ],
    [
      'identity binding with invalid JSON',
      { identityMode: 'AzureTokenProxy', clientId: 'app', serviceAccountTokens: IB_TOKEN },
      'failed to build auth config for mode AzureTokenProxy: failed to parse service account token for identity binding, error: failed to unmarshal service account tokens, error: invalid JSON',
    ],
  ];
  for (const [what, fields, message] of failures) {
    it(`refuses ${what}, without any secret in the message`, () => {
      const text = failure(fields);
      expect(text.startsWith(message)).to.equal(true, text);
    });
  }

  describe('parseServiceAccountToken', () => {
    it('returns the token of the audience; null entries and fields read as empty', () => {
      expect(parseServiceAccountToken(bothTokens, identityBindingAudience)).to.equal(IB_TOKEN);
      expect(
        parseServiceAccountToken(
          tokens({ a: null, [workloadIdentityAudience]: { Token: 'x', expirationTimestamp: null } }),
          workloadIdentityAudience,
        ),
      ).to.equal('x');
      expect(() => parseServiceAccountToken('null', workloadIdentityAudience)).to.throw(
        'token for audience api://AzureADTokenExchange not found',
      );
      expect(() =>
        parseServiceAccountToken(tokens({ [workloadIdentityAudience]: null }), workloadIdentityAudience),
      ).to.throw('token for audience api://AzureADTokenExchange not found');
    });
  });
});
