/**
 * Hostile archives (issue 5), uploaded to a real novadock with its file store and the real engine:
 * not a tar, zero bytes, truncated, `../` and absolute paths, symlinks and hard links pointing out,
 * a manifest naming missing or outside layers, a gzip compression bomb. Each is refused with 400
 * and a message naming the problem; the image stays queued with no data and no engine image;
 * nothing is written outside the store (and nothing is left in it); the process stays healthy
 * and keeps serving.
 *
 * Every hostile path carries a random marker, so "nothing escaped" is checked by name wherever an
 * extraction could have put it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { busyboxImage } from '../helpers/test-image';
import { ROOT } from '../helpers/server';
import { legacyArchive, tarOf, ustarHeader } from '../helpers/synthetic-archive';
import { Harness, docker, engineHasImage, errorMessage, listTree, md5, resilServer, storeFiles } from './support';

jest.setTimeout(300_000);

/** The server's upload cap for this file: a bomb far beyond it costs the client ~1 MB on the wire. */
const MAX_IMAGE = 64 * 1024 * 1024;
const BOMB_INFLATED = 1024 * 1024 * 1024;
const MARKER = `resil-escape-${crypto.randomBytes(4).toString('hex')}`;

let h: Harness;
let busybox: Buffer;
let busyboxId: string;
let dataBefore: string[];
let tmpBefore: Set<string>;

beforeAll(async () => {
  h = await resilServer('hostile', { env: { NOVADOCK_MAX_IMAGE_SIZE: String(MAX_IMAGE) } });
  const img = busyboxImage('resil-hostile');
  busyboxId = img.imageId;
  h.engineImages.add(img.imageId);
  await docker(['rmi', img.imageId]);
  busybox = fs.readFileSync(img.path);
  dataBefore = listTree(h.srv.dataDir);
  tmpBefore = new Set(fs.readdirSync('/tmp'));
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

interface Outcome { status: number; contentType: string; message: string; body: unknown }

async function queued(name: string): Promise<string> {
  const r = await h.demo.image('POST', '/images', { name, container_format: 'docker', disk_format: 'raw' });
  expect(r.status).toBe(201);
  return (r.body as { id: string }).id;
}

async function put(id: string, bytes: Buffer): Promise<Outcome> {
  const r = await h.demo.call('PUT', `/image/v2/images/${id}/file`, { body: bytes, timeoutMs: 120_000 });
  return { status: r.status, contentType: r.headers.get('content-type') ?? '', message: errorMessage(r.body), body: r.body };
}

/**
 * PUT with a streamed (chunked) body: the bytes are produced as they are sent. Stops sending once
 * the server answers. Resolves with the answer and the bytes that went on the wire.
 */
function putStream(id: string, source: Readable): Promise<Outcome & { wireBytes: number }> {
  return new Promise((resolve, reject) => {
    let wireBytes = 0;
    const req = http.request({
      host: '127.0.0.1', port: h.srv.port, method: 'PUT', path: `/image/v2/images/${id}/file`,
      headers: { 'X-Auth-Token': h.demo.token, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked', Accept: 'application/json' },
      timeout: 120_000,
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        source.unpipe(req);
        source.destroy();
        const text = Buffer.concat(parts).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), message: errorMessage(body), body, wireBytes });
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 120 s')));
    // The server may close its side after answering while we still send: the answer is what counts.
    req.on('error', (e) => reject(e));
    source.on('data', (d: Buffer) => { wireBytes += d.length; });
    source.on('error', () => undefined);
    source.pipe(req);
  });
}

/** A tar of `total` bytes of zeros in files of `fileBytes`, generated as it is read (never held whole). */
function zerosTar(total: number, fileBytes: number): Readable {
  const zeros = Buffer.alloc(1024 * 1024);
  function* gen(): Generator<Buffer> {
    for (let i = 0, left = total; left > 0; i++, left -= fileBytes) {
      const size = Math.min(fileBytes, left);
      yield ustarHeader(`${MARKER}-zeros-${i}`, size);
      for (let sent = 0; sent < Math.ceil(size / 512) * 512; sent += zeros.length) {
        yield zeros.subarray(0, Math.min(zeros.length, Math.ceil(size / 512) * 512 - sent));
      }
    }
    yield Buffer.alloc(1024);
  }
  return Readable.from(gen(), { objectMode: false });
}


/** Where an extraction of a hostile entry name could have landed; none of these may exist. */
function escapeCandidates(): string[] {
  const roots = [h.srv.dataDir, path.join(h.srv.dataDir, 'images'), ROOT, '/tmp', '/', '/var/lib/docker/tmp', path.dirname(h.srv.dataDir)];
  const names = [`${MARKER}-dotdot`, `${MARKER}-abs`, `${MARKER}-link`, `${MARKER}-hardlink`, `${MARKER}-zeros-0`];
  const out: string[] = [];
  for (const r of roots) for (const n of names) out.push(path.join(r, n), path.join(r, '..', n), path.join(r, '..', '..', n));
  return out;
}

/** After each refusal: queued, no data, no stored bytes, no engine image. */
async function expectNothingKept(id: string, engineId?: string): Promise<void> {
  const shown = await h.demo.image('GET', `/images/${id}`);
  expect(shown.body).toMatchObject({ status: 'queued', size: null, checksum: null });
  expect((await h.demo.image('GET', `/images/${id}/file`)).status).toBe(204);
  expect(storeFiles(h.srv.dataDir)).toEqual([]);
  if (engineId) expect(await engineHasImage(engineId)).toBe(false);
  expect(escapeCandidates().filter((p) => fs.existsSync(p))).toEqual([]);
}

interface Case {
  what: string;
  bytes: () => Promise<{ bytes: Buffer; engineId?: string }>;
  message: RegExp;
}

const cases: Case[] = [
  {
    what: 'data that is not a tar',
    bytes: async () => ({ bytes: Buffer.from('this is not a tar archive, just text\n'.repeat(200)) }),
    message: /not a tar archive/i,
  },
  { what: 'zero bytes', bytes: async () => ({ bytes: Buffer.alloc(0) }), message: /empty|0 bytes/i },
  {
    what: 'a truncated docker-save archive',
    bytes: async () => ({ bytes: busybox.subarray(0, Math.floor(busybox.length * 0.7)), engineId: busyboxId }),
    message: /truncated/i,
  },
  {
    what: "an entry whose path climbs out with '../'",
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-1`, extra: [{ name: `../../${MARKER}-dotdot`, body: 'escaped\n' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /'\.\.'/,
  },
  {
    what: 'an entry with an absolute path',
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-2`, extra: [{ name: `/tmp/${MARKER}-abs`, body: 'escaped\n' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /absolute path/i,
  },
  {
    what: 'a symlink pointing out of the archive',
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-3`, extra: [{ name: `${MARKER}-link`, type: 'symlink', linkname: '/etc/shadow' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /symlink .*points outside the archive/i,
  },
  {
    what: "a symlink climbing out with '../'",
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-4`, extra: [{ name: `${MARKER}-link`, type: 'symlink', linkname: '../../../../etc/passwd' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /symlink .*points outside the archive/i,
  },
  {
    what: 'a hard link pointing out of the archive',
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-5`, extra: [{ name: `${MARKER}-hardlink`, type: 'link', linkname: '../etc/passwd' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /hard link .*points outside the archive/i,
  },
  {
    what: 'a manifest naming a layer that is missing',
    bytes: async () => {
      const good = await legacyArchive({ salt: `${MARKER}-6`, layers: 2 });
      const a = await legacyArchive({ salt: `${MARKER}-6`, layers: 2, omit: [good.layerPaths[1]] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /names the layer .* not in the archive/i,
  },
  {
    what: 'a manifest naming a layer outside the archive',
    bytes: async () => {
      const good = await legacyArchive({ salt: `${MARKER}-7` });
      const a = await legacyArchive({ salt: `${MARKER}-7`, manifest: [{ Config: good.configPath, RepoTags: null, Layers: ['../../../etc/passwd'] }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /'\.\.'/,
  },
  {
    what: 'a device file',
    bytes: async () => {
      const a = await legacyArchive({ salt: `${MARKER}-8`, extra: [{ name: `${MARKER}-dev`, type: 'character-device' }] });
      return { bytes: a.bytes, engineId: a.imageId };
    },
    message: /character-device/i,
  },
  {
    what: 'a tar of random bytes after a valid first entry',
    bytes: async () => {
      const head = await tarOf([{ name: `${MARKER}-first`, body: 'ok\n' }]);
      return { bytes: Buffer.concat([head.subarray(0, 1024), crypto.randomBytes(64 * 1024)]) };
    },
    message: /corrupt|truncated|not a tar/i,
  },
];

describe.each(cases)('when the upload is $what', ({ bytes, message }) => {
  test('then it is refused with 400 and a message naming the problem, and nothing is kept anywhere', async () => {
    const { bytes: data, engineId } = await bytes();
    const id = await queued('resil-hostile');
    const r = await put(id, data);
    console.log(`hostile-archives: ${r.status} ${r.message}`);
    expect(r.status).toBe(400);
    expect(r.contentType).toMatch(/application\/json/);
    expect(r.message).toMatch(message);
    await expectNothingKept(id, engineId);
  });
});

test(`when a gzip bomb (small on the wire, ${BOMB_INFLATED / 1024 ** 3} GiB inflated) is streamed, then it is refused with 400 naming the decompressed size, and nothing is kept`, async () => {
  const id = await queued('resil-bomb');
  const bomb = zerosTar(BOMB_INFLATED, 16 * 1024 * 1024).pipe(zlib.createGzip({ level: 9 }));
  const r = await putStream(id, bomb);
  console.log(`hostile-archives: gzip bomb: ${r.wireBytes} bytes sent before the answer: ${r.status} ${r.message}`);
  expect(r.status).toBe(400);
  expect(r.contentType).toMatch(/application\/json/);
  expect(r.message).toMatch(/decompressed size exceeds/i);
  // Under the cap on the wire, far over it inflated: only counting the inflated bytes can catch it.
  expect(r.wireBytes).toBeLessThan(MAX_IMAGE);
  await expectNothingKept(id);
});

test('after all of them, nothing was written outside the store, the store is empty, and the process is healthy and still serving', async () => {
  const pid = h.srv.pid();
  // The data dir holds what it held before (database, log, secrets) and the store holds nothing.
  const dataAfter = listTree(h.srv.dataDir).filter((p) => !p.startsWith(`images${path.sep}`));
  expect(dataAfter.filter((p) => !dataBefore.includes(p) && p !== 'images')).toEqual([]);
  expect(storeFiles(h.srv.dataDir)).toEqual([]);
  // Nothing of ours appeared in /tmp.
  const tmpNew = fs.readdirSync('/tmp').filter((n) => !tmpBefore.has(n));
  expect(tmpNew.filter((n) => n.includes(MARKER))).toEqual([]);
  expect(escapeCandidates().filter((p) => fs.existsSync(p))).toEqual([]);

  const health = await fetch(`${h.srv.url}/healthcheck`);
  expect(health.status).toBe(200);
  expect(h.srv.pid()).toBe(pid);
  // Still serving: a good archive uploads, lands in the engine, and downloads byte for byte.
  const id = await queued('resil-good');
  const r = await put(id, busybox);
  expect(r.status).toBe(204);
  expect((await h.demo.image('GET', `/images/${id}`)).body).toMatchObject({ status: 'active', checksum: md5(busybox) });
  expect(await engineHasImage(busyboxId)).toBe(true);
  expect(storeFiles(h.srv.dataDir)).toEqual([id]);
});
