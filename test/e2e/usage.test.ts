/**
 * os-simple-tenant-usage with the Debian `openstack` CLI (issue 15): after a server of demo has
 * run and another was deleted, `openstack usage list` (admin) and `openstack usage show` print
 * the project's real figures (hours counted from launch to now, or to the deletion).
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { json, ok, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
const admin = (args: string[]) => openstack(args, srv.env.admin);
const demo = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => {
  image = await testImage('e2e-usage', false);
  srv = await startServer();
  ok(await admin(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', '--public', 'busybox']));
  ok(await demo(['server', 'create', '--image', 'busybox', '--flavor', 'm1.small', '--wait', 'u1']));
  ok(await demo(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'u2']));
  ok(await demo(['server', 'delete', '--wait', 'u2']));
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

type Row = Record<string, unknown>;

it('usage list (admin) prints demo by name with both servers and hours above zero', async () => {
  const rows = json<Row[]>(await admin(['usage', 'list', '-f', 'json']));
  // -f json prints the raw columns: the project's id, the servers' usages.
  const demoId = (await srv.login('demo')).projectId;
  const mine = rows.find((r) => r.Project === demoId || r.Project === 'demo');
  expect((mine?.Servers as Row[]).map((u) => u.name).sort()).toEqual(['u1', 'u2']);
  const table = ok(await admin(['usage', 'list'])).stdout;
  expect(table).toMatch(/Usage from \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}/);
  expect(table).toMatch(/\|\s*demo\s*\|\s*2\s*\|/);
  expect(Number(mine!['CPU Hours'])).toBeGreaterThan(0);
  expect(Number(mine!['RAM MB-Hours'])).toBeGreaterThan(Number(mine!['CPU Hours']));
  expect(Number(mine!['Disk GB-Hours'])).toBeGreaterThan(0);
});

it('usage show (the caller\'s project) and usage show --project demo (admin) agree on the servers', async () => {
  const own = json<Row>(await demo(['usage', 'show', '-f', 'json']));
  expect((own.Servers as Row[]).map((u) => ({ name: u.name, state: u.state })).sort((a, b) => String(a.name).localeCompare(String(b.name))))
    .toEqual([{ name: 'u1', state: 'active' }, { name: 'u2', state: 'terminated' }]);
  expect(Number(own['CPU Hours'])).toBeGreaterThan(0);
  const asAdmin = json<Row>(await admin(['usage', 'show', '--project', 'demo', '-f', 'json']));
  expect((asAdmin.Servers as Row[]).length).toBe(2);
  expect(ok(await admin(['usage', 'show', '--project', 'demo'])).stdout).toMatch(/\|\s*Servers\s*\|\s*2\s*\|/);
});
