/**
 * What the benchmarks share: a started novadock (test/helpers/server.ts) and a client for its API,
 * the Docker engine through its API (dockerode: what `docker run -d` and `docker load` call, without
 * the CLI's own process start-up), percentiles, memory sampling, and the report.
 *
 * Every figure is measured against raw Docker in the same run, on the same image, so the ratios
 * hold on any machine. Benchmarks talk to 127.0.0.1 and the local engine only, are bounded in
 * count, and remove what they made (containers and networks carry the label novadock.bench=1 or
 * belong to the benchmark server's own projects).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { freePort, ROOT, StartedServer, startServer, StartOptions } from '../test/helpers/server';

export { freePort, ROOT, startServer };
export type { StartedServer };

export const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });

/** `--name value` / `--name=value` from argv, as a number. */
export function numArg(name: string, dflt: number): number {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}` && argv[i + 1] !== undefined) return Number(argv[i + 1]);
    if (argv[i].startsWith(`--${name}=`)) return Number(argv[i].slice(name.length + 3));
  }
  return dflt;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export const median = (v: number[]) => percentile(v, 50);
export const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
export const now = () => process.hrtime.bigint();

/**
 * A busybox docker-save archive built by scripts/build-test-image.sh (the tests' builder), kept in
 * bench/out; `cmd` is its default command.
 */
export function benchImage(variant: string, cmd: string[]): { path: string; imageId: string } {
  const dir = path.join(ROOT, 'bench', 'out');
  fs.mkdirSync(dir, { recursive: true });
  const archive = path.join(dir, `busybox-${variant}.tar`);
  const idFile = `${archive}.id`;
  if (fs.existsSync(archive) && fs.existsSync(idFile)) return { path: archive, imageId: fs.readFileSync(idFile, 'utf8').trim() };
  const out = execFileSync('bash', [path.join(ROOT, 'scripts', 'build-test-image.sh'), archive, variant, JSON.stringify(cmd)], { encoding: 'utf8' });
  const imageId = out.trim().split('\n').pop() as string;
  fs.writeFileSync(idFile, `${imageId}\n`);
  return { path: archive, imageId };
}

/** Debian's static busybox, as the image builder finds it. */
export function busyboxBinary(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (fs.existsSync(p)) return p;
  throw new Error('busybox not found: apt-get install busybox-static');
}

/** A token-bearing client for one server's APIs. */
export interface Api {
  srv: StartedServer;
  token: string;
  projectId: string;
  req<T = unknown>(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
}

export async function api(srv: StartedServer): Promise<Api> {
  const { token, projectId } = await srv.login('admin');
  return {
    srv,
    token,
    projectId,
    async req(method, p, body, headers = {}) {
      const res = await fetch(`${srv.url}${p}`, {
        method,
        headers: { 'X-Auth-Token': token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed as never, headers: res.headers };
    },
  };
}

/** A server with bench-sized quotas (the defaults allow 10 instances). */
export function startBenchServer(opts: StartOptions = {}): Promise<StartedServer> {
  return startServer({
    logLevel: 'warn',
    ...opts,
    config: { quotas: { instances: 5000, cores: 10000, ram: 10_000_000 }, ...(opts.config ?? {}) },
  });
}

/** Uploads a docker-save archive as a docker-format image; resolves to its Glance id. */
export async function uploadImage(a: Api, name: string, archive: string): Promise<string> {
  const created = await a.req<{ id: string }>('POST', '/image/v2/images', { name, container_format: 'docker', disk_format: 'raw' });
  if (created.status !== 201) throw new Error(`image create: ${created.status} ${JSON.stringify(created.body)}`);
  const res = await fetch(`${a.srv.url}/image/v2/images/${created.body.id}/file`, {
    method: 'PUT',
    headers: { 'X-Auth-Token': a.token, 'Content-Type': 'application/octet-stream' },
    body: fs.readFileSync(archive),
  });
  if (res.status !== 204) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return created.body.id;
}

interface ServerView { id: string; status: string; 'OS-EXT-STS:task_state': string | null; fault?: { message: string } }

/** Polls GET /servers/{id} until the status is `status` (ERROR fails); resolves to ms from `since`. */
export async function waitStatus(a: Api, id: string, status: string, since: bigint, everyMs = 10, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await a.req<{ server: ServerView }>('GET', `/compute/v2.1/servers/${id}`);
    if (r.status === 200 && r.body.server.status === status && r.body.server['OS-EXT-STS:task_state'] === null) return ms(since);
    if (r.status === 200 && r.body.server.status === 'ERROR' && status !== 'ERROR') throw new Error(`server ${id} went to ERROR: ${r.body.server.fault?.message}`);
    if (Date.now() > deadline) throw new Error(`server ${id} not ${status} after ${timeoutMs} ms (last: ${r.status} ${JSON.stringify(r.body)})`);
    await sleep(everyMs);
  }
}

export async function boot(a: Api, name: string, imageRef: string, networks: 'auto' | 'none' = 'auto'): Promise<string> {
  const r = await a.req<{ server: { id: string } }>('POST', '/compute/v2.1/servers', { server: { name, imageRef, flavorRef: '1', networks } }, { 'X-OpenStack-Nova-API-Version': '2.37' });
  if (r.status !== 202) throw new Error(`boot ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.server.id;
}

/**
 * Boots `wanted` real servers (8 at a time, `networks: none`: a Linux bridge takes at most 1,024
 * ports) from `imageRef` and waits for each to be ACTIVE, pushing their ids into `ids` as they
 * are created (so a cleanup deletes them even after a failure). Stops early below 4 GiB of
 * available memory (a container costs the engine ~13 MiB); resolves to why it stopped, or ''.
 */
export async function bootMany(a: Api, imageRef: string, wanted: number, ids: string[]): Promise<string> {
  let stoppedEarly = '';
  let active = 0;
  const t = now();
  await pool(Array.from({ length: wanted }, (_, i) => i), 8, async (i) => {
    if (stoppedEarly) return;
    if (memAvailableMiB() < 4096) {
      stoppedEarly = `stopped booting at ${ids.length} servers: less than 4 GiB of memory available`;
      return;
    }
    const id = await boot(a, `list-${String(i).padStart(4, '0')}`, imageRef, 'none');
    ids.push(id);
    await waitStatus(a, id, 'ACTIVE', now(), 50, 300_000);
    if (++active % 100 === 0) process.stderr.write(`${active} servers ACTIVE (${(ms(t) / 1000).toFixed(0)} s)\n`);
  });
  process.stderr.write(`${active} servers ACTIVE after ${(ms(t) / 1000).toFixed(0)} s${stoppedEarly ? ` (${stoppedEarly})` : ''}\n`);
  return stoppedEarly;
}

/**
 * A started novadock (`opts`: e.g. several processes) with `wanted` real servers of a `sleep`
 * image booted through it (bootMany); the cleanups delete them and stop it.
 */
export async function sleepersCloud(cleanups: (() => Promise<void>)[], wanted: number, opts: StartOptions = {}) {
  const image = benchImage('bench-sleep', ['/bin/sleep', '1000000']);
  // Last of all (cleanups run in reverse): the upload loaded the image into the engine.
  cleanups.push(() => docker.getImage(image.imageId).remove({ force: true }).then(() => undefined, () => undefined));
  const srv = await startBenchServer(opts);
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-sleep', image.path);
  const ids: string[] = [];
  cleanups.push(() => deleteServers(a, ids, 8));
  const stoppedEarly = await bootMany(a, imageRef, wanted, ids);
  return { srv, a, ids, stoppedEarly };
}

/** DELETE each server and wait until GET answers 404. */
export async function deleteServers(a: Api, ids: string[], concurrency = 8): Promise<void> {
  await pool(ids, concurrency, async (id) => {
    await a.req('DELETE', `/compute/v2.1/servers/${id}`);
    const deadline = Date.now() + 120_000;
    while ((await a.req('GET', `/compute/v2.1/servers/${id}`)).status !== 404) {
      if (Date.now() > deadline) throw new Error(`server ${id} still there 120 s after DELETE`);
      await sleep(50);
    }
  });
}

/** Runs `fn` over items with at most `n` in flight. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

/** What `docker run -d --memory 512m --memory-swap 512m --cpus 1 --pids-limit …` calls: create + start. */
export async function dockerRun(image: string, opts: { network?: string; name?: string } = {}): Promise<Docker.Container> {
  const c = await docker.createContainer({
    Image: image,
    name: opts.name,
    Labels: { 'novadock.bench': '1' },
    HostConfig: { Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024, NanoCpus: 1e9, PidsLimit: 1024, NetworkMode: opts.network ?? 'none' },
  });
  await c.start();
  return c;
}

/** Removes the benchmark's own raw-Docker containers and networks (label novadock.bench=1). */
export async function removeBenchContainers(): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: ['novadock.bench=1'] } });
  await pool(list, 8, (c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined));
  const nets = await docker.listNetworks({ filters: { label: ['novadock.bench=1'] } });
  for (const n of nets) await docker.getNetwork(n.Id).remove().catch(() => undefined);
}

/** VmRSS and VmHWM of a process, in KiB, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** Samples a process' VmRSS every `everyMs` until stopped; resolves to the peak seen. */
export function sampleRss(pid: number, everyMs = 20): { stop(): number } {
  let peak = memoryOf(pid).rssKiB;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, memoryOf(pid).rssKiB);
    } catch {
      /* process gone */
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

let clockTicks: number | undefined;
/** USER_HZ: the unit of /proc's CPU times. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/**
 * CPU seconds a process has used so far: all its threads, exited ones included (user + system,
 * /proc/<pid>/stat), and with `children` the children it has waited for (an engine's re-executed
 * helpers that unpack layers).
 */
export function cpuSecondsOf(pid: number, children = false): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  const ticks = f[11] + f[12] + (children ? f[13] + f[14] : 0);
  return ticks / ticksPerSecond();
}

/** The machine's CPU time so far, in seconds summed over its CPUs: busy and in all (/proc/stat). */
export function machineCpu(): { busy: number; total: number } {
  const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / ticksPerSecond(), total: (busy + idle + iowait) / ticksPerSecond() };
}

/** MemAvailable of the machine, in MiB. */
export function memAvailableMiB(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : Infinity;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** e.g. '<= 1.15' */
  target?: string;
  met?: boolean;
}

/** Prints the figures as a table and keeps them as JSON in bench/out/<bench>.json. */
export function report(bench: string, figures: Figure[], notes: string[] = []): void {
  const rows = figures.map((f) => [f.name, `${Number.isInteger(f.value) ? f.value : f.value.toFixed(3)} ${f.unit}`, f.target ?? '', f.met === undefined ? '' : f.met ? 'met' : 'NOT met']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length), ['figure', 'value', 'target', ''][i].length));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
  process.stdout.write(`\n${bench}\n${line(['figure', 'value', 'target', ''])}\n${rows.map(line).join('\n')}\n`);
  for (const n of notes) process.stdout.write(`  ${n}\n`);
  const dir = path.join(ROOT, 'bench', 'out');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${bench}.json`), JSON.stringify({ bench, at: new Date().toISOString(), figures, notes }, null, 2));
}

/** Runs a benchmark's main with cleanup on failure and on Ctrl-C. */
export function main(fn: (cleanups: (() => Promise<void>)[]) => Promise<void>): void {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => process.stderr.write(`cleanup: ${e}\n`));
    await removeBenchContainers().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    process.stderr.write('interrupted: cleaning up\n');
    cleanup().finally(() => process.exit(130));
  });
  fn(cleanups).then(cleanup, async (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    await cleanup();
    process.exit(1);
  });
}
