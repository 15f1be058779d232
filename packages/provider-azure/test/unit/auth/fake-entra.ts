/**
 * A fake HttpClient that answers like Entra ID for MSAL's client-credentials flow (the openid configuration,
 * then the token endpoint), recording what was asked. For unit tests of the credential cache.
 */
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';

export interface RecordedTokenRequest {
  readonly url: string;
  readonly form: URLSearchParams;
  readonly request: PipelineRequest;
}

export interface FakeEntra extends HttpClient {
  readonly tokenRequests: RecordedTokenRequest[];
  readonly urls: string[];
}

export function fakeEntra(): FakeEntra {
  const tokenRequests: RecordedTokenRequest[] = [];
  const urls: string[] = [];
  let issued = 0;
  const respond = (request: PipelineRequest, status: number, body: unknown): PipelineResponse => ({
    request,
    status,
    headers: createHttpHeaders({ 'content-type': 'application/json' }),
    bodyAsText: JSON.stringify(body),
  });
  return {
    tokenRequests,
    urls,
    sendRequest(request) {
      urls.push(request.url);
      const url = new URL(request.url);
      const tenant = url.pathname.split('/').filter(Boolean).at(-4) ?? '';
      if (url.pathname.endsWith('/v2.0/.well-known/openid-configuration')) {
        const base = `${url.origin}${url.pathname.replace(/\/v2\.0\/\.well-known\/openid-configuration$/, '')}`;
        return Promise.resolve(
          respond(request, 200, {
            issuer: `${base}/v2.0`,
            token_endpoint: `${base}/oauth2/v2.0/token`,
            authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
            jwks_uri: `${base}/discovery/v2.0/keys`,
            response_types_supported: ['code'],
            subject_types_supported: ['pairwise'],
            id_token_signing_alg_values_supported: ['RS256'],
            tenant_region_scope: null,
            tenant,
          }),
        );
      }
      if (url.pathname.endsWith('/oauth2/v2.0/token')) {
        tokenRequests.push({
          url: request.url,
          form: new URLSearchParams(typeof request.body === 'string' ? request.body : ''),
          request,
        });
        issued += 1;
        return Promise.resolve(
          respond(request, 200, {
            token_type: 'Bearer',
            expires_in: 3600,
            access_token: `access-token-${issued}`,
          }),
        );
      }
      return Promise.resolve(respond(request, 404, { error: 'not_found' }));
    },
  };
}
