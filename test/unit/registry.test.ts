/**
 * The registry's pure rules: manifest validation (Docker schema 2, OCI, lists and indexes),
 * scope parsing and repository names, and the blob store's all-or-nothing chunks on disk.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { MEDIA, parseManifest } from '../../src/registry/manifests';
import { parseScopes, validRepositoryName } from '../../src/registry/registry-auth';
import { BlobStore } from '../../src/registry/blob-store';
import { RegistryError } from '../../src/registry/errors';
import { pageTags } from '../../src/registry/content';

const d = (s: string) => `sha256:${crypto.createHash('sha256').update(s).digest('hex')}`;
const desc = (s: string, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip') => ({ mediaType, digest: d(s), size: s.length });
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof RegistryError ? e.code : `not a registry error: ${(e as Error).message}`;
  }
  return 'no error';
};

describe('parseManifest', () => {
  const image = (mediaType?: string) => Buffer.from(JSON.stringify({ schemaVersion: 2, ...(mediaType ? { mediaType } : {}), config: desc('cfg'), layers: [desc('l1'), desc('l2')] }));

  it('reads a Docker schema 2 manifest: config and layers are the blobs it needs', () => {
    const m = parseManifest(image(MEDIA.dockerManifest), MEDIA.dockerManifest);
    expect(m.mediaType).toBe(MEDIA.dockerManifest);
    expect(m.config?.digest).toBe(d('cfg'));
    expect(m.blobs.map((b) => b.digest)).toEqual([d('cfg'), d('l1'), d('l2')]);
    expect(m.manifests).toEqual([]);
  });

  it('takes an OCI manifest without mediaType from its Content-Type, or as OCI by shape', () => {
    expect(parseManifest(image(), MEDIA.ociManifest).mediaType).toBe(MEDIA.ociManifest);
    expect(parseManifest(image(), 'application/octet-stream').mediaType).toBe(MEDIA.ociManifest);
  });

  it('reads a manifest list and an OCI index: children are manifests, not blobs', () => {
    for (const mt of [MEDIA.dockerList, MEDIA.ociIndex]) {
      const m = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: mt, manifests: [desc('child', MEDIA.ociManifest)] })), mt);
      expect(m.blobs).toEqual([]);
      expect(m.manifests.map((c) => c.digest)).toEqual([d('child')]);
    }
  });

  it.each([
    ['not JSON', '{'],
    ['not an object', '[1]'],
    ['schema 1', JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] })],
    ['no config', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, layers: [] })],
    ['a bad digest', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { ...desc('c'), digest: 'sha256:zz' }, layers: [] })],
    ['a negative size', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { ...desc('c'), size: -1 }, layers: [] })],
    ['an unknown media type', JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain', config: desc('c'), layers: [] })],
  ])('refuses %s as MANIFEST_INVALID', (_what, body) => {
    expect(codeOf(() => parseManifest(Buffer.from(body), MEDIA.dockerManifest))).toBe('MANIFEST_INVALID');
  });

  it('refuses a body whose mediaType contradicts its Content-Type', () => {
    expect(codeOf(() => parseManifest(image(MEDIA.dockerManifest), MEDIA.ociManifest))).toBe('MANIFEST_INVALID');
  });
});

describe('scopes and names', () => {
  it('parses repository scopes (several, space-separated too) and the catalog scope', () => {
    expect(parseScopes(['repository:demo/app:pull,push', 'repository:demo/a/b:pull registry:catalog:*'])).toEqual([
      { type: 'repository', name: 'demo/app', actions: ['pull', 'push'] },
      { type: 'repository', name: 'demo/a/b', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
  });

  it('drops malformed scopes and invalid names', () => {
    expect(parseScopes(['repository:Demo/App:pull', 'repository:demo', 'nonsense', 'repository:demo/../x:pull'])).toEqual([]);
  });

  it('accepts the distribution grammar of repository names only', () => {
    for (const ok of ['demo/app', 'demo/a-b/c_d', 'demo/x.y', 'demo/a__b']) expect(validRepositoryName(ok)).toBe(true);
    for (const bad of ['Demo/app', 'demo//app', '/demo', 'demo/', 'demo/-a', `demo/${'a'.repeat(260)}`]) expect(validRepositoryName(bad)).toBe(false);
  });

  it('pages merged tags in byte order after last', () => {
    expect(pageTags([['b', 'a'], ['a', 'c']], undefined, 2)).toEqual({ tags: ['a', 'b'], more: true });
    expect(pageTags([['b', 'a'], ['c']], 'b', 2)).toEqual({ tags: ['c'], more: false });
  });
});

describe('BlobStore', () => {
  let root: string;
  let store: BlobStore;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-blobs-'));
    store = new BlobStore(root, 1000);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  const uploadSize = (id: string) => fs.statSync(path.join(root, 'uploads', id)).size;

  it('appends chunks and commits them under their digest, hashed as they came', async () => {
    await store.startUpload('u1');
    expect(await store.append('u1', 0, Readable.from([Buffer.from('hello ')]))).toBe(6);
    expect(await store.append('u1', 6, Readable.from([Buffer.from('world')]))).toBe(11);
    await store.commit('u1', 11, d('hello world'));
    expect(await store.has(d('hello world'))).toBe(true);
    expect(fs.readdirSync(path.join(root, 'uploads'))).toEqual([]);
  });

  it('when the client goes away mid-chunk, the upload is cut back to where it was', async () => {
    await store.startUpload('u2');
    await store.append('u2', 0, Readable.from([Buffer.from('kept')]));
    const broken = new Readable({ read() {} });
    const appending = store.append('u2', 4, broken);
    broken.push(Buffer.from('half a layer'));
    setImmediate(() => broken.destroy(new Error('aborted')));
    await expect(appending).rejects.toThrow('aborted');
    expect(uploadSize('u2')).toBe(4);
    // The hash of what was kept is recomputed from the file: the next chunk and commit work.
    await store.append('u2', 4, Readable.from([Buffer.from('!')]));
    await store.commit('u2', 5, d('kept!'));
    expect(await store.has(d('kept!'))).toBe(true);
  });

  it('a chunk past the size cap is SIZE_INVALID and leaves the upload as it was', async () => {
    await store.startUpload('u3');
    await expect(store.append('u3', 0, Readable.from([Buffer.alloc(1001)]))).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    expect(uploadSize('u3')).toBe(0);
  });

  it('a digest that does not match is DIGEST_INVALID; nothing becomes a blob', async () => {
    await store.startUpload('u4');
    await store.append('u4', 0, Readable.from([Buffer.from('abc')]));
    await expect(store.commit('u4', 3, d('abd'))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await store.has(d('abd'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'blobs', 'sha256'))).toEqual([]);
  });

  it('refuses upload ids that could leave its directory', async () => {
    await expect(store.startUpload('../escape')).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
  });
});
