/**
 * Uploads and downloads through HTTP (fake driver, memory store, real SQLite): the one-pass
 * upload into the store and the engine, its failure modes (each leaving the image queued with
 * nothing stored and no engine image), concurrency, size caps, disconnects, and the snapshot
 * and boot hooks the compute service uses.
 */
import http from 'node:http';
import net from 'node:net';
import { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import { HypervisorUnavailable, InvalidImageArchive } from '../../src/virt/driver';
import { MemoryImageStore } from '../../src/store/memory-store';
import { gzip, legacyArchive, ociArchive, SyntheticImage } from '../helpers/synthetic-archive';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { errorMessage } from '../helpers/glance';



const OCTET = 'application/octet-stream';

interface Rig {
  t: TestApp;
  driver: FakeDriver;
  store: MemoryImageStore;
  demo: string;
  close(): Promise<void>;
}

/** A test app whose fake engine calls can be held or failed by the test. */
async function rig(opts: { maxImageSize?: number; fakeImages?: string[] } = {}): Promise<Rig & { hold(op: FakeOp): () => void; failNext(op: FakeOp, e: Error): void }> {
  const holds = new Map<FakeOp, Promise<void>>();
  const failures = new Map<FakeOp, Error>();
  const driver = new FakeDriver({
    host: 'fake-host',
    images: opts.fakeImages,
    beforeCall: async (op) => {
      await holds.get(op);
    },
    failOn: (op) => {
      const e = failures.get(op);
      failures.delete(op);
      return e;
    },
  });
  const store = new MemoryImageStore();
  const t = await makeTestApp({ driver, store, config: opts.maxImageSize ? { maxImageSize: opts.maxImageSize } : {} });
  return {
    t, driver, store, demo: await t.token('demo'),
    close: () => t.close(),
    hold(op) {
      let release!: () => void;
      holds.set(op, new Promise<void>((r) => { release = r; }));
      return () => {
        holds.delete(op);
        release();
      };
    },
    failNext(op, e) {
      failures.set(op, e);
    },
  };
}

async function createImage(r: Rig, body: Record<string, unknown> = { container_format: 'docker', disk_format: 'raw' }): Promise<string> {
  const res = await request(r.t.app).post('/image/v2/images').set('X-Auth-Token', r.demo).send({ name: 'up', ...body });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function image(r: Rig, id: string) {
  return (await request(r.t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', r.demo)).body;
}

function put(r: Rig, id: string, bytes: Buffer, type = OCTET) {
  return request(r.t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', r.demo).set('Content-Type', type).send(bytes);
}

/** Waits for a condition to hold (bounded by the test's timeout, never by a duration). */
async function until(cond: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await cond())) await new Promise((res) => setTimeout(res, 5));
}

/** Listens on 127.0.0.1:0 for tests that need real sockets. */
async function listen(r: Rig): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(r.t.app);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
}

/** A chunked PUT whose body the test writes piece by piece; resolves the response. */
function chunkedPut(port: number, id: string, token: string, headers: Record<string, string> = {}) {
  const req = http.request({
    host: '127.0.0.1', port, method: 'PUT', path: `/image/v2/images/${id}/file`,
    headers: { 'X-Auth-Token': token, 'Content-Type': OCTET, 'Transfer-Encoding': 'chunked', ...headers },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
  return { req, response };
}

/** Nothing of a failed upload remains: queued again, no bytes, no open write. */
async function expectNothingLeft(r: Rig, id: string) {
  await r.t.services.images.idle();
  const img = await image(r, id);
  expect(img).toMatchObject({ status: 'queued', size: null, checksum: null, os_hash_value: null });
  expect(img.docker_image_id).toBeUndefined();
  expect(await r.store.has(id)).toBe(false);
  expect(r.store.openWrites()).toBe(0);
}

describe('uploading opaque data (container_format bare)', () => {
  let r: Awaited<ReturnType<typeof rig>>;
  beforeAll(async () => { r = await rig(); });
  afterAll(async () => { await r.close(); });

  it('with Content-Length: 204, then active with size, md5 and sha512, and downloads byte for byte with hex Content-MD5', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'qcow2' });
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));
    const res = await put(r, id, bytes);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const img = await image(r, id);
    const crypto = await import('node:crypto');
    expect(img).toMatchObject({
      status: 'active', size: bytes.length, os_hash_algo: 'sha512',
      checksum: crypto.createHash('md5').update(bytes).digest('hex'),
      os_hash_value: crypto.createHash('sha512').update(bytes).digest('hex'),
    });
    expect(img.docker_image_id).toBeUndefined();
    const dl = await request(r.t.app).get(`/image/v2/images/${id}/file`).set('X-Auth-Token', r.demo).buffer(true).parse((res2, cb) => {
      const parts: Buffer[] = [];
      res2.on('data', (d: Buffer) => parts.push(d));
      res2.on('end', () => cb(null, Buffer.concat(parts)));
    });
    expect(dl.status).toBe(200);
    expect(dl.headers['content-type']).toBe(OCTET);
    expect(dl.headers['content-length']).toBe(String(bytes.length));
    expect(dl.headers['content-md5']).toBe(img.checksum);
    expect(Buffer.compare(dl.body as Buffer, bytes)).toBe(0);
  });

  it('chunked (glanceclient, tempest): 204 and active', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    const srv = await listen(r);
    try {
      const { req, response } = chunkedPut(srv.port, id, r.demo);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(10_000, i));
      req.end();
      expect((await response).status).toBe(204);
    } finally {
      await srv.close();
    }
    expect(await image(r, id)).toMatchObject({ status: 'active', size: 100_000 });
  });

  it('an empty upload is fine for opaque data (size 0)', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    expect((await put(r, id, Buffer.alloc(0))).status).toBe(204);
    expect(await image(r, id)).toMatchObject({ status: 'active', size: 0, checksum: 'd41d8cd98f00b204e9800998ecf8427e' });
  });

  it('download of a queued image is 204 with no body; of an unknown one 404', async () => {
    const id = await createImage(r);
    const res = await request(r.t.app).get(`/image/v2/images/${id}/file`).set('X-Auth-Token', r.demo);
    expect([res.status, res.text]).toEqual([204, '']);
    expect((await request(r.t.app).get('/image/v2/images/0b8e3d1e-0000-4000-8000-000000000000/file').set('X-Auth-Token', r.demo)).status).toBe(404);
  });

  it('refuses before reading: 415 wrong type, 404 unknown, 409 not queued, 400 formats unset, 400 size header mismatch, 403 reader', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    expect((await put(r, id, Buffer.from('x'), 'application/json')).status).toBe(415);
    expect((await put(r, '0b8e3d1e-0000-4000-8000-000000000000', Buffer.from('x'))).status).toBe(404);
    const noFormats = await createImage(r, {});
    const nf = await put(r, noFormats, Buffer.from('x'));
    expect([nf.status, errorMessage(nf.body)]).toEqual([400, 'Properties container_format, disk_format must be set prior to saving data.']);
    const mismatch = await put(r, id, Buffer.from('abc')).set('x-openstack-image-size', '4');
    expect(mismatch.status).toBe(400);
    const viewer = await r.t.token('viewer');
    expect((await request(r.t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', viewer).set('Content-Type', OCTET).send(Buffer.from('x'))).status).toBe(403);
    expect((await image(r, id)).status).toBe('queued');
    expect((await put(r, id, Buffer.from('abc'))).status).toBe(204);
    const again = await put(r, id, Buffer.from('abc'));
    expect([again.status, errorMessage(again.body)]).toEqual([409, 'Image status transition from active to saving is not allowed']);
  });

  it("another project cannot upload into or see a demo image's data", async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw', visibility: 'private' });
    const alt = await r.t.token('alt');
    expect((await request(r.t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', alt).set('Content-Type', OCTET).send(Buffer.from('x'))).status).toBe(404);
    expect((await request(r.t.app).get(`/image/v2/images/${id}/file`).set('X-Auth-Token', alt)).status).toBe(404);
  });
});

describe('uploading a docker image (container_format docker)', () => {
  let r: Awaited<ReturnType<typeof rig>>;
  beforeAll(async () => { r = await rig(); });
  afterAll(async () => { await r.close(); });

  it.each([
    ['legacy', () => legacyArchive({ salt: 'int-legacy', layers: 2 })],
    ['OCI', () => ociArchive({ salt: 'int-oci' })],
    ['gzipped', async () => { const a = await legacyArchive({ salt: 'int-gz' }); return { ...a, bytes: gzip(a.bytes) }; }],
  ])('%s archive: loads into the engine in the same pass and records the engine id as docker_image_id', async (_kind, make) => {
    const archive: SyntheticImage = await make();
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
    const id = await createImage(r);
    expect((await put(r, id, archive.bytes)).status).toBe(204);
    const img = await image(r, id);
    expect(img).toMatchObject({ status: 'active', size: archive.bytes.length, docker_image_id: archive.imageId });
    expect(await r.driver.hasImage(archive.imageId)).toBe(true);
    expect((await r.store.size(id))).toBe(archive.bytes.length);
    // and the listing filters by it under the same name
    const listed = await request(r.t.app).get(`/image/v2/images?docker_image_id=${encodeURIComponent(archive.imageId)}`).set('X-Auth-Token', r.demo);
    expect(listed.body.images.map((i: { id: string }) => i.id)).toEqual([id]);
  });

  it('a hostile archive answers 400 with the reason, and leaves no bytes, no engine image, the image queued', async () => {
    const evil = await legacyArchive({ salt: 'int-evil', extra: [{ name: '../../etc/cron.d/x', body: 'boom' }] });
    const id = await createImage(r);
    const res = await put(r, id, evil.bytes);
    expect(res.status).toBe(400);
    expect(errorMessage(res.body)).toMatch(/^Invalid docker image archive: entry '\.\.\/\.\.\/etc\/cron\.d\/x' contains '\.\.'/);
    await expectNothingLeft(r, id);
    expect(await r.driver.hasImage(evil.imageId)).toBe(false);
    // and the image can be uploaded again, properly
    const good = await legacyArchive({ salt: 'int-retry' });
    expect((await put(r, id, good.bytes)).status).toBe(204);
    expect((await image(r, id)).docker_image_id).toBe(good.imageId);
  });

  it.each([
    ['not a tar', Buffer.from('hello, not an archive at all '.repeat(100)), /not a tar archive/],
    ['empty', Buffer.alloc(0), /empty \(0 bytes\)/],
    ['a root file system tarball', null, /no manifest\.json/],
  ])('%s answers 400 and leaves nothing', async (_what, bytes, message) => {
    const data = bytes ?? (await legacyArchive({ salt: 'int-rootfs', noManifest: true })).bytes;
    const id = await createImage(r);
    const res = await put(r, id, data);
    expect([res.status, errorMessage(res.body)]).toEqual([400, expect.stringMatching(message)]);
    await expectNothingLeft(r, id);
  });

  it('an archive the engine refuses answers 400 and leaves nothing', async () => {
    const archive = await legacyArchive({ salt: 'int-refused' });
    r.failNext('loadImage', new InvalidImageArchive('unexpected EOF in layer'));
    const id = await createImage(r);
    const res = await put(r, id, archive.bytes);
    expect([res.status, errorMessage(res.body)]).toEqual([400, 'Invalid docker image archive: unexpected EOF in layer']);
    await expectNothingLeft(r, id);
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
  });

  it('an unreachable engine answers 503 and leaves nothing', async () => {
    const archive = await legacyArchive({ salt: 'int-down' });
    r.failNext('loadImage', new HypervisorUnavailable('fake-host', new Error('connect ECONNREFUSED /var/run/docker.sock')));
    const id = await createImage(r);
    const res = await put(r, id, archive.bytes);
    expect(res.status).toBe(503);
    expect(errorMessage(res.body)).toBe('Compute host fake-host is unavailable: connect ECONNREFUSED /var/run/docker.sock');
    await expectNothingLeft(r, id);
  });

  it('a failure after the engine loaded removes the engine image it created', async () => {
    const archive = await legacyArchive({ salt: 'int-late' });
    const id = await createImage(r);
    // The size header disagrees only once everything has been read and loaded.
    const srv = await listen(r);
    try {
      const { req, response } = chunkedPut(srv.port, id, r.demo, { 'x-openstack-image-size': String(archive.bytes.length + 1) });
      req.end(archive.bytes);
      expect((await response).status).toBe(400);
    } finally {
      await srv.close();
    }
    await expectNothingLeft(r, id);
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
  });

  it('...but never removes an engine image that was there before the upload', async () => {
    const archive = await legacyArchive({ salt: 'int-preexisting' });
    const r2 = await rig({ fakeImages: [archive.imageId] });
    try {
      const id = await createImage(r2);
      const srv = await listen(r2);
      try {
        const { req, response } = chunkedPut(srv.port, id, r2.demo, { 'x-openstack-image-size': '1' });
        req.end(archive.bytes);
        expect((await response).status).toBe(400);
      } finally {
        await srv.close();
      }
      await expectNothingLeft(r2, id);
      expect(await r2.driver.hasImage(archive.imageId)).toBe(true);
    } finally {
      await r2.close();
    }
  });

  it('deleting the image removes its bytes and its engine image, unless another image uses it', async () => {
    const archive = await legacyArchive({ salt: 'int-delete' });
    const a = await createImage(r);
    const b = await createImage(r);
    expect((await put(r, a, archive.bytes)).status).toBe(204);
    expect((await put(r, b, archive.bytes)).status).toBe(204);
    expect((await request(r.t.app).delete(`/image/v2/images/${a}`).set('X-Auth-Token', r.demo)).status).toBe(204);
    await r.t.services.images.idle();
    expect(await r.store.has(a)).toBe(false);
    expect(await r.driver.hasImage(archive.imageId)).toBe(true);
    expect((await request(r.t.app).delete(`/image/v2/images/${b}`).set('X-Auth-Token', r.demo)).status).toBe(204);
    await r.t.services.images.idle();
    expect(await r.store.has(b)).toBe(false);
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
  });
});

describe('uploads in flight', () => {
  let r: Awaited<ReturnType<typeof rig>>;
  let srv: { port: number; close(): Promise<void> };
  beforeAll(async () => {
    r = await rig({ maxImageSize: 256 * 1024 });
    srv = await listen(r);
  });
  afterAll(async () => {
    await srv.close();
    await r.close();
  });

  it('two concurrent uploads: one wins (204), the other gets 409 while the first is saving', async () => {
    const archive = await legacyArchive({ salt: 'int-race' });
    const id = await createImage(r);
    const first = chunkedPut(srv.port, id, r.demo);
    first.req.write(archive.bytes.subarray(0, 1000));
    await until(async () => (await image(r, id)).status === 'saving');
    const second = await put(r, id, archive.bytes);
    expect([second.status, errorMessage(second.body)]).toEqual([409, 'Image status transition from saving to saving is not allowed']);
    first.req.end(archive.bytes.subarray(1000));
    expect((await first.response).status).toBe(204);
    expect(await image(r, id)).toMatchObject({ status: 'active', docker_image_id: archive.imageId });
  });

  it('a Content-Length above the cap is 413 before a byte is read', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    const res = await put(r, id, Buffer.alloc(256 * 1024 + 1));
    expect(res.status).toBe(413);
    expect(errorMessage(res.body)).toBe('Image of 262145 bytes exceeds the size limit of 262144 bytes.');
    await expectNothingLeft(r, id);
  });

  it('a chunked upload that grows past the cap is 413 and leaves nothing', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    const { req, response } = chunkedPut(srv.port, id, r.demo);
    req.on('error', () => undefined);
    for (let i = 0; i < 5; i++) req.write(Buffer.alloc(64 * 1024, 1));
    req.end();
    expect((await response).status).toBe(413);
    await expectNothingLeft(r, id);
  });

  it('a client that disconnects mid-upload leaves the image queued and nothing stored or loaded', async () => {
    const archive = await legacyArchive({ salt: 'int-disconnect', layerBytes: 100_000 });
    const id = await createImage(r);
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise<void>((res) => sock.on('connect', () => res()));
    sock.write(`PUT /image/v2/images/${id}/file HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Auth-Token: ${r.demo}\r\nContent-Type: ${OCTET}\r\nContent-Length: ${archive.bytes.length}\r\n\r\n`);
    sock.write(archive.bytes.subarray(0, 60_000));
    await until(async () => (await image(r, id)).status === 'saving');
    sock.destroy();
    await until(async () => (await image(r, id)).status === 'queued');
    await expectNothingLeft(r, id);
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
  });

  it('an image deleted during its upload: the upload answers 410 and nothing is left', async () => {
    const archive = await legacyArchive({ salt: 'int-410' });
    const id = await createImage(r);
    const { req, response } = chunkedPut(srv.port, id, r.demo);
    req.write(archive.bytes.subarray(0, 2000));
    await until(async () => (await image(r, id)).status === 'saving');
    expect((await request(r.t.app).delete(`/image/v2/images/${id}`).set('X-Auth-Token', r.demo)).status).toBe(204);
    req.end(archive.bytes.subarray(2000));
    const res = await response;
    expect(res.status).toBe(410);
    expect(errorMessage(JSON.parse(res.body))).toBe(`Image ${id} could not be found after upload. The image may have been deleted during the upload.`);
    await r.t.services.images.idle();
    expect(await r.store.has(id)).toBe(false);
    expect(r.store.openWrites()).toBe(0);
    expect(await r.driver.hasImage(archive.imageId)).toBe(false);
  });

  it('the engine cannot finish loading before the inspector has named the image (the hold-back gate)', async () => {
    const archive = await legacyArchive({ salt: 'int-gate', layerBytes: 50_000 });
    const id = await createImage(r);
    const releaseHasImage = r.hold('hasImage');
    const { req, response } = chunkedPut(srv.port, id, r.demo);
    req.end(archive.bytes);
    // The whole body is sent; the inspector is done, but the pre-existence check is held:
    // the engine must not have the image yet.
    await until(async () => (await image(r, id)).status === 'saving');
    await new Promise((res) => setImmediate(res));
    expect(await (r.driver as unknown as { images: { has(ref: string): boolean } }).images.has(archive.imageId)).toBe(false);
    releaseHasImage();
    expect((await response).status).toBe(204);
    expect(await r.driver.hasImage(archive.imageId)).toBe(true);
  });
});

describe('the compute hooks', () => {
  let r: Awaited<ReturnType<typeof rig>>;
  beforeAll(async () => { r = await rig(); });
  afterAll(async () => { await r.close(); });

  const ctxOf = async (account: 'demo' | 'alt') => r.t.services.tokens.context(await r.t.token(account), 'req-test');

  it('find: own, public and community images; not other projects\' private ones', async () => {
    const id = await createImage(r, { container_format: 'bare', disk_format: 'raw', visibility: 'private' });
    const demo = await ctxOf('demo');
    const alt = await ctxOf('alt');
    expect((await r.t.services.images.find(demo, id))?.id).toBe(id);
    expect(await r.t.services.images.find(alt, id)).toBeUndefined();
  });

  it('ensureOnHost loads the stored archive into an engine that lacks it, and refuses images without an engine id', async () => {
    const archive = await buildFakeArchive({ salt: 'ensure' });
    const id = await createImage(r);
    expect((await put(r, id, archive.bytes)).status).toBe(204);
    const other = new FakeDriver({ host: 'other-host' });
    const img = (await r.t.services.images.find(await ctxOf('demo'), id))!;
    await r.t.services.hostImages.ensureOnHost(img, other);
    expect(await other.hasImage(archive.imageId)).toBe(true);
    const bare = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
    const bareImg = (await r.t.services.images.find(await ctxOf('demo'), bare))!;
    await expect(r.t.services.hostImages.ensureOnHost(bareImg, other)).rejects.toThrow(/has no Docker image/);
  });

  it('a snapshot is listed at once as queued, then active with the engine id, inheriting properties', async () => {
    const demo = await ctxOf('demo');
    const base = await createImage(r, { container_format: 'docker', disk_format: 'raw', os_distro: 'busybox', 'owner_specified.openstack.md5': 'x' });
    const baseImg = (await r.t.services.images.find(demo, base))!;
    const snap = await r.t.services.imageSnapshots.beginSnapshot(demo, { name: 'snap', metadata: { note: 'hi' }, serverId: 'srv-1', baseImage: baseImg });
    const listed = await request(r.t.app).get('/image/v2/images').set('X-Auth-Token', r.demo);
    expect(listed.body.images[0]).toMatchObject({
      id: snap.id, name: 'snap', status: 'queued', visibility: 'private', container_format: 'docker', disk_format: 'raw',
      image_type: 'snapshot', instance_uuid: 'srv-1', base_image_ref: base, user_id: demo.userId, owner_project_name: 'demo',
      owner_user_name: 'demo', os_distro: 'busybox', note: 'hi',
    });
    expect(listed.body.images[0]['owner_specified.openstack.md5']).toBeUndefined();
    const committed = await buildFakeArchive({ salt: 'snapshot' });
    await r.driver.loadImage((await import('node:stream')).Readable.from([committed.bytes]));
    const done = await r.t.services.imageSnapshots.finishSnapshot(snap.id, committed.imageId, await r.driver.exportImage(committed.imageId));
    expect(done).toMatchObject({ status: 'active', engine_image_id: committed.imageId, size: committed.bytes.length });
    expect(await r.store.size(snap.id)).toBe(committed.bytes.length);
  });

  it('a failed snapshot copy removes the record and bytes; abortSnapshot removes a queued record', async () => {
    const demo = await ctxOf('demo');
    const snap = await r.t.services.imageSnapshots.beginSnapshot(demo, { name: 's2', metadata: {}, serverId: 'srv-2', baseImage: undefined });
    // The archive holds another image than the snapshot's engine id: the copy fails.
    const other = await buildFakeArchive({ salt: 'not-the-snapshot' });
    await expect(r.t.services.imageSnapshots.finishSnapshot(snap.id, 'sha256:0000000000000000000000000000000000000000000000000000000000000000', Readable.from([other.bytes]))).rejects.toThrow();
    expect(await r.t.services.images.find(demo, snap.id)).toBeUndefined();
    expect(await r.store.has(snap.id)).toBe(false);
    const s3 = await r.t.services.imageSnapshots.beginSnapshot(demo, { name: 's3', metadata: {}, serverId: 'srv-3', baseImage: undefined });
    await r.t.services.imageSnapshots.abortSnapshot(s3.id);
    expect(await r.t.services.images.find(demo, s3.id)).toBeUndefined();
  });
});

describe('after a restart', () => {
  it('images left saving by a crash go back to queued, and partial writes are swept', async () => {
    const r = await rig();
    try {
      const id = await createImage(r, { container_format: 'bare', disk_format: 'raw' });
      const repo = (r.t.services.images as unknown as { repo: { transition(id: string, f: string, t: string): Promise<boolean> } }).repo;
      expect(await repo.transition(id, 'queued', 'saving')).toBe(true);
      expect(await r.t.services.imageUploads.recoverInterruptedUploads()).toBe(1);
      expect((await image(r, id)).status).toBe('queued');
      expect((await put(r, id, Buffer.from('retry'))).status).toBe(204);
    } finally {
      await r.close();
    }
  });
});
