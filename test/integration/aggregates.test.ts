/**
 * os-aggregates and the availability zones they make, through HTTP on a real database, with
 * three configured compute hosts (fake drivers): CRUD and actions with Nova's rules and texts
 * (one zone per host, no zone change under servers, no delete while hosts remain), and
 * os-availability-zone listing each zone with its hosts. Shapes are checked against tempest's
 * schemas.
 */
import os from 'node:os';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { call, Call, uploadImage, bootActive } from './servers-support';
import { tempestProblems } from './tempest-schemas';
import { AggregateRepository } from '../../src/db/aggregate-repo';

let t: TestApp;

beforeAll(async () => {
  t = await makeTestApp({ drivers: ['host-a', 'host-b', 'host-c'].map((host) => new FakeDriver({ host })) });
});
afterAll(async () => { await t.close(); });

type Method = 'get' | 'post' | 'put' | 'delete';
const agg = (method: Method, path: string, c: Call = {}) => call(t, method, `/compute/v2.1/os-aggregates${path}`, { as: 'admin', ...c });
const action = (id: number, body: unknown, c: Call = {}) => agg('post', `/${id}/action`, { ...c, body });
const message = (res: { body: Record<string, { message: string }> }) => Object.values(res.body)[0]?.message;

/** Creates an aggregate (optionally zoned) and returns its id. */
async function create(name: string, zone?: string): Promise<number> {
  const res = await agg('post', '', { body: { aggregate: { name, ...(zone ? { availability_zone: zone } : {}) } } });
  expect(res.status).toBe(200);
  return res.body.aggregate.id;
}

/** Empties and deletes every aggregate, so each test starts from none. */
afterEach(async () => {
  for (const a of (await agg('get', '')).body.aggregates as { id: number; hosts: string[] }[]) {
    for (const host of a.hosts) await action(a.id, { remove_host: { host } });
    await agg('delete', `/${a.id}`);
  }
});

describe('create, list, show, update, delete', () => {
  it('creates with a zone (tempest schema: no hosts or metadata), lists and shows it with uuid from 2.41', async () => {
    const res = await agg('post', '', { body: { aggregate: { name: 'agg1', availability_zone: 'az1' } } });
    expect(tempestProblems('v2_1/aggregates.create_aggregate', res)).toEqual([]);
    expect(res.body.aggregate).toMatchObject({ name: 'agg1', availability_zone: 'az1', deleted: false, deleted_at: null, updated_at: null });
    const id = res.body.aggregate.id;
    const listed = await agg('get', '');
    expect(tempestProblems('v2_1/aggregates.list_aggregates', listed)).toEqual([]);
    expect(listed.body.aggregates).toEqual([expect.objectContaining({ id, hosts: [], metadata: { availability_zone: 'az1' } })]);
    const shown = await agg('get', `/${id}`, { mv: '2.41' });
    expect(tempestProblems('v2_41/aggregates.get_aggregate', shown)).toEqual([]);
    expect(shown.body.aggregate.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect((await agg('get', `/${id}`)).body.aggregate.uuid).toBeUndefined();
    const created41 = await agg('post', '', { mv: '2.41', body: { aggregate: { name: 'agg2', availability_zone: null } } });
    expect(tempestProblems('v2_41/aggregates.create_aggregate', created41)).toEqual([]);
    expect(created41.body.aggregate.availability_zone).toBeNull();
  });

  it('answers Nova\'s errors for names, zones and ids', async () => {
    const id = await create('agg1');
    const dup = await agg('post', '', { body: { aggregate: { name: 'agg1' } } });
    expect([dup.status, message(dup)]).toEqual([409, 'Aggregate agg1 already exists.']);
    for (const aggregate of [{}, { name: '' }, { name: ' lead' }, { name: 'a', availability_zone: 'x:y' }, { name: 'a', availability_zone: '' }, { name: 'a', extra: 1 }]) {
      expect((await agg('post', '', { body: { aggregate } })).status).toBe(400);
    }
    const notInt = await agg('get', '/abc');
    expect([notInt.status, message(notInt)]).toEqual([400, 'Invalid input received: id must be an integer']);
    const missing = await agg('get', '/9999');
    expect([missing.status, message(missing)]).toEqual([404, 'Aggregate 9999 could not be found.']);
    expect((await agg('get', '/99999999999999999999')).status).toBe(404);
    expect((await agg('get', `/${id}`)).status).toBe(200);
  });

  it('renames and re-zones (tempest schema: updated_at set); a taken name is 409, a null zone 400', async () => {
    const id = await create('agg1', 'az1');
    await create('other');
    const res = await agg('put', `/${id}`, { body: { aggregate: { name: '  renamed ', availability_zone: 'az2' } } });
    expect(tempestProblems('v2_1/aggregates.update_aggregate', res)).toEqual([]);
    expect(res.body.aggregate).toMatchObject({ name: 'renamed', availability_zone: 'az2', metadata: { availability_zone: 'az2' } });
    const taken = await agg('put', `/${id}`, { body: { aggregate: { name: 'other' } } });
    expect([taken.status, message(taken)]).toEqual([409, 'Aggregate other already exists.']);
    const nullZone = await agg('put', `/${id}`, { body: { aggregate: { availability_zone: null } } });
    expect([nullZone.status, message(nullZone)]).toEqual([400, `Cannot update aggregate ${id}. Reason: Aggregate renamed does not support empty named availability zone.`]);
    expect((await agg('put', `/${id}`, { body: { aggregate: {} } })).status).toBe(400);
    expect((await agg('put', '/9999', { body: { aggregate: { name: 'x' } } })).status).toBe(404);
  });

  it('deletes an empty aggregate (200, no body), refuses one with hosts (400)', async () => {
    const id = await create('agg1');
    await action(id, { add_host: { host: 'host-a' } });
    const refused = await agg('delete', `/${id}`);
    expect([refused.status, message(refused)]).toEqual([400, `Cannot remove host from aggregate ${id}. Reason: Host aggregate is not empty.`]);
    await action(id, { remove_host: { host: 'host-a' } });
    const res = await agg('delete', `/${id}`);
    expect([res.status, res.text]).toEqual([200, '']);
    expect((await agg('get', `/${id}`)).status).toBe(404);
    expect((await agg('delete', `/${id}`)).status).toBe(404);
  });

  it('is for admins only (Nova\'s 403 per action), and has no 2.81 image cache', async () => {
    const id = await create('agg1');
    const calls: [Method, string, unknown, string][] = [
      ['get', '', undefined, 'index'],
      ['post', '', { aggregate: { name: 'x' } }, 'create'],
      ['get', `/${id}`, undefined, 'show'],
      ['put', `/${id}`, { aggregate: { name: 'x' } }, 'update'],
      ['delete', `/${id}`, undefined, 'delete'],
      ['post', `/${id}/action`, { add_host: { host: 'host-a' } }, 'add_host'],
      ['post', `/${id}/action`, { remove_host: { host: 'host-a' } }, 'remove_host'],
      ['post', `/${id}/action`, { set_metadata: { metadata: { k: 'v' } } }, 'set_metadata'],
    ];
    for (const [method, path, body, policy] of calls) {
      const res = await agg(method, path, { as: 'demo', body });
      expect([res.status, message(res)]).toEqual([403, `Policy doesn't allow os_compute_api:os-aggregates:${policy} to be performed.`]);
    }
    expect((await agg('post', `/${id}/images`, { mv: '2.81', body: { cache: [{ id: '0b3c5e4a-6f7d-4e2b-9a1c-2d3e4f5a6b7c' }] } })).status).toBe(404);
  });
});

describe('actions', () => {
  it('adds and removes hosts (tempest schemas); unknown hosts, repeats and absent hosts answer as Nova', async () => {
    const id = await create('agg1');
    const added = await action(id, { add_host: { host: 'host-a' } });
    expect(tempestProblems('v2_1/aggregates.aggregate_add_remove_host', added)).toEqual([]);
    expect(added.body.aggregate.hosts).toEqual(['host-a']);
    expect((await action(id, { add_host: { host: 'host-b' } })).body.aggregate.hosts).toEqual(['host-a', 'host-b']);
    const again = await action(id, { add_host: { host: 'host-a' } });
    expect([again.status, message(again)]).toEqual([409, `Aggregate ${id} already has host host-a.`]);
    const unknown = await action(id, { add_host: { host: 'nope' } });
    expect([unknown.status, message(unknown)]).toEqual([404, 'Compute host nope could not be found.']);
    const noAgg = await action(9999, { add_host: { host: 'host-a' } });
    expect([noAgg.status, message(noAgg)]).toEqual([404, 'Aggregate 9999 could not be found.']);
    const removed = await action(id, { remove_host: { host: 'host-a' } }, { mv: '2.41' });
    expect(tempestProblems('v2_41/aggregates.aggregate_add_remove_host', removed)).toEqual([]);
    expect(removed.body.aggregate.hosts).toEqual(['host-b']);
    for (const host of ['host-a', 'nope']) {
      const res = await action(id, { remove_host: { host } });
      expect([res.status, message(res)]).toEqual([404, `Cannot remove host ${host} in aggregate ${id}`]);
    }
  });

  it('sets metadata (tempest schema): null removes a key; bad keys and values are 400', async () => {
    const id = await create('agg1');
    const res = await action(id, { set_metadata: { metadata: { ssd: 'true', tier: 'gold' } } });
    expect(tempestProblems('v2_1/aggregates.aggregate_set_metadata', res)).toEqual([]);
    expect(res.body.aggregate.metadata).toEqual({ ssd: 'true', tier: 'gold' });
    expect(res.body.aggregate.updated_at).not.toBeNull();
    const after = await action(id, { set_metadata: { metadata: { ssd: null, gone: null, tier: 'silver' } } });
    expect(after.body.aggregate.metadata).toEqual({ tier: 'silver' });
    for (const body of [{ set_metadata: { metadata: { 'bad/key': 'x' } } }, { set_metadata: { metadata: { k: 1 } } }, { set_metadata: {} }, { bogus: {} }, { add_host: { host: 'host-a' }, remove_host: { host: 'host-a' } }]) {
      expect((await action(id, body)).status).toBe(400);
    }
  });

  it('keeps a host in one zone: adding it to an aggregate of another zone is 409, zoning an aggregate over it 400', async () => {
    const az1 = await create('agg-az1', 'az1');
    const az2 = await create('agg-az2', 'az2');
    const plain = await create('plain');
    await action(az1, { add_host: { host: 'host-a' } });
    const conflict = await action(az2, { add_host: { host: 'host-a' } });
    expect([conflict.status, message(conflict)]).toEqual([409, `Cannot add host to aggregate ${az2}. Reason: One or more hosts already in availability zone(s) ['az1'].`]);
    expect((await action(plain, { add_host: { host: 'host-a' } })).status).toBe(200);
    const sameZone = await create('agg-az1-too', 'az1');
    expect((await action(sameZone, { add_host: { host: 'host-a' } })).status).toBe(200);
    const meta = await action(plain, { set_metadata: { metadata: { availability_zone: 'az3' } } });
    expect([meta.status, message(meta)]).toEqual([400, `Cannot update metadata of aggregate ${plain}. Reason: One or more hosts already in availability zone(s) ['az1', 'az1'].`]);
    const put = await agg('put', `/${plain}`, { body: { aggregate: { availability_zone: 'az3' } } });
    expect([put.status, message(put)]).toEqual([400, `Cannot update aggregate ${plain}. Reason: One or more hosts already in availability zone(s) ['az1', 'az1'].`]);
    const empty = await action(az1, { set_metadata: { metadata: { availability_zone: null } } });
    expect([empty.status, message(empty)]).toEqual([400, `Cannot update metadata of aggregate ${az1}. Reason: Aggregate agg-az1 does not support empty named availability zone.`]);
    expect((await t.services.compute.hostSettings.all()).find((h) => h.host === 'host-a')?.zone).toBe('az1');
  });

  it('moves no server between zones: a host with servers cannot join, leave or re-zone a zone', async () => {
    const image = await uploadImage(t, { as: 'admin' });
    const servers = [
      await bootActive(t, image, { availability_zone: 'nova:host-c' }, { as: 'admin' }),
      await bootActive(t, image, { availability_zone: 'nova:host-b' }, { as: 'admin' }),
    ];
    const az1 = await create('agg-az1', 'az1');
    const refused = await action(az1, { add_host: { host: 'host-c' } });
    expect(refused.status).toBe(409);
    expect(message(refused)).toBe(`Cannot add host to aggregate ${az1}. Reason: The host cannot be added to the aggregate as the availability zone of the host would change from 'None' to 'az1' but the host already has 1 instance(s). Changing the AZ of an existing instance is not supported by this action. Move the instances away from this host then try again. If you need to move the instances between AZs then you can use shelve_offload and unshelve to achieve this..`);
    const plain = await create('plain');
    expect((await action(plain, { add_host: { host: 'host-c' } })).status).toBe(200);
    const rezone = await action(plain, { set_metadata: { metadata: { availability_zone: 'az9' } } });
    expect([rezone.status, message(rezone)]).toEqual([400, `Cannot update metadata of aggregate ${plain}. Reason: One or more hosts contain instances in this zone.`]);
    expect((await action(plain, { remove_host: { host: 'host-c' } })).status).toBe(200);
    // A host that holds servers in a zone (put there behind the API's back) cannot leave it either.
    await new AggregateRepository(t.db).change((w) => w.addHost(az1, 'host-b'));
    const leave = await action(az1, { remove_host: { host: 'host-b' } });
    expect(leave.status).toBe(409);
    expect(message(leave)).toContain(`Cannot remove host from aggregate ${az1}. Reason: The host cannot be removed from the aggregate as the availability zone of the host would change from 'az1' to 'None' but the host already has 1 instance(s).`);
    for (const id of servers) await call(t, 'delete', `/compute/v2.1/servers/${id}`, { as: 'admin' });
    await t.services.compute.tasks.idle();
    expect((await action(az1, { remove_host: { host: 'host-b' } })).status).toBe(200);
  });
});

describe('availability zones', () => {
  const zones = async (detail: boolean, as: 'admin' | 'demo' = 'admin') => call(t, 'get', `/compute/v2.1/os-availability-zone${detail ? '/detail' : ''}`, { as });

  it('lists each zone with a host, "nova" for hosts in no zone, not the internal zone (tempest schema)', async () => {
    const az1 = await create('agg-az1', 'az1');
    await create('empty-zone', 'az-empty');
    await action(az1, { add_host: { host: 'host-b' } });
    const res = await zones(false, 'demo');
    expect(tempestProblems('v2_1/availability_zone.list_availability_zone_list', res)).toEqual([]);
    expect(res.body.availabilityZoneInfo).toEqual([
      { zoneName: 'az1', zoneState: { available: true }, hosts: null },
      { zoneName: 'nova', zoneState: { available: true }, hosts: null },
    ]);
    expect(await t.services.compute.hostSettings.zoneExists('az1')).toBe(true);
    expect(await t.services.compute.hostSettings.zoneExists('az-empty')).toBe(false);
  });

  it('details each zone\'s hosts and services and the internal zone, for admins (tempest schema)', async () => {
    const az1 = await create('agg-az1', 'az1');
    await action(az1, { add_host: { host: 'host-b' } });
    const res = await zones(true);
    expect(tempestProblems('v2_1/availability_zone.list_availability_zone_list_detail', res)).toEqual([]);
    const byName = Object.fromEntries((res.body.availabilityZoneInfo as { zoneName: string; hosts: Record<string, unknown> }[]).map((z) => [z.zoneName, z.hosts]));
    expect(Object.keys(byName)).toEqual(['az1', 'internal', 'nova']);
    expect(Object.keys(byName.az1)).toEqual(['host-b']);
    expect(Object.keys(byName.nova)).toEqual(['host-a', 'host-c']);
    expect(byName.internal).toEqual({ [os.hostname()]: { 'nova-scheduler': expect.objectContaining({ available: true, active: true }), 'nova-conductor': expect.objectContaining({ available: true, active: true }) } });
    expect((await zones(true, 'demo')).status).toBe(403);
  });

  it('shows a zone whose hosts are all disabled as not available, and the scheduler is told it does not exist', async () => {
    const az1 = await create('agg-az1', 'az1');
    await action(az1, { add_host: { host: 'host-b' } });
    const off = { body: { host: 'host-b', binary: 'nova-compute' } };
    await call(t, 'put', '/compute/v2.1/os-services/disable', { as: 'admin', ...off });
    try {
      expect((await zones(false)).body.availabilityZoneInfo).toEqual([
        { zoneName: 'nova', zoneState: { available: true }, hosts: null },
        { zoneName: 'az1', zoneState: { available: false }, hosts: null },
      ]);
      const detail = (await zones(true)).body.availabilityZoneInfo;
      expect(detail.find((z: { zoneName: string }) => z.zoneName === 'az1')).toEqual({ zoneName: 'az1', zoneState: { available: false }, hosts: null });
      expect(await t.services.compute.hostSettings.zoneExists('az1')).toBe(false);
    } finally {
      await call(t, 'put', '/compute/v2.1/os-services/enable', { as: 'admin', ...off });
    }
  });
});
