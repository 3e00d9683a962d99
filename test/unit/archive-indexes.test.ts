/**
 * ArchiveIndexes over a real database (SQLite; PostgreSQL when NOVADOCK_TEST_PG_URL is set) and
 * the fake compute host: an uploaded tarball and a server snapshot are indexed by their pass (the
 * same index as one made by hashing the stored file), or else on first use from the store, once;
 * found by manifest digest and engine image id; forgotten with their image.
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { Readable } from 'node:stream';
import { makeTestServices, TestServices } from '../helpers/services';
import { ArchiveIndexRepository } from '../../src/db/archive-index-repo';
import { ArchiveIndexes } from '../../src/registry/archive-indexes';
import { ArchiveNotServable, indexImageArchive } from '../../src/registry/archive-index';

let t: TestServices;
let indexes: ArchiveIndexes;
let reads: string[];
let repo: ArchiveIndexRepository;

beforeEach(async () => {
  t = await makeTestServices();
  reads = [];
  const store = t.store;
  repo = new ArchiveIndexRepository(t.services.db);
  indexes = new ArchiveIndexes({
    repo,
    store: {
      read: (id: string) => { reads.push(id); return store.read(id); },
      readRange: (id: string, start: number, length: number) => store.readRange(id, start, length),
    },
    log: pino({ level: 'silent' }),
  });
});
afterEach(() => t.close());

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
const sha256 = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;

describe('the registry archive indexes', () => {
  it('when a docker image is uploaded, then its pass kept the index a full read of the stored archive gives', async () => {
    const id = await t.uploadImage();
    const img = await t.services.images.get(await t.ctx(), id);
    const index = await indexes.of(id);
    expect(reads).toEqual([]);
    expect(img.engine_image_id).toMatch(/^sha256:/);
    expect(index.imageId).toBe(img.engine_image_id);
    expect(index).toEqual(await indexImageArchive(await t.store.read(id)));
    for (const blob of [index.config, ...index.layers]) expect(sha256(await readAll(await indexes.openBlob(id, blob)))).toBe(blob.digest);
    expect((await indexes.byManifestDigest(index.manifest.digest)).map((r) => r.imageId)).toEqual([id]);
    expect((await indexes.byEngineImageId(index.imageId)).map((r) => r.imageId)).toEqual([id]);
  });

  it('when an image has no kept index, then the first uses read the stored archive once and keep what they found', async () => {
    const id = await t.uploadImage();
    const kept = await repo.get(id);
    await repo.remove(id);
    const [a, b] = await Promise.all([indexes.of(id), indexes.of(id)]);
    expect(reads).toEqual([id]);
    expect(a).toEqual(b);
    expect(a).toEqual(kept);
    expect(await repo.get(id)).toEqual(a);
    await indexes.of(id);
    expect(reads).toEqual([id]);
  });

  it('when a server snapshot is taken, then its pass kept its index too', async () => {
    const image = await t.uploadImage();
    const ctx = await t.ctx();
    const compute = t.services.compute;
    const { servers } = await compute.boot.create(ctx, { name: 's', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
    await compute.tasks.idle();
    const snap = await compute.snapshots.createImage(ctx, servers[0].id, { name: 'snap' });
    await compute.tasks.idle();
    await t.services.images.idle();
    expect((await t.services.images.get(ctx, snap.id)).status).toBe('active');
    const index = await indexes.of(snap.id);
    expect(reads).toEqual([]);
    expect(index.imageId).toBe((await t.services.images.get(ctx, snap.id)).engine_image_id);
    expect(index).toEqual(await indexImageArchive(await t.store.read(snap.id)));
  });

  it('when the image is deleted, then its index goes with it; data that is no archive is refused and not kept', async () => {
    const id = await t.uploadImage();
    const index = await indexes.of(id);
    await t.services.images.delete(await t.ctx(), id);
    expect(await indexes.byManifestDigest(index.manifest.digest)).toEqual([]);

    const ctx = await t.ctx();
    const raw = await t.services.images.create(ctx, { name: 'raw', container_format: 'bare', disk_format: 'raw' });
    await t.services.imageUploads.upload(ctx, raw.id, Readable.from([Buffer.alloc(4096, 1)]));
    await expect(indexes.of(raw.id)).rejects.toThrow(ArchiveNotServable);
    await expect(indexes.of(raw.id)).rejects.toThrow(ArchiveNotServable);
    expect(reads.filter((r) => r === raw.id)).toHaveLength(2);
  });
});
