/**
 * The reconciler brings the database into line with what the engines report (house style 10,
 * after nova/compute/manager.py `_sync_power_states` / `_sync_instance_power_state`).
 *
 *  - Events: every instance event of a compute host makes it re-read that server's info and
 *    hand it to PowerSync.syncPowerState, which decides (sync-rules.ts) and writes with a
 *    compare-and-set. Events of one server are coalesced: one re-read in flight, one queued; a
 *    server with work in flight (a build's tail, an action) is re-read once that work is done.
 *  - Sweep: every `sweepIntervalMs`, each host's instance list is compared with its servers
 *    (catching what events missed); instances labelled as ours without a server are removed,
 *    and so are a move's leftovers (a server's instance on a host that is no longer its own:
 *    a confirmed move's source, an evacuated host that answers again) once no move needs them.
 *  - Events are attributed to a server only when they come from the server's own host.
 *    One server's failure is logged and the rest go on.
 *  - Start-up: servers a crash left mid-task are resolved (PowerSync.recover), then a sweep.
 *  - A broken event stream (engine down) marks the host DOWN, is retried with backoff, and a
 *    reconnect is followed by a full sweep of that host; with `resumeGuests`, that sweep starts
 *    again the ACTIVE servers whose containers the engine's restart stopped (sync-rules shouldResume).
 *  - Several processes (issue 16): each host is watched and swept by the one process holding its
 *    lease (HostOwnership), renewed every `intervalMs`; a lease a dead process left is taken over
 *    and the host swept at once. Interrupted work is recovered only when the process doing it
 *    is gone (`isAbandoned`), never while it still runs.
 *
 * It never writes a state itself and never calls a driver to change anything: the service does.
 */
import type { Logger } from 'pino';
import type { DriverRegistry } from '../virt/registry';
import { ComputeDriver, HypervisorUnavailable, InstanceEvent, InstanceNotFound, OwnedInstance } from '../virt/driver';
import { Background } from '../background';
import { Recoveries } from './recoveries';
import type { PowerSync } from './services/power-sync';
import type { ServerQueries } from './services/server-queries';
import type { HostService } from './services/hosts';
import type { TaskRunner } from './services/task-runner';
import { Observation, shouldResume } from './sync-rules';
import type { ServerRecord } from './server-record';
// issue 17 (net-secgroups): rules re-applied to started containers
import { PowerStates } from './power-state';

/** Which hosts this process watches, and whose unfinished work is whose (src/cluster). */
export interface HostOwnership {
  /** Takes or renews this process's claim on watching `host`; true while it holds it. */
  hold(host: string): Promise<boolean>;
  /** Whether the task (or build) a server is in was left by a process that no longer does it. */
  isAbandoned(server: ServerRecord): boolean;
  /** Milliseconds between renewals. */
  intervalMs: number;
}

export interface ReconcilerDeps {
  sync: PowerSync;
  queries: ServerQueries;
  hosts: HostService;
  /** The compute services' background work: its idle() covers the reconciler's too (shutdown). */
  tasks: TaskRunner;
  drivers: DriverRegistry;
  log: Logger;
  /** Milliseconds between sweeps. */
  sweepIntervalMs: number;
  /** First and largest delay before re-subscribing to a broken event stream. */
  backoffMs?: { initial: number; max: number };
  /** Absent: this process is alone, watches every host, and owns every task. */
  ownership?: HostOwnership;
  /** Restart policy (issue 15): the sweep after an engine comes back starts ACTIVE servers it stopped (NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT). */
  resumeGuests?: boolean;
  /**
   * Told, per handled event, the seconds from the event's time (the engine's clock) to the
   * server's row brought into line (metrics: novadock_reconciler_lag_seconds).
   */
  lag?: (host: string, seconds: number) => void;
  /**
   * issue 17 (net-secgroups): told of servers whose instance is running after an event, or after
   * the sweep that follows an engine's outage (a started container has a new network namespace:
   * its security group rules are applied again).
   */
  instancesRunning?: (host: string, serverIds: string[]) => void;
}

interface HostWatch {
  driver: ComputeDriver;
  unsubscribe?: () => void;
  retry?: NodeJS.Timeout;
  delay: number;
  /** A sweep is owed once the stream is back (events were missed). */
  sweepOnConnect: boolean;
  /** How many times the stream broke: a break during the owed sweep owes another. */
  breaks: number;
}

export class Reconciler {
  private readonly sync: PowerSync;
  private readonly queries: ServerQueries;
  private readonly hosts: HostService;
  private readonly tasks: TaskRunner;
  private readonly drivers: DriverRegistry;
  private readonly log: Logger;
  private readonly sweepIntervalMs: number;
  private readonly resumeGuests: boolean;
  private readonly lag?: (host: string, seconds: number) => void;
  private readonly instancesRunning?: (host: string, serverIds: string[]) => void;
  private readonly backoff: { initial: number; max: number };
  private readonly ownership: HostOwnership;
  private leaseTimer?: NodeJS.Timeout;
  private leasing?: Promise<void>;

  private readonly watches = new Map<string, HostWatch>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private sweeping?: Promise<void>;
  /** Per server: a re-read in flight, and whether another was asked for meanwhile. */
  private readonly pending = new Map<string, { again: boolean; since?: number }>();
  /** Interrupted work being resolved (a few servers at a time, each once at a time). */
  private readonly recoveries = new Recoveries((serverId) => this.isolated(serverId, () => this.sync.recover(serverId)));
  private readonly background = new Background();

  constructor(deps: ReconcilerDeps) {
    this.sync = deps.sync;
    this.queries = deps.queries;
    this.hosts = deps.hosts;
    this.tasks = deps.tasks;
    this.drivers = deps.drivers;
    this.log = deps.log.child({ component: 'reconciler' });
    this.sweepIntervalMs = deps.sweepIntervalMs;
    this.resumeGuests = deps.resumeGuests ?? false;
    this.lag = deps.lag;
    this.instancesRunning = deps.instancesRunning;
    // Capped low: once an engine is back, its states must match within seconds (issue 5).
    this.backoff = deps.backoffMs ?? { initial: 250, max: 4_000 };
    this.ownership = deps.ownership ?? {
      hold: async () => true,
      isAbandoned: (s) => !this.tasks.isBusy(s.id),
      intervalMs: 60_000,
    };
  }

  /**
   * Runs start-up recovery, takes the hosts it can (all of them when alone), subscribes to their
   * events, sweeps them, and starts the periodic sweep and lease renewal.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.recoverAbandoned();
    await this.renewLeases(false);
    await this.sweep();
    this.timer = setInterval(() => {
      void this.sweep();
    }, this.sweepIntervalMs);
    this.timer.unref();
    this.leaseTimer = setInterval(() => {
      void this.renewLeases(true);
    }, this.ownership.intervalMs);
    this.leaseTimer.unref();
  }

  /** Hosts whose events this process watches now. */
  watchedHosts(): string[] {
    return [...this.watches.keys()];
  }

  /**
   * One round of lease renewal: hosts newly held are watched (and swept when `sweepNew`: a
   * takeover from a process that died must catch up at once), hosts lost are let go.
   */
  renewLeases(sweepNew = true): Promise<void> {
    if (!this.leasing) {
      this.leasing = (async () => {
        for (const driver of this.drivers.all()) {
          if (!this.running) return;
          let held: boolean;
          try {
            held = await this.ownership.hold(driver.host);
          } catch (err) {
            this.log.error({ err, host: driver.host }, 'could not renew the lease of a compute host');
            continue;
          }
          const watched = this.watches.get(driver.host);
          if (held && !watched) {
            const w: HostWatch = { driver, delay: this.backoff.initial, sweepOnConnect: false, breaks: 0 };
            this.watches.set(driver.host, w);
            this.subscribe(w);
            if (sweepNew) {
              this.log.info({ host: driver.host }, 'took over watching a compute host');
              void this.track(this.sweepHost(driver).catch((err) => this.log.error({ err, host: driver.host }, 'sweep after takeover failed')));
            }
          } else if (!held && watched) {
            this.log.warn({ host: driver.host }, 'another process holds this compute host now; no longer watching it');
            this.unwatch(watched);
            this.watches.delete(driver.host);
          }
        }
      })().finally(() => {
        this.leasing = undefined;
      });
    }
    return this.leasing;
  }

  private unwatch(w: HostWatch): void {
    w.unsubscribe?.();
    w.unsubscribe = undefined;
    if (w.retry) clearTimeout(w.retry);
    w.retry = undefined;
  }

  /** Stops listening and sweeping. Work in flight finishes on its own (settle() waits for it). */
  stop(): void {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = undefined;
    for (const w of this.watches.values()) this.unwatch(w);
    this.watches.clear();
  }

  /**
   * Resolves once the events delivered so far have been handled (tests: an external change,
   * then settle(), then look). Events are delivered asynchronously, hence the turn of the loop.
   */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      await this.background.idle();
    }
    await this.sweeping;
  }

  /**
   * Servers left mid-task by a process that is gone (a crash, a kill -9; at start-up, or when
   * another process is found dead) are resolved, whatever host they are on.
   */
  async recoverAbandoned(): Promise<void> {
    let servers;
    try {
      servers = (await this.sync.unsettledServers()).filter((s) => this.ownership.isAbandoned(s));
    } catch (err) {
      this.log.error({ err }, 'could not list servers to recover');
      return;
    }
    await this.recoveries.each(servers);
    if (servers.length) this.log.info({ count: servers.length }, 'recovery of interrupted tasks done');
  }

  /** One pass over the watched hosts (overlapping calls share the pass in flight). */
  sweep(): Promise<void> {
    if (!this.sweeping) {
      this.sweeping = this.track((async () => {
        try {
          // Started: the hosts this process watches, but not one whose event stream broke: the
          // sweep it is owed once the engine is back (reconnect) may resume guests, and an
          // ordinary pass first would already have written them SHUTOFF. Not started (a one-off
          // sweep): every host.
          const drivers = this.running ? [...this.watches.values()].filter((w) => !w.sweepOnConnect).map((w) => w.driver) : this.drivers.all();
          for (const driver of drivers) await this.sweepHost(driver);
          // A host whose reconnect waits on its back-off timer: try it now, so that the sweep it is
          // owed is part of this pass when its engine answers again (else it waits for the timer).
          for (const w of this.running ? [...this.watches.values()].filter((x) => x.sweepOnConnect && x.retry) : []) {
            clearTimeout(w.retry);
            await this.reconnect(w);
          }
        } finally {
          this.sweeping = undefined;
        }
      })());
    }
    return this.sweeping;
  }

  private async sweepHost(driver: ComputeDriver, opts: { resume?: boolean; afterOutage?: boolean } = {}): Promise<void> {
    let listed = await this.listHost(driver);
    if (!listed) return;
    // Interrupted work first (e.g. a build whose engine was down at start-up). Each recovery may
    // wait on the engine, so the host is listed again after them: what follows needs a current look.
    const abandoned = (await this.sync.unsettledServers()).filter((s) => s.host === driver.host && this.ownership.isAbandoned(s));
    if (abandoned.length > 0) {
      await this.recoveries.each(abandoned);
      listed = await this.listHost(driver);
      if (!listed) return;
    }
    const { observedAt, instances } = listed;
    // A move's set-aside source is never a server's instance: only a leftover, or part of a move.
    const seen = new Map(instances.filter((i) => !i.setAside).map((i) => [i.serverId, i.info]));
    const projectOf = new Map(instances.map((i) => [i.serverId, i.projectId]));
    for (const server of await this.queries.serversOnHost(driver.host)) {
      const observed: Observation = seen.get(server.id) ?? 'gone';
      if (opts.resume && shouldResume(server, observed)) await this.isolated(server.id, () => this.sync.resumeGuest(server.id, observedAt));
      else await this.isolated(server.id, () => this.sync.syncPowerState(server.id, observed, observedAt));
      seen.delete(server.id);
    }
    // Left in `seen`: instances labelled as ours that no live server on this host owns; with
    // them, the set-aside ones (a move's leftovers, unless the move still needs them).
    const leftovers = [...seen.keys(), ...instances.filter((i) => i.setAside).map((i) => i.serverId)];
    for (const serverId of new Set(leftovers)) {
      await this.isolated(serverId, () => this.sync.removeOrphan(driver, serverId, projectOf.get(serverId)!));
    }
    await this.sync.hostSwept(driver.host, new Set(instances.map((i) => i.serverId))).catch((err) => this.log.error({ err, host: driver.host }, 'bookkeeping after a sweep failed'));
    if (opts.afterOutage) this.instancesRunning?.(driver.host, instances.filter((i) => !i.setAside && i.info.powerState === PowerStates.RUNNING).map((i) => i.serverId));
  }

  /** The host's instances, and when they were observed; undefined (and the host DOWN) when its engine does not answer. */
  private async listHost(driver: ComputeDriver): Promise<{ observedAt: string; instances: OwnedInstance[] } | undefined> {
    const observedAt = this.sync.observationTime();
    try {
      const instances = await driver.listInstances();
      this.hosts.setStatus(driver.host, 'UP');
      return { observedAt, instances };
    } catch (err) {
      // An engine that does not answer says nothing about its containers: change nothing.
      this.hosts.setStatus(driver.host, 'DOWN');
      this.log.warn({ host: driver.host, err: (err as Error).message }, 'sweep: compute host unavailable');
      return undefined;
    }
  }

  /** Runs one server's reconciliation; a failure is logged (false), never passed on. */
  private async isolated(serverId: string, fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (err) {
      this.log.error({ err, server_id: serverId }, 'reconciling a server failed');
      return false;
    }
  }

  private subscribe(w: HostWatch): void {
    if (!this.running) return;
    let broken = false;
    w.unsubscribe = w.driver.subscribe(
      (e) => {
        if (w.delay !== this.backoff.initial) w.delay = this.backoff.initial;
        this.onEvent(w.driver, e);
      },
      (err) => {
        if (broken) return;
        broken = true;
        w.unsubscribe?.();
        w.unsubscribe = undefined;
        if (!this.running || this.watches.get(w.driver.host) !== w) return;
        this.hosts.setStatus(w.driver.host, 'DOWN');
        w.sweepOnConnect = true;
        w.breaks++;
        this.log.warn({ host: w.driver.host, err: err.message, retry_ms: w.delay }, 'event stream broken; retrying');
        w.retry = setTimeout(() => this.reconnect(w), w.delay);
        w.retry.unref();
        w.delay = Math.min(w.delay * 2, this.backoff.max);
      },
    );
  }

  /** Re-subscribes once the engine answers again, then sweeps the host (events were missed). */
  private async reconnect(w: HostWatch): Promise<void> {
    w.retry = undefined;
    if (!this.running || this.watches.get(w.driver.host) !== w) return;
    try {
      await w.driver.ping();
    } catch {
      if (this.watches.get(w.driver.host) !== w) return;
      w.retry = setTimeout(() => this.reconnect(w), w.delay);
      w.retry.unref();
      w.delay = Math.min(w.delay * 2, this.backoff.max);
      return;
    }
    if (!this.running || this.watches.get(w.driver.host) !== w) return;
    this.log.info({ host: w.driver.host }, 'compute host is back; re-subscribing and sweeping');
    this.hosts.setStatus(w.driver.host, 'UP');
    this.subscribe(w);
    if (w.sweepOnConnect) {
      w.delay = this.backoff.initial;
      // The flag stays up until this sweep is done, so the periodic one keeps off the host meanwhile.
      const breaks = w.breaks;
      await this.track(this.sweepHost(w.driver, { resume: this.resumeGuests, afterOutage: true })
        .catch((err) => this.log.error({ err, host: w.driver.host }, 'sweep after reconnect failed'))
        .finally(() => {
          if (w.breaks === breaks) w.sweepOnConnect = false;
        }));
    }
  }

  private onEvent(driver: ComputeDriver, e: InstanceEvent): void {
    const p = this.pending.get(e.serverId);
    if (p) {
      p.again = true;
      p.since ??= e.time; // the oldest event the next re-read answers
      return;
    }
    const state: { again: boolean; since?: number } = { again: false, since: e.time };
    this.pending.set(e.serverId, state);
    void this.track((async () => {
      try {
        do {
          // Work on the server (a build, an action) is let finish first: its own writes would hide
          // what the engine says now, and the sync skips a server with work in flight.
          await this.tasks.whenIdle(e.serverId);
          if (!this.running) break; // stopped meanwhile (shutdown): the database may be closing
          state.again = false;
          const since = state.since;
          state.since = undefined;
          const synced = await this.observe(driver, e.serverId);
          if (synced && since !== undefined) this.lag?.(driver.host, (Date.now() - since) / 1000);
          // Work that began meanwhile made the sync skip it: read it again after that work.
          if (this.tasks.isBusy(e.serverId)) state.again = true;
        } while (state.again && this.running);
      } finally {
        this.pending.delete(e.serverId);
      }
    })());
  }

  /** Re-reads one server's instance and lets the service bring the row into line (true once it has). */
  private async observe(driver: ComputeDriver, serverId: string): Promise<boolean> {
    const observedAt = this.sync.observationTime();
    let observed: Observation;
    try {
      observed = await driver.getInfo(serverId);
    } catch (err) {
      if (err instanceof InstanceNotFound) observed = 'gone';
      else if (err instanceof HypervisorUnavailable) return false; // the stream's onError handles it
      else {
        this.log.error({ err, server_id: serverId }, 'could not read an instance after its event');
        return false;
      }
    }
    if (observed !== 'gone' && observed.powerState === PowerStates.RUNNING) this.instancesRunning?.(driver.host, [serverId]);
    return this.isolated(serverId, () => this.sync.syncPowerState(serverId, observed, observedAt, { host: driver.host }));
  }

  /** Counted here (settle) and by the compute services' runner (its idle() covers shutdown). */
  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.track(p.catch(() => undefined));
    return this.background.track(p);
  }
}
