/**
 * A real novadock for end-to-end tests and benchmarks: the BUILT server (`node dist/src/main.js`)
 * as a child process on 127.0.0.1, on a free port, with a fresh data directory, known passwords
 * and an optional seed file. The stock clients then talk to it exactly as a user's would.
 *
 * With NOVADOCK_TEST_CLUSTER=2 (or StartOptions.processes), several processes share the data
 * directory and database behind a round-robin balancer (cluster.ts), and `url` is the balancer's.
 *
 * The build is redone first when a source is newer than dist (several jest workers may ask at
 * once: a lock directory makes one of them build and the others wait).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { NODE_FLAGS } from '../../src/node-flags';
import { clusterSize, createTestDatabase, RoundRobinProxy, TestDatabase, testPgUrl } from './cluster';

const execFileP = promisify(execFile);

/** The repository root: the nearest folder up with package.json (this file also runs compiled, from dist/bench). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'src'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}
export const ROOT = findRoot(__dirname);

const randomTestRange = (): string => `10.${192 + crypto.randomInt(0, 32)}.${crypto.randomInt(0, 8) * 32}.0/19`;
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');
const BUILD_LOCK = path.join(ROOT, 'node_modules', '.cache', 'novadock-build.lock');

export type ClientEnv = Record<string, string>;

export interface StartOptions {
  /**
   * The NOVADOCK_CONFIG seed (projects, users, flavors, compute_hosts, quotas), written to a file.
   * Without compute_hosts the server gets one host named after its data dir (see below).
   */
  config?: Record<string, unknown>;
  /** Extra environment for the server (e.g. NOVADOCK_MAX_IMAGE_SIZE). */
  env?: Record<string, string>;
  /** Log level for the server's log file (default info). */
  logLevel?: string;
  /** Processes sharing the database, behind a balancer when more than one (default: NOVADOCK_TEST_CLUSTER, else 1). */
  processes?: number;
}

/** One novadock process of a started server (the only one, or one of a cluster). */
export interface NovadockProcess {
  /** http://127.0.0.1:<port> of this process itself (not the balancer). */
  readonly url: string;
  readonly port: number;
  /** Its stdout and stderr. */
  logFile: string;
  pid(): number;
  running(): boolean;
  /** Starts it (again, on the same port once it had one) and waits for /healthcheck. */
  start(): Promise<void>;
  /** SIGTERM, and wait for the exit (it drains in-flight requests). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would, and wait for the exit. */
  kill9(): Promise<void>;
  restart(): Promise<void>;
}

export interface Login {
  token: string;
  projectId: string;
  userId: string;
}

export interface StartedServer {
  /** http://127.0.0.1:<port> — also the public URL the catalog advertises (the balancer's in a cluster). */
  url: string;
  port: number;
  dataDir: string;
  /** The (first) server's stdout and stderr (its JSON log lines). */
  logFile: string;
  /** The compute host name this server's containers are labelled with. */
  hostName: string;
  /** Current child pid of the first process (changes on restart). */
  pid(): number;
  /** Every process: one, or those of the cluster in the order the balancer takes them. */
  processes: NovadockProcess[];
  passwords: { admin: string; demo: string };
  /** OS_* settings for the clients: admin in project admin, demo in project demo. */
  env: { admin: ClientEnv; demo: ClientEnv };
  /** A password-scoped token for admin or demo, straight from POST /identity/v3/auth/tokens. */
  login(user: 'admin' | 'demo'): Promise<Login>;
  /** Rows of a read-only query on this server's database, SQLite or PostgreSQL (`?` placeholders). */
  rows<T>(sql: string, ...params: unknown[]): T[];
  /** Ids of every project in this server's database (ours alone: the data dir is fresh). */
  projectIds(): string[];
  /** SIGTERM to every process, and wait for them to exit (they drain in-flight requests). */
  stop(): Promise<void>;
  /** SIGKILL to every process, as a crash would, and wait for the exits. */
  kill9(): Promise<void>;
  /** Start again on the same ports and data dir (stopping first if running). */
  restart(): Promise<void>;
  /**
   * Stop the server, remove the Docker containers, networks and images that belong to this
   * server's projects (label novadock.managed=true and a label value naming one of our project
   * ids: never anyone else's), and remove the data directory, the test database and the balancer.
   */
  cleanup(): Promise<void>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function buildIsStale(): boolean {
  if (!fs.existsSync(MAIN)) return true;
  const built = fs.statSync(MAIN).mtimeMs;
  return Math.max(newestMtime(path.join(ROOT, 'src')), newestMtime(path.join(ROOT, 'migrations'))) > built;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds dist when a source is newer than it; one builder at a time across jest workers. */
export async function ensureBuilt(): Promise<void> {
  if (!buildIsStale()) return;
  fs.mkdirSync(path.dirname(BUILD_LOCK), { recursive: true });
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(BUILD_LOCK);
      break;
    } catch {
      // A lock older than the longest build is left over from a killed run.
      try {
        if (Date.now() - fs.statSync(BUILD_LOCK).mtimeMs > 5 * 60_000) fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${BUILD_LOCK}`);
      await sleep(500);
    }
  }
  try {
    if (!buildIsStale()) return;
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await execFileP(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 5 * 60_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}${err.message}`);
    }
  } finally {
    fs.rmSync(BUILD_LOCK, { recursive: true, force: true });
  }
}

/** A port nothing listens on right now (the kernel's choice for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function clientEnv(url: string, user: string, password: string, project: string): ClientEnv {
  return {
    OS_AUTH_URL: `${url}/identity/v3`,
    OS_USERNAME: user,
    OS_PASSWORD: password,
    OS_PROJECT_NAME: project,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_IDENTITY_API_VERSION: '3',
    OS_REGION_NAME: 'RegionOne',
  };
}

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Labels of Docker objects (by kind) carrying novadock.managed=true. */
async function managed(kind: 'container' | 'network' | 'image'): Promise<{ id: string; labels: Record<string, string> }[]> {
  const list = kind === 'container' ? ['ps', '-aq'] : kind === 'network' ? ['network', 'ls', '-q'] : ['images', '-q'];
  // Snapshot images carry the key with an emptied value, so images match on the key alone.
  const filter = kind === 'image' ? 'label=novadock.managed' : 'label=novadock.managed=true';
  const ids = [...new Set((await docker([...list, '--filter', filter])).split('\n').filter(Boolean))];
  if (ids.length === 0) return [];
  const fmt = kind === 'container' || kind === 'image' ? '{{.Id}} {{json .Config.Labels}}' : '{{.Id}} {{json .Labels}}';
  // One of them may go between the list and the inspect (another test's cleanup, in parallel):
  // the engine then fails the whole call but still prints the others, which must not be dropped.
  const out = await docker([kind === 'container' ? 'container' : kind, 'inspect', '--format', fmt, ...ids]).catch((e: { stdout?: string }) => e.stdout ?? '');
  return out.split('\n').filter(Boolean).map((line) => {
    const at = line.indexOf(' ');
    return { id: line.slice(0, at), labels: (JSON.parse(line.slice(at + 1)) ?? {}) as Record<string, string> };
  });
}

/** Removes Docker objects labelled as novadock's whose labels name one of these ids (projects, servers, images). */
export async function removeDockerObjectsOf(projectIds: string[]): Promise<void> {
  if (projectIds.length === 0) return;
  const ours = (labels: Record<string, string>) => Object.values(labels).some((v) => projectIds.includes(v));
  const containers = (await managed('container')).filter((c) => ours(c.labels)).map((c) => c.id);
  if (containers.length) await docker(['rm', '-f', '-v', ...containers]).catch(() => undefined);
  for (const n of (await managed('network')).filter((x) => ours(x.labels))) await docker(['network', 'rm', n.id]).catch(() => undefined);
  for (const i of (await managed('image')).filter((x) => ours(x.labels))) await docker(['rmi', '-f', i.id]).catch(() => undefined);
}

/** What one novadock process needs to start (all processes of a cluster share all but the port and log). */
interface ProcessSpec {
  dataDir: string;
  logFile: string;
  env: Record<string, string>;
}

/**
 * Whether the process logged its 'novadock listening' line after `from` (a byte offset in its
 * log); always true when its log level hides info lines.
 */
function saysListening(spec: ProcessSpec, from: number): boolean {
  if (!['info', 'debug', 'trace'].includes(spec.env.NOVADOCK_LOG_LEVEL ?? 'info')) return true;
  const fd = fs.openSync(spec.logFile, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - from));
    fs.readSync(fd, buf, 0, buf.length, from);
    return buf.includes('"msg":"novadock listening"');
  } finally {
    fs.closeSync(fd);
  }
}

/** One novadock child process on its own port; see NovadockProcess. */
function novadockProcess(spec: ProcessSpec): NovadockProcess {
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let ready = false;
  const url = () => `http://127.0.0.1:${port}`;

  const launch = async (): Promise<void> => {
    // Where this start's lines begin in the (appended) log: its own 'novadock listening' is read there.
    const logFrom = fs.existsSync(spec.logFile) ? fs.statSync(spec.logFile).size : 0;
    const fd = fs.openSync(spec.logFile, 'a');
    const proc = spawn(process.execPath, [...NODE_FLAGS, MAIN], { cwd: ROOT, env: { ...spec.env, NOVADOCK_PORT: String(port) }, stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    child = proc;
    let done = false;
    exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
      done = true;
      // A server that dies under a test explains the failures that follow: say so, with its log.
      if (!stopping && ready) process.stderr.write(`\nnovadock ${url()} exited unexpectedly (code ${code}, signal ${signal}); log tail:\n${tail(spec.logFile)}\n`);
      resolve();
    }));
    stopping = false;
    ready = false;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (done) throw new Error(`novadock exited during start-up (code ${proc.exitCode}, signal ${proc.signalCode}):\n${tail(spec.logFile)}`);
      try {
        const res = await fetch(`${url()}/healthcheck`, { signal: AbortSignal.timeout(5_000) });
        // Another server (a test file beside this one) can take the port between the probe and
        // the listen: its healthcheck answers too, so this process must also say it listens.
        if (res.status === 200 && saysListening(spec, logFrom)) {
          ready = true;
          return;
        }
      } catch {
        /* not listening yet */
      }
      await sleep(150);
    }
    proc.kill('SIGKILL');
    throw new Error(`novadock did not pass /healthcheck within 60 s:\n${tail(spec.logFile)}`);
  };

  const stopWith = async (signal: NodeJS.Signals) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    stopping = true;
    child.kill(signal);
    const timer = setTimeout(() => child?.kill('SIGKILL'), 45_000);
    await exited;
    clearTimeout(timer);
  };

  return {
    get url() { return url(); },
    get port() { return port; },
    logFile: spec.logFile,
    pid: () => child?.pid ?? -1,
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    start: async () => {
      // The free port can be taken between the probe and the listen: try a few (first start only).
      for (let attempt = 1; ; attempt++) {
        port = port || await freePort();
        try {
          await launch();
          return;
        } catch (e) {
          if (attempt >= 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
          port = 0;
        }
      }
    },
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
    restart: async () => {
      await stopWith('SIGTERM');
      await launch();
    },
  };
}

/** Starts a fresh novadock (one process, or a cluster behind a balancer); see StartedServer. */
export async function startServer(opts: StartOptions = {}): Promise<StartedServer> {
  await ensureBuilt();
  const size = clusterSize(opts.processes);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-e2e-'));
  const logFile = path.join(dataDir, 'server.log');
  const passwords = { admin: `admin-${crypto.randomBytes(6).toString('hex')}`, demo: `demo-${crypto.randomBytes(6).toString('hex')}` };
  // A compute host name of its own: the reconciler removes containers labelled with its host but
  // unknown to its database, so servers started side by side (jest workers, the conformance run, a
  // developer's `npm run up`) must not share one, or each would reap the others' containers.
  const hostName = `test-${path.basename(dataDir).replace(/^novadock-e2e-/, '').toLowerCase()}`;
  const seed = { compute_hosts: [{ name: hostName }], ...(opts.config ?? {}) };
  const configFile = path.join(dataDir, 'seed.json');
  fs.writeFileSync(configFile, JSON.stringify(seed, null, 2));

  // Hermetic: nothing of the caller's NOVADOCK_* or OS_* leaks into the server.
  const baseEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NOVADOCK_') && !k.startsWith('OS_')) baseEnv[k] = v;

  let proxy: RoundRobinProxy | undefined;
  let database: TestDatabase | undefined;
  const processes: NovadockProcess[] = [];
  const teardown = async () => {
    await Promise.all(processes.map((p) => p.kill9()));
    await proxy?.close();
    await database?.drop().catch((e) => process.stderr.write(`could not drop test database ${database?.name}: ${(e as Error).message}\n`));
    if (!process.env.NOVADOCK_E2E_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const pgUrl = testPgUrl();
    if (pgUrl) database = await createTestDatabase(pgUrl);
    if (size > 1) {
      proxy = new RoundRobinProxy(() => processes.map((p) => p.port));
      await proxy.listen();
    }
    const env: Record<string, string> = {
      ...baseEnv,
      NOVADOCK_BIND: '127.0.0.1',
      NOVADOCK_DATA_DIR: dataDir,
      NOVADOCK_ADMIN_PASSWORD: passwords.admin,
      NOVADOCK_DEMO_PASSWORD: passwords.demo,
      NOVADOCK_LOG_LEVEL: opts.logLevel ?? 'info',
      NOVADOCK_CONFIG: configFile,
      // Project subnets from a /19 of the tests' own range (test/helpers/test-subnets.ts), chosen at
      // random: servers started side by side, and leftovers of a killed run, rarely share one (a
      // shared subnet costs a move on a bridge, and a swarm refuses overlapping overlays).
      NOVADOCK_PROJECT_NETWORK_RANGE: randomTestRange(),
      // Capacity is not what these servers are started for: with Nova's default ratios a 2-CPU
      // engine takes 8 one-vCPU servers, and the suites and benches boot up to 1,000. A test
      // about capacity sets its own (opts.env, or per host in opts.config's compute_hosts).
      NOVADOCK_CPU_ALLOCATION_RATIO: '512',
      NOVADOCK_RAM_ALLOCATION_RATIO: '64',
      // Behind the balancer, the catalog sends the clients to it, never to one process.
      ...(proxy ? { NOVADOCK_PUBLIC_URL: proxy.url } : {}),
      ...(database ? { NOVADOCK_DATABASE_URL: database.url } : {}),
      ...(opts.env ?? {}),
    };
    for (let i = 0; i < size; i++) processes.push(novadockProcess({ dataDir, env, logFile: i === 0 ? logFile : path.join(dataDir, `server-${i + 1}.log`) }));
    // All at once, as a deployment's replicas start: migrations and seeding take turns under the
    // start-up lock (src/db/knex.ts withStartupLock).
    await Promise.all(processes.map((p) => p.start()));
    // A novadock that ignores NOVADOCK_DATABASE_URL would pass every test on its SQLite file instead.
    if (database && database.rows('select table_name from information_schema.tables where table_name = ?', 'projects').length === 0) {
      throw new Error(`novadock did not use NOVADOCK_DATABASE_URL (${database.url}): no tables there`);
    }
  } catch (e) {
    await teardown();
    throw e;
  }

  const url = proxy?.url ?? processes[0].url;
  const login = async (user: 'admin' | 'demo'): Promise<Login> => {
    const res = await fetch(`${url}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: user, domain: { name: 'Default' }, password: passwords[user] } } },
          scope: { project: { name: user, domain: { name: 'Default' } } },
        },
      }),
    });
    if (res.status !== 201) throw new Error(`login ${user}: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { token: { project: { id: string }; user: { id: string } } };
    return { token: res.headers.get('x-subject-token') ?? '', projectId: body.token.project.id, userId: body.token.user.id };
  };

  const rows = <T>(sql: string, ...params: unknown[]): T[] => {
    if (database) return database.rows<T>(sql, ...params);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Database = require('better-sqlite3');
    const db = new Database(path.join(dataDir, 'novadock.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  };
  const projectIds = () => rows<{ id: string }>('select id from projects').map((r) => r.id);
  const each = (fn: (p: NovadockProcess) => Promise<void>) => Promise.all(processes.map(fn)).then(() => undefined);

  return {
    url,
    port: proxy?.port ?? processes[0].port,
    dataDir,
    logFile,
    hostName: (seed.compute_hosts as { name: string }[])[0]?.name ?? hostName,
    pid: () => processes[0].pid(),
    processes,
    passwords,
    env: { admin: clientEnv(url, 'admin', passwords.admin, 'admin'), demo: clientEnv(url, 'demo', passwords.demo, 'demo') },
    login,
    rows,
    projectIds,
    stop: () => each((p) => p.stop()),
    kill9: () => each((p) => p.kill9()),
    restart: async () => {
      await each((p) => p.stop());
      await each((p) => p.start());
    },
    cleanup: async () => {
      let ids: string[] = [];
      try {
        ids = projectIds();
      } catch {
        /* no database: nothing of ours can exist */
      }
      // Its servers' and images' ids too: a snapshot's engine image carries no project (its
      // novadock labels are emptied), only the ids of the server and image it was made for.
      try {
        ids = [...ids, ...rows<{ id: string }>('select id from servers union select id from images').map((r) => r.id)];
      } catch {
        /* no tables yet: no server or image of ours either */
      }
      await each((p) => p.stop());
      await removeDockerObjectsOf(ids);
      await teardown();
    },
  };
}
