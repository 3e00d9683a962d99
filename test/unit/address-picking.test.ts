/**
 * Address picking on a project network (Docker driver, no engine needed): the engine is asked
 * only when its answer could change the pick, and what it reported held is never handed out.
 */
import crypto from 'node:crypto';
import { AddressRange, pickAddress, preferredAddress } from '../../src/virt/docker/addresses';

let net: AddressRange;
/** Addresses the "engine" reports held, and how often it was asked. */
let engine: Set<string>;
let asked: number;
const inUse = async () => {
  asked++;
  return new Set(engine);
};
/** Picks, then behaves like a spawn whose container now exists with that address. */
const place = async (serverId: string, exclude?: Set<string>) => {
  const p = await pickAddress(net, serverId, inUse, exclude, (exclude?.size ?? 0) > 0);
  engine.add(p.ip);
  p.release();
  return p.ip;
};

beforeEach(() => {
  net = { id: crypto.randomUUID(), subnet: '10.9.0.0/16', gateway: '10.9.0.1', firstHost: 2 };
  engine = new Set();
  asked = 0;
});

test('the first pick asks the engine; later picks whose preferred address is free do not', async () => {
  const a = await place('server-a');
  const b = await place('server-b');
  const c = await place('server-c');
  expect(asked).toBe(1);
  expect(new Set([a, b, c]).size).toBe(3);
  expect([a, b, c]).not.toContain(net.gateway);
});

test('an address the engine reports held (a stopped server) is never handed out', async () => {
  const wanted = preferredAddress(net.subnet, 'server-x', new Set([net.gateway!]));
  engine.add(wanted);
  const got = await place('server-x');
  expect(got).not.toBe(wanted);
});

test('a rebuild gets its own address back: a preferred address that looks taken makes it ask again', async () => {
  const a = await place('server-a');
  await place('server-b');
  engine.delete(a); // the old container is destroyed
  expect(await place('server-a')).toBe(a);
  expect(asked).toBe(2);
});

test('after a start failed on an address, the engine is asked again and that address skipped', async () => {
  const a = await place('server-a');
  const bad = preferredAddress(net.subnet, 'server-b', new Set([net.gateway!, a]));
  const got = await place('server-b', new Set([bad]));
  expect(got).not.toBe(bad);
  expect(asked).toBe(2);
});

test('drivers of one process on one network (one engine, or one overlay across hosts) share what they handed out', async () => {
  const first = await pickAddress(net, 'server-a', inUse);
  // Same preferred address (same server id hash), picked before the first container exists.
  const second = await pickAddress({ ...net }, 'server-a', inUse);
  expect(second.ip).not.toBe(first.ip);
  first.release();
  second.release();
});

test('concurrent picks never hand out one address twice', async () => {
  const ips = await Promise.all(Array.from({ length: 50 }, (_, i) => pickAddress(net, `server-${i % 5}`, inUse)));
  expect(new Set(ips.map((p) => p.ip)).size).toBe(50);
});

test("addresses the compute service says other servers hold elsewhere are never handed out, and need no new look at the engine", async () => {
  await place('server-a');
  const elsewhere = preferredAddress(net.subnet, 'server-b', new Set([net.gateway!]));
  const p = await pickAddress(net, 'server-b', inUse, new Set([elsewhere]));
  p.release();
  expect(p.ip).not.toBe(elsewhere);
  expect(asked).toBe(1);
});

test('on a network whose first quarter is the engine\'s own, picks stay above it', async () => {
  const overlay = { id: crypto.randomUUID(), subnet: '10.160.3.0/24', gateway: '10.160.3.1', firstHost: 64 };
  const ips = await Promise.all(Array.from({ length: 100 }, (_, i) => pickAddress(overlay, `server-${i}`, inUse)));
  for (const p of ips) expect(Number(p.ip.split('.')[3])).toBeGreaterThanOrEqual(64);
  expect(new Set(ips.map((p) => p.ip)).size).toBe(100);
});
