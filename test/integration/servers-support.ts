/**
 * Helpers for the /servers integration tests: requests as a seeded account at a microversion,
 * docker-format images uploaded through the Image API (archives built in memory, loaded by the
 * fake driver), booting and waiting for background work, and tempest's strict response schemas
 * (dumped unchanged from the installed tempest 33.0.0 into servers-tempest-schemas.json).
 */
import net from 'node:net';
import request from 'supertest';
import Ajv, { ValidateFunction } from 'ajv';
import { makeTestApp, Account, TestApp } from '../helpers/app';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import schemas from './servers-tempest-schemas.json';

export interface Call {
  as?: Account;
  /** Compute microversion; none = no header (plain 2.1, as tempest and OSC send). */
  mv?: string;
  body?: unknown;
  query?: Record<string, string | string[]>;
}

/** One request to the app as a seeded account. */
export async function call(t: TestApp, method: 'get' | 'post' | 'put' | 'delete' | 'patch', path: string, c: Call = {}): Promise<request.Response> {
  let r = request(t.app)[method](path).set('X-Auth-Token', await t.token(c.as ?? 'demo'));
  if (c.mv) r = r.set('OpenStack-API-Version', `compute ${c.mv}`);
  if (c.query) r = r.query(c.query);
  if (c.body !== undefined) r = r.set('Content-Type', 'application/json').send(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
  return r;
}

let salt = 0;

/** Uploads an active docker-format image through the Image API; returns its id. */
export async function uploadImage(t: TestApp, opts: {
  as?: Account;
  name?: string;
  cmd?: string[];
  files?: Record<string, string>;
  /** Extra create keys (custom properties, min_ram, visibility…). */
  extra?: Record<string, unknown>;
  containerFormat?: string;
} = {}): Promise<string> {
  const token = await t.token(opts.as ?? 'demo');
  const create = await request(t.app).post('/image/v2/images').set('X-Auth-Token', token).set('Content-Type', 'application/json')
    .send({ name: opts.name ?? 'busybox', container_format: opts.containerFormat ?? 'docker', disk_format: 'raw', ...opts.extra });
  if (create.status !== 201) throw new Error(`image create: ${create.status} ${JSON.stringify(create.body)}`);
  const id = create.body.id as string;
  const archive = await buildFakeArchive({ files: { '/etc/hostname': 'x', ...opts.files }, cmd: opts.cmd, salt: `servers-test-${++salt}-${Date.now()}` });
  const put = await request(t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', token)
    .set('Content-Type', 'application/octet-stream').send(opts.containerFormat && opts.containerFormat !== 'docker' ? Buffer.from('opaque bytes') : archive.bytes);
  if (put.status !== 204) throw new Error(`image upload: ${put.status} ${JSON.stringify(put.body)}`);
  await t.services.images.idle();
  return id;
}

/** POST /servers; returns the response (202 expected by callers that check). */
export async function boot(t: TestApp, imageRef: string, server: Record<string, unknown> = {}, c: Call = {}): Promise<request.Response> {
  return call(t, 'post', '/compute/v2.1/servers', { ...c, body: { server: { name: 'vm1', imageRef, flavorRef: '1', ...server } } });
}

/** Boots one server and waits until its build is over; returns its id. */
export async function bootActive(t: TestApp, imageRef: string, server: Record<string, unknown> = {}, c: Call = {}): Promise<string> {
  const res = await boot(t, imageRef, server, c);
  if (res.status !== 202) throw new Error(`boot: ${res.status} ${JSON.stringify(res.body)}`);
  await t.services.compute.tasks.idle();
  return res.body.server.id as string;
}

/** GET /servers/{id} body.server (as admin unless said otherwise, so every field shows). */
export async function show(t: TestApp, id: string, c: Call = {}): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await call(t, 'get', `/compute/v2.1/servers/${id}`, { as: 'admin', ...c });
  if (res.status !== 200) throw new Error(`show ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.server;
}

/** POST /servers/{id}/action. */
export async function act(t: TestApp, id: string, body: unknown, c: Call = {}): Promise<request.Response> {
  return call(t, 'post', `/compute/v2.1/servers/${id}/action`, { ...c, body });
}

// ------------------------------------------------------------------ tempest schemas

/** Tempest's FormatChecker: draft-4 formats plus iso8601-date-time. */
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
ajv.addFormat('uri', (s: string) => {
  try {
    return Boolean(new URL(s).protocol);
  } catch {
    return false;
  }
});
ajv.addFormat('ipv4', (s: string) => net.isIPv4(s));
ajv.addFormat('ipv6', (s: string) => net.isIPv6(s));
ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i);
ajv.addFormat('iso8601-date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/);

const compiled = new Map<string, ValidateFunction>();
type SchemaEntry = { status_code: number[]; response_body: object | null };

/**
 * Checks a response against tempest's schema `name` ("v2_1/servers.get_server"): status code and
 * body. Returns the list of violations ([] when valid) so a test can show them.
 */
export function tempestViolations(name: string, res: { status: number; body: unknown }): string[] {
  const entry = (schemas as unknown as Record<string, SchemaEntry>)[name];
  if (!entry) throw new Error(`no tempest schema ${name}`);
  const out: string[] = [];
  if (!entry.status_code.includes(res.status)) out.push(`status ${res.status} not in ${entry.status_code.join(',')}`);
  if (entry.response_body) {
    let v = compiled.get(name);
    if (!v) {
      v = ajv.compile(entry.response_body);
      compiled.set(name, v);
    }
    if (!v(res.body)) out.push(...(v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`));
  }
  return out;
}

/**
 * An app whose fake engine can hold one kind of call in flight (deterministically, no timers):
 * hold('powerOff') makes the next powerOff calls wait until release().
 */
export interface GatedApp {
  t: TestApp;
  driver: FakeDriver;
  hold(op: FakeOp): void;
  release(): void;
}

export async function gatedApp(): Promise<GatedApp> {
  let held: FakeOp | undefined;
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  const driver = new FakeDriver({ host: 'fake-host', beforeCall: (op) => (op === held ? gate : undefined) });
  const t = await makeTestApp({ driver });
  return {
    t,
    driver,
    hold(op) {
      held = op;
      gate = new Promise<void>((r) => { open = r; });
    },
    release() {
      held = undefined;
      open();
    },
  };
}
