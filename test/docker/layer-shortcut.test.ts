/**
 * The Docker driver's base-layer shortcut (src/virt/docker/base-layer.ts) on a real engine:
 * with a replay to fall back on, a base layer is imported while it streams and the archive is
 * loaded without it; the image that results is the one the archive declares, with the same
 * layers, and no carrier image is left. Every way the shortcut can go wrong ends in the
 * ordinary load from the replay, or in the same error an ordinary load gives.
 *
 * The driver here takes the shortcut for layers of any size, so small archives exercise it.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { DockerDriver } from '../../src/virt/docker/driver';
import { CARRIER_LABEL } from '../../src/virt/docker/base-layer';
import { connect } from '../../src/virt/docker/client';
import { readJsonStream } from '../../src/virt/docker/images';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { InvalidImageArchive } from '../../src/virt/driver';
import { entryOf, layerOf, tarOf } from '../helpers/synthetic-archive';
import { carriersLeft, dockerCli, dockerTestHost, importsSince, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog(), layerShortcutMinBytes: 1 });
const loaded: string[] = [];

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const salt = () => crypto.randomBytes(6).toString('hex');
const replayOf = (bytes: Buffer) => ({ replay: async () => Readable.from([bytes]) });

async function layersOf(imageId: string): Promise<string[]> {
  const r = await dockerCli(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', imageId]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/**
 * A two-layer legacy archive written in an order no engine writes: the top layer's directory
 * first, and neither layer's v1 metadata naming a parent. The shortcut then takes the top
 * layer for a base layer, which it is not.
 */
async function misleadingArchive(): Promise<{ bytes: Buffer; imageId: string; diffIds: string[] }> {
  const s = salt();
  const layers = [await layerOf({ 'etc/base': `base ${s}\n` }), await layerOf({ 'etc/top': `top ${s}\n` })];
  const diffIds = layers.map((l) => `sha256:${sha256(l)}`);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: [{ created: '1970-01-01T00:00:00Z' }, { created: '1970-01-01T00:00:00Z' }],
  }));
  const configHex = sha256(config);
  const dirs = [sha256(`${s}/base`), sha256(`${s}/top`)];
  const entriesOf = (i: number) => [
    { name: `${dirs[i]}/VERSION`, body: '1.0' },
    { name: `${dirs[i]}/json`, body: JSON.stringify({ id: dirs[i] }) },
    { name: `${dirs[i]}/layer.tar`, body: layers[i] },
  ];
  const bytes = await tarOf([
    ...entriesOf(1),
    ...entriesOf(0),
    { name: `${configHex}.json`, body: config },
    { name: 'manifest.json', body: JSON.stringify([{ Config: `${configHex}.json`, RepoTags: null, Layers: dirs.map((d) => `${d}/layer.tar`) }]) },
  ]);
  return { bytes, imageId: `sha256:${configHex}`, diffIds };
}

/** The bytes of the one layer.tar in an archive. */
const layerOfArchive = (archive: Buffer) => entryOf(archive, (name) => name.endsWith('/layer.tar'));

afterAll(async () => {
  for (const id of loaded) await driver.removeImage(id);
  const left = await carriersLeft(host);
  if (left.length) await dockerCli(['rmi', '-f', ...left]);
});

test('with a replay, the base layer is imported as it streams, and the image loads under its own id with its own layers', async () => {
  const since = Date.now();
  const { bytes, imageId } = await buildFakeArchive({ files: { '/etc/shortcut': 'taken\n' }, salt: salt() });
  loaded.push(imageId);
  await driver.loadImage(Readable.from([bytes]), { replay: async () => { throw new Error('the shortcut worked: no replay needed'); } });
  expect(await driver.hasImage(imageId)).toBe(true);
  expect(await importsSince(host, since)).toHaveLength(1);
  expect(await layersOf(imageId)).toEqual([`sha256:${sha256(await layerOfArchive(bytes))}`]);
  expect(await carriersLeft(host)).toEqual([]);
});

test('without a replay, the load takes the ordinary way: nothing is imported', async () => {
  const since = Date.now();
  const { bytes, imageId } = await buildFakeArchive({ files: { '/etc/ordinary': 'plain\n' }, salt: salt() });
  loaded.push(imageId);
  await driver.loadImage(Readable.from([bytes]));
  expect(await driver.hasImage(imageId)).toBe(true);
  expect(await importsSince(host, since)).toEqual([]);
});

test('when the layer taken is not the base layer, the engine refuses the shortened archive and the replay loads the image', async () => {
  const since = Date.now();
  const { bytes, imageId, diffIds } = await misleadingArchive();
  loaded.push(imageId);
  let replays = 0;
  await driver.loadImage(Readable.from([bytes]), { replay: async () => { replays++; return Readable.from([bytes]); } });
  expect(replays).toBe(1);
  expect(await importsSince(host, since)).toHaveLength(1);
  expect(await driver.hasImage(imageId)).toBe(true);
  expect(await layersOf(imageId)).toEqual(diffIds);
  expect(await carriersLeft(host)).toEqual([]);
});

test('when the engine refuses the layer itself, the replay is loaded the ordinary way, and its refusal is the answer', async () => {
  const s = salt();
  const dir = sha256(`${s}/bad`);
  const notATar = Buffer.from('this is not a tar stream at all. '.repeat(64));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(notATar)}`] } }));
  const bytes = await tarOf([
    { name: `${dir}/json`, body: JSON.stringify({ id: dir }) },
    { name: `${dir}/layer.tar`, body: notATar },
    { name: `${sha256(config)}.json`, body: config },
    { name: 'manifest.json', body: JSON.stringify([{ Config: `${sha256(config)}.json`, RepoTags: null, Layers: [`${dir}/layer.tar`] }]) },
  ]);
  let replays = 0;
  const err = await driver.loadImage(Readable.from([bytes]), { replay: async () => { replays++; return Readable.from([bytes]); } }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidImageArchive);
  expect(replays).toBe(1);
  expect(await driver.hasImage(`sha256:${sha256(config)}`)).toBe(false);
  expect(await carriersLeft(host)).toEqual([]);
});

test('when the archive breaks inside the layer, the load fails with the source\'s error, and neither the image nor a carrier is left', async () => {
  const { bytes, imageId } = await buildFakeArchive({ files: { '/data/blob': crypto.randomBytes(512 * 1024) }, salt: salt() });
  const cut = bytes.subarray(0, Math.floor(bytes.length / 2));
  const broken = new Readable({
    read() {
      this.push(cut);
      this.destroy(new Error('client went away'));
    },
  });
  let replays = 0;
  const err = await driver.loadImage(broken, { replay: async () => { replays++; return Readable.from([bytes]); } }).then(() => undefined, (e: unknown) => e as Error);
  expect(err?.message).toContain('client went away');
  expect(replays).toBe(0);
  expect(await driver.hasImage(imageId)).toBe(false);
  expect(await carriersLeft(host)).toEqual([]);
});

test('a carrier left behind (a crash between the import and its removal) is removed when the shortcut is next used', async () => {
  const fresh = new DockerDriver({ host, log: silentLog(), layerShortcutMinBytes: 1 });
  const layer = await layerOf({ 'etc/orphan': `${salt()}\n` });
  const res = await connect(process.env.DOCKER_HOST).importImage(Readable.from([layer]), { changes: [`LABEL ${CARRIER_LABEL}=${host}`] });
  await readJsonStream(res as unknown as Readable);
  expect(await carriersLeft(host)).toHaveLength(1);
  const { bytes, imageId } = await buildFakeArchive({ files: { '/etc/after-crash': 'x\n' }, salt: salt() });
  loaded.push(imageId);
  await fresh.loadImage(Readable.from([bytes]), replayOf(bytes));
  expect(await carriersLeft(host)).toEqual([]);
});
