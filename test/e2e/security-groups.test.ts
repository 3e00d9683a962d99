/**
 * Security groups with the Debian `openstack` CLI (issue 17): create a group, a tcp 8080 rule from
 * a range, see it, list, delete. Without a network service in the catalog OSC goes through the
 * compute API's proxy (os-security-groups, os-security-group-rules); with one, through the
 * Networking API: both answer from the same records. Enforcement with real packets is
 * test/docker/security-groups.test.ts.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, lines, ok } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
const demo = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => { srv = await startServer(); }, 300_000);
afterAll(async () => { await srv?.cleanup(); });

it('security group create, rule create --protocol tcp --dst-port 8080 --remote-ip, show, list, delete', async () => {
  const made = json<{ name: string; id: string }>(await demo(['security group', 'create', 'sg1', '--description', 'web', '-f', 'json'].flatMap((a) => a.split(' '))));
  expect(made.name).toBe('sg1');
  ok(await demo(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', '--remote-ip', '10.230.9.0/24', 'sg1']));
  const shown = json<{ rules: unknown }>(await demo(['security', 'group', 'show', 'sg1', '-f', 'json']));
  expect(JSON.stringify(shown.rules)).toContain('8080');
  expect(JSON.stringify(shown.rules)).toContain('10.230.9.0/24');
  expect(lines(await demo(['security', 'group', 'list', '-f', 'value', '-c', 'Name']))).toEqual(expect.arrayContaining(['default', 'sg1']));
  ok(await demo(['security', 'group', 'delete', 'sg1']));
  expect(lines(await demo(['security', 'group', 'list', '-f', 'value', '-c', 'Name']))).not.toContain('sg1');
  // The project's default group stays.
  const refused = await demo(['security', 'group', 'delete', 'default']);
  expect(refused.code).toBe(1);
});
