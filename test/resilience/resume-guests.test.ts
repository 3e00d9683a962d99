/**
 * Host boot and NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT (issue 15, Nova's
 * resume_guests_state_on_host_boot). Two novadock servers share the machine's engine: one with the
 * setting, one without. Each has an ACTIVE server; the one with the setting also has a server
 * stopped through the API. The engine is stopped (SIGTERM: Docker 20.10 stops its containers on
 * the way down) and started again:
 *  - while it is down, the ACTIVE servers are still ACTIVE: the engine stopped their containers
 *    because it went down, which is not the servers shutting down by themselves;
 *  - once it is back, the server with the setting runs again (ACTIVE, its container running), the
 *    server stopped through the API stays SHUTOFF, and without the setting the server is
 *    SHUTOFF as its container is.
 *
 * This file restarts the engine every other suite uses: the test script runs the resilience files
 * alone, one at a time, after all of them. The engine is restored whatever happens.
 */
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { Harness, boot, containerOf, resilServer, settles, uploadImage, waitFor } from './support';
import { DaemonLaunch, engineAnswers, ensureEngineRunning, findDockerd, launchEngine, stopEngine, waitForEngine } from './engine-control';

jest.setTimeout(600_000);

let resuming: Harness;
let plain: Harness;
let launch: DaemonLaunch | undefined;
const ids = { resumed: '', stopped: '', plain: '' };

async function bootOn(h: Harness, name: string): Promise<string> {
  const img = busyboxImage(`resil-resume-${name}`);
  h.engineImages.add(img.imageId);
  const imageId = await uploadImage(h.demo, fs.readFileSync(img.path), { name });
  const id = await boot(h.demo, { name, imageRef: imageId, flavorRef: '1' });
  expect((await settles(h.demo, id, ['ACTIVE', 'ERROR'])).status).toBe('ACTIVE');
  return id;
}

beforeAll(async () => {
  expect(await engineAnswers()).toBe(true);
  launch = findDockerd()?.launch;
  resuming = await resilServer('resume', { env: { NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT: 'true' } });
  plain = await resilServer('noresume');
  ids.resumed = await bootOn(resuming, 'resil-resumed');
  ids.stopped = await bootOn(resuming, 'resil-kept-stopped');
  ids.plain = await bootOn(plain, 'resil-not-resumed');
  expect((await resuming.demo.action(ids.stopped, { 'os-stop': null })).status).toBe(202);
  expect((await settles(resuming.demo, ids.stopped, ['SHUTOFF', 'ERROR'])).status).toBe('SHUTOFF');
}, 300_000);

afterAll(async () => {
  await ensureEngineRunning(launch);
  await resuming?.cleanup();
  await plain?.cleanup();
}, 600_000);

test('after the engine restarts, ACTIVE servers run again with the resume setting, stay stopped without it, and a server stopped through the API stays stopped', async () => {
  const stopped = await stopEngine();
  launch = stopped.launch;
  try {
    expect(await engineAnswers(5_000)).toBe(false);
    // The reconciler heard the containers die on the engine's way down: none of that is the
    // servers' own doing.
    expect((await resuming.demo.server(ids.resumed)).status).toBe('ACTIVE');
    expect((await plain.demo.server(ids.plain)).status).toBe('ACTIVE');
    expect((await resuming.demo.server(ids.stopped)).status).toBe('SHUTOFF');
  } finally {
    if (!(await engineAnswers(5_000))) launchEngine(launch);
    expect(await waitForEngine(120_000)).toBeGreaterThanOrEqual(0);
  }

  const running = await waitFor(async () => ({
    view: await resuming.demo.server(ids.resumed),
    container: await containerOf(resuming.host, ids.resumed),
  }), (v) => v.view.status === 'ACTIVE' && v.container?.State.Status === 'running', 60_000, 250);
  expect(running.value.view.status).toBe('ACTIVE');
  expect(running.value.container?.State.Status).toBe('running');

  const off = await waitFor(() => plain.demo.server(ids.plain), (v) => v.status === 'SHUTOFF', 60_000, 250);
  expect(off.value.status).toBe('SHUTOFF');
  expect((await containerOf(plain.host, ids.plain))?.State.Status).toBe('exited');

  // The sweeps are done by now (both hosts' servers settled): the stopped one stayed stopped.
  expect((await resuming.demo.server(ids.stopped)).status).toBe('SHUTOFF');
  expect((await containerOf(resuming.host, ids.stopped))?.State.Status).toBe('exited');
});
