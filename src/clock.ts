/**
 * The one clock of the process. `now()` is wall time as ISO 8601; `stamp()` is the same but
 * strictly increasing within the process, so that rows stamped with it order every write, and an
 * observation of an engine stamped before a write compares as older than it.
 */
export function now(): string {
  return new Date().toISOString();
}

let lastStamp = 0;

/** A strictly increasing ISO timestamp (ms resolution; ties are pushed one ms on). */
export function stamp(): string {
  const t = Math.max(Date.now(), lastStamp + 1);
  lastStamp = t;
  return new Date(t).toISOString();
}
