/**
 * Boots with a `group` hint through placement, with an in-memory stand-in for os-server-groups
 * (ServerGroupsPort): the group is checked before any row exists, the new servers become
 * members before they are placed, hard anti-affinity spreads and then refuses with no valid
 * host, hard affinity packs, and concurrent boots into one group still honour it. Without
 * os-server-groups wired in, a group hint names a group that does not exist (Nova's 400).
 */
import { badRequest } from '../../src/errors';
import { makeTestServices, NOVA_INITIAL, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import type { GroupPolicy, GroupSpec, ServerGroupsPort } from '../../src/compute/scheduler/types';
import type { RequestContext } from '../../src/http/context';

const G1 = '11111111-1111-4111-8111-111111111111';

class MemoryGroups implements ServerGroupsPort {
  readonly calls: string[] = [];
  private readonly groups = new Map<string, { policy: GroupPolicy; members: string[] }>();
  hostOf: (serverId: string) => Promise<string | null> = async () => null;

  add(uuid: string, policy: GroupPolicy): void {
    this.groups.set(uuid, { policy, members: [] });
  }

  private async spec(uuid: string): Promise<GroupSpec> {
    const g = this.groups.get(uuid)!;
    const hosts = await Promise.all(g.members.map((m) => this.hostOf(m)));
    return { uuid, policy: g.policy, memberHosts: hosts.filter((h): h is string => h !== null) };
  }

  async forBoot(_ctx: RequestContext, groupId: string | undefined, count: number): Promise<GroupSpec | undefined> {
    if (groupId === undefined) return undefined;
    this.calls.push(`forBoot ${count}`);
    if (!this.groups.has(groupId)) throw badRequest(`Instance group ${groupId} could not be found.`);
    return this.spec(groupId);
  }

  async addMembers(groupUuid: string, serverIds: string[]): Promise<void> {
    this.calls.push(`addMembers ${serverIds.length}`);
    this.groups.get(groupUuid)!.members.push(...serverIds);
  }

  async groupOf(serverId: string): Promise<GroupSpec | undefined> {
    for (const [uuid, g] of this.groups) if (g.members.includes(serverId)) return this.spec(uuid);
    return undefined;
  }

  async groupsOf(serverId: string): Promise<string[]> {
    return [...this.groups].filter(([, g]) => g.members.includes(serverId)).map(([uuid]) => uuid);
  }

  async removeMember(serverId: string): Promise<void> {
    for (const g of this.groups.values()) g.members = g.members.filter((m) => m !== serverId);
  }
}

let t: TestServices;
let groups: MemoryGroups;
let image: string;

async function setup(policy: GroupPolicy, hosts: [string, number][]): Promise<void> {
  groups = new MemoryGroups();
  groups.add(G1, policy);
  const drivers = hosts.map(([host, mb]) => new FakeDriver({ host, hypervisor: { memoryMb: mb + 512, vcpus: 8 } }));
  t = await makeTestServices({ drivers, serverGroups: groups, quotas: { instances: 50, cores: 100, ram: 100_000 }, config: { capacity: NOVA_INITIAL } });
  groups.hostOf = async (id) => ((await t.services.db('servers').where({ id }).first('host')) as { host: string | null } | undefined)?.host ?? null;
  image = await t.uploadImage();
}
afterEach(async () => {
  await t?.close();
});

async function create(name: string, count = 1, group: string | undefined = G1): Promise<string[]> {
  const { servers } = await t.services.compute.boot.create(await t.ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: count, maxCount: count, group });
  return servers.map((s) => s.id);
}
const row = (id: string) => t.services.compute.queries.get({ isAdmin: true } as RequestContext, id);
const settled = async (ids: string[]) => {
  await t.services.compute.tasks.idle();
  return Promise.all(ids.map(async (id) => { const s = await row(id); return `${s.vm_state}@${s.host ?? '-'}`; }));
};

test('hard anti-affinity: two boots land on two hosts, a third member finds no valid host', async () => {
  await setup('anti-affinity', [['a', 4096], ['b', 1024]]);
  expect(await settled(await create('one'))).toEqual(['active@a']);
  expect(await settled(await create('two'))).toEqual(['active@b']);
  const [third] = await create('three');
  expect(await settled([third])).toEqual(['error@-']);
  expect((await row(third)).fault?.message).toBe('No valid host was found. There are not enough hosts available.');
  expect(groups.calls).toEqual(['forBoot 1', 'addMembers 1', 'forBoot 1', 'addMembers 1', 'forBoot 1', 'addMembers 1']);
});

test('hard anti-affinity within one request: two servers on two hosts; three are all refused', async () => {
  await setup('anti-affinity', [['a', 4096], ['b', 4096]]);
  expect((await settled(await create('pair', 2))).sort()).toEqual(['active@a', 'active@b']);
  groups.add('33333333-3333-4333-8333-333333333333', 'anti-affinity');
  expect(await settled(await create('trio', 3, '33333333-3333-4333-8333-333333333333'))).toEqual(['error@-', 'error@-', 'error@-']);
});

test('concurrent boots into one anti-affinity group still get a host each', async () => {
  // RAM alone would put all three on a.
  await setup('anti-affinity', [['a', 8192], ['b', 1024], ['c', 1024]]);
  const ids = (await Promise.all([create('x'), create('y'), create('z')])).flat();
  const hosts = (await settled(ids)).map((s) => s.split('@')[1]);
  expect(hosts.sort()).toEqual(['a', 'b', 'c']);
});

test('hard affinity packs every member on the first one\'s host, though another is roomier', async () => {
  await setup('affinity', [['a', 2048], ['b', 1024]]);
  expect(await settled(await create('first'))).toEqual(['active@a']);
  await t.services.db('allocations').insert({ consumer_id: 'someone-else', host: 'a', memory_mb: 512, vcpus: 1, created_at: new Date().toISOString() });
  expect(await settled(await create('second', 2))).toEqual(['active@a', 'active@a']);
  expect(await settled(await create('fourth'))).toEqual(['error@-']);
});

test('an unknown group is refused before any server exists', async () => {
  await setup('affinity', [['a', 2048]]);
  await expect(create('lost', 1, '22222222-2222-4222-8222-222222222222')).rejects.toMatchObject({ kind: 'invalid', message: 'Instance group 22222222-2222-4222-8222-222222222222 could not be found.' });
  expect(Number((await t.services.db('servers').count({ n: '*' }).first())?.n)).toBe(0);
});

test('without os-server-groups wired in, a group hint is a group that does not exist', async () => {
  t = await makeTestServices();
  image = await t.uploadImage();
  await expect(create('nogroups', 1, G1)).rejects.toMatchObject({ kind: 'invalid', message: `Instance group ${G1} could not be found.` });
});
