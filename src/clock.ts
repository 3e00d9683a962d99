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

/**
 * Resolves when `p` settles or after `ms`, whichever is first (a rejection of `p` within that
 * time rejects). The timer never holds the process open.
 */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); timer.unref(); })]);
  } finally {
    clearTimeout(timer);
  }
}
