/**
 * The serial console end to end (issue 15), as a user reaches it: `openstack console url show
 * --serial` (the stock OSC, through openstacksdk) prints a ws:// URL; a websocket client (the `ws`
 * library, offering the `binary` subprotocol as noVNC-style clients do) connected to it gets a
 * shell inside the server's container on the real engine — a command runs, a resize shows in
 * `stty size` — and closing it leaves no shell behind (`docker top`). The URL works once.
 * With NOVADOCK_TEST_CLUSTER=2 the URL is given by one process and may be opened on the other.
 */
import WebSocket from 'ws';
import { startServer, StartedServer } from '../helpers/server';
import { docker, openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { containerOf, json, ok, poll, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
let serverId: string;

const os = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => {
  image = await testImage('e2e-console', false);
  srv = await startServer();
  ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'cvm']));
  serverId = ok(await os(['server', 'show', 'cvm', '-f', 'value', '-c', 'id'])).stdout.trim();
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

/** Console shells in the server's container (command line exactly /bin/sh; the instance's own is `/bin/sh -c …`). */
async function shells(): Promise<number> {
  const ctr = await containerOf(serverId);
  const top = ok(await docker(['top', ctr!.Id, '-eo', 'pid,args']));
  return top.stdout.split('\n').slice(1).filter((l) => l.trim().replace(/^\d+\s+/, '') === '/bin/sh').length;
}

interface Terminal { ws: WebSocket; screen(): string; until(needle: string | RegExp): Promise<void>; closed: Promise<number> }

function open(url: string): Promise<Terminal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
    let text = '';
    ws.on('message', (d: Buffer) => { text += d.toString('utf8'); });
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
    ws.once('open', () => resolve({
      ws,
      screen: () => text,
      until: async (needle) => {
        const seen = () => (typeof needle === 'string' ? text.includes(needle) : needle.test(text));
        await poll(async () => seen(), (v) => v, 30_000, 50);
        if (!seen()) throw new Error(`${needle} never appeared; the screen: ${JSON.stringify(text)}`);
      },
      closed,
    }));
  });
}

it('console url show --serial prints a ws:// URL with a token, and the type serial', async () => {
  const shown = json<{ type: string; url: string }>(await os(['console', 'url', 'show', '--serial', 'cvm', '-f', 'json']));
  expect(shown.type).toBe('serial');
  expect(shown.url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${srv.port}/serial/\\?token=[A-Za-z0-9_-]{43}$`));
});

it("the URL opens a shell in the server's container: a command runs, a resize shows, closing leaves no shell; the URL works once", async () => {
  const url = ok(await os(['console', 'url', 'show', '--serial', 'cvm', '-f', 'value', '-c', 'url'])).stdout.trim();
  const t = await open(url);
  expect(t.ws.protocol).toBe('binary');
  t.ws.send(Buffer.from('echo hello-$((6*7))\n'));
  await t.until('hello-42');
  t.ws.send(JSON.stringify({ resize: { cols: 101, rows: 37 } }));
  t.ws.send(Buffer.from('busybox stty size; hostname\n'));
  await t.until(/37 101\r\ncvm/);
  expect(await shells()).toBe(1);

  t.ws.close();
  await t.closed;
  expect(t.screen()).not.toContain('novadock-console');
  const left = await poll(shells, (n) => n === 0, 30_000, 200);
  expect(left).toBe(0);
  // The server itself runs on.
  expect((await containerOf(serverId))?.State.Running).toBe(true);

  const again = await open(url).then(() => 'opened', (e: { status?: number }) => e.status);
  expect(again).toBe(401);
});

it('a URL given by one process opens on the last one (the other, in a cluster), and then on none', async () => {
  const { token } = await srv.login('demo');
  const first = srv.processes[0];
  const last = srv.processes[srv.processes.length - 1];
  const res = await fetch(`${first.url}/compute/v2.1/servers/${serverId}/remote-consoles`, {
    method: 'POST',
    headers: { 'X-Auth-Token': token, 'Content-Type': 'application/json', 'OpenStack-API-Version': 'compute 2.6' },
    body: JSON.stringify({ remote_console: { protocol: 'serial', type: 'serial' } }),
  });
  expect(res.status).toBe(200);
  const { search } = new URL(((await res.json()) as { remote_console: { url: string } }).remote_console.url);
  const t = await open(`ws://127.0.0.1:${last.port}/serial/${search}`);
  t.ws.send(Buffer.from('echo cluster-$((7*6))\n'));
  await t.until('cluster-42');
  const again = await open(`ws://127.0.0.1:${first.port}/serial/${search}`).then(() => 'opened', (e: { status?: number }) => e.status);
  expect(again).toBe(401);
  t.ws.close();
  expect(await poll(shells, (n) => n === 0, 30_000, 200)).toBe(0);
});

it('exit in the shell closes the websocket normally', async () => {
  const url = ok(await os(['console', 'url', 'show', '--serial', 'cvm', '-f', 'value', '-c', 'url'])).stdout.trim();
  const t = await open(url);
  t.ws.send(Buffer.from('exit\n'));
  expect(await t.closed).toBe(1000);
  expect(await poll(shells, (n) => n === 0, 30_000, 200)).toBe(0);
});

it('a stopped server has no console: the CLI prints Nova\'s 409', async () => {
  ok(await os(['server', 'stop', 'cvm']));
  await poll(() => os(['server', 'show', 'cvm', '-f', 'value', '-c', 'status']), (r) => r.stdout.trim() === 'SHUTOFF');
  const r = await os(['console', 'url', 'show', '--serial', 'cvm']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain(`Instance ${serverId} is not ready`);
});
