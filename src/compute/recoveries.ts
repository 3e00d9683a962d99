/**
 * Recovery of servers a crash or a dead process left mid-task (PowerSync.recover), as the
 * reconciler runs it: a few servers at a time, since each may wait on its engine (an inspect waits
 * for a start the dead process left running) and a process that died mid-burst leaves many; and
 * each server once at a time, since a sweep and a worker's death find the same ones: a server whose
 * recovery is running is waited for, not recovered twice.
 */

/** Servers recovered at once. */
export const RECOVERY_CONCURRENCY = 8;

export class Recoveries {
  private readonly running = new Map<string, Promise<void>>();

  /** `recover` resolves one server and never rejects (the reconciler logs its failures). */
  constructor(private readonly recover: (serverId: string) => Promise<unknown>, private readonly concurrency = RECOVERY_CONCURRENCY) {}

  /** Resolves once every one of `servers` has been recovered (here, or by a call already running). */
  async each(servers: readonly { id: string }[]): Promise<void> {
    const queue = servers.map((s) => s.id);
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await this.one(id);
    }));
  }

  private one(serverId: string): Promise<void> {
    let p = this.running.get(serverId);
    if (!p) {
      p = this.recover(serverId).then(() => undefined, () => undefined).finally(() => this.running.delete(serverId));
      this.running.set(serverId, p);
    }
    return p;
  }
}
