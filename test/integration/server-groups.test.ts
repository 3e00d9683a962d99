/**
 * os-server-groups through HTTP on a real database: create, list, show, delete at each
 * microversion that changes them (2.1, 2.13, 2.15, 2.64, 2.75), Nova's validation and errors, who
 * sees which group, the server_groups and server_group_members quotas as /limits and
 * os-quota-sets show them, and the server body's `server_groups` (2.71). Shapes are checked
 * against tempest's strict schemas.
 */
import { makeTestApp, TestApp, Account } from '../helpers/app';
import { loadSeed } from '../../src/config';
import { tempestProblems, TempestSchemaName } from './tempest-schemas';
import { act, bootActive, call, uploadImage } from './servers-support';

const GROUPS = '/compute/v2.1/os-server-groups';

let h: TestApp;
beforeAll(async () => {
  // Room for the many groups these tests make (the quota itself is tested on an app of its own).
  h = await makeTestApp({ quotas: { server_groups: 100 } });
});
afterAll(async () => { await h.close(); });

const create = (body: unknown, as: Account = 'demo', mv?: string) => call(h, 'post', GROUPS, { as, mv, body });
const list = (as: Account = 'demo', mv?: string, query?: Record<string, string>) => call(h, 'get', GROUPS, { as, mv, query });
const show = (id: string, as: Account = 'demo', mv?: string) => call(h, 'get', `${GROUPS}/${id}`, { as, mv });
const remove = (id: string, as: Account = 'demo', mv?: string) => call(h, 'delete', `${GROUPS}/${id}`, { as, mv });

/** Creates a group (2.64 when a policy string is given as `policy`) and returns its id. */
async function group(name: string, policy = 'anti-affinity', as: Account = 'demo'): Promise<string> {
  const res = await create({ server_group: { name, policy } }, as, '2.64');
  if (res.status !== 200) throw new Error(`create ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.server_group.id as string;
}

const expectSchema = (name: TempestSchemaName, res: { status: number; body: unknown }) => expect(tempestProblems(name, res)).toEqual([]);

describe('create and show, per microversion', () => {
  it('2.1: policies as a list of one, an empty metadata, no project or user; 200 (Nova answers create with 200)', async () => {
    const res = await create({ server_group: { name: 'g21', policies: ['anti-affinity'] } });
    expect(res.status).toBe(200);
    expectSchema('v2_1/server_groups.create_show_server_group', res);
    expect(res.body.server_group).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'g21', policies: ['anti-affinity'], metadata: {}, members: [] });
    const got = await show(res.body.server_group.id);
    expect(got.status).toBe(200);
    expectSchema('v2_1/server_groups.create_show_server_group', got);
    expect(got.body).toEqual(res.body);
  });

  it('2.13 adds project_id and user_id', async () => {
    const res = await create({ server_group: { name: 'g213', policies: ['affinity'] } }, 'demo', '2.13');
    expect(res.status).toBe(200);
    expectSchema('v2_13/server_groups.create_show_server_group', res);
    expect(res.body.server_group).toMatchObject({ policies: ['affinity'], project_id: await h.projectId('demo'), user_id: await h.userId('demo') });
  });

  it('the soft policies need 2.15', async () => {
    const old = await create({ server_group: { name: 'soft', policies: ['soft-anti-affinity'] } }, 'demo', '2.14');
    expect(old.status).toBe(400);
    expect(old.body.badRequest.message).toMatch(/^Invalid input for field\/attribute server_group\/policies\/0\. Value: soft-anti-affinity\. is not one of/);
    const res = await create({ server_group: { name: 'soft', policies: ['soft-anti-affinity'] } }, 'demo', '2.15');
    expect(res.status).toBe(200);
    expectSchema('v2_13/server_groups.create_show_server_group', res);
    expect(res.body.server_group.policies).toEqual(['soft-anti-affinity']);
  });

  it('2.64: one policy and its rules, no policies and no metadata', async () => {
    const res = await create({ server_group: { name: 'g264', policy: 'anti-affinity', rules: { max_server_per_host: 2 } } }, 'demo', '2.64');
    expect(res.status).toBe(200);
    expectSchema('v2_64/server_groups.create_show_server_group', res);
    expect(res.body.server_group).toEqual({
      id: expect.any(String), name: 'g264', policy: 'anti-affinity', rules: { max_server_per_host: 2 }, members: [],
      project_id: await h.projectId('demo'), user_id: await h.userId('demo'),
    });
    // Below 2.64 the same group shows its policy as a list, and the rules are not shown.
    const old = await show(res.body.server_group.id, 'demo', '2.63');
    expect(old.body.server_group).toMatchObject({ policies: ['anti-affinity'], metadata: {} });
    expect(old.body.server_group).not.toHaveProperty('rules');
  });

  it('2.64: a string of digits is a number of servers; rules may be empty; a group made at 2.1 shows rules {}', async () => {
    const res = await create({ server_group: { name: 'digits', policy: 'anti-affinity', rules: { max_server_per_host: '3' } } }, 'demo', '2.64');
    expect(res.status).toBe(200);
    expect(res.body.server_group.rules).toEqual({ max_server_per_host: 3 });
    const empty = await create({ server_group: { name: 'norules', policy: 'affinity', rules: {} } }, 'demo', '2.64');
    expect(empty.status).toBe(200);
    expect(empty.body.server_group.rules).toEqual({});
    const made21 = await create({ server_group: { name: 'from21', policies: ['affinity'] } });
    const at264 = await show(made21.body.server_group.id, 'demo', '2.64');
    expectSchema('v2_64/server_groups.create_show_server_group', at264);
    expect(at264.body.server_group).toMatchObject({ policy: 'affinity', rules: {} });
  });

  it.each([
    ['2.1', { name: 'x' }, 'Invalid input for field/attribute server_group/policies. Value: {"name":"x"}. \'policies\' is a required property'],
    ['2.1', { name: 'x', policies: ['affinity', 'anti-affinity'] }, 'Invalid input for field/attribute server_group/policies.'],
    ['2.1', { name: 'x', policies: [] }, 'Invalid input for field/attribute server_group/policies.'],
    ['2.1', { name: 'x', policies: 'affinity' }, "Invalid input for field/attribute server_group/policies. Value: affinity. is not of type 'array'"],
    ['2.1', { name: 'x', policies: ['affinity'], policy: 'affinity' }, "Additional properties are not allowed ('policy' was unexpected)"],
    ['2.1', { policies: ['affinity'] }, "'name' is a required property"],
    ['2.1', { name: '', policies: ['affinity'] }, 'Invalid input for field/attribute server_group/name.'],
    ['2.1', { name: ' lead', policies: ['affinity'] }, 'Invalid input for field/attribute server_group/name.'],
    ['2.1', { name: 'x'.repeat(256), policies: ['affinity'] }, 'Invalid input for field/attribute server_group/name.'],
    // A missing property is reported before an unexpected one, as jsonschema walks the schema.
    ['2.64', { name: 'x', policies: ['affinity'] }, "'policy' is a required property"],
    ['2.64', { name: 'x', policy: 'affinity', policies: ['affinity'] }, "Additional properties are not allowed ('policies' was unexpected)"],
    ['2.64', { name: 'x' }, "'policy' is a required property"],
    ['2.64', { name: 'x', policy: 'legacy' }, 'Invalid input for field/attribute server_group/policy. Value: legacy. is not one of'],
    ['2.64', { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 0 } }, 'Invalid input for field/attribute server_group/rules/max_server_per_host. Value: 0. 0 is less than the minimum of 1'],
    ['2.64', { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: '0' } }, 'Invalid input for field/attribute server_group/rules/max_server_per_host. Value: 0. 0 is less than the minimum of 1'],
    ['2.64', { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 'two' } }, 'Invalid input for field/attribute server_group/rules/max_server_per_host.'],
    ['2.64', { name: 'x', policy: 'anti-affinity', rules: { max_server_per_host: 1.5 } }, 'Invalid input for field/attribute server_group/rules/max_server_per_host.'],
    ['2.64', { name: 'x', policy: 'anti-affinity', rules: { other: 1 } }, "Additional properties are not allowed ('other' was unexpected)"],
    ['2.64', { name: 'x', policy: 'affinity', rules: { max_server_per_host: 2 } }, 'Only anti-affinity policy supports rules.'],
    ['2.64', { name: 'x', policy: 'soft-anti-affinity', rules: { max_server_per_host: 2 } }, 'Only anti-affinity policy supports rules.'],
  ])('at %s, %j is a 400 saying %s', async (mv, serverGroup, message) => {
    const before = (await list('demo', '2.64')).body.server_groups.length;
    const res = await create({ server_group: serverGroup }, 'demo', mv);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.code).toBe(400);
    expect(res.body.badRequest.message).toContain(message);
    expect((await list('demo', '2.64')).body.server_groups).toHaveLength(before);
  });

  it('a body without server_group, or not an object, is a 400', async () => {
    expect((await create({ name: 'x', policies: ['affinity'] })).status).toBe(400);
    expect((await create({ server_group: 'x' })).status).toBe(400);
    expect((await call(h, 'post', GROUPS, { body: '[1]' })).status).toBe(400);
  });
});

describe('who sees which group', () => {
  let demoGroup: string;
  let altGroup: string;
  beforeAll(async () => {
    demoGroup = await group('demo-only');
    altGroup = await group('alt-only', 'affinity', 'alt');
  });

  it('another project\'s group is not found, for show and delete, in Nova\'s words', async () => {
    const res = await show(demoGroup, 'alt');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ itemNotFound: { code: 404, message: `Instance group ${demoGroup} could not be found.` } });
    expect((await remove(demoGroup, 'alt')).status).toBe(404);
    expect((await show(demoGroup)).status).toBe(200);
  });

  it('an unknown id (uuid or not) is a 404', async () => {
    expect((await show('00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await show('not-a-uuid')).body.itemNotFound.message).toBe('Instance group not-a-uuid could not be found.');
  });

  it('the list holds the caller\'s project\'s groups only, all_projects or not, for non-admins', async () => {
    for (const query of [undefined, { all_projects: 'True' }]) {
      const res = await list('alt', '2.13', query);
      expect(res.status).toBe(200);
      expectSchema('v2_13/server_groups.list_server_groups', res);
      const projects = new Set(res.body.server_groups.map((g: { project_id: string }) => g.project_id));
      expect([...projects]).toEqual([await h.projectId('alt')]);
      expect(res.body.server_groups.map((g: { id: string }) => g.id)).toContain(altGroup);
    }
  });

  it('an admin lists its own project\'s groups, and every project\'s with all_projects (any value)', async () => {
    await group('admin-own', 'affinity', 'admin');
    const own = await list('admin', '2.13');
    expect(new Set(own.body.server_groups.map((g: { project_id: string }) => g.project_id))).toEqual(new Set([await h.projectId('admin')]));
    for (const value of ['True', 'false', '']) {
      const all = await list('admin', '2.64', { all_projects: value });
      expectSchema('v2_64/server_groups.list_server_groups', all);
      const ids = all.body.server_groups.map((g: { id: string }) => g.id);
      expect(ids).toEqual(expect.arrayContaining([demoGroup, altGroup]));
    }
  });

  it('an admin shows and deletes another project\'s group', async () => {
    const id = await group('admin-deletes', 'affinity', 'alt');
    expect((await show(id, 'admin')).body.server_group.name).toBe('admin-deletes');
    expect((await remove(id, 'admin')).status).toBe(204);
    expect((await show(id, 'alt')).status).toBe(404);
  });

  it('a reader lists and shows its project\'s groups but neither creates nor deletes', async () => {
    expect((await show(demoGroup, 'viewer')).status).toBe(200);
    expect((await list('viewer')).body.server_groups.map((g: { id: string }) => g.id)).toContain(demoGroup);
    const made = await create({ server_group: { name: 'by-reader', policies: ['affinity'] } }, 'viewer');
    expect(made.status).toBe(403);
    expect(made.body.forbidden.message).toMatch(/^Policy doesn't allow/);
    expect((await remove(demoGroup, 'viewer')).status).toBe(403);
    expect((await show(demoGroup)).status).toBe(200);
  });
});

describe('list paging and query parameters', () => {
  let ids: string[];
  beforeAll(async () => {
    ids = [];
    for (const n of ['p1', 'p2', 'p3', 'p4']) ids.push(await group(n, 'affinity', 'alt'));
  });
  const names = async (query: Record<string, string>, mv?: string) => {
    const res = await list('alt', mv, query);
    expect(res.status).toBe(200);
    return res.body.server_groups.map((g: { name: string }) => g.name).filter((n: string) => /^p\d$/.test(n));
  };

  it('offset and limit page in creation order; limit=0 means no limit, as in Nova', async () => {
    const all = await list('alt');
    const ordered = all.body.server_groups.map((g: { id: string }) => g.id);
    const at = ordered.indexOf(ids[0]);
    expect(ordered.slice(at, at + 4)).toEqual(ids);
    expect(await names({ offset: String(at + 1), limit: '2' })).toEqual(['p2', 'p3']);
    expect(await names({ offset: String(at + 3) })).toEqual(['p4']);
    expect(await names({ limit: '0' })).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect((await list('alt', undefined, { offset: '1000' })).body.server_groups).toEqual([]);
  });

  it.each(['limit', 'offset'])('a %s that is not a non-negative integer is a 400', async (param) => {
    for (const v of ['-1', 'x', '1.5', '']) {
      const res = await list('alt', undefined, { [param]: v });
      expect(res.status).toBe(400);
      expect(res.body.badRequest.message).toBe(`Invalid input for query parameters ${param}. Value: ${v}. '${v}' does not match '^[0-9]*$'`);
    }
  });

  it('unknown parameters are ignored before 2.75 and refused from 2.75', async () => {
    expect((await list('alt', '2.74', { foo: 'bar' })).status).toBe(200);
    const res = await list('alt', '2.75', { foo: 'bar' });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe("Invalid input for query parameters foo. Additional properties are not allowed ('foo' was unexpected)");
    expect((await list('alt', '2.75', { all_projects: '1', limit: '1', offset: '0' })).status).toBe(200);
  });
});

describe('delete', () => {
  it('answers 204 with no body; the group is gone for show, list and a second delete', async () => {
    const id = await group('short-lived');
    const res = await remove(id);
    expect(res.status).toBe(204);
    expectSchema('v2_1/server_groups.delete_server_group', res);
    expect(res.text).toBe('');
    expect((await show(id)).status).toBe(404);
    expect((await list('demo', '2.64')).body.server_groups.map((g: { id: string }) => g.id)).not.toContain(id);
    expect((await remove(id)).status).toBe(404);
  });

  it('other methods are 405', async () => {
    const id = await group('methods');
    expect((await call(h, 'put', `${GROUPS}/${id}`, { body: { server_group: { name: 'y' } } })).status).toBe(405);
    expect((await call(h, 'patch', GROUPS, { body: {} })).status).toBe(405);
  });
});

describe('members and the server body (2.71)', () => {
  let image: string;
  beforeAll(async () => {
    image = await uploadImage(h);
  });

  it('members are the group\'s servers that are not deleted; a server shows its group from 2.71 on show, update and rebuild, never in the detail list', async () => {
    const id = await group('with-members');
    const a = await bootActive(h, image, { name: 'm-a' });
    const b = await bootActive(h, image, { name: 'm-b' });
    await h.services.compute.serverGroups.addMembers(id, [a, b]);

    const got = await show(id, 'demo', '2.64');
    expectSchema('v2_64/server_groups.create_show_server_group', got);
    expect(got.body.server_group.members).toEqual([a, b]);
    const listed = (await list('demo', '2.1')).body.server_groups.find((g: { id: string }) => g.id === id);
    expect(listed.members).toEqual([a, b]);

    const at271 = await call(h, 'get', `/compute/v2.1/servers/${a}`, { mv: '2.71' });
    expect(tempestProblems('v2_71/servers.get_server', at271)).toEqual([]);
    expect(at271.body.server.server_groups).toEqual([id]);
    expect((await call(h, 'get', `/compute/v2.1/servers/${a}`, { mv: '2.70' })).body.server).not.toHaveProperty('server_groups');
    const detail = await call(h, 'get', '/compute/v2.1/servers/detail', { mv: '2.71' });
    expect(detail.body.servers.find((s: { id: string }) => s.id === a)).not.toHaveProperty('server_groups');

    const put = await call(h, 'put', `/compute/v2.1/servers/${a}`, { mv: '2.71', body: { server: { name: 'm-a2' } } });
    expect(put.status).toBe(200);
    expect(tempestProblems('v2_71/servers.update_server', put)).toEqual([]);
    expect(put.body.server.server_groups).toEqual([id]);

    const rebuild = await act(h, b, { rebuild: { imageRef: image } }, { mv: '2.71' });
    expect(rebuild.status).toBe(202);
    expect(tempestProblems('v2_71/servers.rebuild_server_with_admin_pass', rebuild)).toEqual([]);
    expect(rebuild.body.server.server_groups).toEqual([id]);
    await h.services.compute.tasks.idle();

    // A server in no group shows an empty list.
    const c = await bootActive(h, image, { name: 'm-c' });
    expect((await call(h, 'get', `/compute/v2.1/servers/${c}`, { mv: '2.71' })).body.server.server_groups).toEqual([]);

    // Deleted: out of the members, and its member row is gone.
    expect((await call(h, 'delete', `/compute/v2.1/servers/${a}`)).status).toBe(204);
    await h.services.compute.tasks.idle();
    expect((await show(id)).body.server_group.members).toEqual([b]);
    expect(await h.db('server_group_members').where({ server_id: a })).toEqual([]);
  });

  it('deleting a group leaves its servers in no group', async () => {
    const id = await group('dissolved');
    const s = await bootActive(h, image, { name: 'd-a' });
    await h.services.compute.serverGroups.addMembers(id, [s]);
    expect((await remove(id)).status).toBe(204);
    expect((await call(h, 'get', `/compute/v2.1/servers/${s}`, { mv: '2.71' })).body.server.server_groups).toEqual([]);
    expect(await h.db('server_group_members').where({ server_id: s })).toEqual([]);
  });
});

describe('quotas', () => {
  let q: TestApp;
  beforeAll(async () => {
    q = await makeTestApp({ quotas: { server_groups: 2, server_group_members: 3 } });
  });
  afterAll(async () => { await q.close(); });

  it('a project holds at most server_groups groups: the next is a 403 in Nova\'s words, and creates nothing', async () => {
    for (const n of ['q1', 'q2']) expect((await call(q, 'post', GROUPS, { body: { server_group: { name: n, policies: ['affinity'] } } })).status).toBe(200);
    const res = await call(q, 'post', GROUPS, { body: { server_group: { name: 'q3', policies: ['affinity'] } } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ forbidden: { code: 403, message: 'Quota exceeded, too many server groups.' } });
    expect((await call(q, 'get', GROUPS)).body.server_groups.map((g: { name: string }) => g.name)).toEqual(['q1', 'q2']);
    // Over quota is said before a bad rule (Nova checks the quota first).
    const both = await call(q, 'post', GROUPS, { mv: '2.64', body: { server_group: { name: 'q3', policy: 'affinity', rules: { max_server_per_host: 2 } } } });
    expect(both.status).toBe(403);
    // Another project has its own count.
    expect((await call(q, 'post', GROUPS, { as: 'alt', body: { server_group: { name: 'a1', policies: ['affinity'] } } })).status).toBe(200);
  });

  it('/limits shows the limits and the groups used; a deleted group frees its place', async () => {
    const limits = await call(q, 'get', '/compute/v2.1/limits');
    expect(tempestProblems('v2_1/limits.get_limit', limits)).toEqual([]);
    expect(limits.body.limits.absolute).toMatchObject({ maxServerGroups: 2, maxServerGroupMembers: 3, totalServerGroupsUsed: 2 });
    const first = (await call(q, 'get', GROUPS)).body.server_groups[0].id;
    expect((await call(q, 'delete', `${GROUPS}/${first}`)).status).toBe(204);
    expect((await call(q, 'get', '/compute/v2.1/limits', { mv: '2.57' })).body.limits.absolute.totalServerGroupsUsed).toBe(1);
    expect((await call(q, 'post', GROUPS, { body: { server_group: { name: 'q3', policies: ['affinity'] } } })).status).toBe(200);
  });

  it('os-quota-sets shows both quotas, and the detail counts the groups in use (members: 0, as Nova)', async () => {
    const project = await q.projectId('demo');
    const set = await call(q, 'get', `/compute/v2.1/os-quota-sets/${project}`);
    expectSchema('v2_1/quotas.get_quota_set', set);
    expect(set.body.quota_set).toMatchObject({ server_groups: 2, server_group_members: 3 });
    const at257 = await call(q, 'get', `/compute/v2.1/os-quota-sets/${project}`, { mv: '2.57' });
    expectSchema('v2_57/quotas.get_quota_set', at257);
    const detail = await call(q, 'get', `/compute/v2.1/os-quota-sets/${project}/detail`);
    expectSchema('v2_1/quotas.get_quota_set_details', detail);
    expect(detail.body.quota_set.server_groups).toEqual({ limit: 2, in_use: 2, reserved: 0 });
    expect(detail.body.quota_set.server_group_members).toEqual({ limit: 3, in_use: 0, reserved: 0 });
    const defaults = await call(q, 'get', `/compute/v2.1/os-quota-sets/${project}/defaults`);
    expect(defaults.body.quota_set).toMatchObject({ server_groups: 2, server_group_members: 3 });
  });

  it('the default quotas are Nova\'s: 10 groups, 10 members', () => {
    expect(loadSeed(undefined).quotas).toMatchObject({ server_groups: 10, server_group_members: 10 });
  });
});
