/**
 * Chooses how a mount authenticates (§4.1) and gathers what that identity needs from the parameters, the
 * nodePublishSecretRef secrets and the driver's service-account tokens. No credential is built and nothing
 * is sent here.
 *
 * Which errors belong here (upstream's step 11, `failed to build auth config for mode <m>: <e>`) and which
 * come later (step 17, `failed to get keyvault client: <e>`): upstream's buildAuthConfig/NewConfig produce
 * every error about the *configuration*: the identity-binding clientID and token checks, the token parsing
 * for workload identity and identity binding, and the service principal's secret keys. Those are all here.
 * What upstream reports only when it builds the credential cannot arise from the parameters or is not
 * ours: `no identity mode is enabled` (unreachable once this succeeds), `pod information is not available…`
 * (pod name and namespace are required earlier, at steps 1-2), `workload identity client ID and service
 * account token are required for identity binding` (checked here first), and the token-proxy transport
 * errors (a startup matter). The credential builder keeps those, under `failed to get keyvault client`.
 *
 * Our fix: a `clientID` no longer forces parsing the workload-identity token in pod-identity or VM
 * managed-identity mode, where that token is never used; upstream fails such a mount when the driver sends
 * no tokens.
 *
 * Secrets: the client secret and the tokens never enter a message. JSON errors are worded by us, because
 * the platform's JSON.parse messages quote the input.
 */
import { azureError, azureErrorCodes } from '../errors.js';
import type { AuthConfig } from '../model.js';
import { goQuote, messageOf } from './go-text.js';

/** The audience of the token workload identity exchanges with Entra ID. */
export const workloadIdentityAudience = 'api://AzureADTokenExchange';
/** The audience of the token identity binding sends through the AKS token proxy. */
export const identityBindingAudience = 'api://AKSIdentityBinding';

/** Upstream's names of the identity modes, as its error messages print them. */
export type IdentityModeName = 'None' | 'PodIdentity' | 'VMManagedIdentity' | 'AzureTokenProxy';

export interface AuthInput {
  /** Which of usePodIdentity, useVMManagedIdentity, useAzureTokenProxy is true (at most one); None otherwise. */
  readonly identityMode: IdentityModeName;
  readonly tenantId: string;
  /** SecretProviderClass `clientID` (trimmed): workload identity or identity binding. */
  readonly clientId: string;
  /** SecretProviderClass `userAssignedIdentityID` (trimmed); '' for the system-assigned identity. */
  readonly userAssignedIdentityId: string;
  readonly podName: string;
  readonly podNamespace: string;
  /** The `csi.storage.k8s.io/serviceAccount.tokens` attribute (trimmed), '' when absent. */
  readonly serviceAccountTokens: string;
  /** The nodePublishSecretRef secret; empty (or absent) when the pod names none. */
  readonly secrets: Readonly<Record<string, string>> | undefined;
}

/** A fault in the identity configuration, worded as upstream; wrapped with the mode by buildAuthConfig. */
class AuthConfigProblem extends Error {}

/** What Go's encoding/json calls a JSON value's type in "cannot unmarshal <type> into …". */
function jsonTypeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * One `{token, expirationTimestamp}` entry, checked as Go decodes it into a struct: field names match in
 * any case (last wins), null leaves a field empty, a wrong type or a malformed time is an error.
 */
function tokenOfEntry(audience: string, entry: unknown): string {
  if (entry === null) return '';
  if (typeof entry !== 'object' || Array.isArray(entry)) {
    throw new Error(
      `json: cannot unmarshal ${jsonTypeOf(entry)} into the token request for audience ${goQuote(audience)}`,
    );
  }
  let token = '';
  for (const [key, value] of Object.entries(entry)) {
    const field = key.toLowerCase();
    if (field !== 'token' && field !== 'expirationtimestamp') continue;
    if (value === null) continue;
    const name = field === 'token' ? 'token' : 'expirationTimestamp';
    if (typeof value !== 'string') {
      throw new Error(`json: cannot unmarshal ${jsonTypeOf(value)} into field ${name} of type string`);
    }
    if (field === 'token') token = value;
    else if (!RFC3339.test(value)) throw new Error('json: expirationTimestamp is not an RFC 3339 time');
  }
  return token;
}

/** JSON.parse, with a message that names the position but never quotes the (secret) text. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(messageOf(error))?.[1];
    throw new Error(`invalid JSON${position === undefined ? '' : ` at position ${position}`}`);
  }
}

/**
 * The token for one audience from the driver's `serviceAccount.tokens` JSON, as upstream's
 * parseTokenForAudience: `service account tokens not found` when empty, `failed to unmarshal service
 * account tokens, error: <e>` when it is not the expected JSON, `token for audience <a> not found` when the
 * audience is missing or its token empty. Every entry is decoded, so a malformed one fails as in Go.
 */
export function parseServiceAccountToken(tokens: string, audience: string): string {
  if (tokens === '') throw new Error('service account tokens not found');
  let token = '';
  try {
    const parsed = parseJson(tokens);
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new Error(
        `json: cannot unmarshal ${jsonTypeOf(parsed)} into an object of token requests by audience`,
      );
    }
    for (const [key, entry] of Object.entries(parsed ?? {})) {
      const entryToken = tokenOfEntry(key, entry);
      if (key === audience) token = entryToken;
    }
  } catch (error) {
    throw new Error(`failed to unmarshal service account tokens, error: ${messageOf(error)}`);
  }
  if (token === '') throw new Error(`token for audience ${audience} not found`);
  return token;
}

/**
 * The service principal from the nodePublishSecretRef secret: keys `clientid` and `clientsecret` in any
 * letter case. Upstream tells a nil map ("not set") from an empty one; our MountRequest gives an empty
 * object when the pod names no secret, so empty means "not set" here.
 */
function servicePrincipal(secrets: AuthInput['secrets']): { clientId: string; clientSecret: string } {
  const entries = Object.entries(secrets ?? {});
  if (entries.length === 0) {
    throw new AuthConfigProblem('failed to get credentials, nodePublishSecretRef secret is not set');
  }
  let clientId = '';
  let clientSecret = '';
  for (const [key, value] of entries) {
    const name = key.toLowerCase();
    if (name === 'clientid') clientId = value;
    else if (name === 'clientsecret') clientSecret = value;
  }
  if (clientId === '') throw new AuthConfigProblem('could not find clientid in secrets');
  if (clientSecret === '') throw new AuthConfigProblem('could not find clientsecret in secrets');
  return { clientId, clientSecret };
}

/** Identity binding: both clientID and tokens are required, and the token for api://AKSIdentityBinding. */
function identityBinding(input: AuthInput): AuthConfig {
  if (input.clientId === '') throw new AuthConfigProblem('clientID is required for identity binding');
  if (input.serviceAccountTokens === '') {
    throw new AuthConfigProblem('service account tokens are required for identity binding');
  }
  let serviceAccountToken: string;
  try {
    serviceAccountToken = parseServiceAccountToken(input.serviceAccountTokens, identityBindingAudience);
  } catch (error) {
    throw new AuthConfigProblem(
      `failed to parse service account token for identity binding, error: ${messageOf(error)}`,
    );
  }
  return {
    mode: 'identity-binding',
    tenantId: input.tenantId,
    clientId: input.clientId,
    serviceAccountToken,
  };
}

/** No mode flag: workload identity when `clientID` is set, else the nodePublishSecretRef service principal. */
function defaultMode(input: AuthInput): AuthConfig {
  if (input.clientId === '') {
    const { clientId, clientSecret } = servicePrincipal(input.secrets);
    return { mode: 'service-principal', tenantId: input.tenantId, clientId, clientSecret };
  }
  let serviceAccountToken: string;
  try {
    serviceAccountToken = parseServiceAccountToken(input.serviceAccountTokens, workloadIdentityAudience);
  } catch (error) {
    throw new AuthConfigProblem(`failed to parse workload identity tokens, error: ${messageOf(error)}`);
  }
  return {
    mode: 'workload-identity',
    tenantId: input.tenantId,
    clientId: input.clientId,
    serviceAccountToken,
  };
}

function authConfigFor(input: AuthInput): AuthConfig {
  switch (input.identityMode) {
    case 'PodIdentity':
      return { mode: 'pod-identity', podNamespace: input.podNamespace, podName: input.podName };
    case 'VMManagedIdentity':
      return {
        mode: 'vm-managed-identity',
        userAssignedIdentityId:
          input.userAssignedIdentityId === '' ? undefined : input.userAssignedIdentityId,
      };
    case 'AzureTokenProxy':
      return identityBinding(input);
    case 'None':
      return defaultMode(input);
  }
}

/**
 * The AuthConfig of one mount (§4.1), or upstream's step-11 error
 * `failed to build auth config for mode <None|PodIdentity|VMManagedIdentity|AzureTokenProxy>: <e>`.
 * @throws ProviderError InvalidIdentity.
 */
export function buildAuthConfig(input: AuthInput): AuthConfig {
  try {
    return authConfigFor(input);
  } catch (error) {
    if (!(error instanceof AuthConfigProblem)) throw error;
    throw azureError(
      azureErrorCodes.invalidIdentity,
      `failed to build auth config for mode ${input.identityMode}: ${error.message}`,
    );
  }
}
