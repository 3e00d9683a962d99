/**
 * Image uploads against the real Docker engine: the API streams a `docker save` archive into
 * the engine in the same pass as the store, under the id the archive declares; hostile or
 * refused archives leave no engine image; deleting the image removes it from the engine, unless
 * someone named it there (a tag).
 *
 * Only images this file creates are ever removed from the engine (by id).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import pino from 'pino';
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { busyboxImage, TestImage } from '../helpers/test-image';
import { legacyArchive, tarOf, layerOf } from '../helpers/synthetic-archive';
import { DockerDriver } from '../../src/virt/docker/driver';
import { FileImageStore } from '../../src/store/file-store';
import { errorMessage } from '../helpers/glance';
import { carriersLeft, importsSince } from './docker-driver-helpers';



const OCTET = 'application/octet-stream';
jest.setTimeout(120_000);
const created = new Set<string>();

function engineHas(id: string): boolean {
  try {
    execFileSync('docker', ['image', 'inspect', '--format', '{{.Id}}', id], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function rmi(id: string): void {
  if (engineHas(id)) execFileSync('docker', ['image', 'rm', id], { stdio: 'pipe' });
}

let t: TestApp;
let store: FileImageStore;
let storeDir: string;
let token: string;
let busybox: TestImage;

beforeAll(async () => {
  busybox = busyboxImage('img-upload');
  created.add(busybox.imageId);
  storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-images-'));
  store = new FileImageStore(storeDir);
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  t = await makeTestApp({ driver: new DockerDriver({ host: 'local', log }), store });
  token = await t.token('demo');
}, 120_000);

afterAll(async () => {
  await t?.close();
  for (const id of created) {
    try {
      rmi(id);
    } catch {
      /* in use by another test's container: leave it */
    }
  }
  fs.rmSync(storeDir, { recursive: true, force: true });
});

async function createImage(name: string): Promise<string> {
  const res = await request(t.app).post('/image/v2/images').set('X-Auth-Token', token).send({ name, container_format: 'docker', disk_format: 'raw' });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Streams a file as a chunked upload (as glanceclient does) through a real socket. */
async function uploadChunked(id: string, file: string): Promise<{ status: number; body: string }> {
  const server = http.createServer(t.app);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  try {
    return await new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'PUT', path: `/image/v2/images/${id}/file`,
        headers: { 'X-Auth-Token': token, 'Content-Type': OCTET, 'Transfer-Encoding': 'chunked' },
      }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      fs.createReadStream(file).pipe(req);
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  }
}

async function show(id: string) {
  return (await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', token)).body;
}

describe('uploading a docker save archive to a real engine', () => {
  it('loads it in the same pass: docker image inspect <id> succeeds and the id is recorded', async () => {
    rmi(busybox.imageId);
    expect(engineHas(busybox.imageId)).toBe(false);
    const id = await createImage('img-upload');
    const res = await uploadChunked(id, busybox.path);
    expect(res.status).toBe(204);
    expect(engineHas(busybox.imageId)).toBe(true);
    const bytes = fs.readFileSync(busybox.path);
    expect(await show(id)).toMatchObject({ status: 'active', size: bytes.length, docker_image_id: busybox.imageId });
    // the stored bytes are the uploaded bytes, and nothing partial is left
    expect(fs.readFileSync(path.join(storeDir, id)).equals(bytes)).toBe(true);
    expect(store.partials()).toEqual([]);
  });

  it('downloads the stored archive byte for byte', async () => {
    const id = await createImage('img-download');
    const bytes = fs.readFileSync(busybox.path);
    expect((await request(t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', token).set('Content-Type', OCTET).send(bytes)).status).toBe(204);
    const dl = await request(t.app).get(`/image/v2/images/${id}/file`).set('X-Auth-Token', token).buffer(true).parse((res, cb) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => cb(null, Buffer.concat(parts)));
    });
    expect(dl.status).toBe(200);
    expect((dl.body as Buffer).equals(bytes)).toBe(true);
    expect(dl.headers['content-md5']).toBe((await show(id)).checksum);
  });

  it('a hostile archive (path escaping the archive) is refused with 400 and leaves no engine image', async () => {
    const evil = await legacyArchive({ salt: `docker-evil-${Date.now()}`, extra: [{ name: '../../../../tmp/novadock-pwned', body: 'x' }] });
    created.add(evil.imageId);
    const id = await createImage('img-evil');
    const res = await request(t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', token).set('Content-Type', OCTET).send(evil.bytes);
    expect(res.status).toBe(400);
    expect(errorMessage(res.body)).toMatch(/contains '\.\.'/);
    await t.services.images.idle();
    expect(engineHas(evil.imageId)).toBe(false);
    expect(fs.existsSync('/tmp/novadock-pwned')).toBe(false);
    expect(await show(id)).toMatchObject({ status: 'queued', size: null });
    expect(fs.existsSync(path.join(storeDir, id))).toBe(false);
    expect(store.partials()).toEqual([]);
  });

  it('an archive the engine refuses (layer not matching its config) answers 400 and leaves nothing', async () => {
    const layer = await layerOf({ 'etc/hello': 'hello\n' });
    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] },
    }));
    const crypto = await import('node:crypto');
    const configHex = crypto.createHash('sha256').update(config).digest('hex');
    created.add(`sha256:${configHex}`);
    const bytes = await tarOf([
      { name: 'layer0/', type: 'directory' },
      { name: 'layer0/layer.tar', body: layer },
      { name: `${configHex}.json`, body: config },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${configHex}.json`, RepoTags: null, Layers: ['layer0/layer.tar'] }]) },
    ]);
    const id = await createImage('img-refused');
    const res = await request(t.app).put(`/image/v2/images/${id}/file`).set('X-Auth-Token', token).set('Content-Type', OCTET).send(bytes);
    expect(res.status).toBe(400);
    expect(errorMessage(res.body)).toMatch(/refused/);
    await t.services.images.idle();
    expect(engineHas(`sha256:${configHex}`)).toBe(false);
    expect(await show(id)).toMatchObject({ status: 'queued' });
    expect(store.partials()).toEqual([]);
  });

  describe('an archive past the inline-hash limit (hashed by the thread that follows the store file)', () => {
    let big: { file: string; bytes: Buffer; imageId: string };
    beforeAll(async () => {
      const archive = await legacyArchive({ salt: `big-${process.pid}`, layerBytes: 40 * 1024 * 1024 });
      const file = path.join(storeDir, '..', `novadock-big-${process.pid}.tar`);
      fs.writeFileSync(file, archive.bytes);
      big = { file, bytes: archive.bytes, imageId: archive.imageId };
      created.add(archive.imageId);
    });
    afterAll(() => fs.rmSync(big.file, { force: true }));

    it('loads, and checksum and os_hash_value are those of the bytes uploaded', async () => {
      expect(big.bytes.length).toBeGreaterThan(32 * 1024 * 1024);
      const since = Date.now();
      const id = await createImage('img-big');
      expect((await uploadChunked(id, big.file)).status).toBe(204);
      expect(await show(id)).toMatchObject({
        status: 'active',
        size: big.bytes.length,
        checksum: crypto.createHash('md5').update(big.bytes).digest('hex'),
        os_hash_algo: 'sha512',
        os_hash_value: crypto.createHash('sha512').update(big.bytes).digest('hex'),
        docker_image_id: big.imageId,
      });
      expect(engineHas(big.imageId)).toBe(true);
      // Its 40 MiB base layer went in through the engine's import as it streamed, and the carrier is gone.
      expect(await importsSince('local', since)).toHaveLength(1);
      expect(await carriersLeft('local')).toEqual([]);
      expect((await request(t.app).delete(`/image/v2/images/${id}`).set('X-Auth-Token', token)).status).toBe(204);
      await t.services.images.idle();
      expect(engineHas(big.imageId)).toBe(false);
    });

    it('cut off half way: the image is queued again, with no bytes kept and no engine image', async () => {
      rmi(big.imageId);
      const id = await createImage('img-big-cut');
      const server = http.createServer(t.app);
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
      try {
        await new Promise<void>((resolve) => {
          const req = http.request({
            host: '127.0.0.1', port: (server.address() as AddressInfo).port, method: 'PUT', path: `/image/v2/images/${id}/file`,
            headers: { 'X-Auth-Token': token, 'Content-Type': OCTET, 'Content-Length': big.bytes.length },
          });
          req.on('error', () => resolve());
          req.on('close', () => resolve());
          req.write(big.bytes.subarray(0, 36 * 1024 * 1024), () => setTimeout(() => req.destroy(), 200));
        });
        await t.services.images.idle();
      } finally {
        server.closeAllConnections();
        await new Promise<void>((res) => server.close(() => res()));
      }
      expect(await show(id)).toMatchObject({ status: 'queued', size: null, checksum: null });
      expect(fs.existsSync(path.join(storeDir, id))).toBe(false);
      expect(store.partials()).toEqual([]);
      expect(engineHas(big.imageId)).toBe(false);
      expect(await carriersLeft('local')).toEqual([]);
    });
  });

  it('deleting the image removes it from the engine', async () => {
    const variant = busyboxImage('img-delete');
    created.add(variant.imageId);
    rmi(variant.imageId);
    const id = await createImage('img-delete');
    expect((await uploadChunked(id, variant.path)).status).toBe(204);
    expect(engineHas(variant.imageId)).toBe(true);
    expect((await request(t.app).delete(`/image/v2/images/${id}`).set('X-Auth-Token', token)).status).toBe(204);
    await t.services.images.idle();
    expect(engineHas(variant.imageId)).toBe(false);
    expect(fs.existsSync(path.join(storeDir, id))).toBe(false);
  });

  it('deleting the image leaves an engine image someone named (the tag a user uploaded from)', async () => {
    const variant = busyboxImage('img-named');
    created.add(variant.imageId);
    const tag = `novadock-test-named:${crypto.randomBytes(4).toString('hex')}`;
    rmi(variant.imageId);
    execFileSync('docker', ['load', '-i', variant.path], { stdio: 'pipe' });
    execFileSync('docker', ['tag', variant.imageId, tag], { stdio: 'pipe' });
    try {
      const id = await createImage('img-named');
      expect((await uploadChunked(id, variant.path)).status).toBe(204);
      expect((await request(t.app).delete(`/image/v2/images/${id}`).set('X-Auth-Token', token)).status).toBe(204);
      await t.services.images.idle();
      expect(fs.existsSync(path.join(storeDir, id))).toBe(false);
      const tags = execFileSync('docker', ['image', 'inspect', '--format', '{{json .RepoTags}}', variant.imageId], { encoding: 'utf8' });
      expect(JSON.parse(tags)).toContain(tag);
    } finally {
      execFileSync('docker', ['image', 'rm', tag], { stdio: 'pipe' });
    }
  });
});
