/**
 * Interrupted uploads (issue 5), on a real novadock with its file store and the real engine: a
 * client that disconnects half-way through a docker-save upload, and one that sends a truncated
 * archive, leave the image `queued` with no stored bytes (no file, no .partial) and no engine
 * image; the next, complete upload then succeeds.
 */
import fs from 'node:fs';
import net from 'node:net';
import { busyboxImage, TestImage } from '../helpers/test-image';
import { Harness, engineHasImage, docker, errorMessage, md5, resilServer, sleep, storeFiles, waitFor } from './support';

jest.setTimeout(300_000);

let h: Harness;
let img: TestImage;
let archive: Buffer;

beforeAll(async () => {
  h = await resilServer('upload');
  img = busyboxImage('resil-upload');
  h.engineImages.add(img.imageId);
  archive = fs.readFileSync(img.path);
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

/** The engine must not have the archive's image before an upload, or "no engine image" proves nothing. */
async function withoutEngineImage(): Promise<void> {
  await docker(['rmi', img.imageId]);
  expect(await engineHasImage(img.imageId)).toBe(false);
}

async function queuedImage(name: string): Promise<string> {
  const r = await h.demo.image('POST', '/images', { name, container_format: 'docker', disk_format: 'raw' });
  expect(r.status).toBe(201);
  return (r.body as { id: string }).id;
}

/** The image is queued, has no data (download 204), nothing in the store, and the engine lacks the image. */
async function expectNothingKept(id: string): Promise<void> {
  const back = await waitFor(() => h.demo.image('GET', `/images/${id}`), (r) => r.body?.status !== 'saving', 30_000, 100);
  expect(back.value.body).toMatchObject({ status: 'queued', size: null, checksum: null });
  expect((await h.demo.image('GET', `/images/${id}/file`)).status).toBe(204);
  expect(storeFiles(h.srv.dataDir).filter((f) => f.startsWith(id))).toEqual([]);
  expect(await engineHasImage(img.imageId)).toBe(false);
}

/**
 * A raw HTTP/1.1 upload announcing the whole archive but sending only `fraction` of it, then the
 * socket is destroyed: the client vanished mid-upload.
 */
function disconnectAt(id: string, fraction: number): Promise<{ sent: number; answer: string }> {
  const sent = Math.floor(archive.length * fraction);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: h.srv.port });
    let answer = '';
    sock.on('data', (d) => { answer += d.toString('latin1'); });
    sock.on('error', () => undefined);
    sock.on('connect', () => {
      sock.write([
        `PUT /image/v2/images/${id}/file HTTP/1.1`,
        `Host: 127.0.0.1:${h.srv.port}`,
        `X-Auth-Token: ${h.demo.token}`,
        'Content-Type: application/octet-stream',
        `Content-Length: ${archive.length}`,
        '', '',
      ].join('\r\n'));
      sock.write(archive.subarray(0, sent), async (err) => {
        if (err) return reject(err);
        // Let the server take what was sent before the client goes away.
        await sleep(300);
        sock.destroy();
        resolve({ sent, answer });
      });
    });
  });
}

test('when a client disconnects at 50% of a docker-format upload, then the image is back in queued with no stored bytes and no engine image', async () => {
  await withoutEngineImage();
  const id = await queuedImage('resil-half');
  const { sent, answer } = await disconnectAt(id, 0.5);
  console.log(`upload-interruption: disconnected after ${sent} of ${archive.length} bytes`);
  // The server had nothing to say before the data ended.
  expect(answer).toBe('');
  await expectNothingKept(id);
});

test('when a truncated docker-save archive is uploaded, then it is refused with 400 naming the truncation, and nothing is kept', async () => {
  await withoutEngineImage();
  const id = await queuedImage('resil-truncated');
  // Cut inside the archive's entries: the end-of-archive marker and the manifest are missing.
  const truncated = archive.subarray(0, Math.floor(archive.length * 0.6));
  const r = await h.demo.call('PUT', `/image/v2/images/${id}/file`, { body: truncated });
  expect(r.status).toBe(400);
  expect(r.headers.get('content-type')).toMatch(/application\/json/);
  expect(errorMessage(r.body)).toMatch(/truncated/i);
  await expectNothingKept(id);
});

test('when the complete archive is then uploaded to the interrupted image, then it succeeds: 204, active with its checksum, stored, and in the engine', async () => {
  await withoutEngineImage();
  const id = await queuedImage('resil-retry');
  await disconnectAt(id, 0.5);
  await expectNothingKept(id);

  const r = await h.demo.call('PUT', `/image/v2/images/${id}/file`, { body: archive });
  expect(r.status).toBe(204);
  const shown = await h.demo.image('GET', `/images/${id}`);
  expect(shown.body).toMatchObject({ status: 'active', size: archive.length, checksum: md5(archive) });
  expect(storeFiles(h.srv.dataDir).filter((f) => f.startsWith(id))).toEqual([id]);
  expect(fs.readFileSync(`${h.srv.dataDir}/images/${id}`).equals(archive)).toBe(true);
  expect(await engineHasImage(img.imageId)).toBe(true);
  // The other images of this file kept nothing meanwhile.
  expect(storeFiles(h.srv.dataDir)).toEqual([id]);
});
