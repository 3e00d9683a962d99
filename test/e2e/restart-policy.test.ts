/**
 * Restart policy with the Debian `openstack` CLI on a real engine (issue 15): an admin gives a
 * flavor `docker:restart_policy=always` (a bad value is refused), a server booted on it whose
 * process crashes every few seconds is restarted by the engine and stays ACTIVE, and
 * `openstack server event list` shows the engine's `restart` action.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { containerOf, json, ok, poll, testImage, transcript } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
const admin = (args: string[]) => openstack(args, srv.env.admin);

beforeAll(async () => {
  image = await testImage('e2e-restart', false);
  srv = await startServer();
  ok(await admin(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw',
    '--property', 'os_command_line=sh -c "sleep 3; exit 1"', 'crashy']));
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

it('flavor set --property docker:restart_policy=always is stored; a bad value is refused with Nova\'s 400', async () => {
  ok(await admin(['flavor', 'create', '--ram', '64', '--vcpus', '1', '--disk', '1', 'restarty']));
  const bad = await admin(['flavor', 'set', '--property', 'docker:restart_policy=sometimes', 'restarty']);
  expect(bad.code).toBe(1);
  expect(transcript(bad)).toContain("Value 'sometimes' for extra spec 'docker:restart_policy' is not valid");
  ok(await admin(['flavor', 'set', '--property', 'docker:restart_policy=always', 'restarty']));
  expect(json<{ properties: Record<string, string> }>(await admin(['flavor', 'show', 'restarty', '-f', 'json'])).properties).toMatchObject({ 'docker:restart_policy': 'always' });
});

it('a server whose process crashes is restarted by the engine: still ACTIVE, and its events show the restart', async () => {
  ok(await admin(['server', 'create', '--image', 'crashy', '--flavor', 'restarty', '--wait', 'crashy1']));
  const id = ok(await admin(['server', 'show', 'crashy1', '-f', 'value', '-c', 'id'])).stdout.trim();
  const restarted = await poll(async () => (await restartCountOf(id)), (n) => n >= 1, 60_000);
  expect(restarted).toBeGreaterThanOrEqual(1);
  const events = await poll(async () => json<{ Action: string }[]>(await admin(['server', 'event', 'list', 'crashy1', '-f', 'json'])), (e) => e.some((x) => x.Action === 'restart'), 30_000);
  expect(events.map((e) => e.Action)).toContain('restart');
  // Across the crashes and restarts, the API says ACTIVE (never SHUTOFF).
  for (let i = 0; i < 3; i++) {
    expect(ok(await admin(['server', 'show', 'crashy1', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('ACTIVE');
  }
});

async function restartCountOf(id: string): Promise<number> {
  const c = (await containerOf(id)) as unknown as { RestartCount?: number } | undefined;
  return c?.RestartCount ?? 0;
}
