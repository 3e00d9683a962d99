/**
 * The two datetime shapes OpenStack's APIs put on the wire, from the ISO 8601 timestamps novadock
 * stores (`2026-01-01T10:00:00.123Z`). One home for both, for every API's views.
 */

/** `YYYY-MM-DDThh:mm:ssZ`: Nova's utils.isotime (servers, images) and Glance's timestamps. */
export function isoSeconds(ts: string): string;
export function isoSeconds(ts: string | null): string | null;
export function isoSeconds(ts: string | null): string | null {
  return ts ? `${ts.slice(0, 19)}Z` : null;
}

/** `YYYY-MM-DDThh:mm:ss.ffffff`: str() of Nova's naive datetimes (launched_at, key pairs, services). */
export function isoMicros(ts: string): string;
export function isoMicros(ts: string | null): string | null;
export function isoMicros(ts: string | null): string | null {
  if (!ts) return null;
  const fraction = /\.(\d{1,6})/.exec(ts)?.[1] ?? '';
  return `${ts.slice(0, 19)}.${fraction.padEnd(6, '0')}`;
}
