/**
 * Writable quotas through HTTP on a real database (nova/api/openstack/compute/quota_sets.py,
 * quota_classes.py): an admin sets a project's limits, a user's within it, or the default class;
 * every quota check (boot, key pairs, server groups, metadata) and /limits follow at once, in
 * this process and in another one sharing the database. Shapes are checked against tempest's
 * strict schemas.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { makeTestApp, TestApp } from '../helpers/app';
import { tempestProblems, TempestSchemaName } from './tempest-schemas';
import { boot, bootActive, call, uploadImage } from './servers-support';

let h: TestApp;
let image: string;
let demo: string;
const SETS = '/compute/v2.1/os-quota-sets';
const CLASSES = '/compute/v2.1/os-quota-class-sets';

beforeAll(async () => {
  h = await makeTestApp();
  image = await uploadImage(h);
  demo = await h.projectId('demo');
});
afterAll(async () => { await h.close(); });

const expectSchema = (name: TempestSchemaName, res: { status: number; body: unknown }) => expect(tempestProblems(name, res)).toEqual([]);
const setQuota = (project: string, quota_set: Record<string, unknown>, query?: Record<string, string>, mv?: string) =>
  call(h, 'put', `${SETS}/${project}`, { as: 'admin', body: { quota_set }, query, mv });

afterEach(async () => {
  await call(h, 'delete', `${SETS}/${demo}`, { as: 'admin' });
  await h.db('quota_classes').delete();
  for (const s of (await call(h, 'get', '/compute/v2.1/servers', { as: 'demo' })).body.servers) await call(h, 'delete', `/compute/v2.1/servers/${s.id}`);
  await h.services.compute.tasks.idle();
});

describe('os-quota-sets', () => {
  it('when an admin sets instances to 3, then the set and /limits show 3 and a 4th boot is a 403 in Nova\'s words', async () => {
    const put = await setQuota(demo, { instances: 3 });
    expect(put.status).toBe(200);
    expectSchema('v2_1/quotas.update_quota_set', put);
    expect(put.body.quota_set.id).toBeUndefined();
    expect(put.body.quota_set.instances).toBe(3);
    const show = await call(h, 'get', `${SETS}/${demo}`);
    expectSchema('v2_1/quotas.get_quota_set', show);
    expect(show.body.quota_set).toMatchObject({ id: demo, instances: 3, cores: 20 });
    expect((await call(h, 'get', '/compute/v2.1/limits')).body.limits.absolute.maxTotalInstances).toBe(3);
    for (const n of ['a', 'b', 'c']) await bootActive(h, image, { name: n });
    const fourth = await boot(h, image, { name: 'd' });
    expect(fourth.status).toBe(403);
    expect(fourth.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded for instances: Requested 1, but already used 3 of 3 instances' } });
    // Another project keeps the defaults.
    expect((await call(h, 'get', '/compute/v2.1/limits', { as: 'alt' })).body.limits.absolute.maxTotalInstances).toBe(10);
  });

  it('a limit below what is in use is a 400 unless forced; detail shows limit, in_use and reserved', async () => {
    await bootActive(h, image, { name: 'a' });
    await bootActive(h, image, { name: 'b' });
    const below = await setQuota(demo, { instances: 1, cores: 10 });
    expect(below.status).toBe(400);
    expect(below.body.badRequest.message).toBe('Quota limit 1 for instances must be greater than or equal to already used and reserved 2.');
    // Nothing of a refused set is written.
    expect((await call(h, 'get', `${SETS}/${demo}`)).body.quota_set.cores).toBe(20);
    const forced = await setQuota(demo, { instances: '1', force: 'True' });
    expect(forced.status).toBe(200);
    const detail = await call(h, 'get', `${SETS}/${demo}/detail`);
    expectSchema('v2_1/quotas.get_quota_set_details', detail);
    expect(detail.body.quota_set.instances).toEqual({ limit: 1, in_use: 2, reserved: 0 });
    expect(detail.body.quota_set.cores).toEqual({ limit: 20, in_use: 2, reserved: 0 });
    expect((await setQuota(demo, { instances: -1 })).status).toBe(200);
  });

  it('bad bodies are 400s: unknown keys, values below -1, not integers, network keys from 2.36', async () => {
    for (const body of [{ bogus: 1 }, { instances: -2 }, { instances: 'ten' }, { instances: 1.5 }, { instances: '-5' }, { instances: 2 ** 31 }, { force: 'maybe' }]) {
      const res = await setQuota(demo, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    expect((await call(h, 'put', `${SETS}/${demo}`, { as: 'admin', body: { instances: 1 } })).status).toBe(400);
    expect((await setQuota(demo, { floating_ips: 5 })).status).toBe(200);
    expect((await setQuota(demo, { floating_ips: 5 }, undefined, '2.36')).status).toBe(400);
    expect((await setQuota(demo, { injected_files: 5 }, undefined, '2.57')).status).toBe(400);
    const at257 = await setQuota(demo, { key_pairs: 5 }, undefined, '2.57');
    expectSchema('v2_57/quotas.update_quota_set', at257);
  });

  it('DELETE (202) brings the project back to the defaults; only admins set or delete', async () => {
    await setQuota(demo, { ram: 5120 });
    expect((await call(h, 'put', `${SETS}/${demo}`, { as: 'demo', body: { quota_set: { ram: 1 } } })).status).toBe(403);
    expect((await call(h, 'delete', `${SETS}/${demo}`, { as: 'demo' })).status).toBe(403);
    const del = await call(h, 'delete', `${SETS}/${demo}`, { as: 'admin' });
    expect(del.status).toBe(202);
    expectSchema('v2_1/quotas.delete_quota', del);
    expect((await call(h, 'get', `${SETS}/${demo}`)).body.quota_set.ram).toBe(51200);
  });

  it('a user\'s limits within the project: shown with ?user_id=, at most what the project leaves', async () => {
    const user = await h.userId('demo');
    await setQuota(demo, { ram: 5120 });
    const put = await setQuota(demo, { ram: 2048 }, { user_id: user });
    expect(put.status).toBe(200);
    expect((await call(h, 'get', `${SETS}/${demo}`, { query: { user_id: user } })).body.quota_set.ram).toBe(2048);
    expect((await call(h, 'get', `${SETS}/${demo}`)).body.quota_set.ram).toBe(5120);
    const over = await setQuota(demo, { ram: 6000 }, { user_id: user });
    expect(over.status).toBe(400);
    expect(over.body.badRequest.message).toBe('Quota limit 6000 for ram must be less than or equal to 5120.');
    // The project's limit cannot go below what its users hold.
    expect((await setQuota(demo, { ram: 1000 })).body.badRequest.message).toBe('Quota limit 1000 for ram must be greater than or equal to already used and reserved 2048.');
    expect((await call(h, 'delete', `${SETS}/${demo}`, { as: 'admin', query: { user_id: user } })).status).toBe(202);
    expect((await call(h, 'get', `${SETS}/${demo}`, { query: { user_id: user } })).body.quota_set.ram).toBe(5120);
  });

  it('key pairs, server groups and metadata items follow the project\'s limits', async () => {
    await setQuota(demo, { key_pairs: 1, server_groups: 0, metadata_items: 1 });
    expect((await call(h, 'post', '/compute/v2.1/os-keypairs', { body: { keypair: { name: 'k1' } } })).status).toBe(200);
    const k2 = await call(h, 'post', '/compute/v2.1/os-keypairs', { body: { keypair: { name: 'k2' } } });
    expect(k2.status).toBe(403);
    expect(k2.body.forbidden.message).toBe('Quota exceeded, too many key pairs.');
    await call(h, 'delete', '/compute/v2.1/os-keypairs/k1');
    const g = await call(h, 'post', '/compute/v2.1/os-server-groups', { body: { server_group: { name: 'g', policies: ['affinity'] } } });
    expect(g.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' } });
    const meta = await boot(h, image, { name: 'm', metadata: { a: '1', b: '2' } });
    expect(meta.status).toBe(403);
    expect(meta.body.forbidden.message).toBe('Quota exceeded for metadata_items: Requested 2, but already used 0 of 1 metadata_items');
    const id = await bootActive(h, image, { name: 'm', metadata: { a: '1' } });
    expect((await call(h, 'post', `/compute/v2.1/servers/${id}/metadata`, { body: { metadata: { b: '2' } } })).status).toBe(403);
  });
});

describe('os-quota-class-sets', () => {
  it('an admin sets the default class: every project without its own limit gets it, /defaults and /limits show it', async () => {
    const before = await call(h, 'get', `${CLASSES}/default`, { as: 'admin' });
    expect(before.status).toBe(200);
    expectSchema('v2_1/quota_classes.get_quota_class_set', before);
    expect(before.body.quota_class_set).toMatchObject({ id: 'default', instances: 10 });
    expect(before.body.quota_class_set.server_groups).toBeUndefined();
    const put = await call(h, 'put', `${CLASSES}/default`, { as: 'admin', body: { quota_class_set: { instances: 7, cores: 30 } } });
    expect(put.status).toBe(200);
    expectSchema('v2_1/quota_classes.update_quota_class_set', put);
    expect(put.body.quota_class_set).toMatchObject({ instances: 7, cores: 30 });
    expect((await call(h, 'get', `${SETS}/${demo}/defaults`)).body.quota_set.instances).toBe(7);
    expect((await call(h, 'get', '/compute/v2.1/limits', { as: 'alt' })).body.limits.absolute.maxTotalInstances).toBe(7);
    await setQuota(demo, { instances: 4 });
    expect((await call(h, 'get', '/compute/v2.1/limits')).body.limits.absolute).toMatchObject({ maxTotalInstances: 4, maxTotalCores: 30 });
    const at250 = await call(h, 'get', `${CLASSES}/default`, { as: 'admin', mv: '2.50' });
    expectSchema('v2_50/quota_classes.get_quota_class_set', at250);
    expect(at250.body.quota_class_set.floating_ips).toBeUndefined();
    const at257 = await call(h, 'put', `${CLASSES}/default`, { as: 'admin', mv: '2.57', body: { quota_class_set: { server_groups: 12 } } });
    expectSchema('v2_57/quota_classes.update_quota_class_set', at257);
    expect((await call(h, 'put', `${CLASSES}/default`, { as: 'admin', mv: '2.57', body: { quota_class_set: { injected_files: 1 } } })).status).toBe(400);
    expect((await call(h, 'get', `${CLASSES}/default`, { as: 'demo' })).status).toBe(403);
    expect((await call(h, 'put', `${CLASSES}/default`, { as: 'demo', body: { quota_class_set: { instances: 1 } } })).status).toBe(403);
  });
});

describe('several processes over one database', () => {
  it('a limit set through one process holds in another at once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quotas-'));
    const dbFile = path.join(dir, 'shared.sqlite');
    const a = await makeTestApp({ dbFile });
    const b = await makeTestApp({ dbFile });
    try {
      const img = await uploadImage(b);
      const project = await a.projectId('demo');
      expect((await call(a, 'put', `${SETS}/${project}`, { as: 'admin', body: { quota_set: { instances: 0 } } })).status).toBe(200);
      const refused = await boot(b, img);
      expect(refused.status).toBe(403);
      expect((await call(b, 'get', '/compute/v2.1/limits')).body.limits.absolute.maxTotalInstances).toBe(0);
    } finally {
      await b.close();
      await a.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
