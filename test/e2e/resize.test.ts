/**
 * Resize with the stock `openstack` CLI on a real engine (issue 15), as a user would:
 * `server resize --flavor … --wait` → VERIFY_RESIZE with the new flavor, the container's process
 * still the same (PID, start time) with the new limits; `server resize confirm`; another resize
 * and `server resize revert` → the old flavor and limits back, still the same process;
 * `server migration list` shows the resizes.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { containerOf, json, ok, serverStatusBecomes, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let id: string;
let pid: number;
let startedAt: string;

const os = (args: string[]) => openstack(args, srv.env.admin);
const show = async () => json<{ status: string; flavor: string }>(ok(await os(['server', 'show', 'rs1', '-f', 'json', '-c', 'status', '-c', 'flavor'])));
const MB = 1024 * 1024;

beforeAll(async () => {
  const image = await testImage('e2e-resize', false);
  srv = await startServer();
  ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'rs1']));
  id = ok(await os(['server', 'show', 'rs1', '-f', 'value', '-c', 'id'])).stdout.trim();
  const ctr = await containerOf(id);
  expect(ctr?.HostConfig.Memory).toBe(512 * MB);
  pid = (ctr as unknown as { State: { Pid: number; StartedAt: string } }).State.Pid;
  startedAt = (ctr as unknown as { State: { StartedAt: string } }).State.StartedAt;
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

/** The container's process and limits, as docker inspect shows them. */
async function process(): Promise<{ pid: number; startedAt: string; memory: number; running: boolean }> {
  const c = (await containerOf(id)) as unknown as { State: { Pid: number; StartedAt: string; Running: boolean }; HostConfig: { Memory: number } };
  return { pid: c.State.Pid, startedAt: c.State.StartedAt, memory: c.HostConfig.Memory, running: c.State.Running };
}

describe('openstack server resize', () => {
  it('resize --flavor m1.small --wait: VERIFY_RESIZE with the new flavor; the same process runs on with 2 GB', async () => {
    ok(await os(['server', 'resize', '--flavor', 'm1.small', '--wait', 'rs1']));
    const s = await show();
    expect(s.status).toBe('VERIFY_RESIZE');
    expect(s.flavor).toMatch(/m1\.small/);
    expect(await process()).toEqual({ pid, startedAt, memory: 2048 * MB, running: true });
  });

  it('resize confirm: ACTIVE with m1.small, same process', async () => {
    ok(await os(['server', 'resize', 'confirm', 'rs1']));
    await serverStatusBecomes(srv.env.admin, 'rs1', 'ACTIVE');
    expect((await show()).flavor).toMatch(/m1\.small/);
    expect(await process()).toEqual({ pid, startedAt, memory: 2048 * MB, running: true });
  });

  it('a resize to m1.medium then resize revert: ACTIVE with m1.small and its limits again, same process', async () => {
    ok(await os(['server', 'resize', '--flavor', 'm1.medium', '--wait', 'rs1']));
    expect((await process()).memory).toBe(4096 * MB);
    ok(await os(['server', 'resize', 'revert', 'rs1']));
    await serverStatusBecomes(srv.env.admin, 'rs1', 'ACTIVE');
    expect((await show()).flavor).toMatch(/m1\.small/);
    expect(await process()).toEqual({ pid, startedAt, memory: 2048 * MB, running: true });
  });

  it('server migration list shows both resizes, confirmed and reverted', async () => {
    const rows = json<{ Status: string; 'Type'?: string; 'Migration Type'?: string; 'Server UUID': string }[]>(ok(await openstack(['--os-compute-api-version', '2.23', 'server', 'migration', 'list', '-f', 'json'], srv.env.admin)));
    const mine = rows.filter((r) => r['Server UUID'] === id);
    expect(mine.map((r) => r.Status).sort()).toEqual(['confirmed', 'reverted']);
    expect(mine.map((r) => r['Type'] ?? r['Migration Type'])).toEqual(['resize', 'resize']);
  });
});
