/**
 * Durations written the way Go's time.ParseDuration reads them ("2m", "1h30m", "1.5s", "500ms"), since
 * upstream flags such as --rotation-poll-interval take that form. Returns milliseconds.
 */
import { CodedError, coreErrorCodes } from './errors.js';

const unitInMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/y;

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const invalid = () =>
    new CodedError(
      coreErrorCodes.invalidDuration,
      `invalid duration "${trimmed}": expected a number and unit such as 30s, 2m or 1h30m`,
    );
  let rest = trimmed;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  part.lastIndex = 0;
  while (part.lastIndex < rest.length) {
    const match = part.exec(rest);
    if (match === null) throw invalid();
    const [, amount = '', unit = ''] = match;
    total += Number(amount) * (unitInMs[unit] ?? Number.NaN);
  }
  if (!Number.isFinite(total)) throw invalid();
  return sign * total;
}

/** Formats milliseconds as Go would print the duration (for messages and flag help). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  return `${sign}${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}
