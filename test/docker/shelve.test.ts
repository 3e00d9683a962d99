/**
 * Shelve on a real Docker engine: a file written inside the server survives shelve → unshelve,
 * while SHELVED_OFFLOADED the server has no container at all, and the shelved image's engine copy
 * is what the unshelved container runs from. Only what this file creates is removed (by id).
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
let serverId: string | undefined;
/** The shelved image's engine copy: the unshelved container ran from it, so it outlives the Glance record. */
let shelvedEngineImage: string | undefined;

beforeAll(async () => {
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-shelve-'));
  t = await makeTestServices({ driver: new DockerDriver({ host, log: silentLog() }), store: new FileImageStore(storeDir) });
  const c = await t.ctx();
  const img = await t.services.images.create(c, { name: 'busybox-shelve', container_format: 'docker', disk_format: 'raw' });
  await t.services.imageUploads.upload(c, img.id, fs.createReadStream(busyboxImage('shelve').path));
  await t.services.images.idle();
  imageId = img.id;
}, 180_000);

afterAll(async () => {
  if (serverId) {
    await t.services.compute.deleter.delete(await t.ctx('admin'), serverId).catch(() => undefined);
    await t.services.compute.tasks.idle();
  }
  await t.services.images.delete(await t.ctx(), imageId).catch(() => undefined);
  await t.services.images.idle();
  await t.close();
  await removeTestArtifacts(host);
  if (shelvedEngineImage) await dockerCli(['image', 'rm', shelvedEngineImage]);
  fs.rmSync(storeDir, { recursive: true, force: true });
});

const containerIds = async (id: string) => (await dockerCli(['ps', '-aq', '--filter', `name=novadock-${id}`])).stdout.split(/\s+/).filter(Boolean);

test('a file written inside survives shelve → unshelve; while offloaded the container is gone', async () => {
  const compute = t.services.compute;
  const { servers } = await compute.boot.create(await t.ctx(), { name: 'shelved-on-docker', imageRef: imageId, flavorRef: '1', minCount: 1, maxCount: 1 });
  serverId = servers[0].id;
  await compute.tasks.idle();
  const id = serverId;
  expect((await compute.queries.get(await t.ctx(), id)).vm_state).toBe('active');
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
  shelvedEngineImage = shelvedImage!.engine_image_id!;

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
  expect(runsFrom).toBe(shelvedImage!.engine_image_id);
  expect(await t.services.images.find(await t.ctx(), shelvedImage!.id)).toBeUndefined();
});
