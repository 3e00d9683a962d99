/**
 * Upgrading to the network service (issue 17): a server made before it has no port. Restarted,
 * novadock gives it one on the project's default network with the address and MAC its container
 * has and the groups its row names, so it is like every other server and a new server's port
 * cannot take its address. On the fake engine, over one database file kept across the restart.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';

let dir: string;
let t: TestServices | undefined;
const driver = new FakeDriver({ host: 'fake-host' });
const store = new MemoryImageStore();
const open = () => makeTestServices({ driver, store, dbFile: path.join(dir, 'novadock.sqlite'), config: { dataDir: dir } });

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-adopt-'));
});
afterEach(async () => {
  await t?.close();
  t = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function boot(s: TestServices, image: string, name: string, networks?: 'none'): Promise<string> {
  const { servers } = await s.services.compute.boot.create(await s.ctx(), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1, networks });
  await s.services.compute.tasks.idle();
  return servers[0].id;
}

/** What a server of a version before the network service looks like: the same row, no port. */
async function forgetPorts(s: TestServices, serverId: string): Promise<void> {
  const ports = await s.services.db('ports').where({ device_id: serverId }).pluck('id');
  await s.services.db('ip_allocations').whereIn('port_id', ports).delete();
  await s.services.db('port_security_groups').whereIn('port_id', ports).delete();
  await s.services.db('ports').whereIn('id', ports).delete();
}

test('a server without a port gets one at start-up with its own address, MAC and groups; a new server does not take its address', async () => {
  t = await open();
  const image = await t.uploadImage();
  const old = await boot(t, image, 'old');
  const none = await boot(t, image, 'none', 'none');
  const before = (await t.services.compute.queries.get(await t.ctx(), old)).addresses.private[0];
  await forgetPorts(t, old);
  await t.close();

  t = await open();
  const ports = await t.services.networkCore.serverPorts.portsOf(old);
  expect(ports).toHaveLength(1);
  expect(ports[0].fixed_ips.map((f) => f.ip_address)).toEqual([before.addr]);
  expect(ports[0].port).toMatchObject({ mac_address: before.mac, status: 'ACTIVE', host: 'fake-host', device_owner: 'compute:nova' });
  expect(ports[0].network.default_for).toBe(ports[0].network.project_id);
  const defaultGroup = await t.services.db('security_groups').where({ default_for: ports[0].network.project_id }).first();
  expect(ports[0].security_group_ids).toEqual([defaultGroup.id]);
  expect(await t.services.networkCore.serverPorts.portsOf(none)).toEqual([]);

  const fresh = await boot(t, image, 'fresh');
  const freshAddr = (await t.services.compute.queries.get(await t.ctx(), fresh)).addresses.private[0].addr;
  expect(freshAddr).not.toBe(before.addr);
  await t.close();

  // Idempotent: a second start changes nothing.
  t = await open();
  expect((await t.services.networkCore.serverPorts.portsOf(old)).map((p) => p.port.id)).toEqual([ports[0].port.id]);
});
