/**
 * os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py): what each project's
 * servers used during a window, from the servers' own records, deleted ones included (their rows
 * stay, with terminated_at). A server counts the hours it ran inside the window — from
 * launched_at (or the window's start) to terminated_at (or the window's end) — times its
 * flavor's vCPUs, memory and disk. No engine is asked: it is a read of the database.
 */
import { badRequest } from '../../errors';
import type { ServerRecord } from '../server-record';

/** One server's usage in the window (Nova's server_usages item). */
export interface ServerUsage {
  instance_id: string;
  name: string;
  tenant_id: string;
  flavor: string;
  hours: number;
  memory_mb: number;
  local_gb: number;
  vcpus: number;
  /** ISO timestamps, as stored. */
  started_at: string;
  ended_at: string | null;
  /** 'terminated' once ended, else the server's vm_state. */
  state: string;
  /** Seconds from launch to its end, or to now. */
  uptime: number;
}

/** One project's totals in the window (server_usages when detailed). */
export interface TenantUsage {
  tenant_id: string;
  total_hours: number;
  total_vcpus_usage: number;
  total_memory_mb_usage: number;
  total_local_gb_usage: number;
  start: string;
  stop: string;
  server_usages?: ServerUsage[];
}

export interface UsageWindow {
  start: Date;
  stop: Date;
}

export interface TenantUsagePort {
  /** Servers that ran during the window, a page by project then id; undefined when `marker` is unknown. */
  activeInWindow(begin: string, end: string, page: { projectId?: string; limit: number; marker?: string }): Promise<ServerRecord[] | undefined>;
}

/** Nova's accepted spellings (naive = UTC): %Y-%m-%dT%H:%M:%S[.%f] and %Y-%m-%d %H:%M:%S.%f. */
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?| (\d{2}):(\d{2}):(\d{2})\.(\d{1,6}))$/;

/** A query's start or end: now when absent or empty, a 400 in Nova's words when unreadable. */
export function parseUsageTime(raw: string | undefined, now: Date): Date {
  if (!raw) return now;
  const m = DATETIME.exec(raw);
  const invalid = () => badRequest('Invalid datetime string: Datetime is in invalid format');
  if (!m) throw invalid();
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [h, mi, s, frac] = m[4] !== undefined ? [m[4], m[5], m[6], m[7]] : [m[8], m[9], m[10], m[11]];
  const ms = Math.floor(Number((frac ?? '0').padEnd(6, '0')) / 1000);
  const t = new Date(Date.UTC(y, mo - 1, d, Number(h), Number(mi), Number(s), ms));
  // Date.UTC rolls 31 February over into March: strptime refuses it.
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || t.getUTCHours() !== Number(h) || t.getUTCMinutes() !== Number(mi) || t.getUTCSeconds() !== Number(s)) throw invalid();
  return t;
}

/**
 * The window of a query: start before end (400 otherwise), an end in the future cut to now.
 * NOTE(openstack): Nova reads "now" once for each bound absent, microseconds apart: with neither
 * given the window is the empty one at now, not a 400.
 */
export function usageWindow(startRaw: string | undefined, endRaw: string | undefined, now = new Date()): UsageWindow {
  const start = parseUsageTime(startRaw, now);
  let stop = parseUsageTime(endRaw, now);
  const bothNow = !startRaw && !endRaw;
  if (!(start < stop) && !bothNow) throw badRequest('Invalid start time. The start time cannot occur after the end time.');
  if (stop > now) stop = now;
  return { start, stop };
}

/** Hours of `s` inside the window (Nova's _hours_for). */
function hoursFor(s: ServerRecord, w: UsageWindow): number {
  if (!s.launched_at) return 0;
  const launched = new Date(s.launched_at);
  const terminated = s.terminated_at ? new Date(s.terminated_at) : undefined;
  if (terminated && terminated < w.start) return 0;
  if (launched > w.stop) return 0;
  const from = launched > w.start ? launched : w.start;
  const to = terminated && terminated < w.stop ? terminated : w.stop;
  return (to.getTime() - from.getTime()) / 3_600_000;
}

export class TenantUsageService {
  constructor(private readonly servers: TenantUsagePort, private readonly clock: () => Date = () => new Date()) {}

  /**
   * Usage per project during the window (every project's, or `projectId`'s), with each server's
   * when `detailed`; also every server's usage of the page (for the next-page link).
   */
  async usage(w: UsageWindow, opts: { projectId?: string; detailed: boolean; limit: number; marker?: string }): Promise<{ tenants: TenantUsage[]; servers: ServerUsage[] }> {
    const rows = await this.servers.activeInWindow(w.start.toISOString(), w.stop.toISOString(), { projectId: opts.projectId, limit: opts.limit, marker: opts.marker });
    if (rows === undefined) throw badRequest(`Marker ${opts.marker} could not be found.`);
    const now = this.clock();
    const tenants = new Map<string, TenantUsage>();
    const servers: ServerUsage[] = [];
    for (const s of rows) {
      const hours = hoursFor(s, w);
      const ended = s.terminated_at;
      const u: ServerUsage = {
        instance_id: s.id, name: s.name, tenant_id: s.project_id, flavor: s.flavor.name ?? '', hours,
        memory_mb: s.flavor.ram, local_gb: s.flavor.disk + (s.flavor.ephemeral ?? 0), vcpus: s.flavor.vcpus,
        started_at: s.launched_at!, ended_at: ended, state: ended ? 'terminated' : s.vm_state,
        uptime: Math.floor(((ended ? new Date(ended) : now).getTime() - new Date(s.launched_at!).getTime()) / 1000),
      };
      let t = tenants.get(s.project_id);
      if (!t) {
        t = { tenant_id: s.project_id, total_local_gb_usage: 0, total_vcpus_usage: 0, total_memory_mb_usage: 0, total_hours: 0, start: w.start.toISOString(), stop: w.stop.toISOString() };
        if (opts.detailed) t.server_usages = [];
        tenants.set(s.project_id, t);
      }
      t.total_local_gb_usage += u.local_gb * hours;
      t.total_vcpus_usage += u.vcpus * hours;
      t.total_memory_mb_usage += u.memory_mb * hours;
      t.total_hours += hours;
      t.server_usages?.push(u);
      servers.push(u);
    }
    return { tenants: [...tenants.values()], servers };
  }
}
