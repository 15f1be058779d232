/**
 * Text that crosses a process boundary is untrusted: a provider's error code, a class author's parameter
 * quoted in a message. Two shapes leave our processes, and both are made safe in one place here:
 * - an error *code* becomes gRPC metadata (printable ASCII only, or grpc-js throws), a Kubernetes Event
 *   reason and condition reason (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`), and a metric label (bounded
 *   cardinality); `errorCodeOf` keeps a well-behaved code unchanged and rewrites anything else;
 * - a status *message* goes through grpc-js's `encodeURI`, which throws `URIError` on a lone UTF-16
 *   surrogate; `statusText` makes it well-formed and bounded so no answer can take a process down.
 */

/** The longest error code kept; upstream's own codes are under 40 characters. */
export const MAX_ERROR_CODE_LENGTH = 64;

/**
 * The longest status message sent, in UTF-16 code units. Percent-encoded, 4096 units stay under 40 KiB,
 * inside the 64 KiB header list HTTP/2 peers accept by default.
 */
export const MAX_STATUS_TEXT_LENGTH = 4096;

/** What an error code becomes when nothing usable is left of it. */
export const UNUSABLE_ERROR_CODE = 'ProviderErrorCode';

const WELL_BEHAVED_CODE = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * A code safe as metadata, Event reason, condition reason and metric label: letters, digits and `_`,
 * starting with a letter, at most 64 characters. Any run of other characters becomes one `_`
 * (`Bad Reason\nInjected: yes` -> `Bad_Reason_Injected_yes`, `Fehlerä` -> `Fehler`); '' stays ''.
 */
export function errorCodeOf(code: string): string {
  // No code stays no code (upstream's `error_type` is '' for a provider it cannot reach).
  if (code === '') return code;
  if (code.length <= MAX_ERROR_CODE_LENGTH && WELL_BEHAVED_CODE.test(code)) return code;
  const cleaned = code
    .slice(0, MAX_ERROR_CODE_LENGTH * 4)
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^[^A-Za-z]+/, '')
    .slice(0, MAX_ERROR_CODE_LENGTH)
    .replace(/_+$/, '');
  return cleaned === '' ? UNUSABLE_ERROR_CODE : cleaned;
}

/** A status message every gRPC stack can carry: well-formed UTF-16 (lone surrogates -> U+FFFD), bounded. */
export function statusText(text: string): string {
  const bounded =
    text.length > MAX_STATUS_TEXT_LENGTH
      ? `${text.slice(0, MAX_STATUS_TEXT_LENGTH - 20)} ... (truncated)`
      : text;
  return bounded.toWellFormed();
}
