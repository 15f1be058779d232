/** Text that may reach logs and kubelet events, made safe: no tokens, no secrets, bounded length. */

/** Three base64url segments separated by dots: a JWT (access token, service-account token, client assertion). */
const jwtPattern = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
/** `access_token`, `refresh_token`, `client_secret`, `client_assertion` and similar as JSON or form fields. */
const fieldPattern =
  /(["']?(?:access_token|refresh_token|id_token|client_secret|client_assertion|assertion|token)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s&,}]+)/gi;

export const maxErrorTextLength = 512;

export function redactSecrets(text: string, maxLength = maxErrorTextLength): string {
  const redacted = text.replace(jwtPattern, '[redacted]').replace(fieldPattern, '$1"[redacted]"');
  return redacted.length > maxLength ? `${redacted.slice(0, maxLength)}…(truncated)` : redacted;
}
