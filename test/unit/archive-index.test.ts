/**
 * The registry's index of a stored `docker save` archive (src/registry/archive-index.ts) on the
 * synthetic archives of both layouts: every blob is the byte range the index says, with the
 * digest it says; the manifest names them; what cannot be served by ranges is refused. Also the
 * stores' ranged read that serves them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ArchiveIndex, ArchiveNotServable, findBlob, indexImageArchive, MEDIA, openArchiveBlob, parseIndex, serializeIndex } from '../../src/registry/archive-index';
import { FileImageStore } from '../../src/store/file-store';
import { MemoryImageStore } from '../../src/store/memory-store';
import type { ImageStore } from '../../src/store/image-store';
import { gzip, layerOf, legacyArchive, ociArchive, tarOf } from '../helpers/synthetic-archive';

const sha256 = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
const chunked = (b: Buffer, size = 7000) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));
const slice = (b: Buffer, blob: { offset: number; size: number }) => b.subarray(blob.offset, blob.offset + blob.size);

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function expectRangesMatch(bytes: Buffer, index: ArchiveIndex): void {
  expect(sha256(slice(bytes, index.config))).toBe(index.config.digest);
  expect(slice(bytes, index.config)).toEqual(index.config.bytes);
  for (const l of index.layers) expect(sha256(slice(bytes, l))).toBe(l.digest);
  expect(sha256(index.manifest.bytes)).toBe(index.manifest.digest);
}

describe('indexing a stored docker-save archive', () => {
  it('when the archive is in the legacy layout, then config and layers are byte ranges of it and the manifest is Docker schema 2', async () => {
    const img = await legacyArchive({ salt: 'idx-legacy', layers: 3, tag: 'x/y:1' });
    const index = await indexImageArchive(chunked(img.bytes));
    expect(index.layout).toBe('docker');
    expect(index.imageId).toBe(img.imageId);
    expect(index.config.digest).toBe(img.imageId);
    expect(index.layers).toHaveLength(3);
    expectRangesMatch(img.bytes, index);
    // Uncompressed layers: the digest is the diff_id.
    expect(index.layers.map((l) => l.digest)).toEqual(index.diffIds);
    expect(index.repoTags).toEqual(['x/y:1']);
    const m = JSON.parse(index.manifest.bytes.toString('utf8'));
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: img.imageId, size: index.config.size },
      layers: index.layers.map((l) => ({ mediaType: MEDIA.dockerLayer, digest: l.digest, size: l.size })),
    });
  });

  it('when the archive is in the OCI layout, then the manifest is OCI and names the blobs the archive holds', async () => {
    const img = await ociArchive({ salt: 'idx-oci', layers: 2 });
    const index = await indexImageArchive(chunked(img.bytes));
    expect(index.layout).toBe('oci');
    expect(index.imageId).toBe(img.imageId);
    expectRangesMatch(img.bytes, index);
    expect(index.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`)).toEqual(img.layerPaths);
    expect(index.manifest.mediaType).toBe(MEDIA.ociManifest);
    expect(JSON.parse(index.manifest.bytes.toString('utf8')).layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MEDIA.ociLayer, MEDIA.ociLayer]);
  });

  it('when a layer is stored gzip-compressed or reached through a symlink, then it is served as stored with a gzip media type and the diff_id of the config', async () => {
    const layer = await layerOf({ 'etc/a': 'a\n' });
    const gz = gzip(layer);
    const config = Buffer.from(JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer), sha256(layer)] } }));
    const cfgHex = sha256(config).slice(7);
    const bytes = await tarOf([
      { name: 'aaa/layer.tar', body: gz },
      { name: 'bbb/layer.tar', type: 'symlink', linkname: '../aaa/layer.tar' },
      { name: `${cfgHex}.json`, body: config },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: null, Layers: ['aaa/layer.tar', 'bbb/layer.tar'] }]) },
    ]);
    const index = await indexImageArchive(chunked(bytes, 100));
    expectRangesMatch(bytes, index);
    expect(index.layers.map((l) => [l.compression, l.mediaType, l.digest])).toEqual([
      ['gzip', MEDIA.dockerLayerGzip, sha256(gz)], ['gzip', MEDIA.dockerLayerGzip, sha256(gz)],
    ]);
    expect(index.diffIds).toEqual([sha256(layer), sha256(layer)]);
  });

  it('when the archive is gzip-compressed as a whole or has no manifest.json, then it is not servable', async () => {
    const img = await legacyArchive({ salt: 'idx-gz' });
    await expect(indexImageArchive(chunked(gzip(img.bytes)))).rejects.toThrow(ArchiveNotServable);
    const bare = await legacyArchive({ salt: 'idx-bare', noManifest: true });
    await expect(indexImageArchive(chunked(bare.bytes))).rejects.toThrow(/no manifest.json/);
    await expect(indexImageArchive(chunked(Buffer.alloc(4096, 7)))).rejects.toThrow(ArchiveNotServable);
  });

  it('when an index is persisted as text and read back, then it is the same index', async () => {
    const img = await ociArchive({ salt: 'idx-ser' });
    const index = await indexImageArchive(chunked(img.bytes));
    expect(parseIndex(serializeIndex(index))).toEqual(index);
  });
});

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe.each<[string, () => ImageStore]>([
  ['memory', () => new MemoryImageStore()],
  ['file', () => new FileImageStore(dirs[dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'nd-range-'))) - 1])],
])('the %s store serving an archive blob by range', (_name, make) => {
  it('when a blob or part of it is opened, then exactly those bytes come back; a range past its end is refused', async () => {
    const store = make();
    const img = await legacyArchive({ salt: 'idx-store', layers: 2, layerBytes: 300_000 });
    const w = await store.begin('img-1');
    await new Promise<void>((resolve, reject) => w.sink.end(img.bytes, () => resolve()).on('error', reject));
    await w.commit();
    try {
      const index = await indexImageArchive(await store.read('img-1'));
      const layer = findBlob(index, index.layers[1].digest)!;
      expect(sha256(await readAll(await openArchiveBlob(store, 'img-1', layer)))).toBe(layer.digest);
      expect(await readAll(await openArchiveBlob(store, 'img-1', layer, { start: 100, end: 70_099 }))).toEqual(slice(img.bytes, layer).subarray(100, 70_100));
      expect(findBlob(index, 'sha256:0000')).toBeUndefined();
      await expect(openArchiveBlob(store, 'img-1', layer, { start: 0, end: layer.size })).rejects.toThrow(RangeError);
      await expect(store.readRange('img-1', img.bytes.length - 1, 2)).rejects.toThrow(RangeError);
      await expect(store.readRange('missing', 0, 1)).rejects.toThrow();
    } finally {
      await store.delete('img-1');
    }
  });
});
