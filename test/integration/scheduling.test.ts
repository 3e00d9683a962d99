/**
 * Several compute hosts through HTTP (two fake engines, os-services stood in for by a stub
 * HostSettingsPort): boots spread by free RAM, os-hypervisors shows what placement allocated
 * (plus the reserve), a disabled host takes nothing and shows disabled, a forced-down one shows
 * down, a boot with no valid host is 202 then ERROR with Nova's fault, and the availability
 * zone, forced host (admin), 2.74 host and group hint are checked as Nova checks them.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import type { HostSettings, HostSettingsPort } from '../../src/compute/scheduler/types';
import { tempestProblems } from './tempest-schemas';
import { boot, bootActive, call, show, uploadImage } from './servers-support';

let t: TestApp;
let image: string;
const settings: HostSettings[] = [
  { host: 'a', disabled: false, disabledReason: null, forcedDown: false, zone: 'nova' },
  { host: 'b', disabled: false, disabledReason: null, forcedDown: false, zone: 'nova' },
];
const hostSettings: HostSettingsPort = { all: async () => settings.map((s) => ({ ...s })), zoneExists: async (z) => z === 'nova' };
const set = (host: string, patch: Partial<HostSettings>) => Object.assign(settings.find((s) => s.host === host)!, patch);

beforeAll(async () => {
  const mk = (host: string) => new FakeDriver({ host, hypervisor: { memoryMb: 8192, vcpus: 4 } });
  t = await makeTestApp({ drivers: [mk('a'), mk('b')], hostSettings, quotas: { instances: 50, cores: 100, ram: 200_000 } });
  image = await uploadImage(t, { as: 'admin' });
});
afterAll(async () => {
  await t.close();
});

const detail = async (mv?: string) => (await call(t, 'get', '/compute/v2.1/os-hypervisors/detail', { as: 'admin', mv })).body.hypervisors as Record<string, unknown>[];
const hostOf = async (id: string) => (await show(t, id))['OS-EXT-SRV-ATTR:host'];

describe('placement through POST /servers', () => {
  test('boots spread by free RAM, and os-hypervisors shows the allocations plus the reserve', async () => {
    const first = await bootActive(t, image, { name: 's1', flavorRef: '2' }, { as: 'admin' });
    const second = await bootActive(t, image, { name: 's2', flavorRef: '1' }, { as: 'admin' });
    const third = await bootActive(t, image, { name: 's3', flavorRef: '1' }, { as: 'admin' });
    expect([await hostOf(first), await hostOf(second), await hostOf(third)]).toEqual(['a', 'b', 'b']);
    const res = await call(t, 'get', '/compute/v2.1/os-hypervisors/detail', { as: 'admin' });
    expect(tempestProblems('v2_1/hypervisors.list_hypervisors_detail', res)).toEqual([]);
    const [a, b] = res.body.hypervisors;
    expect(a).toMatchObject({ memory_mb: 8192, memory_mb_used: 2048 + 512, free_ram_mb: 8192 - 2560, vcpus: 4, vcpus_used: 1, running_vms: 1, current_workload: 0 });
    expect(b).toMatchObject({ memory_mb: 8192, memory_mb_used: 1024 + 512, free_ram_mb: 8192 - 1536, vcpus_used: 2, running_vms: 2 });
    const stats = await call(t, 'get', '/compute/v2.1/os-hypervisors/statistics', { as: 'admin' });
    expect(tempestProblems('v2_1/hypervisors.get_hypervisor_statistics', stats)).toEqual([]);
    expect(stats.body.hypervisor_statistics).toMatchObject({
      count: 2, vcpus: 8, vcpus_used: 3, memory_mb: 16384, memory_mb_used: 4096, free_ram_mb: 12288, running_vms: 3, current_workload: 0,
    });
    // A deleted server's share is released.
    expect((await call(t, 'delete', `/compute/v2.1/servers/${first}`, { as: 'admin' })).status).toBe(204);
    await t.services.compute.tasks.idle();
    expect((await detail())[0]).toMatchObject({ memory_mb_used: 512, vcpus_used: 0, running_vms: 0 });
  });

  test('a disabled host takes nothing and shows disabled with its reason; statistics leave it out', async () => {
    set('b', { disabled: true, disabledReason: 'maintenance' });
    try {
      const id = await bootActive(t, image, { name: 'only-a', flavorRef: '3' }, { as: 'admin' });
      expect(await hostOf(id)).toBe('a');
      const [, b] = await detail();
      expect(b).toMatchObject({ status: 'disabled', state: 'up', service: { host: 'b', id: 2, disabled_reason: 'maintenance' } });
      const list = await call(t, 'get', '/compute/v2.1/os-hypervisors', { as: 'admin' });
      expect(list.body.hypervisors[1]).toEqual({ id: 2, hypervisor_hostname: 'b', state: 'up', status: 'disabled' });
      const stats = (await call(t, 'get', '/compute/v2.1/os-hypervisors/statistics', { as: 'admin' })).body.hypervisor_statistics;
      expect(stats).toMatchObject({ count: 1, memory_mb: 8192 });
    } finally {
      set('b', { disabled: false, disabledReason: null });
    }
  });

  test('a forced-down host shows down and takes nothing', async () => {
    set('a', { forcedDown: true });
    try {
      expect((await detail())[0]).toMatchObject({ state: 'down', status: 'enabled' });
      const id = await bootActive(t, image, { name: 'only-b' }, { as: 'admin' });
      expect(await hostOf(id)).toBe('b');
    } finally {
      set('a', { forcedDown: false });
    }
  });

  test('no host with room: 202, then ERROR with "No valid host was found." and a failed create action', async () => {
    const res = await boot(t, image, { name: 'too-big', flavorRef: '4', min_count: 2, max_count: 2 }, { as: 'admin' });
    expect(res.status).toBe(202);
    await t.services.compute.tasks.idle();
    const s = await show(t, res.body.server.id);
    expect([s.status, s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:task_state'], s['OS-EXT-SRV-ATTR:host']]).toEqual(['ERROR', 'error', null, null]);
    expect(s.fault).toMatchObject({ code: 500, message: 'No valid host was found. There are not enough hosts available.' });
    const actions = await call(t, 'get', `/compute/v2.1/servers/${s.id}/os-instance-actions`, { as: 'admin' });
    expect(actions.body.instanceActions[0]).toMatchObject({ action: 'create', message: 'Error' });
    const both = await call(t, 'get', '/compute/v2.1/servers/detail', { as: 'admin', query: { name: '^too-big' } });
    expect(both.body.servers.map((x: { status: string }) => x.status)).toEqual(['ERROR', 'ERROR']);
  });
});

describe('where a boot may go, checked by the API as Nova checks it', () => {
  test.each([
    ['an unknown zone', { availability_zone: 'mars' }, 'admin', 400, 'The requested availability zone is not available'],
    ['a zone with too many colons', { availability_zone: 'nova:a:b:c' }, 'admin', 400, 'Invalid input received: Unable to parse availability_zone'],
    ['a forced host for a member', { availability_zone: 'nova:a' }, 'demo', 403, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."],
    ['a forced node for a member', { availability_zone: 'nova::a' }, 'demo', 403, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."],
  ] as const)('%s is refused (%s)', async (_what, extra, as, status, message) => {
    const res = await boot(t, image, { name: 'nowhere', ...extra }, { as });
    expect(res.status).toBe(status);
    expect(Object.values(res.body as Record<string, { message: string }>)[0].message).toBe(message);
  });

  test('an admin forces a host (zone:host or zone::node), even a disabled one, as Nova skips the filters for it', async () => {
    set('b', { disabled: true, disabledReason: 'drain' });
    try {
      const forced = await bootActive(t, image, { name: 'forced', availability_zone: 'nova:b' }, { as: 'admin' });
      expect(await hostOf(forced)).toBe('b');
      const node = await bootActive(t, image, { name: 'node', availability_zone: '::b' }, { as: 'admin' });
      expect(await hostOf(node)).toBe('b');
    } finally {
      set('b', { disabled: false, disabledReason: null });
    }
  });

  test('a forced host that does not exist is no valid host (202, then ERROR), as in Nova', async () => {
    const res = await boot(t, image, { name: 'ghost', availability_zone: 'nova:ghost' }, { as: 'admin' });
    expect(res.status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, res.body.server.id)).fault.message).toBe('No valid host was found. There are not enough hosts available.');
  });

  test('2.74 host: an unknown one is a 400, a known one is where the server goes; mixing it with zone:host is a 400', async () => {
    const unknown = await boot(t, image, { name: 'h274', host: 'nope', networks: 'auto' }, { as: 'admin', mv: '2.74' });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Compute host nope could not be found.']);
    const both = await boot(t, image, { name: 'h274', host: 'a', availability_zone: 'nova:b', networks: 'auto' }, { as: 'admin', mv: '2.74' });
    expect([both.status, both.body.badRequest?.message]).toEqual([400, 'One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.']);
    const ok = await boot(t, image, { name: 'h274', hypervisor_hostname: 'b', networks: 'auto' }, { as: 'admin', mv: '2.74' });
    expect(ok.status).toBe(202);
    await t.services.compute.tasks.idle();
    expect(await hostOf(ok.body.server.id)).toBe('b');
  });

  test('a group hint must be a uuid (schema), and name a group (none exist without os-server-groups)', async () => {
    const bad = await call(t, 'post', '/compute/v2.1/servers', { as: 'admin', body: { server: { name: 'g', imageRef: image, flavorRef: '1' }, 'os:scheduler_hints': { group: 'not-a-uuid' } } });
    expect(bad.status).toBe(400);
    const group = '44444444-4444-4444-8444-444444444444';
    const unknown = await call(t, 'post', '/compute/v2.1/servers', { as: 'admin', body: { server: { name: 'g', imageRef: image, flavorRef: '1' }, 'OS-SCH-HNT:scheduler_hints': { group: [group] } } });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, `Instance group ${group} could not be found.`]);
  });
});
