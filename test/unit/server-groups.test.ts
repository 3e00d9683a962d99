/**
 * The ServerGroupsPort on the fake engine, without HTTP: what a boot's `group` hint gets checked
 * against (the group visible to the caller, the server_group_members quota per group and user),
 * the GroupSpec the scheduler receives (policy, max_server_per_host, the hosts of the members
 * placed), the recheck when members are recorded, and a server's group for moves and its body.
 */
import { makeTestServices, TestServices, Account } from '../helpers/services';
import { DomainError } from '../../src/errors';
import type { ServerGroups } from '../../src/compute/services/server-groups';
import type { GroupPolicy } from '../../src/compute/scheduler/types';

let t: TestServices;
let groups: ServerGroups;
let image: string;

beforeAll(async () => {
  t = await makeTestServices();
  groups = t.services.compute.serverGroups;
  image = await t.uploadImage();
});
afterAll(async () => { await t.close(); });
beforeEach(() => {
  // Room for the servers every test boots; each test sets the quota it is about.
  Object.assign(t.services.config.seed.quotas, { instances: -1, cores: -1, ram: -1, server_groups: 100, server_group_members: 10 });
});

async function group(policy: GroupPolicy = 'anti-affinity', as: Account = 'demo', rules = {}): Promise<string> {
  return (await groups.create(await t.ctx(as), { name: `g-${policy}`, policy, rules })).uuid;
}

/** Boots servers as `as` and waits for their builds; returns their ids. */
async function servers(n: number, as: Account = 'demo'): Promise<string[]> {
  const { servers: made } = await t.services.compute.boot.create(await t.ctx(as), { name: 'vm', imageRef: image, flavorRef: '1', minCount: n, maxCount: n });
  await t.services.compute.tasks.idle();
  return made.map((s) => s.id);
}

/** Places a server on a host as the scheduler would have (the fake engine has one). */
const placeOn = (id: string, host: string | null) => t.services.db('servers').where({ id }).update({ host });

/** The error a promise rejects with: kind and message. */
async function failure(p: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return { kind: e.kind, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

describe('create', () => {
  test('concurrent creates never exceed the server_groups quota together', async () => {
    t.services.config.seed.quotas.server_groups = 3;
    const alt = await t.ctx('alt'); // a project that holds no group yet
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => groups.create(alt, { name: `c${i}`, policy: 'affinity', rules: {} })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as DomainError).message))
      .toEqual(Array(5).fill('Quota exceeded, too many server groups.'));
    expect(await groups.countInProject(alt.projectId)).toBe(3);
  });
});

describe('forBoot', () => {
  test('no hint: no group, nothing checked', async () => {
    expect(await groups.forBoot(await t.ctx(), undefined, 5)).toBeUndefined();
  });

  test('a group the caller cannot see (unknown, another project\'s, not a uuid) is a 400 naming it, as Nova\'s InstanceGroupNotFound on boot', async () => {
    const altGroup = await group('affinity', 'alt');
    const ctx = await t.ctx('demo');
    for (const id of ['7f1e9d4c-0000-4000-8000-000000000000', altGroup, 'not-a-uuid']) {
      expect(await failure(groups.forBoot(ctx, id, 1))).toEqual({ kind: 'invalid', message: `Instance group ${id} could not be found.` });
    }
    // An admin may boot into any project's group.
    expect((await groups.forBoot(await t.ctx('admin'), altGroup, 1))?.uuid).toBe(altGroup);
  });

  test('the spec: policy, max_server_per_host for anti-affinity only, no member hosts for a new group', async () => {
    const ctx = await t.ctx();
    const anti = await group('anti-affinity', 'demo', { max_server_per_host: 2 });
    expect(await groups.forBoot(ctx, anti, 1)).toEqual({ uuid: anti, policy: 'anti-affinity', maxServerPerHost: 2, memberHosts: [] });
    const soft = await group('soft-affinity');
    expect(await groups.forBoot(ctx, soft, 1)).toEqual({ uuid: soft, policy: 'soft-affinity', memberHosts: [] });
    const plain = await group('anti-affinity');
    expect(await groups.forBoot(ctx, plain, 1)).not.toHaveProperty('maxServerPerHost');
  });

  test('memberHosts: one entry per member placed (repeats kept), members not placed or deleted left out', async () => {
    const id = await group('soft-anti-affinity');
    const [a, b, c, d, e] = await servers(5);
    await groups.addMembers(id, [a, b, c, d, e]);
    await placeOn(a, 'h1');
    await placeOn(b, 'h2');
    await placeOn(c, 'h1');
    await placeOn(d, null); // not scheduled yet
    await t.services.compute.deleter.delete(await t.ctx(), e);
    await t.services.compute.tasks.idle();
    const spec = await groups.forBoot(await t.ctx(), id, 1);
    expect(spec?.memberHosts).toEqual(['h1', 'h2', 'h1']);
  });

  test('server_group_members: the caller\'s members that are not deleted, plus `count`, within the quota; others\' members do not count', async () => {
    t.services.config.seed.quotas.server_group_members = 3;
    const id = await group('affinity', 'admin');
    const demo = await t.ctx('demo');
    const [a, b] = await servers(2, 'demo');
    const [x, y] = await servers(2, 'admin');
    await groups.addMembers(id, [a, b, x, y]);
    const admin = await t.ctx('admin');
    // 4 members, 2 of them admin's: room for 1 more of admin's.
    expect(await groups.forBoot(admin, id, 1)).toBeDefined();
    expect(await failure(groups.forBoot(admin, id, 2))).toEqual({ kind: 'overQuota', message: 'Quota exceeded, too many servers in group' });
    await t.services.compute.deleter.delete(admin, x);
    await t.services.compute.tasks.idle();
    expect(await groups.forBoot(admin, id, 2)).toBeDefined(); // a deleted member frees its place
    expect(await failure(groups.forBoot(demo, id, 1))).toMatchObject({ kind: 'invalid' }); // admin's project's group, not demo's
  });

  test('a quota of -1 is unlimited', async () => {
    t.services.config.seed.quotas.server_group_members = -1;
    const id = await group();
    expect(await groups.forBoot(await t.ctx(), id, 1000)).toBeDefined();
  });
});

describe('addMembers', () => {
  test('checks the quota again with the write: a boot that lost the race records nothing and is a 403', async () => {
    t.services.config.seed.quotas.server_group_members = 2;
    const id = await group();
    const ctx = await t.ctx();
    const [a, b, c] = await servers(3);
    // Both boots passed forBoot before either recorded its members.
    await groups.forBoot(ctx, id, 1);
    await groups.forBoot(ctx, id, 2);
    await groups.addMembers(id, [a]);
    expect(await failure(groups.addMembers(id, [b, c]))).toEqual({ kind: 'overQuota', message: 'Quota exceeded, too many servers in group' });
    expect((await groups.get(ctx, id)).members).toEqual([a]);
    expect(await groups.groupsOf(b)).toEqual([]);
  });

  test('concurrent additions never exceed the quota together', async () => {
    t.services.config.seed.quotas.server_group_members = 3;
    const id = await group();
    const ids = await servers(6);
    const results = await Promise.allSettled(ids.map((s) => groups.addMembers(id, [s])));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect((await groups.get(await t.ctx(), id)).members).toHaveLength(3);
  });

  test('into a group deleted meanwhile: the boot\'s 400 naming the group, nothing recorded', async () => {
    const id = await group();
    const [a] = await servers(1);
    await groups.delete(await t.ctx(), id);
    expect(await failure(groups.addMembers(id, [a]))).toEqual({ kind: 'invalid', message: `Instance group ${id} could not be found.` });
    expect(await t.services.db('server_group_members').where({ server_id: a })).toEqual([]);
  });

  test('a server is in one group at most', async () => {
    const first = await group();
    const second = await group('affinity');
    const [a] = await servers(1);
    await groups.addMembers(first, [a]);
    expect((await failure(groups.addMembers(second, [a]))).kind).toBe('conflict');
    expect(await groups.groupsOf(a)).toEqual([first]);
  });
});

describe('groupOf, groupsOf, removeMember', () => {
  test('a server\'s group as a move needs it (its own host included: the caller leaves it out), and its uuid for the body', async () => {
    const id = await group('anti-affinity', 'demo', { max_server_per_host: 3 });
    const [a, b] = await servers(2);
    await groups.addMembers(id, [a, b]);
    await placeOn(a, 'h1');
    await placeOn(b, 'h2');
    expect(await groups.groupOf(a)).toEqual({ uuid: id, policy: 'anti-affinity', maxServerPerHost: 3, memberHosts: ['h1', 'h2'] });
    expect(await groups.groupsOf(b)).toEqual([id]);
    const [lone] = await servers(1);
    expect(await groups.groupOf(lone)).toBeUndefined();
    expect(await groups.groupsOf(lone)).toEqual([]);
  });

  test('removeMember drops a deleted server from its group, a server not deleted stays; twice is a no-op', async () => {
    const id = await group();
    const [a, b] = await servers(2);
    await groups.addMembers(id, [a, b]);
    await groups.removeMember(b); // its delete did not happen
    expect(await groups.groupsOf(b)).toEqual([id]);
    await t.services.db('servers').where({ id: a }).update({ deleted: 1 });
    await groups.removeMember(a);
    await groups.removeMember(a);
    expect(await groups.groupsOf(a)).toEqual([]);
    expect(await t.services.db('server_group_members').where({ server_id: a })).toEqual([]);
    expect((await groups.get(await t.ctx(), id)).members).toEqual([b]);
  });
});
