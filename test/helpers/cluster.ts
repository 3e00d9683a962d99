/**
 * Several novadock processes as one cloud, for the e2e and cluster suites (issue 16): what
 * startServer (server.ts) adds when it starts more than one process.
 *
 *  - How many: `NOVADOCK_TEST_CLUSTER=2` in the environment (the e2e suite in cluster mode), or
 *    StartOptions.processes (the cluster suite, always two).
 *  - The balancer: a round-robin TCP proxy in the test process. Each accepted connection goes to
 *    the next process in turn, for its whole life (keep-alive requests follow their connection,
 *    as behind nginx's `upstream` with round-robin); a process that refuses the connection (dead,
 *    restarting) is skipped, as nginx's `proxy_next_upstream error` does.
 *  - The database: one fresh PostgreSQL database per started cluster when NOVADOCK_TEST_PG_URL
 *    names a server (an admin URL), dropped at clean-up; otherwise the processes share the SQLite
 *    file of their shared data directory. Created and dropped through the `pg` driver; read
 *    through `psql` (Debian's client), so that reads stay synchronous for the helpers that need
 *    them (projectIds, rows).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { Client } from 'pg';

/** Processes per started server: StartOptions.processes, else NOVADOCK_TEST_CLUSTER, else 1. */
export function clusterSize(requested?: number): number {
  const raw = requested ?? (process.env.NOVADOCK_TEST_CLUSTER ? Number(process.env.NOVADOCK_TEST_CLUSTER) : 1);
  if (!Number.isInteger(raw) || raw < 1) throw new Error(`NOVADOCK_TEST_CLUSTER must be a positive integer, got '${process.env.NOVADOCK_TEST_CLUSTER}'`);
  return raw;
}

/** The balancer in front of the processes: see the top of this file. */
export class RoundRobinProxy {
  private server?: net.Server;
  private next = 0;
  private readonly sockets = new Set<net.Socket>();
  /** Connections accepted, per upstream port (tests check that both processes were used). */
  readonly accepted = new Map<number, number>();
  port = 0;

  /** `upstreams()` is read at each connection: ports may change when a process restarts. */
  constructor(private readonly upstreams: () => number[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(): Promise<void> {
    const server = net.createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(client: net.Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    const ports = this.upstreams();
    const first = this.next++ % ports.length;
    // Data the client sends meanwhile waits in its socket: nothing reads it until the pipe.
    const attempt = (tried: number) => {
      if (client.destroyed) return;
      if (tried === ports.length) {
        client.destroy();
        return;
      }
      const port = ports[(first + tried) % ports.length];
      const up = net.connect({ host: '127.0.0.1', port });
      this.track(up);
      let connected = false;
      up.once('connect', () => {
        connected = true;
        this.accepted.set(port, (this.accepted.get(port) ?? 0) + 1);
        client.pipe(up);
        up.pipe(client);
        client.once('close', () => up.destroy());
        up.once('close', () => client.destroy());
      });
      up.on('error', () => {
        if (connected) client.destroy();
        else attempt(tried + 1);
      });
    };
    attempt(0);
  }

  /** Stops accepting and cuts every connection in flight. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A database of its own on the test PostgreSQL server. */
export interface TestDatabase {
  /** NOVADOCK_DATABASE_URL for the processes. */
  url: string;
  name: string;
  /** Rows of a query, as JSON values (synchronous: `?` placeholders take `params` as literals). */
  rows<T>(sql: string, ...params: unknown[]): T[];
  /** Drops it, cutting off any connection a killed process's server side still holds. */
  drop(): Promise<void>;
}

/** The admin URL of the test PostgreSQL server, or undefined: the processes then share SQLite. */
export function testPgUrl(): string | undefined {
  return process.env.NOVADOCK_TEST_PG_URL || undefined;
}

const PSQL = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1'];

/** A SQL literal for psql (values are ours: ids, names; still quoted properly). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return `'${String(v).replace(/'/g, "''")}'`;
}

async function admin(adminUrl: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Creates `nd_<random>` on the server of `adminUrl`. */
export async function createTestDatabase(adminUrl: string): Promise<TestDatabase> {
  const name = `nd_${crypto.randomBytes(8).toString('hex')}`;
  await admin(adminUrl, `create database ${name}`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    url,
    name,
    rows<T>(sql: string, ...params: unknown[]): T[] {
      let i = 0;
      const bound = sql.replace(/\?/g, () => literal(params[i++]));
      const out = execFileSync('psql', [...PSQL, url, '-c', `select coalesce(json_agg(t), '[]'::json) from (${bound}) t`], { encoding: 'utf8', timeout: 60_000 });
      return JSON.parse(out.trim()) as T[];
    },
    async drop() {
      await admin(adminUrl, `drop database if exists ${name} with (force)`);
    },
  };
}
