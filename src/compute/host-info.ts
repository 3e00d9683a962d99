/**
 * What each compute host (a Docker engine) says about itself, cached for os-hypervisors and
 * os-availability-zone/detail. Read paths never call an engine: the cache is refreshed in the
 * background (every ~30 s, on an unref'd timer so it never keeps the process alive), the first
 * reader waits a bounded time for the first refresh, and later readers get the latest answer
 * even if it is stale. A host that fails to answer is shown "down" with its last known figures
 * (Nova shows a compute service it has not heard from as down the same way).
 */
import type { DriverRegistry } from '../virt/registry';
import type { ComputeDriver, HypervisorInfo } from '../virt/driver';
import { stableUuid } from './networks';

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
  /** Why the last refresh failed, for logs and the health check. */
  error?: string;
}

export interface HostInfoOptions {
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

/** The cache over one set of compute hosts. Use `hostInfoFor(drivers)` to share one per registry. */
export class HostInfoCache {
  private readonly states: Map<string, HostState>;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private first: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly firstWaitMs: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly drivers: DriverRegistry, opts: HostInfoOptions = {}) {
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
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.first,
      new Promise<void>((resolve) => { timer = setTimeout(resolve, this.firstWaitMs); timer.unref(); }),
    ]);
    clearTimeout(timer);
    return [...this.states.values()].map((s) => ({ ...s }));
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
      s.state = 'up';
      s.updatedAt = new Date().toISOString();
      s.error = undefined;
    } catch (e) {
      s.state = 'down';
      s.error = (e as Error).message;
    }
  }

  /** Stops the background refresh (tests, shutdown). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

const caches = new WeakMap<DriverRegistry, HostInfoCache>();

/** The one cache of a driver registry (so every router of an app shares the same refresh). */
export function hostInfoFor(drivers: DriverRegistry, opts?: HostInfoOptions): HostInfoCache {
  let c = caches.get(drivers);
  if (!c) {
    c = new HostInfoCache(drivers, opts);
    caches.set(drivers, c);
  }
  return c;
}
