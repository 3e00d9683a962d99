/**
 * The processes of one cloud (issue 16): every novadock process sharing a database is a worker
 * with a heartbeat row, as each nova-compute and nova-conductor reports to Nova's service group.
 *
 *  - A worker is alive while its heartbeat is younger than `deadAfterMs`. Each tick (every
 *    `heartbeatMs`) a worker beats, re-reads who is alive, and removes the rows of the dead; the
 *    one process whose delete took a row runs the recovery handlers (their uploads back to
 *    queued, their tasks resolved as crash recovery does), so no work is recovered twice and none
 *    is recovered while the process doing it still runs.
 *  - Leases: named claims that expire unless renewed (one process watches each compute host).
 *    A lease lives `deadAfterMs`, so a dead holder's leases are free about as soon as it is known
 *    dead: the reconciler of a survivor takes them within a tick or two.
 *  - Per-tick hooks keep what other processes change visible here (token revocations).
 *
 * With one process (the default), this is one small write a second and everything is held here.
 */
import os from 'node:os';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { WorkerRepository } from '../db/worker-repo';
import { now } from '../clock';

export interface MembershipOptions {
  /** Milliseconds between heartbeats (and lease renewals). */
  heartbeatMs?: number;
  /** A worker silent this long is dead; a lease not renewed this long is free. */
  deadAfterMs?: number;
}

type Hook = () => Promise<unknown>;

export class Membership {
  /** This process's worker id. */
  readonly id = crypto.randomUUID();
  readonly heartbeatMs: number;
  readonly deadAfterMs: number;
  private live = new Set<string>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private recovering?: Promise<void>;
  private recoverAgain = false;
  private readonly onDeath: Hook[] = [];
  private readonly everyTick: Hook[] = [];
  private readonly log: Logger;

  constructor(private readonly repo: WorkerRepository, log: Logger, opts: MembershipOptions = {}) {
    this.heartbeatMs = opts.heartbeatMs ?? 1_000;
    this.deadAfterMs = opts.deadAfterMs ?? 3_000;
    this.log = log.child({ component: 'membership', worker_id: this.id });
  }

  /** Joins the cloud: registers, and learns who else is alive (before any recovery runs). */
  async join(): Promise<void> {
    await this.repo.register({ id: this.id, hostname: os.hostname(), pid: process.pid, started_at: now(), heartbeat_ms: Date.now() });
    await this.refresh();
  }

  /** Starts the heartbeat (after the start-up recovery, so that handlers are in place). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.tick();
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Runs `fn` (after the fact) whenever this process found other workers dead. */
  whenWorkersDie(fn: Hook): void {
    this.onDeath.push(fn);
  }

  /** Runs `fn` on every heartbeat. */
  onTick(fn: Hook): void {
    this.everyTick.push(fn);
  }

  /** Whether the worker `id` is running (this one always is). */
  isAlive(id: string): boolean {
    return id === this.id || this.live.has(id);
  }

  /** Workers alive at the last heartbeat, this one included. */
  workers(): string[] {
    return [...this.live];
  }

  /** Takes or renews the lease `name` for this worker; true while held. */
  async hold(name: string): Promise<boolean> {
    return this.repo.acquire(name, this.id, Date.now(), this.deadAfterMs);
  }

  /** One heartbeat now (tests; overlapping calls share the one in flight). */
  tick(): Promise<void> {
    if (!this.ticking) {
      this.ticking = this.beat().finally(() => {
        this.ticking = undefined;
      });
    }
    return this.ticking;
  }

  /** Leaves cleanly: others see at once that this process is gone and take its leases. */
  async leave(): Promise<void> {
    this.halt();
    await this.idle();
    await this.repo.unregister(this.id).catch((err) => this.log.error({ err }, 'could not unregister this worker'));
  }

  /** Stops beating without unregistering: what a kill -9 looks like to the others (tests). */
  halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async beat(): Promise<void> {
    try {
      if (!(await this.repo.heartbeat(this.id, Date.now()))) {
        // Silent for too long (a stalled event loop, a database outage): another process took us for
        // dead and may have recovered our work. Rejoin; the compare-and-sets keep states consistent.
        this.log.error('this worker was declared dead by another process; rejoining');
        await this.join();
      }
      const dead = await this.refresh();
      let reaped = 0;
      const cutoff = Date.now() - this.deadAfterMs;
      for (const id of dead) if (await this.repo.reap(id, cutoff)) reaped++;
      if (reaped > 0) {
        this.log.warn({ workers: reaped }, 'other novadock processes stopped; recovering their work');
        this.recoverDead();
      }
    } catch (err) {
      this.log.error({ err }, 'heartbeat failed');
    }
    for (const fn of this.everyTick) await fn().catch((err) => this.log.error({ err }, 'heartbeat hook failed'));
  }

  /**
   * Runs the recovery handlers beside the heartbeat, never inside it: a long recovery must not
   * silence this process (the others would take it for dead). One run at a time; a death found
   * meanwhile runs them again afterwards.
   */
  private recoverDead(): void {
    if (this.recovering) {
      this.recoverAgain = true;
      return;
    }
    this.recovering = (async () => {
      do {
        this.recoverAgain = false;
        for (const fn of this.onDeath) await fn().catch((err) => this.log.error({ err }, 'recovering the work of a dead worker failed'));
      } while (this.recoverAgain);
    })().finally(() => {
      this.recovering = undefined;
    });
  }

  /** Resolves when no recovery of a dead worker's work is running (tests, shutdown). */
  async idle(): Promise<void> {
    await this.ticking;
    while (this.recovering) await this.recovering;
  }

  /** Re-reads the workers; returns the ids of the dead ones. */
  private async refresh(): Promise<string[]> {
    const cutoff = Date.now() - this.deadAfterMs;
    const rows = await this.repo.all();
    this.live = new Set(rows.filter((r) => r.heartbeat_ms >= cutoff).map((r) => r.id));
    this.live.add(this.id);
    return rows.filter((r) => r.heartbeat_ms < cutoff && r.id !== this.id).map((r) => r.id);
  }
}
