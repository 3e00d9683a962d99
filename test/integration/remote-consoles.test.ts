/**
 * Serial consoles through HTTP (issue 15): POST /servers/{id}/remote-consoles (2.6+) and the
 * older console actions answer as Nova does, and the URL they give opens a shell over a real
 * websocket (the `ws` client against the app listening on a loopback port, the fake driver's
 * shell behind it) exactly once, before its expiry, for a server that still exists and runs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import type { TestApp } from '../helpers/app';
import { makeTestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { SerialConsoleProxy } from '../../src/console/serial-proxy';
import { act, bootActive, call, uploadImage } from './servers-support';
import { eventually } from '../contract/driver-contract';

let t: TestApp;
let driver: FakeDriver;
let image: string;
let server: http.Server;
let proxy: SerialConsoleProxy;
let port: number;
/** The clock console tokens expire by: the real one plus what a test adds. */
let skewMs = 0;

beforeAll(async () => {
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestApp({ driver, consoleClock: () => Date.now() + skewMs });
  Object.assign(t.services.config.seed.quotas, { instances: 100, cores: 100, ram: 100 * 2048 });
  image = await uploadImage(t);
  server = http.createServer(t.app);
  proxy = new SerialConsoleProxy(t.services.compute.consoles, pino({ level: 'silent' }));
  proxy.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await proxy.close();
  await new Promise<void>((r) => server.close(() => r()));
  await t.close();
});
afterEach(() => {
  skewMs = 0;
});

const URL_FORM = /^ws:\/\/127\.0\.0\.1:8080\/serial\/\?token=[A-Za-z0-9_-]{43}$/;

/** POST remote-consoles at 2.6 (serial unless said). */
const remoteConsole = (id: string, rc: Record<string, unknown> = { protocol: 'serial', type: 'serial' }, c: { as?: 'demo' | 'alt' | 'admin' | 'viewer'; mv?: string } = {}) =>
  call(t, 'post', `/compute/v2.1/servers/${id}/remote-consoles`, { mv: '2.6', ...c, body: { remote_console: rc } });

/** A fresh console URL of a server, pointed at the listening test server. */
async function consoleUrl(id: string): Promise<string> {
  const res = await remoteConsole(id);
  expect(res.status).toBe(200);
  return (res.body.remote_console.url as string).replace('127.0.0.1:8080', `127.0.0.1:${port}`);
}

interface Opened { ws: WebSocket; screen: () => string; until(text: string): Promise<void>; closed: Promise<number> }

/** Opens a websocket; rejects with the HTTP status when the upgrade is refused. */
function connect(url: string, protocols: string[] = ['binary'], headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    let text = '';
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (d: Buffer) => { text += d.toString('utf8'); });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c; });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body: body ? JSON.parse(body) : undefined })));
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({
      ws,
      screen: () => text,
      until: (needle) => eventually(() => { if (!text.includes(needle)) throw new Error(`not yet: ${needle} in ${JSON.stringify(text)}`); }),
      closed,
    }));
  });
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; body: unknown }> {
  try {
    await p;
  } catch (e) {
    const { status, body } = e as { status: number; body: unknown };
    return { status, body };
  }
  throw new Error('expected the websocket to be refused');
}

describe('POST /servers/{id}/remote-consoles', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'console' });
  });

  test('a serial console at 2.6: 200 with a ws:// URL on this host carrying a one-time token; each call a new token', async () => {
    const a = await remoteConsole(id);
    expect(a.status).toBe(200);
    expect(a.body).toEqual({ remote_console: { protocol: 'serial', type: 'serial', url: expect.stringMatching(URL_FORM) } });
    const b = await remoteConsole(id);
    expect(b.body.remote_console.url).not.toBe(a.body.remote_console.url);
  });

  test('the token is kept only as its hash, with the server, the project and an expiry of token_ttl (600 s)', async () => {
    const before = Date.now();
    const url = (await remoteConsole(id)).body.remote_console.url as string;
    const token = new URL(url).searchParams.get('token')!;
    const rows = await t.db('console_auth_tokens').where({ instance_uuid: id });
    expect(JSON.stringify(rows)).not.toContain(token);
    const row = rows.find((r) => r.token_hash === require('node:crypto').createHash('sha256').update(token).digest('hex'));
    expect(row).toMatchObject({ console_type: 'serial', project_id: await t.projectId('demo') });
    expect(Number(row.expires_ms) - before).toBeGreaterThanOrEqual(600_000);
    expect(Number(row.expires_ms) - Date.now()).toBeLessThanOrEqual(600_000);
  });

  test('below 2.6 the resource does not exist (404), as in Nova', async () => {
    const res = await remoteConsole(id, undefined, { mv: '2.5' });
    expect(res.status).toBe(404);
  });

  test.each([
    [{ protocol: 'vnc', type: 'novnc' }, 'Unavailable console type novnc.'],
    [{ protocol: 'spice', type: 'spice-html5' }, 'Unavailable console type spice-html5.'],
    [{ protocol: 'rdp', type: 'rdp-html5' }, 'Unavailable console type rdp.'],
    [{ protocol: 'serial', type: 'novnc' }, 'Invalid console type novnc'],
  ])('%j: 400 %s', async (rc, message) => {
    const res = await remoteConsole(id, rc);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ badRequest: { code: 400, message } });
  });

  test('mks is known from 2.8 (and unavailable here); before it the schema refuses it', async () => {
    expect((await remoteConsole(id, { protocol: 'mks', type: 'webmks' })).status).toBe(400);
    const at28 = await remoteConsole(id, { protocol: 'mks', type: 'webmks' }, { mv: '2.8' });
    expect(at28.body).toEqual({ badRequest: { code: 400, message: 'Unavailable console type webmks.' } });
  });

  test.each([
    [{ protocol: 'serial' }],
    [{ protocol: 'telnet', type: 'serial' }],
    [{ protocol: 'serial', type: 'serial', port: 1 }],
  ])('a body the schema refuses (%j) is a 400', async (rc) => {
    const res = await remoteConsole(id, rc);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toMatch(/Invalid input/);
  });

  test("another project's server is a 404, as if it did not exist; an admin gets its console", async () => {
    const res = await remoteConsole(id, undefined, { as: 'alt' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${id} could not be found.` } });
    expect((await remoteConsole(id, undefined, { as: 'admin' })).status).toBe(200);
  });

  test('a reader may not open a console (403); an unknown server is a 404', async () => {
    expect((await remoteConsole(id, undefined, { as: 'viewer' })).status).toBe(403);
    expect((await remoteConsole('4a4e5a3c-6f4e-4d5a-9a55-2e0b5f5c0000')).status).toBe(404);
  });

  test("a server that is not running: Nova's 409 'is not ready'", async () => {
    const stopped = await bootActive(t, image, { name: 'console-stopped' });
    expect((await act(t, stopped, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const res = await remoteConsole(stopped);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ conflictingRequest: { code: 409, message: `Instance ${stopped} is not ready` } });
  });
});

describe('the console actions (2.1–2.5)', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'console-actions' });
  });

  test('os-getSerialConsole: 200 {"console": {"type": "serial", "url"}}', async () => {
    const res = await act(t, id, { 'os-getSerialConsole': { type: 'serial' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ console: { type: 'serial', url: expect.stringMatching(URL_FORM) } });
  });

  test('os-getSerialConsole without a type, or another type, is a 400; from 2.6 it is gone (404)', async () => {
    expect((await act(t, id, { 'os-getSerialConsole': {} })).status).toBe(400);
    expect((await act(t, id, { 'os-getSerialConsole': { type: 'novnc' } })).status).toBe(400);
    expect((await act(t, id, { 'os-getSerialConsole': { type: 'serial' } }, { mv: '2.6' })).status).toBe(404);
  });

  test('os-getVNCConsole and os-getSPICEConsole: 400 unavailable; os-getRDPConsole: 400 (removed)', async () => {
    expect((await act(t, id, { 'os-getVNCConsole': { type: 'novnc' } })).body).toEqual({ badRequest: { code: 400, message: 'Unavailable console type novnc.' } });
    expect((await act(t, id, { 'os-getSPICEConsole': { type: 'spice-html5' } })).body).toEqual({ badRequest: { code: 400, message: 'Unavailable console type spice-html5.' } });
    expect((await act(t, id, { 'os-getRDPConsole': { type: 'rdp-html5' } })).status).toBe(400);
  });
});

describe('the websocket', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'console-ws' });
  });
  afterEach(async () => {
    // Every test's websockets are closed by its end: their shells must be gone (then or soon).
    try {
      await eventually(() => expect(driver.consoles.live(id)).toHaveLength(0), 5000);
    } finally {
      for (const s of driver.consoles.live(id)) await s.close();
    }
  });

  test("speaks 'binary': keystrokes in binary frames run in the server's shell, its output comes back", async () => {
    const c = await connect(await consoleUrl(id));
    expect(c.ws.protocol).toBe('binary');
    c.ws.send(Buffer.from('echo hello-$((6*7))\n'));
    await c.until('hello-42');
    expect(driver.consoles.live(id)).toHaveLength(1);
    c.ws.close();
    expect(await c.closed).toBe(1005);
  });

  test('a client that offers no subprotocol is served too; text frames are typed', async () => {
    const c = await connect(await consoleUrl(id), []);
    expect(c.ws.protocol).toBe('');
    c.ws.send('echo text-$((2+3))\n');
    await c.until('text-5');
    c.ws.close();
  });

  test('a JSON text frame {"resize": {"cols", "rows"}} resizes the terminal', async () => {
    const c = await connect(await consoleUrl(id));
    c.ws.send(JSON.stringify({ resize: { cols: 132, rows: 43 } }));
    c.ws.send(Buffer.from('stty size\n'));
    await c.until('43 132');
    c.ws.close();
  });

  test('closing the websocket ends the shell', async () => {
    const c = await connect(await consoleUrl(id));
    await c.until('#');
    const [shell] = driver.consoles.live(id);
    c.ws.close();
    await shell.ended;
    expect(driver.consoles.live(id)).toHaveLength(0);
  });

  test('the shell exiting closes the websocket normally (1000)', async () => {
    const c = await connect(await consoleUrl(id));
    c.ws.send(Buffer.from('exit\n'));
    expect(await c.closed).toBe(1000);
  });

  test('a used token is refused (401) and attaches nothing', async () => {
    const url = await consoleUrl(id);
    const first = await connect(url);
    const again = await refusal(connect(url));
    expect(again).toEqual({ status: 401, body: { unauthorized: { code: 401, message: "The token '***' is invalid or has expired" } } });
    expect(driver.consoles.live(id)).toHaveLength(1);
    first.ws.close();
  });

  test('two clients racing with one token: one shell, one 401', async () => {
    const url = await consoleUrl(id);
    const results = await Promise.allSettled([connect(url), connect(url), connect(url)]);
    const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Opened>[];
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.status)).toEqual([401, 401]);
    expect(driver.consoles.live(id)).toHaveLength(1);
    won[0].value.ws.close();
  });

  test('an unknown token, or none, is a 401', async () => {
    expect((await refusal(connect(`ws://127.0.0.1:${port}/serial/?token=nosuchtoken`))).status).toBe(401);
    expect((await refusal(connect(`ws://127.0.0.1:${port}/serial/`))).status).toBe(401);
  });

  test('a token expires after token_ttl: usable just before, refused after', async () => {
    const early = await consoleUrl(id);
    const late = await consoleUrl(id);
    skewMs = 599_000;
    const c = await connect(early);
    c.ws.close();
    skewMs = 600_001;
    expect((await refusal(connect(late))).status).toBe(401);
  });

  test('a server deleted after its URL was given: 404, nothing attached', async () => {
    const doomed = await bootActive(t, image, { name: 'console-doomed' });
    const url = await consoleUrl(doomed);
    expect((await call(t, 'delete', `/compute/v2.1/servers/${doomed}`)).status).toBe(204);
    await t.services.compute.tasks.idle();
    const r = await refusal(connect(url));
    expect(r).toEqual({ status: 404, body: { itemNotFound: { code: 404, message: `Instance ${doomed} could not be found.` } } });
  });

  test('a server stopped after its URL was given: 409, nothing attached', async () => {
    const stopped = await bootActive(t, image, { name: 'console-stop-later' });
    const url = await consoleUrl(stopped);
    expect((await act(t, stopped, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await refusal(connect(url))).status).toBe(409);
    expect(driver.consoles.live(stopped)).toHaveLength(0);
  });

  test('stopping the server ends its open console and closes the websocket', async () => {
    const srv = await bootActive(t, image, { name: 'console-stop-open' });
    const c = await connect(await consoleUrl(srv));
    await c.until('#');
    expect((await act(t, srv, { 'os-stop': null })).status).toBe(202);
    expect(await c.closed).toBe(1000);
  });

  test('a handshake refused before the token is looked at keeps the token: wrong subprotocol 400, foreign Origin 403', async () => {
    const url = await consoleUrl(id);
    expect((await refusal(connect(url, ['base64']))).status).toBe(400);
    expect((await refusal(connect(url, ['binary'], { Origin: 'http://evil.example' }))).status).toBe(403);
    const c = await connect(url, ['binary'], { Origin: `http://127.0.0.1:${port}` });
    c.ws.close();
  });

  test("Tempest's and noVNC's form: /websockify with the token in a cookie", async () => {
    const token = new URL(await consoleUrl(id)).searchParams.get('token')!;
    const c = await connect(`ws://127.0.0.1:${port}/websockify`, ['binary'], { Cookie: `token=${token}` });
    c.ws.send(Buffer.from('echo cookie-$((5*5))\n'));
    await c.until('cookie-25');
    c.ws.close();
  });

  test('other paths are not upgraded (404)', async () => {
    expect((await refusal(connect(`ws://127.0.0.1:${port}/compute/v2.1/servers`))).status).toBe(404);
  });
});
