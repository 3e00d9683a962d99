/**
 * The compute hosts (one Docker engine each), one view of each: whether it answers (from the
 * reconciler's event stream, the pings before writes and the periodic refresh), what its engine
 * last said about itself (for os-hypervisors, os-availability-zone/detail and the scheduler),
 * and which driver serves a server. Where a boot goes is placement's decision (../scheduler).
 *
 * Read paths never call an engine: the refresh runs in the background (every ~30 s, on an unref'd
 * timer, stopped by stop()), the first reader waits a bounded time for the first round, and later
 * readers get the latest answer even if stale. A host that fails to answer is shown down with its
 * last known figures, as Nova shows a compute service it has not heard from.
 */
import { waitAtMost } from '../../clock';
import { DomainError, unavailable } from '../../errors';
import type { DriverRegistry } from '../../virt/registry';
import { ComputeDriver, HypervisorInfo, HypervisorUnavailable } from '../../virt/driver';
import { stableUuid } from '../networks';
import type { ServerRecord } from '../server-record';

/** The one availability zone (Nova's default_availability_zone). */
export const AVAILABILITY_ZONE = 'nova';

export interface HostState {
  /** 1-based position in the configured hosts: Nova's integer hypervisor (and service) id below 2.53. */
  index: number;
  /** Compute host name (OS-EXT-SRV-ATTR:host, service host). */
  host: string;
  /** Stable UUID of the hypervisor (ids from 2.53). */
  uuid: string;
  /** Stable UUID of the host's nova-compute service (ids from 2.53). */
  serviceUuid: string;
  state: 'up' | 'down';
  /** The last answer of the engine; undefined when it never answered. */
  info?: HypervisorInfo;
  /** When the engine last answered (ISO), null when never. */
  updatedAt: string | null;
  /** Why the engine last failed to answer, for logs and the health check. */
  error?: string;
}

export interface HostServiceOptions {
  /** Background refresh period. */
  intervalMs?: number;
  /** How long the very first reader waits for the first refresh before being served what there is. */
  firstWaitMs?: number;
  /** How long one engine may take to answer before it counts as down for this round. */
  callTimeoutMs?: number;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

interface Host extends HostState {
  /** UP/DOWN as last heard by anyone (reconciler, ping, refresh); undefined until then. */
  heard?: 'UP' | 'DOWN';
}

export class HostService {
  private readonly states: Map<string, Host>;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private first: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly firstWaitMs: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly drivers: DriverRegistry, opts: HostServiceOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.firstWaitMs = opts.firstWaitMs ?? 3_000;
    this.callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    this.states = new Map(drivers.all().map((d, i) => [d.host, {
      index: i + 1,
      host: d.host,
      uuid: stableUuid('hypervisor', d.host),
      serviceUuid: stableUuid('service', d.host),
      state: 'down' as const,
      updatedAt: null,
    }]));
  }

  // ------------------------------------------------------------------ what is heard

  /** Records whether a host answers (the reconciler's event stream, a ping before a write). */
  setStatus(host: string, status: 'UP' | 'DOWN', error?: string): void {
    const s = this.states.get(host);
    if (!s) return;
    s.heard = status;
    s.state = status === 'UP' ? 'up' : 'down';
    if (status === 'DOWN' && error) s.error = error;
  }

  /** host_status (2.16): '' when unscheduled, UP/DOWN as last heard (UP until then), UNKNOWN for an unknown host. */
  hostStatusOf(host: string | null): string {
    if (!host) return '';
    const s = this.states.get(host);
    if (!s) return 'UNKNOWN';
    return s.heard ?? 'UP';
  }

  /**
   * Every configured host, in configuration order. Starts the background refresh on first use and
   * waits (at most firstWaitMs) for its first round; afterwards answers from memory at once.
   */
  async hosts(): Promise<HostState[]> {
    if (!this.first) {
      this.first = this.refresh();
      this.timer = setInterval(() => { void this.refresh(); }, this.intervalMs);
      this.timer.unref();
    }
    await waitAtMost(this.first, this.firstWaitMs);
    return [...this.states.values()].map(({ heard: _heard, ...s }) => ({ ...s }));
  }

  /** The host's address as its engine reported it (a migration's dest_host), if known. */
  async hostIp(host: string): Promise<string | null> {
    return (await this.hosts()).find((h) => h.host === host)?.info?.hostIp ?? null;
  }

  /** Asks every engine once (concurrently); one engine's failure does not touch the others. */
  refresh(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = Promise.all(this.drivers.all().map((d) => this.refreshOne(d)))
        .then(() => undefined)
        .finally(() => { this.inFlight = undefined; });
    }
    return this.inFlight;
  }

  private async refreshOne(d: ComputeDriver): Promise<void> {
    const s = this.states.get(d.host);
    if (!s) return;
    try {
      s.info = await withTimeout(d.hypervisorInfo(), this.callTimeoutMs, `compute host ${d.host}`);
      s.updatedAt = new Date().toISOString();
      s.error = undefined;
      this.setStatus(d.host, 'UP');
    } catch (e) {
      this.setStatus(d.host, 'DOWN', (e as Error).message);
    }
  }

  /** Stops the background refresh (shutdown, tests). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // ------------------------------------------------------------------ reaching

  /** The driver of a server's host; 503 when the host is not configured. */
  driverOf(server: Pick<ServerRecord, 'id' | 'host'>): ComputeDriver {
    const d = this.driverAt(server.host);
    if (!d) throw unavailable(`Compute host ${server.host ?? '(none)'} of server ${server.id} is not configured.`);
    return d;
  }

  /** Every configured host name, in configuration order. */
  names(): string[] {
    return this.drivers.all().map((d) => d.host);
  }

  /** True when the host is configured and its engine answers now (recorded as heard). */
  async answers(host: string): Promise<boolean> {
    const driver = this.drivers.get(host);
    if (!driver) return false;
    try {
      await this.reachable(driver);
      return true;
    } catch {
      return false;
    }
  }

  /** The driver of a host name, if configured. */
  driverAt(host: string | null): ComputeDriver | undefined {
    return host ? this.drivers.get(host) : undefined;
  }

  /** Writes need the engine: 503 (and nothing changed) when it does not answer. */
  async reachable(driver: ComputeDriver): Promise<void> {
    try {
      await driver.ping();
      this.setStatus(driver.host, 'UP');
    } catch (e) {
      this.setStatus(driver.host, 'DOWN', (e as Error).message);
      if (e instanceof DomainError) throw e;
      throw unavailable(e instanceof HypervisorUnavailable ? e.message : `Compute host ${driver.host} is unavailable: ${(e as Error).message ?? String(e)}`);
    }
  }
}
