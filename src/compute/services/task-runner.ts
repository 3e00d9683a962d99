/**
 * Background work of the compute services: a lane per server (its tasks run one after the
 * other, so the engine never sees two operations on one container at once), the API calls that
 * are between their claim and the scheduling of their work, and every task in flight (idle()
 * waits for them: tests and shutdown).
 */
import type { Logger } from 'pino';
import { Background } from '../../background';

export class TaskRunner extends Background {
  /** Per-server chain of background tasks. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** API calls between their claim and the scheduling of their work (see guarded()). */
  private readonly claiming = new Map<string, number>();
  /** Per server: who waits for it to be idle (whenIdle). */
  private readonly idleWaiters = new Map<string, (() => void)[]>();

  constructor(private readonly log: Logger) {
    super();
  }

  /** True while a background task of this server is queued or running, or an API call is claiming one. */
  isBusy(serverId: string): boolean {
    return this.lanes.has(serverId) || this.claiming.has(serverId);
  }

  /**
   * Resolves once the server has no background task queued or running and no API call claiming
   * one (at once when it has none now). The reconciler reads an instance after the work on it, so
   * an event the work's own writes would hide is not lost.
   */
  whenIdle(serverId: string): Promise<void> {
    if (!this.isBusy(serverId)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.idleWaiters.get(serverId) ?? [];
      waiters.push(resolve);
      this.idleWaiters.set(serverId, waiters);
    });
  }

  private wakeIfIdle(serverId: string): void {
    if (this.isBusy(serverId)) return;
    const waiters = this.idleWaiters.get(serverId);
    this.idleWaiters.delete(serverId);
    for (const w of waiters ?? []) w();
  }

  /**
   * Marks servers busy for the duration of an API call that claims a task and then schedules its
   * work, so the reconciler never mistakes the claimed-but-not-yet-scheduled task for one a crash
   * interrupted.
   */
  async guarded<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    for (const id of ids) this.claiming.set(id, (this.claiming.get(id) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      for (const id of ids) {
        const n = (this.claiming.get(id) ?? 1) - 1;
        if (n > 0) this.claiming.set(id, n);
        else this.claiming.delete(id);
        this.wakeIfIdle(id);
      }
    }
  }

  /**
   * Queues `work` on the server's lane; a failure is logged (the work records its own outcome).
   * Resolves once the work has run, never rejects.
   */
  schedule(serverId: string, what: string, work: () => Promise<void>): Promise<void> {
    const prev = this.lanes.get(serverId) ?? Promise.resolve();
    const p = prev.then(work).catch((err) => this.log.error({ err, server_id: serverId }, `${what} failed unexpectedly`));
    this.lanes.set(serverId, p);
    this.track(p.finally(() => {
      if (this.lanes.get(serverId) === p) this.lanes.delete(serverId);
      this.wakeIfIdle(serverId);
    }));
    return p;
  }
}
