/**
 * Bounded fuzzing of the serial console's websocket handshake (issue 15): generated upgrade
 * requests (paths, tokens in the query and in cookies, subprotocols, Origins, keys, versions,
 * methods) sent raw to the app's port with the proxy attached. Whatever comes in: no 5xx, no
 * crash, a refusal is JSON in the compute API's shape, and no shell stays attached once the
 * socket is gone. Real tokens of a running server are in the mix, so some upgrades succeed.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { SerialConsoleProxy } from '../../src/console/serial-proxy';
import { bootActive, call, uploadImage } from './servers-support';
import { eventually } from '../contract/driver-contract';

const RUNS = Math.max(100, Math.floor(Number(process.env.FUZZ_RUNS ?? 10_000) / 10));

let t: TestApp;
let driver: FakeDriver;
let server: http.Server;
let proxy: SerialConsoleProxy;
let port: number;
let serverId: string;

beforeAll(async () => {
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestApp({ driver });
  serverId = await bootActive(t, await uploadImage(t), { name: 'fuzz-console' });
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

async function realToken(): Promise<string> {
  const res = await call(t, 'post', `/compute/v2.1/servers/${serverId}/remote-consoles`, { mv: '2.6', body: { remote_console: { protocol: 'serial', type: 'serial' } } });
  return new URL(res.body.remote_console.url).searchParams.get('token')!;
}

/** Sends raw request bytes; resolves to the status line's code and the body once the server answers. */
function raw(request: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status === 101) s.destroy(); // upgraded: drop it (the shell must go with it)
      resolve({ status, head, body: rest.join('\r\n\r\n') });
    };
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`no answer to ${JSON.stringify(request.slice(0, 200))}`)); });
    s.on('data', (c) => {
      data += c.toString('latin1');
      if (/^HTTP\/1\.1 101/.test(data) && data.includes('\r\n\r\n')) done();
    });
    s.on('end', done);
    s.on('error', () => done());
    s.write(request);
  });
}

const nasty = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', '%', '%00', '..', '\u00e9', 'a'.repeat(3000), 'token', '=', ';'));
const clean = (s: string) => s.replace(/[\r\n\x00-\x1f\x7f-\uffff]/g, '');

test('every upgrade request gets an answer that is not a 5xx; refusals are compute-shaped JSON; no shell is left attached', async () => {
  const tokens = await Promise.all(Array.from({ length: 20 }, () => realToken()));
  let used = 0;
  await fc.assert(fc.asyncProperty(
    fc.record({
      method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'PUT'),
      path: fc.constantFrom('/serial/', '/serial', '/websockify', '/serial/x', '/', '/compute/v2.1/servers'),
      token: fc.oneof(fc.constant('REAL'), fc.constant('REAL'), nasty),
      inCookie: fc.boolean(),
      protocol: fc.option(fc.constantFrom('binary', 'base64', 'binary, base64', 'chat', '', ',,'), { nil: undefined }),
      origin: fc.option(fc.constantFrom('http://127.0.0.1', 'http://evil.example', 'null', 'file://', 'ws://127.0.0.1:1', '::'), { nil: undefined }),
      key: fc.constantFrom('dGhlIHNhbXBsZSBub25jZQ==', 'dGhlIHNhbXBsZSBub25jZQ==', 'short', ''),
      version: fc.constantFrom('13', '13', '8', '12', ''),
      upgrade: fc.constantFrom('websocket', 'websocket', 'WebSocket', 'h2c'),
    }),
    async (r) => {
      const token = r.token === 'REAL' ? (tokens[used++ % tokens.length]) : clean(r.token);
      const query = r.inCookie ? '' : `?token=${encodeURIComponent(token)}`;
      const headers = [
        `${r.method} ${r.path}${query} HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Upgrade: ${r.upgrade}`, 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${r.key}`, `Sec-WebSocket-Version: ${r.version}`,
      ];
      if (r.inCookie) headers.push(`Cookie: token=${token}`);
      if (r.protocol !== undefined) headers.push(`Sec-WebSocket-Protocol: ${r.protocol}`);
      if (r.origin !== undefined) headers.push(`Origin: ${r.origin}`);
      const res = await raw(`${headers.join('\r\n')}\r\n\r\n`);
      expect(res.status).toBeGreaterThanOrEqual(100);
      expect(res.status).toBeLessThan(500);
      if (res.status !== 101) {
        const body = JSON.parse(res.body) as Record<string, { code: number; message: string }>;
        const [fault] = Object.values(body);
        expect(fault.code).toBe(res.status);
        expect(typeof fault.message).toBe('string');
      }
    },
  ), { numRuns: RUNS });
  await eventually(() => expect(driver.consoles.live(serverId)).toHaveLength(0));
});
