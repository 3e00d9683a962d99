/**
 * What the resilience suites share: a real novadock (the built server, a child process) with a
 * compute host name of its own, a small HTTP client for its APIs, and eyes on the engine
 * (`docker ps` / `docker inspect` filtered by that host's label) and on the data directory.
 *
 * Every wait here is bounded; a bound is a give-up, never a pass/fail threshold. Clean-up only
 * ever touches Docker objects labelled with one of this server's project ids or its host name.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { startServer, StartedServer, StartOptions, removeDockerObjectsOf } from '../helpers/server';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Re-runs `probe` until `done` holds or `timeoutMs` passes; says which, and how long it took. */
export async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 200): Promise<{ value: T; ok: boolean; ms: number }> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let value = await probe();
  while (!done(value) && Date.now() < deadline) {
    await sleep(everyMs);
    value = await probe();
  }
  return { value, ok: done(value), ms: Date.now() - start };
}

// ---------------------------------------------------------------------------------- HTTP

export interface Reply<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  body: T;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  headers?: Record<string, string>;
  /** A JSON value, or raw bytes (sent as application/octet-stream unless headers say otherwise). */
  body?: unknown;
  timeoutMs?: number;
}

/** One user's token against one novadock: compute (/compute/v2.1) and image (/image/v2) calls. */
export class Api {
  constructor(readonly url: string, readonly token: string, readonly projectId: string) {}

  async call(method: string, urlPath: string, opts: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { 'X-Auth-Token': this.token, Accept: 'application/json', ...(opts.headers ?? {}) };
    let body: RequestInit['body'];
    if (Buffer.isBuffer(opts.body)) {
      body = opts.body;
      headers['Content-Type'] ??= 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${this.url}${urlPath}`, { method, headers, body, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  }

  compute(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
    return this.call(method, `/compute/v2.1${p}`, { body, headers });
  }

  image(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Reply> {
    return this.call(method, `/image/v2${p}`, { body, headers });
  }

  /** POST /servers/{id}/action with one action. */
  action(serverId: string, action: Record<string, unknown>, headers?: Record<string, string>): Promise<Reply> {
    return this.compute('POST', `/servers/${serverId}/action`, action, headers);
  }

  /** Every server the token may list (admins: every project). */
  async servers(): Promise<ServerView[]> {
    const r = await this.compute('GET', '/servers/detail?all_tenants=1');
    if (r.status !== 200) throw new Error(`GET /servers/detail: HTTP ${r.status} ${r.text}`);
    return (r.body as { servers: ServerView[] }).servers;
  }

  async server(id: string): Promise<ServerView> {
    const r = await this.compute('GET', `/servers/${id}`);
    if (r.status !== 200) throw new Error(`GET /servers/${id}: HTTP ${r.status} ${r.text}`);
    return (r.body as { server: ServerView }).server;
  }
}

/** The fields of a server's detail view these suites read. */
export interface ServerView {
  id: string;
  name: string;
  status: string;
  metadata: Record<string, string>;
  'OS-EXT-STS:task_state': string | null;
  'OS-EXT-STS:vm_state': string;
  'OS-EXT-STS:power_state': number;
  fault?: { code: number; message: string };
}

/** The message of an error body, in Nova's ({"<fault>": {message}}) or Glance's ({message}) shape. */
export function errorMessage(body: unknown): string {
  if (!body || typeof body !== 'object') return '';
  const b = body as Record<string, unknown>;
  if (typeof b.message === 'string') return b.message;
  for (const v of Object.values(b)) {
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') return (v as { message: string }).message;
  }
  return '';
}

export const md5 = (b: Buffer) => crypto.createHash('md5').update(b).digest('hex');

// ---------------------------------------------------------------------------------- a server of our own

export interface Harness {
  srv: StartedServer;
  /** The compute host name this server labels its containers with (unique to this run). */
  host: string;
  admin: Api;
  demo: Api;
  /** Engine image ids to remove at clean-up (only ones this suite brought in). */
  engineImages: Set<string>;
  cleanup(): Promise<void>;
}

/**
 * Starts the built novadock with a compute host name `resil-<label>-<random>`, so no sibling
 * novadock on this engine ever takes our containers for orphans (or we theirs).
 */
export async function resilServer(label: string, opts: Omit<StartOptions, 'config'> & { config?: Record<string, unknown> } = {}): Promise<Harness> {
  const host = `resil-${label}-${crypto.randomBytes(4).toString('hex')}`;
  const srv = await startServer({ ...opts, config: { ...(opts.config ?? {}), compute_hosts: [{ name: host }] } });
  if (srv.hostName !== host) throw new Error(`the server took host ${srv.hostName}, not ${host}`);
  const [a, d] = await Promise.all([srv.login('admin'), srv.login('demo')]);
  const engineImages = new Set<string>();
  return {
    srv,
    host,
    admin: new Api(srv.url, a.token, a.projectId),
    demo: new Api(srv.url, d.token, d.projectId),
    engineImages,
    cleanup: async () => {
      let projects: string[] = [];
      try {
        projects = srv.projectIds();
      } catch {
        /* no database */
      }
      // Snapshot images are ours too: the database names their engine ids, and a snapshot a crash
      // cut short is still labelled with its server.
      for (const row of dbRows<{ engine_image_id: string | null }>(srv.dataDir, 'select engine_image_id from images')) {
        if (row.engine_image_id) engineImages.add(row.engine_image_id);
      }
      const serverIds = new Set(dbRows<{ id: string }>(srv.dataDir, 'select id from servers').map((r) => r.id));
      const labelled = (await docker(['images', '-aq', '--no-trunc', '--filter', 'label=org.openstack.server.id'])).stdout.split('\n').filter(Boolean);
      for (const id of new Set(labelled)) {
        const server = (await docker(['image', 'inspect', '--format', '{{index .Config.Labels "org.openstack.server.id"}}', id])).stdout.trim();
        if (serverIds.has(server)) engineImages.add(id);
      }
      await srv.cleanup();
      await removeDockerObjectsOf(projects);
      const leftovers = (await docker(['ps', '-aq', '--filter', `label=novadock.host=${host}`])).stdout.split('\n').filter(Boolean);
      if (leftovers.length) await docker(['rm', '-f', '-v', ...leftovers]);
      // A snapshot is a child of the image it was taken from: children go first, so a few passes.
      let left = [...engineImages];
      for (let pass = 0; pass < 3 && left.length; pass++) {
        const failed: string[] = [];
        for (const id of left.reverse()) {
          if ((await docker(['rmi', '-f', id])).code !== 0 && (await engineHasImage(id))) failed.push(id);
        }
        left = failed;
      }
    },
  };
}

/** Creates a docker/raw image record and uploads `bytes` into it; returns its id (fails unless 204). */
export async function uploadImage(api: Api, bytes: Buffer, props: Record<string, unknown> = {}): Promise<string> {
  const created = await api.image('POST', '/images', { name: 'resil', container_format: 'docker', disk_format: 'raw', ...props });
  if (created.status !== 201) throw new Error(`POST /images: HTTP ${created.status} ${created.text}`);
  const id = (created.body as { id: string }).id;
  const put = await api.call('PUT', `/image/v2/images/${id}/file`, { body: bytes, timeoutMs: 120_000 });
  if (put.status !== 204) throw new Error(`PUT /images/${id}/file: HTTP ${put.status} ${put.text}`);
  return id;
}

/** Boots one server; returns its id (fails unless 202). */
export async function boot(api: Api, server: Record<string, unknown>): Promise<string> {
  const r = await api.compute('POST', '/servers', { server });
  if (r.status !== 202) throw new Error(`POST /servers: HTTP ${r.status} ${r.text}`);
  return (r.body as { server: { id: string } }).server.id;
}

/** Polls a server until its status is one of `statuses` with no task (bounded); returns the last view. */
export async function settles(api: Api, id: string, statuses: string[], timeoutMs = 90_000): Promise<ServerView> {
  const r = await waitFor(() => api.server(id), (s) => statuses.includes(s.status) && s['OS-EXT-STS:task_state'] === null, timeoutMs, 200);
  return r.value;
}

// ---------------------------------------------------------------------------------- the engine

export interface Run { code: number; stdout: string; stderr: string }

/** The docker CLI; never rejects (look at code). */
export function docker(args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** What `docker inspect` says of a container, the parts these suites read. */
export interface ContainerInfo {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Paused: boolean; OOMKilled: boolean; ExitCode: number };
  Config: { Labels: Record<string, string>; Env: string[] | null; Cmd: string[] | null; Hostname: string; User: string };
  HostConfig: {
    Privileged: boolean;
    Binds: string[] | null;
    Mounts?: unknown[] | null;
    NetworkMode: string;
    PidMode: string;
    IpcMode: string;
    UTSMode: string;
    UsernsMode: string;
    CapAdd: string[] | null;
    Devices: unknown[] | null;
    Memory: number;
    MemorySwap: number;
    SecurityOpt: string[] | null;
    VolumesFrom: string[] | null;
  };
  Mounts: unknown[];
}

/** Every container labelled as novadock's for `host` (one inspect per call). */
export async function ourContainers(host: string): Promise<ContainerInfo[]> {
  const ps = await docker(['ps', '-aq', '--no-trunc', '--filter', 'label=novadock.managed=true', '--filter', `label=novadock.host=${host}`]);
  if (ps.code !== 0) throw new Error(`docker ps: ${ps.stderr}`);
  const ids = ps.stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const r = await docker(['inspect', ...ids]);
  // A container removed between ps and inspect: inspect the survivors one by one.
  if (r.code !== 0) {
    const out: ContainerInfo[] = [];
    for (const id of ids) {
      const one = await docker(['inspect', id]);
      if (one.code === 0) out.push(...(JSON.parse(one.stdout) as ContainerInfo[]));
    }
    return out;
  }
  return JSON.parse(r.stdout) as ContainerInfo[];
}

/** The container of one server (by its server label), or undefined. */
export async function containerOf(host: string, serverId: string): Promise<ContainerInfo | undefined> {
  return (await ourContainers(host)).find((c) => c.Config.Labels['novadock.server_id'] === serverId);
}

export async function engineHasImage(id: string): Promise<boolean> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', id])).code === 0;
}

/**
 * The Nova statuses a settled server may show for its container's engine state: running → ACTIVE,
 * frozen → PAUSED or SUSPENDED (suspend is the freezer too), stopped → SHUTOFF; none without one.
 */
export function statusesFor(c: ContainerInfo | undefined): string[] {
  if (!c) return [];
  if (c.State.Paused || c.State.Status === 'paused') return ['PAUSED', 'SUSPENDED'];
  if (c.State.Running) return ['ACTIVE'];
  return ['SHUTOFF'];
}

// ---------------------------------------------------------------------------------- the data directory

/** Rows from the server's SQLite file, read-only (the server may be running or dead). */
export function dbRows<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const file = path.join(dataDir, 'novadock.sqlite');
  if (!fs.existsSync(file)) return [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Database = require('better-sqlite3');
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Every path under `dir` (relative), files and folders, bounded in count. */
export function listTree(dir: string, limit = 20_000): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (out.length >= limit) return;
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The image store's folder listing (files and .partial leftovers). */
export function storeFiles(dataDir: string): string[] {
  try {
    return fs.readdirSync(path.join(dataDir, 'images')).sort();
  } catch {
    return [];
  }
}

/** The server's log, for failure messages. */
export function logTail(h: Harness, lines = 30): string {
  try {
    return fs.readFileSync(h.srv.logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
