/**
 * Server groups with the Debian `openstack` CLI, as a user drives them: create (2.1's policies and
 * 2.64's policy and rules), list (own project, --all-projects for admins, --long), show by name
 * or id, the used and maximum counts in `limits show`, and delete. Each step checks what the
 * client printed and what novadock recorded.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, ok, transcript } from './support';

jest.setTimeout(120_000);

let srv: StartedServer;
const admin = (args: string[]) => openstack(args, srv.env.admin);
const demo = (args: string[]) => openstack(args, srv.env.demo);
const recorded = () => srv.rows<{ uuid: string; name: string; policy: string; rules: string }>('select uuid, name, policy, rules from server_groups order by id');

beforeAll(async () => {
  srv = await startServer();
}, 120_000);
afterAll(async () => {
  await srv?.cleanup();
});

type Row = Record<string, unknown>;
const ids: Record<string, string> = {};

it('server group create --policy anti-affinity g1 prints the new group, recorded with its policy', async () => {
  const g = json<Row>(await admin(['server', 'group', 'create', '--policy', 'anti-affinity', 'g1', '-f', 'json']));
  // The SDK behind OSC negotiates 2.64 (its maximum for server groups): one policy, its rules.
  const me = await srv.login('admin');
  expect(g).toEqual({ id: expect.any(String), name: 'g1', policy: 'anti-affinity', rules: {}, members: [], project_id: me.projectId, user_id: me.userId });
  ids.g1 = String(g.id);
  expect(recorded()).toEqual([{ uuid: ids.g1, name: 'g1', policy: 'anti-affinity', rules: '{}' }]);
});

it('at 2.64, --rule max_server_per_host=2 gives the group its rule', async () => {
  const g = json<Row>(await admin(['--os-compute-api-version', '2.64', 'server', 'group', 'create', '--policy', 'anti-affinity', '--rule', 'max_server_per_host=2', 'g2', '-f', 'json']));
  expect(g).toMatchObject({ name: 'g2', policy: 'anti-affinity', rules: { max_server_per_host: 2 } });
  ids.g2 = String(g.id);
  expect(recorded().find((r) => r.uuid === ids.g2)?.rules).toBe('{"max_server_per_host":2}');
});

it('a soft policy at 2.15, and a rule on an affinity group refused with Nova\'s message', async () => {
  const soft = json<Row>(await demo(['--os-compute-api-version', '2.15', 'server', 'group', 'create', '--policy', 'soft-affinity', 'demo-soft', '-f', 'json']));
  expect(soft).toMatchObject({ name: 'demo-soft', policies: ['soft-affinity'] });
  ids.demoSoft = String(soft.id);
  const bad = await demo(['--os-compute-api-version', '2.64', 'server', 'group', 'create', '--policy', 'affinity', '--rule', 'max_server_per_host=2', 'bad']);
  expect(bad.code).toBe(1);
  expect(transcript(bad)).toContain('Only anti-affinity policy supports rules.');
});

it('server group list shows a project\'s own groups; --all-projects shows an admin every project\'s', async () => {
  const own = json<Row[]>(await admin(['server', 'group', 'list', '-f', 'json']));
  expect(own.map((r) => r.Name).sort()).toEqual(['g1', 'g2']);
  const theirs = json<Row[]>(await demo(['server', 'group', 'list', '-f', 'json']));
  expect(theirs.map((r) => r.Name)).toEqual(['demo-soft']);
  const all = json<Row[]>(await admin(['server', 'group', 'list', '--all-projects', '--long', '-f', 'json']));
  expect(all.map((r) => r.Name).sort()).toEqual(['demo-soft', 'g1', 'g2']);
  const demoLogin = await srv.login('demo');
  expect(all.find((r) => r.Name === 'demo-soft')).toMatchObject({ ID: ids.demoSoft, 'Project Id': demoLogin.projectId, 'User Id': demoLogin.userId, Members: [] });
});

it('server group show finds a group by name or id', async () => {
  const byName = json<Row>(await admin(['server', 'group', 'show', 'g1', '-f', 'json']));
  expect(byName).toMatchObject({ id: ids.g1, name: 'g1', members: [] });
  const byId = json<Row>(await admin(['server', 'group', 'show', ids.g1, '-f', 'json']));
  expect(byId).toEqual(byName);
  // Another project's group is not there for demo.
  const hidden = await demo(['server', 'group', 'show', ids.g1]);
  expect(hidden.code).toBe(1);
  // NOTE(openstack): OSC 6.0 (openstackclient/compute/v2/server_group.py ShowServerGroup) asks the SDK's
  // find_server_group, which answers None for a group it cannot find, and then fails on None.
  expect(hidden.stderr).toContain("'NoneType' object has no attribute 'keys'");
});

it('limits show --absolute counts the groups against Nova\'s default quota of 10', async () => {
  const rows = json<{ Name: string; Value: number }[]>(await admin(['limits', 'show', '--absolute', '-f', 'json']));
  const value = (name: string) => rows.find((r) => r.Name === name)?.Value;
  expect(value('maxServerGroups')).toBe(10);
  expect(value('maxServerGroupMembers')).toBe(10);
  expect(value('totalServerGroupsUsed')).toBe(2);
});

it('server group delete g1 g2 removes both; showing one then fails', async () => {
  ok(await admin(['server', 'group', 'delete', 'g1', 'g2']));
  expect(json<Row[]>(await admin(['server', 'group', 'list', '-f', 'json']))).toEqual([]);
  expect(recorded().map((r) => r.name)).toEqual(['demo-soft']);
  const gone = await admin(['server', 'group', 'show', 'g1']);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toContain("'NoneType' object has no attribute 'keys'");
});
