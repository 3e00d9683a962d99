/**
 * The embedded registry through HTTP (fake driver, memory store, real SQLite or PostgreSQL):
 * the token flow, a whole push and pull by hand as the Docker client makes it, the Glance image a
 * pushed tag becomes, every bad input with nothing left behind, and authorization across projects.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { makeTestApp, PASSWORDS, TestApp } from '../helpers/app';
import type { FakeDriver } from '../../src/virt/fake/driver';
import { bootActive, show } from './servers-support';
import { RegistryRepository } from '../../src/db/registry-repo';
import { HOST_PLATFORM } from '../../src/registry/manifests';

const sha = (b: Buffer | string) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const MAX_BLOB = 64 * 1024;

let t: TestApp;
beforeAll(async () => {
  t = await makeTestApp({ config: { registryMaxBlobSize: MAX_BLOB } });
});
afterAll(async () => {
  await t.close();
});

const basic = (user: keyof typeof PASSWORDS, password: string = PASSWORDS[user]) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function registryToken(user: keyof typeof PASSWORDS, scope: string): Promise<string> {
  const res = await request(t.app).get('/v2/token').query({ service: 'novadock', scope }).set('Authorization', basic(user));
  expect(res.status).toBe(200);
  return res.body.token as string;
}

/** Pushes one blob as Docker does: POST, one PATCH without Content-Range, PUT ?digest= with no body. */
async function pushBlob(token: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha(bytes);
  const start = await request(t.app).post(`/v2/${repo}/blobs/uploads/`).set('Authorization', `Bearer ${token}`);
  expect(start.status).toBe(202);
  const patch = await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(bytes);
  expect(patch.status).toBe(202);
  expect(patch.headers.range).toBe(`0-${bytes.length - 1}`);
  const put = await request(t.app).put(patch.headers.location).query({ digest }).set('Authorization', `Bearer ${token}`);
  expect(put.status).toBe(201);
  expect(put.headers['docker-content-digest']).toBe(digest);
  return digest;
}

function manifestOf(config: Buffer, layers: Buffer[]): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.length, digest: sha(l) })),
  }));
}

async function pushImage(token: string, repo: string, tag: string, salt: string) {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', salt }));
  const layer = crypto.randomBytes(3000);
  await pushBlob(token, repo, config);
  await pushBlob(token, repo, layer);
  const manifest = manifestOf(config, [layer]);
  const res = await request(t.app).put(`/v2/${repo}/manifests/${tag}`).set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(manifest.toString('utf8'));
  expect([res.status, res.body]).toEqual([201, {}]);
  return { config, layer, manifest, digest: res.headers['docker-content-digest'] as string };
}

const blobFiles = () => fs.readdirSync(path.join(t.dataDir, 'registry', 'blobs', 'sha256'));
const uploadFiles = () => fs.readdirSync(path.join(t.dataDir, 'registry', 'uploads'));
const errorCode = (res: request.Response) => res.body.errors?.[0]?.code;

describe('when a client logs in', () => {
  it('then /v2/ asks for a Bearer token from /v2/token, which a Keystone password gets', async () => {
    const anon = await request(t.app).get('/v2/');
    expect(anon.status).toBe(401);
    expect(anon.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(anon.headers['www-authenticate']).toBe('Bearer realm="http://127.0.0.1:8080/v2/token",service="novadock"');
    expect(errorCode(anon)).toBe('UNAUTHORIZED');
    const login = await request(t.app).get('/v2/token').query({ service: 'novadock', account: 'demo' }).set('Authorization', basic('demo'));
    expect(login.status).toBe(200);
    expect(login.body.expires_in).toBe(300);
    const ok = await request(t.app).get('/v2/').set('Authorization', `Bearer ${login.body.token}`);
    expect(ok.status).toBe(200);
  });

  it('then a wrong password is UNAUTHORIZED', async () => {
    const res = await request(t.app).get('/v2/token').query({ scope: 'repository:demo/app:pull' }).set('Authorization', basic('demo', 'wrong'));
    expect(res.status).toBe(401);
    expect(errorCode(res)).toBe('UNAUTHORIZED');
  });
});

describe('when demo pushes demo/app:v1 and pulls it back', () => {
  let pushed: Awaited<ReturnType<typeof pushImage>>;
  let token: string;
  beforeAll(async () => {
    token = await registryToken('demo', 'repository:demo/app:pull,push');
    pushed = await pushImage(token, 'demo/app', 'v1', 'one');
  });

  it('then the manifest comes back byte for byte, by tag and by digest, with its digest', async () => {
    for (const ref of ['v1', pushed.digest]) {
      const res = await request(t.app).get(`/v2/demo/app/manifests/${ref}`).set('Authorization', `Bearer ${token}`).buffer(true).parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain(MANIFEST);
      expect(res.headers['docker-content-digest']).toBe(pushed.digest);
      expect(Buffer.compare(res.body as Buffer, pushed.manifest)).toBe(0);
    }
  });

  it('then a blob is served whole and by Range, and HEAD gives its size and digest', async () => {
    const digest = sha(pushed.layer);
    const head = await request(t.app).head(`/v2/demo/app/blobs/${digest}`).set('Authorization', `Bearer ${token}`);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(pushed.layer.length));
    expect(head.headers['docker-content-digest']).toBe(digest);
    const part = await request(t.app).get(`/v2/demo/app/blobs/${digest}`).set('Authorization', `Bearer ${token}`).set('Range', 'bytes=10-19').responseType('blob');
    expect(part.status).toBe(206);
    expect(Buffer.compare(part.body as Buffer, pushed.layer.subarray(10, 20))).toBe(0);
    const bad = await request(t.app).get(`/v2/demo/app/blobs/${digest}`).set('Authorization', `Bearer ${token}`).set('Range', 'bytes=99999-');
    expect(bad.status).toBe(416);
  });

  it('then the tag is a Glance image of the project: docker/raw, active, sized, with the engine id', async () => {
    const res = await request(t.app).get('/image/v2/images').query({ name: 'app:v1' }).set('X-Auth-Token', await t.token('demo'));
    expect(res.status).toBe(200);
    expect(res.body.images).toHaveLength(1);
    const img = res.body.images[0];
    expect(img).toMatchObject({
      status: 'active', container_format: 'docker', disk_format: 'raw', owner: await t.projectId('demo'), visibility: 'private',
      size: pushed.config.length + pushed.layer.length, docker_image_id: sha(pushed.config), registry_manifest_digest: pushed.digest, registry_repository: 'demo/app',
    });
  });

  it('then a server boots from it at once: the engine, lacking it, pulls it by digest with a registry token', async () => {
    const list = await request(t.app).get('/image/v2/images').query({ name: 'app:v1' }).set('X-Auth-Token', await t.token('demo'));
    const driver = t.driver as FakeDriver;
    const id = await bootActive(t, list.body.images[0].id);
    expect((await show(t, id)).status).toBe('ACTIVE');
    expect(driver.pulls).toHaveLength(1);
    expect(driver.pulls[0]).toMatchObject({ reference: `127.0.0.1:8080/demo/app@${pushed.digest}`, imageId: sha(pushed.config) });
    // The token the engine is given pulls that repository, and nothing else.
    const engine = `Bearer ${driver.pulls[0].token}`;
    expect((await request(t.app).get(`/v2/demo/app/manifests/${pushed.digest}`).set('Authorization', engine)).status).toBe(200);
    expect((await request(t.app).post('/v2/demo/app/blobs/uploads/').set('Authorization', engine)).status).toBe(403);
    expect((await request(t.app).get('/v2/demo/other/manifests/v1').set('Authorization', engine)).status).toBe(401);
  });

  it('then a host configured with the address its engine reaches novadock at pulls from there', async () => {
    const other = await pushImage(await registryToken('demo', 'repository:demo/app-elsewhere:pull,push'), 'demo/app-elsewhere', 'v1', 'elsewhere');
    const list = await request(t.app).get('/image/v2/images').query({ name: 'app-elsewhere:v1' }).set('X-Auth-Token', await t.token('demo'));
    const driver = t.driver as FakeDriver;
    const hosts = t.services.config.seed.compute_hosts;
    hosts.push({ name: driver.host, registry_address: '10.251.0.1:8080' });
    try {
      await bootActive(t, list.body.images[0].id);
    } finally {
      hosts.pop();
    }
    expect(driver.pulls.at(-1)).toMatchObject({ reference: `10.251.0.1:8080/demo/app-elsewhere@${other.digest}` });
  });

  it('then tags/list pages with n and last and a Link to the next page', async () => {
    await pushImage(token, 'demo/app', 'v2', 'two');
    const first = await request(t.app).get('/v2/demo/app/tags/list').query({ n: 1 }).set('Authorization', `Bearer ${token}`);
    expect(first.body).toEqual({ name: 'demo/app', tags: ['v1'] });
    expect(first.headers.link).toBe('</v2/demo/app/tags/list?n=1&last=v1>; rel="next"');
    const next = await request(t.app).get('/v2/demo/app/tags/list').query({ n: 1, last: 'v1' }).set('Authorization', `Bearer ${token}`);
    expect(next.body.tags).toEqual(['v2']);
    expect(next.headers.link).toBeUndefined();
  });

  it('then a Keystone token works as well as a registry token', async () => {
    const res = await request(t.app).get('/v2/demo/app/manifests/v1').set('X-Auth-Token', await t.token('demo'));
    expect(res.status).toBe(200);
  });

  it('then the catalogue shows it to demo and not to alt', async () => {
    const demo = await request(t.app).get('/v2/_catalog').set('X-Auth-Token', await t.token('demo'));
    expect(demo.body.repositories).toContain('demo/app');
    const alt = await request(t.app).get('/v2/_catalog').set('X-Auth-Token', await t.token('alt'));
    expect(alt.body.repositories).not.toContain('demo/app');
  });
});

describe('when a tag is pushed again', () => {
  it('then the name moves to the new image and the old one is hidden', async () => {
    const token = await registryToken('demo', 'repository:demo/moving:pull,push');
    const first = await pushImage(token, 'demo/moving', 'latest', 'a');
    await pushImage(token, 'demo/moving', 'latest', 'b');
    const res = await request(t.app).get('/image/v2/images').query({ name: 'moving:latest' }).set('X-Auth-Token', await t.token('demo'));
    expect(res.body.images).toHaveLength(1); // hidden images are not listed
    const hidden = await request(t.app).get('/image/v2/images').query({ name: 'moving:latest', os_hidden: 'true' }).set('X-Auth-Token', await t.token('demo'));
    expect(hidden.body.images).toHaveLength(1);
    expect(hidden.body.images[0].id).not.toBe(res.body.images[0].id);
    // Deleting the old image removes its manifest; the tag stays on the new one.
    await request(t.app).delete(`/image/v2/images/${hidden.body.images[0].id}`).set('X-Auth-Token', await t.token('demo')).expect(204);
    expect(errorCode(await request(t.app).get(`/v2/demo/moving/manifests/${first.digest}`).set('Authorization', `Bearer ${token}`))).toBe('MANIFEST_UNKNOWN');
    expect((await request(t.app).get('/v2/demo/moving/manifests/latest').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });
});

describe('when the Glance image of a tag is deleted', () => {
  it('then the tag goes and its blobs no image uses are removed from disk at once', async () => {
    const token = await registryToken('demo', 'repository:demo/gone:pull,push');
    const pushed = await pushImage(token, 'demo/gone', 'v1', 'gone');
    expect(blobFiles()).toEqual(expect.arrayContaining([sha(pushed.layer).slice(7), sha(pushed.config).slice(7)]));
    const list = await request(t.app).get('/image/v2/images').query({ name: 'gone:v1' }).set('X-Auth-Token', await t.token('demo'));
    const del = await request(t.app).delete(`/image/v2/images/${list.body.images[0].id}`).set('X-Auth-Token', await t.token('demo'));
    expect(del.status).toBe(204);
    // Nothing is left in the repository, not even a link: it is unknown now.
    const res = await request(t.app).get('/v2/demo/gone/manifests/v1').set('Authorization', `Bearer ${token}`);
    expect(errorCode(res)).toBe('NAME_UNKNOWN');
    expect(blobFiles()).not.toContain(sha(pushed.layer).slice(7));
    expect(blobFiles()).not.toContain(sha(pushed.config).slice(7));
  });

  it('then a layer another repository\'s manifest uses stays', async () => {
    const token = await registryToken('demo', 'repository:demo/keep-a:pull,push,delete repository:demo/keep-b:pull,push');
    const a = await pushImage(token, 'demo/keep-a', 'v1', 'keep-a');
    const mount = await request(t.app).post('/v2/demo/keep-b/blobs/uploads/').query({ mount: sha(a.layer), from: 'demo/keep-a' }).set('Authorization', `Bearer ${token}`);
    expect(mount.status).toBe(201);
    const config = Buffer.from('{"os":"linux","architecture":"amd64","b":1}');
    await pushBlob(token, 'demo/keep-b', config);
    await request(t.app).put('/v2/demo/keep-b/manifests/v1').set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(manifestOf(config, [a.layer]).toString('utf8')).expect(201);
    await request(t.app).delete(`/v2/demo/keep-a/manifests/${a.digest}`).set('Authorization', `Bearer ${token}`).expect(202);
    expect(blobFiles()).toContain(sha(a.layer).slice(7));
    expect(blobFiles()).not.toContain(sha(a.config).slice(7));
    expect((await request(t.app).get(`/v2/demo/keep-b/blobs/${sha(a.layer)}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('then a push that found the layer (HEAD) before the delete still completes with it', async () => {
    const token = await registryToken('demo', 'repository:demo/race:pull,push,delete');
    const first = await pushImage(token, 'demo/race', 'v1', 'race');
    // The second push asks whether the repository has the layer, and will skip uploading it.
    expect((await request(t.app).head(`/v2/demo/race/blobs/${sha(first.layer)}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await request(t.app).delete(`/v2/demo/race/manifests/${first.digest}`).set('Authorization', `Bearer ${token}`).expect(202);
    const config = Buffer.from('{"os":"linux","architecture":"amd64","race":2}');
    await pushBlob(token, 'demo/race', config);
    const put = await request(t.app).put('/v2/demo/race/manifests/v2').set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(manifestOf(config, [first.layer]).toString('utf8'));
    expect(put.status).toBe(201);
    expect(blobFiles()).toContain(sha(first.layer).slice(7));
    expect(blobFiles()).not.toContain(sha(first.config).slice(7));
  });
});

describe('when a blob is released while a push stores it again', () => {
  it('then the release\'s file removal ends before the push records the blob, so the pushed file stays', async () => {
    const repo = new RegistryRepository(t.db);
    const digest = sha('released and pushed again');
    await repo.storeBlob('demo/racing', digest, 25);
    await repo.release(digest, async () => undefined); // still linked: kept
    expect(await repo.unlink('demo/racing', digest)).toBe(true);
    const order: string[] = [];
    let stored: Promise<void> | undefined;
    const released = repo.release(digest, async () => {
      stored = repo.storeBlob('demo/racing', digest, 25).then(() => void order.push('stored'));
      await new Promise((r) => setImmediate(r));
      order.push('file removed');
    });
    expect(await released).toBe(true);
    await stored;
    expect(order).toEqual(['file removed', 'stored']);
    expect(await repo.blobSize(digest)).toBe(25);
    expect(await repo.release(digest, async () => undefined)).toBe(false);
  });
});

describe('when an image index is pushed', () => {
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  const indexOf = (children: { manifest: Buffer; os: string; architecture: string }[]) => Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: INDEX,
    manifests: children.map((c) => ({ mediaType: MANIFEST, digest: sha(c.manifest), size: c.manifest.length, platform: { os: c.os, architecture: c.architecture } })),
  }));
  const putByDigest = (token: string, repo: string, manifest: Buffer) => request(t.app).put(`/v2/${repo}/manifests/${sha(manifest)}`).set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(manifest.toString('utf8')).expect(201);

  it('then its image for the hosts\' platform (linux/amd64) becomes the Glance image, which an engine pulls by the index\'s digest, and deleting it removes the children too', async () => {
    const token = await registryToken('demo', 'repository:demo/multi:pull,push');
    const amd = { config: Buffer.from('{"os":"linux","architecture":"amd64","m":1}'), layer: crypto.randomBytes(2000) };
    const arm = { config: Buffer.from('{"os":"linux","architecture":"arm64","m":1}'), layer: crypto.randomBytes(1000) };
    for (const b of [amd.config, amd.layer, arm.config, arm.layer]) await pushBlob(token, 'demo/multi', b);
    const amdManifest = manifestOf(amd.config, [amd.layer]);
    const armManifest = manifestOf(arm.config, [arm.layer]);
    await putByDigest(token, 'demo/multi', armManifest);
    await putByDigest(token, 'demo/multi', amdManifest);
    const index = indexOf([{ manifest: armManifest, os: 'linux', architecture: 's390x' }, { manifest: amdManifest, os: 'linux', architecture: HOST_PLATFORM.architecture }]);
    const put = await request(t.app).put('/v2/demo/multi/manifests/v1').set('Authorization', `Bearer ${token}`).set('Content-Type', INDEX).send(index.toString('utf8'));
    expect(put.status).toBe(201);
    const list = await request(t.app).get('/image/v2/images').query({ name: 'multi:v1' }).set('X-Auth-Token', await t.token('demo'));
    expect(list.body.images).toHaveLength(1);
    expect(list.body.images[0]).toMatchObject({ status: 'active', docker_image_id: sha(amd.config), registry_manifest_digest: sha(index), size: amd.config.length + amd.layer.length });
    const driver = t.driver as FakeDriver;
    await bootActive(t, list.body.images[0].id);
    expect(driver.pulls.at(-1)).toMatchObject({ reference: `127.0.0.1:8080/demo/multi@${sha(index)}`, imageId: sha(amd.config) });
    await request(t.app).delete(`/image/v2/images/${list.body.images[0].id}`).set('X-Auth-Token', await t.token('demo')).expect(204);
    for (const m of [index, amdManifest, armManifest]) {
      expect((await request(t.app).get(`/v2/demo/multi/manifests/${sha(m)}`).set('Authorization', `Bearer ${token}`)).status).toBe(404);
    }
    expect(blobFiles()).not.toContain(sha(amd.layer).slice(7));
    expect(blobFiles()).not.toContain(sha(arm.layer).slice(7));
  });

  it('then an index without an image for the hosts\' platform is MANIFEST_INVALID, saying so, and no tag is made', async () => {
    const token = await registryToken('demo', 'repository:demo/armonly:pull,push');
    const config = Buffer.from('{"os":"linux","architecture":"arm64"}');
    const layer = crypto.randomBytes(500);
    await pushBlob(token, 'demo/armonly', config);
    await pushBlob(token, 'demo/armonly', layer);
    const child = manifestOf(config, [layer]);
    await putByDigest(token, 'demo/armonly', child);
    const res = await request(t.app).put('/v2/demo/armonly/manifests/v1').set('Authorization', `Bearer ${token}`).set('Content-Type', INDEX)
      .send(indexOf([{ manifest: child, os: 'linux', architecture: 's390x' }]).toString('utf8'));
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ code: 'MANIFEST_INVALID', detail: { reason: `the index has no linux/${HOST_PLATFORM.architecture} image, the platform the compute hosts run` } });
    expect((await request(t.app).get('/v2/demo/armonly/tags/list').set('Authorization', `Bearer ${token}`)).body.tags).toEqual([]);
  });
});

describe('when a manifest is deleted through the registry', () => {
  it('then its Glance image, its blobs and the engine\'s copy go', async () => {
    const token = await registryToken('demo', 'repository:demo/dropped:pull,push,delete');
    const pushed = await pushImage(token, 'demo/dropped', 'v1', 'dropped');
    const list = await request(t.app).get('/image/v2/images').query({ name: 'dropped:v1' }).set('X-Auth-Token', await t.token('demo'));
    const driver = t.driver as FakeDriver;
    const server = await bootActive(t, list.body.images[0].id);
    expect(await driver.hasImage(sha(pushed.config))).toBe(true);
    await request(t.app).delete(`/compute/v2.1/servers/${server}`).set('X-Auth-Token', await t.token('demo')).expect(204);
    await t.services.compute.tasks.idle();
    const del = await request(t.app).delete(`/v2/demo/dropped/manifests/${pushed.digest}`).set('Authorization', `Bearer ${token}`);
    expect(del.status).toBe(202);
    await t.services.images.idle();
    expect((await request(t.app).get(`/image/v2/images/${list.body.images[0].id}`).set('X-Auth-Token', await t.token('demo'))).status).toBe(404);
    expect(await driver.hasImage(sha(pushed.config))).toBe(false);
    expect(blobFiles()).not.toContain(sha(pushed.layer).slice(7));
  });

  it('then a protected Glance image keeps its manifest: DENIED', async () => {
    const token = await registryToken('demo', 'repository:demo/guarded:pull,push,delete');
    const pushed = await pushImage(token, 'demo/guarded', 'v1', 'guarded');
    const list = await request(t.app).get('/image/v2/images').query({ name: 'guarded:v1' }).set('X-Auth-Token', await t.token('demo'));
    const id = list.body.images[0].id;
    const demo = await t.token('demo');
    const protect = (value: boolean) => request(t.app).patch(`/image/v2/images/${id}`).set('X-Auth-Token', demo).set('Content-Type', 'application/openstack-images-v2.1-json-patch')
      .send(JSON.stringify([{ op: 'replace', path: '/protected', value }])).expect(200);
    await protect(true);
    const del = await request(t.app).delete(`/v2/demo/guarded/manifests/${pushed.digest}`).set('Authorization', `Bearer ${token}`);
    expect(del.status).toBe(403);
    expect(del.body.errors[0]).toMatchObject({ code: 'DENIED', detail: { reason: 'the Glance image of this manifest is protected' } });
    expect((await request(t.app).get(`/v2/demo/guarded/manifests/${pushed.digest}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await protect(false);
    await request(t.app).delete(`/v2/demo/guarded/manifests/${pushed.digest}`).set('Authorization', `Bearer ${token}`).expect(202);
  });
});

describe('when the input is bad, the spec error comes back and nothing is left behind', () => {
  let token: string;
  beforeAll(async () => {
    token = await registryToken('demo', 'repository:demo/bad:pull,push');
  });

  it('then a digest that does not match the bytes is DIGEST_INVALID and stores no blob', async () => {
    const before = blobFiles().length;
    const bytes = Buffer.from('some bytes');
    const res = await request(t.app).post('/v2/demo/bad/blobs/uploads/').query({ digest: sha('other bytes') }).set('Authorization', `Bearer ${token}`).send(bytes);
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('DIGEST_INVALID');
    expect(blobFiles().length).toBe(before);
    expect(uploadFiles()).toEqual([]);
  });

  it('then a manifest naming an unknown blob is MANIFEST_BLOB_UNKNOWN, a malformed one MANIFEST_INVALID', async () => {
    const unknown = manifestOf(Buffer.from('no such config'), []);
    const a = await request(t.app).put('/v2/demo/bad/manifests/x').set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(unknown.toString('utf8'));
    expect(a.status).toBe(400);
    expect(errorCode(a)).toBe('MANIFEST_BLOB_UNKNOWN');
    for (const body of ['{not json', '{"schemaVersion":2,"mediaType":"' + MANIFEST + '","layers":[]}', '[]']) {
      const b = await request(t.app).put('/v2/demo/bad/manifests/x').set('Authorization', `Bearer ${token}`).set('Content-Type', MANIFEST).send(body);
      expect(b.status).toBe(400);
      expect(errorCode(b)).toBe('MANIFEST_INVALID');
    }
    const tags = await request(t.app).get('/v2/demo/bad/tags/list').set('Authorization', `Bearer ${token}`);
    expect(tags.body.tags ?? []).toEqual([]);
  });

  it('then a layer over the size cap is SIZE_INVALID and the upload stays where it was', async () => {
    const start = await request(t.app).post('/v2/demo/bad/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    const res = await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(MAX_BLOB + 1));
    expect(res.status).toBe(400);
    expect(errorCode(res)).toBe('SIZE_INVALID');
    const status = await request(t.app).get(start.headers.location).set('Authorization', `Bearer ${token}`);
    expect(status.status).toBe(204);
    expect(status.headers.range).toBe('0-0');
    const id = start.headers['docker-upload-uuid'];
    expect(fs.statSync(path.join(t.dataDir, 'registry', 'uploads', id)).size).toBe(0);
    // The next push of the same upload works.
    const small = Buffer.from('fits');
    const ok = await request(t.app).put(start.headers.location).query({ digest: sha(small) }).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(small);
    expect(ok.status).toBe(201);
  });

  it('then a Content-Range that does not start at the upload\'s end is refused with 416', async () => {
    const start = await request(t.app).post('/v2/demo/bad/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    const res = await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Range', '5-9').set('Content-Type', 'application/octet-stream').send(Buffer.alloc(5));
    expect(res.status).toBe(416);
    const chunk = await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Range', '0-4').set('Content-Type', 'application/octet-stream').send(Buffer.alloc(5));
    expect(chunk.status).toBe(202);
    expect(chunk.headers.range).toBe('0-4');
    const del = await request(t.app).delete(start.headers.location).set('Authorization', `Bearer ${token}`);
    expect(del.status).toBe(204);
    expect(uploadFiles()).not.toContain(start.headers['docker-upload-uuid']);
  });

  it('then a client that disconnects mid-layer leaves the upload as it was, and the next push works', async () => {
    const start = await request(t.app).post('/v2/demo/bad/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    const id = start.headers['docker-upload-uuid'];
    const server = http.createServer(t.app).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const seen = new Promise<void>((resolve) => server.once('request', (req: http.IncomingMessage) => req.once('close', () => resolve())));
      await new Promise<void>((resolve) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'PATCH', path: start.headers.location, headers: { Authorization: `Bearer ${token}`, 'Content-Length': '50000' } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(20000, 1), () => setTimeout(() => req.destroy(), 50));
      });
      await seen;
      // The server notices the aborted request and cuts the chunk off. Until it has, the upload
      // is busy (an empty PATCH is refused with BLOB_UPLOAD_INVALID); then it is at 0 bytes.
      let empty: request.Response;
      do empty = await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(0));
      while (empty.status === 400 && errorCode(empty) === 'BLOB_UPLOAD_INVALID');
      expect(empty.status).toBe(202);
      expect(empty.headers.range).toBe('0-0');
      expect(fs.statSync(path.join(t.dataDir, 'registry', 'uploads', id)).size).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const bytes = Buffer.from('after the disconnect');
    let ok: request.Response;
    do ok = await request(t.app).put(start.headers.location).query({ digest: sha(bytes) }).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(bytes);
    while (ok.status === 400 && errorCode(ok) === 'BLOB_UPLOAD_INVALID'); // the cut-off request's handler may still hold the upload
    expect(ok.status).toBe(201);
  });

  it('then someone else\'s upload id is BLOB_UPLOAD_UNKNOWN', async () => {
    const altToken = await registryToken('alt', 'repository:alt/mine:pull,push');
    const theirs = await request(t.app).post('/v2/alt/mine/blobs/uploads/').set('Authorization', `Bearer ${altToken}`);
    const id = theirs.headers['docker-upload-uuid'];
    const res = await request(t.app).patch(`/v2/demo/bad/blobs/uploads/${id}`).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(Buffer.from('x'));
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN');
    await request(t.app).delete(theirs.headers.location).set('Authorization', `Bearer ${altToken}`).expect(204);
  });

  it('then abandoned uploads are removed by the sweep after the timeout', async () => {
    const start = await request(t.app).post('/v2/demo/bad/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    await request(t.app).patch(start.headers.location).set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/octet-stream').send(Buffer.from('half'));
    await t.services.registry.service.sweep(Date.now() + 2 * t.services.registry.service.uploadTimeoutMs);
    const status = await request(t.app).get(start.headers.location).set('Authorization', `Bearer ${token}`);
    expect(errorCode(status)).toBe('BLOB_UPLOAD_UNKNOWN');
    expect(uploadFiles()).toEqual([]);
  });

  it('then an unknown blob is BLOB_UNKNOWN and a malformed digest DIGEST_INVALID', async () => {
    const a = await request(t.app).get(`/v2/demo/bad/blobs/${sha('nothing')}`).set('Authorization', `Bearer ${token}`);
    expect(errorCode(a)).toBe('BLOB_UNKNOWN');
    const b = await request(t.app).get('/v2/demo/bad/blobs/sha256:xyz').set('Authorization', `Bearer ${token}`);
    expect(errorCode(b)).toBe('DIGEST_INVALID');
  });
});

describe('when another project asks', () => {
  let demoImage: Awaited<ReturnType<typeof pushImage>>;
  beforeAll(async () => {
    demoImage = await pushImage(await registryToken('demo', 'repository:demo/private:pull,push'), 'demo/private', 'v1', 'private');
  });

  it('then alt\'s token grants nothing on demo/private: a pull is NAME_UNKNOWN, a push DENIED', async () => {
    const altToken = await registryToken('alt', 'repository:demo/private:pull,push');
    const pull = await request(t.app).get('/v2/demo/private/manifests/v1').set('Authorization', `Bearer ${altToken}`);
    expect(pull.status).toBe(404);
    expect(errorCode(pull)).toBe('NAME_UNKNOWN');
    const blob = await request(t.app).get(`/v2/demo/private/blobs/${sha(demoImage.layer)}`).set('Authorization', `Bearer ${altToken}`);
    expect(errorCode(blob)).toBe('NAME_UNKNOWN');
    const push = await request(t.app).post('/v2/demo/private/blobs/uploads/').set('Authorization', `Bearer ${altToken}`);
    expect(push.status).toBe(403);
    expect(errorCode(push)).toBe('DENIED');
  });

  it('then an admin may pull demo\'s private image and push into demo, the image demo\'s, and sees it in the catalogue', async () => {
    const adminToken = await registryToken('admin', 'repository:demo/private:pull,push,delete repository:demo/by-admin:pull,push registry:catalog:*');
    expect((await request(t.app).get('/v2/demo/private/manifests/v1').set('Authorization', `Bearer ${adminToken}`)).status).toBe(200);
    expect((await request(t.app).get(`/v2/demo/private/blobs/${sha(demoImage.layer)}`).set('Authorization', `Bearer ${adminToken}`)).status).toBe(200);
    await pushImage(adminToken, 'demo/by-admin', 'v1', 'by-admin');
    const list = await request(t.app).get('/image/v2/images').query({ name: 'by-admin:v1' }).set('X-Auth-Token', await t.token('demo'));
    expect(list.body.images.map((i: { owner: string }) => i.owner)).toEqual([await t.projectId('demo')]);
    const catalog = await request(t.app).get('/v2/_catalog').set('Authorization', `Bearer ${adminToken}`);
    expect(catalog.body.repositories).toEqual(expect.arrayContaining(['demo/private', 'demo/by-admin']));
  });

  it('then a reader of demo may pull but not push', async () => {
    const viewer = await registryToken('viewer', 'repository:demo/private:pull,push');
    expect((await request(t.app).get('/v2/demo/private/manifests/v1').set('Authorization', `Bearer ${viewer}`)).status).toBe(200);
    expect(errorCode(await request(t.app).post('/v2/demo/private/blobs/uploads/').set('Authorization', `Bearer ${viewer}`))).toBe('DENIED');
  });

  it('then a token for another repository makes the client ask again, with the scope', async () => {
    const other = await registryToken('demo', 'repository:demo/elsewhere:pull');
    const res = await request(t.app).get('/v2/demo/private/manifests/v1').set('Authorization', `Bearer ${other}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('scope="repository:demo/private:pull"');
  });

  it('then a mount from another project\'s repository falls back to a 202 upload', async () => {
    const altToken = await registryToken('alt', 'repository:alt/copy:pull,push');
    const res = await request(t.app).post('/v2/alt/copy/blobs/uploads/').query({ mount: sha(demoImage.layer), from: 'demo/private' }).set('Authorization', `Bearer ${altToken}`);
    expect(res.status).toBe(202);
    await request(t.app).delete(res.headers.location).set('Authorization', `Bearer ${altToken}`).expect(204);
  });

  it('then a mount within the project links the blob at once', async () => {
    const token = await registryToken('demo', 'repository:demo/copy:pull,push');
    const res = await request(t.app).post('/v2/demo/copy/blobs/uploads/').query({ mount: sha(demoImage.layer), from: 'demo/private' }).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(201);
    expect((await request(t.app).head(`/v2/demo/copy/blobs/${sha(demoImage.layer)}`).set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('then once the image is made public, alt may pull it', async () => {
    const list = await request(t.app).get('/image/v2/images').query({ name: 'private:v1' }).set('X-Auth-Token', await t.token('demo'));
    const id = list.body.images[0].id;
    const admin = await t.token('admin');
    await request(t.app).patch(`/image/v2/images/${id}`).set('X-Auth-Token', admin).set('Content-Type', 'application/openstack-images-v2.1-json-patch')
      .send(JSON.stringify([{ op: 'replace', path: '/visibility', value: 'public' }])).expect(200);
    const altToken = await registryToken('alt', 'repository:demo/private:pull,push');
    const pull = await request(t.app).get('/v2/demo/private/manifests/v1').set('Authorization', `Bearer ${altToken}`);
    expect(pull.status).toBe(200);
  });
});

describe('whatever comes in', () => {
  it('then the answer is never a 5xx, and every error is the spec\'s JSON', async () => {
    const fc = (await import('fast-check')).default;
    const token = await registryToken('demo', 'repository:demo/fuzz:pull,push');
    const start = await request(t.app).post('/v2/demo/fuzz/blobs/uploads/').set('Authorization', `Bearer ${token}`);
    const upload = start.headers.location as string;
    const ref = fc.oneof(fc.constantFrom('v1', 'latest', sha('x'), 'sha256:', 'sha512:00', '..', '%00'), fc.string({ maxLength: 80 }).map(encodeURIComponent));
    const name = fc.oneof(fc.constantFrom('demo/fuzz', 'demo', 'alt/x', 'Demo/X', 'demo//x', 'a'.repeat(300)), fc.string({ maxLength: 40 }).map(encodeURIComponent));
    const req = fc.oneof(
      fc.record({ m: fc.constant('put'), p: fc.tuple(name, ref).map(([n, r]) => `/v2/${n}/manifests/${r}`), body: fc.oneof(fc.json(), fc.string(), fc.constant(JSON.stringify({ schemaVersion: 2, config: {}, layers: [{}] }))), ct: fc.constantFrom(MANIFEST, 'application/json', 'text/plain', 'application/vnd.oci.image.index.v1+json') }),
      fc.record({ m: fc.constant('patch'), p: fc.constant(upload), body: fc.string(), ct: fc.constant('application/octet-stream'), range: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 20 }), fc.tuple(fc.nat(100), fc.nat(100)).map(([a, b]) => `${a}-${b}`)) }),
      fc.record({ m: fc.constantFrom('get', 'head', 'delete'), p: fc.tuple(name, ref, fc.constantFrom('manifests', 'blobs', 'blobs/uploads')).map(([n, r, k]) => `/v2/${n}/${k}/${r}`) }),
      fc.record({ m: fc.constant('get'), p: fc.tuple(name, fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([n, a, b]) => `/v2/${n}/tags/list?n=${encodeURIComponent(a)}&last=${encodeURIComponent(b)}`) }),
      fc.record({ m: fc.constant('get'), p: fc.string({ maxLength: 60 }).map((s) => `/v2/token?scope=${encodeURIComponent(s)}`), auth: fc.string({ maxLength: 40 }).map((s) => `Basic ${s}`) }),
    );
    // Found by this property on PostgreSQL (a NUL reached a text column): a reference that is neither tag nor digest names nothing.
    const nul = await request(t.app).get('/v2/demo/fuzz/manifests/%00').set('Authorization', `Bearer ${token}`);
    expect([nul.status, nul.body.errors?.[0]?.code]).toEqual([404, 'MANIFEST_UNKNOWN']);
    // And an upload id (found the same way): every verb on it names no upload.
    for (const m of ['get', 'patch', 'put', 'delete'] as const) {
      const r = await request(t.app)[m]('/v2/demo/fuzz/blobs/uploads/%00?digest=sha256:' + '0'.repeat(64)).set('Authorization', `Bearer ${token}`);
      expect([m, r.status, r.body.errors?.[0]?.code]).toEqual([m, 404, 'BLOB_UPLOAD_UNKNOWN']);
    }
    // And a login whose user has a NUL (a Basic header of random bytes): a wrong user, not an error.
    const login = await request(t.app).get('/v2/token?scope=repository:demo/fuzz:pull').set('Authorization', `Basic ${Buffer.from('demo\0:x').toString('base64')}`);
    expect([login.status, login.body.errors?.[0]?.code]).toEqual([401, 'UNAUTHORIZED']);
    await fc.assert(fc.asyncProperty(req, async (r: { m: string; p: string; body?: string; ct?: string; range?: string; auth?: string }) => {
      let q = (request(t.app) as unknown as Record<string, (p: string) => request.Test>)[r.m](r.p).set('Authorization', r.auth ?? `Bearer ${token}`);
      if (r.range !== undefined) q = q.set('Content-Range', r.range);
      if (r.ct) q = q.set('Content-Type', r.ct);
      const res = await (r.body !== undefined ? q.send(r.body) : q);
      if (res.status >= 500) return false;
      if (res.status >= 400 && r.m !== 'head' && r.p.startsWith('/v2/')) return Array.isArray(res.body?.errors);
      return true;
    }), { numRuns: Number(process.env.REGISTRY_FUZZ_RUNS ?? 300) });
    await request(t.app).delete(upload).set('Authorization', `Bearer ${token}`);
  }, 600_000);
});
