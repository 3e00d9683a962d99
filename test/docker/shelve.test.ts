/**
 * Shelve on a real Docker engine: a file written inside the server survives shelve → unshelve,
 * while SHELVED_OFFLOADED the server has no container at all, and the shelved image's engine copy
 * is what the unshelved container runs from — until the server is deleted: then that image, which
 * no Glance record names any more, leaves the engine, while images Glance still names stay.
 * Only what this file creates is removed (by id), and the last test checks nothing of it is left.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestServices, TestServices } from '../helpers/services';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { FileImageStore } from '../../src/store/file-store';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(180_000);

const host = dockerTestHost();
let t: TestServices;
let storeDir: string;
let imageId: string;
let bootEngineImage: string;
/** Servers and Glance images this file made, and every engine image it saw: all are gone at the end. */
const servers = new Set<string>();
const glanceImages = new Set<string>();
const engineImages = new Set<string>();

beforeAll(async () => {
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-shelve-'));
  t = await makeTestServices({ driver: new DockerDriver({ host, log: silentLog() }), store: new FileImageStore(storeDir) });
  const c = await t.ctx();
  const img = await t.services.images.create(c, { name: 'busybox-shelve', container_format: 'docker', disk_format: 'raw' });
  await t.services.imageUploads.upload(c, img.id, fs.createReadStream(busyboxImage('shelve').path));
  await t.services.images.idle();
  imageId = img.id;
  glanceImages.add(imageId);
  bootEngineImage = (await t.services.images.find(c, imageId))!.engine_image_id!;
  engineImages.add(bootEngineImage);
}, 180_000);

/** Deletes what this file made (by id); safe to run twice. */
async function removeAll(): Promise<void> {
  for (const id of servers) await t.services.compute.deleter.delete(await t.ctx('admin'), id).catch(() => undefined);
  await t.services.compute.tasks.idle();
  for (const id of glanceImages) await t.services.images.delete(await t.ctx('admin'), id).catch(() => undefined);
  await t.services.images.idle();
}

afterAll(async () => {
  await removeAll();
  await t.close();
  await removeTestArtifacts(host);
  for (const ref of await onEngine([...engineImages])) await dockerCli(['image', 'rm', ref]);
  fs.rmSync(storeDir, { recursive: true, force: true });
});

/** Those of `refs` the engine has. */
async function onEngine(refs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const ref of refs) if ((await dockerCli(['image', 'inspect', '--format', '{{.Id}}', ref])).code === 0) out.push(ref);
  return out;
}

async function boot(name: string, imageRef: string): Promise<string> {
  const { servers: [s] } = await t.services.compute.boot.create(await t.ctx(), { name, imageRef, flavorRef: '1', minCount: 1, maxCount: 1 });
  servers.add(s.id);
  await t.services.compute.tasks.idle();
  expect((await t.services.compute.queries.get(await t.ctx(), s.id)).vm_state).toBe('active');
  return s.id;
}

/** Shelve (offloaded at once), then unshelve: the engine image the server now runs from, whose Glance record is gone. */
async function shelveAndUnshelve(id: string): Promise<string> {
  const compute = t.services.compute;
  await compute.shelve.shelve(await t.ctx(), id);
  await compute.tasks.idle();
  const shelvedImage = (await t.services.images.find(await t.ctx(), (await compute.queries.get(await t.ctx(), id)).shelved_image_id!))!;
  engineImages.add(shelvedImage.engine_image_id!);
  await compute.shelve.unshelve(await t.ctx(), id);
  await compute.tasks.idle();
  expect(await t.services.images.find(await t.ctx(), shelvedImage.id)).toBeUndefined();
  return shelvedImage.engine_image_id!;
}

async function deleteServer(id: string): Promise<void> {
  await t.services.compute.deleter.delete(await t.ctx(), id);
  await t.services.compute.tasks.idle();
  servers.delete(id);
}

const containerIds = async (id: string) => (await dockerCli(['ps', '-aq', '--filter', `name=novadock-${id}`])).stdout.split(/\s+/).filter(Boolean);

test('a file written inside survives shelve → unshelve; while offloaded the container is gone; delete leaves no shelved image', async () => {
  const compute = t.services.compute;
  const id = await boot('shelved-on-docker', imageId);
  const wrote = await dockerCli(['exec', `novadock-${id}`, 'sh', '-c', 'echo survives-shelve > /root/shelve-marker']);
  expect(wrote.code).toBe(0);
  const firstContainer = (await containerIds(id))[0];

  await compute.shelve.shelve(await t.ctx(), id);
  await compute.tasks.idle();
  const offloaded = await compute.queries.get(await t.ctx(), id);
  expect([offloaded.vm_state, offloaded.power_state, offloaded.host]).toEqual(['shelved_offloaded', 4, null]);
  expect(await containerIds(id)).toEqual([]);
  const shelvedImage = await t.services.images.find(await t.ctx(), offloaded.shelved_image_id!);
  expect(shelvedImage?.status).toBe('active');
  const shelvedEngineImage = shelvedImage!.engine_image_id!;
  engineImages.add(shelvedEngineImage);

  await compute.shelve.unshelve(await t.ctx(), id);
  await compute.tasks.idle();
  const back = await compute.queries.get(await t.ctx(), id);
  expect([back.vm_state, back.power_state, back.host]).toEqual(['active', 1, host]);
  const now = await containerIds(id);
  expect(now).toHaveLength(1);
  expect(now[0]).not.toBe(firstContainer);
  const read = await dockerCli(['exec', `novadock-${id}`, 'cat', '/root/shelve-marker']);
  expect(read.stdout.trim()).toBe('survives-shelve');
  const runsFrom = (await dockerCli(['inspect', '--format', '{{.Image}}', `novadock-${id}`])).stdout.trim();
  expect(runsFrom).toBe(shelvedEngineImage);
  // The Glance record is gone; the engine kept the image only because the container runs from it.
  expect(await t.services.images.find(await t.ctx(), shelvedImage!.id)).toBeUndefined();
  expect(await onEngine([shelvedEngineImage])).toEqual([shelvedEngineImage]);

  await deleteServer(id);
  expect(await containerIds(id)).toEqual([]);
  expect(await onEngine([shelvedEngineImage])).toEqual([]);
  // Its parent, the boot image, is still named by Glance: the engine must not prune it with its child.
  expect(await onEngine([bootEngineImage])).toEqual([bootEngineImage]);
});

test('a snapshot still in Glance keeps its engine image when a server booted from it is shelved, unshelved and deleted', async () => {
  const compute = t.services.compute;
  const source = await boot('snapshot-source', imageId);
  const snapshot = await compute.snapshots.createImage(await t.ctx(), source, { name: 'shelve-snapshot' });
  glanceImages.add(snapshot.id);
  await compute.tasks.idle();
  await t.services.images.idle();
  const snapshotEngineImage = (await t.services.images.find(await t.ctx(), snapshot.id))!.engine_image_id!;
  expect(snapshotEngineImage).toMatch(/^sha256:/);
  engineImages.add(snapshotEngineImage);
  await deleteServer(source);

  const id = await boot('from-snapshot', snapshot.id);
  const shelvedEngineImage = await shelveAndUnshelve(id);
  await deleteServer(id);
  expect(await onEngine([shelvedEngineImage])).toEqual([]);
  expect(await onEngine([snapshotEngineImage, bootEngineImage])).toEqual([snapshotEngineImage, bootEngineImage]);

  // Once Glance lets the snapshot go and nothing runs from it, the engine lets it go too.
  await t.services.images.delete(await t.ctx(), snapshot.id);
  await t.services.images.idle();
  glanceImages.delete(snapshot.id);
  expect(await onEngine([snapshotEngineImage])).toEqual([]);
});

test('a server booted from a snapshot deleted meanwhile takes the snapshot\'s engine image with it', async () => {
  const compute = t.services.compute;
  const source = await boot('snapshot-source-2', imageId);
  const snapshot = await compute.snapshots.createImage(await t.ctx(), source, { name: 'deleted-snapshot' });
  glanceImages.add(snapshot.id);
  await compute.tasks.idle();
  await t.services.images.idle();
  const snapshotEngineImage = (await t.services.images.find(await t.ctx(), snapshot.id))!.engine_image_id!;
  engineImages.add(snapshotEngineImage);
  await deleteServer(source);
  const id = await boot('from-deleted-snapshot', snapshot.id);
  await t.services.images.delete(await t.ctx(), snapshot.id);
  await t.services.images.idle();
  glanceImages.delete(snapshot.id);
  expect(await onEngine([snapshotEngineImage])).toEqual([snapshotEngineImage]);
  await deleteServer(id);
  expect(await onEngine([snapshotEngineImage])).toEqual([]);
});

test('this file leaves nothing behind: no container of its host, none of its engine images', async () => {
  await removeAll();
  expect((await dockerCli(['ps', '-aq', '--filter', `label=novadock.host=${host}`])).stdout.trim()).toBe('');
  expect(await onEngine([...engineImages])).toEqual([]);
});
