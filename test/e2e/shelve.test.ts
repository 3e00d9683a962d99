/**
 * Shelve with the stock `openstack` CLI (OSC 6.0.0) against a started novadock on the real engine,
 * as a user parks a server and brings it back: `server shelve` → SHELVED_OFFLOADED (the container
 * gone, the "<name>-shelved" image listed) → `server unshelve --wait` → ACTIVE, with a file
 * written inside before the shelve still there, and the shelved image deleted. Deleting the server
 * then takes the shelved image's engine copy with it, and deleting the boot image takes its own:
 * nothing of this file stays on the engine.
 */
import { startServer, StartedServer } from '../helpers/server';
import { docker, openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { containerOf, imageInEngine, ok, poll, serverStatusBecomes, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
let id: string;
let shelvedImageId: string;
/** The engine copy of the shelved image: the unshelved container runs from it, so it outlives the Glance record. */
let shelvedEngineImage: string | undefined;

const os = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => {
  image = await testImage('e2e-shelve', false);
  srv = await startServer();
  ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'parked']));
  id = ok(await os(['server', 'show', 'parked', '-f', 'value', '-c', 'id'])).stdout.trim();
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
  if (shelvedEngineImage) await docker(['image', 'rm', shelvedEngineImage]);
});

test('server shelve: SHELVED_OFFLOADED, its container gone, the shelved image listed', async () => {
  const ctr = await containerOf(id);
  ok(await docker(['exec', ctr!.Id, 'sh', '-c', 'echo parked-data > /root/shelve-marker']));
  const r = ok(await os(['server', 'shelve', 'parked']));
  expect(r.stdout.trim()).toBe('');
  expect(await serverStatusBecomes(srv.env.demo, 'parked', 'SHELVED_OFFLOADED')).toBe('SHELVED_OFFLOADED');
  expect(await containerOf(id)).toBeUndefined();
  const images = ok(await os(['image', 'list', '--name', 'parked-shelved', '-f', 'value', '-c', 'Name', '-c', 'Status'])).stdout.trim();
  expect(images).toBe('parked-shelved active');
  const listed = ok(await os(['server', 'list', '--status', 'SHELVED_OFFLOADED', '-f', 'value', '-c', 'Name'])).stdout.trim();
  expect(listed).toBe('parked');
  shelvedImageId = ok(await os(['image', 'show', 'parked-shelved', '-f', 'value', '-c', 'id'])).stdout.trim();
});

test('server unshelve --wait: ACTIVE again, the file is back, the shelved image is deleted', async () => {
  ok(await os(['server', 'unshelve', '--wait', 'parked']));
  expect(ok(await os(['server', 'show', 'parked', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('ACTIVE');
  const ctr = await containerOf(id);
  expect(ctr?.State.Status).toBe('running');
  shelvedEngineImage = ctr?.Image;
  expect(ok(await docker(['exec', ctr!.Id, 'cat', '/root/shelve-marker'])).stdout.trim()).toBe('parked-data');
  const gone = await poll(() => os(['image', 'show', shelvedImageId]), (x) => x.code !== 0, 30_000);
  expect(gone.code).not.toBe(0);
  expect(await imageInEngine(shelvedEngineImage!)).toBe(true);
});

test('server delete, then image delete: neither the shelved engine image nor the boot image stays on the engine', async () => {
  ok(await os(['server', 'delete', '--wait', 'parked']));
  expect(await containerOf(id)).toBeUndefined();
  expect(await imageInEngine(shelvedEngineImage!)).toBe(false);
  // Still named by the "busybox" image: the engine must not have pruned it with its child.
  expect(await imageInEngine(image.imageId)).toBe(true);
  ok(await os(['image', 'delete', 'busybox']));
  expect(await poll(() => imageInEngine(image.imageId), (present) => !present, 30_000)).toBe(false);
});
