/**
 * The built-in page's server side (issue 18 part 2), through HTTP on the fake driver: a browser at
 * / gets the page while API clients get what they got before, the page's files are served, and
 * the multipart upload goes into the same ingest as PUT /file with Glance's answers.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { legacyArchive, SyntheticImage } from '../helpers/synthetic-archive';
import { errorMessage } from '../helpers/glance';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
let t: TestApp;
let demo: string;
let archive: SyntheticImage;

beforeAll(async () => {
  t = await makeTestApp({ config: { maxImageSize: 1024 * 1024 } });
  demo = await t.token('demo');
  archive = await legacyArchive({ salt: 'ui-page' });
});
afterAll(() => t.close());

async function queuedImage(): Promise<string> {
  const res = await request(t.app).post('/image/v2/images').set('X-Auth-Token', demo).send({ name: 'from-page', container_format: 'docker', disk_format: 'raw' });
  expect(res.status).toBe(201);
  return res.body.id;
}

const upload = (id: string, bytes: Buffer, size: string | undefined = String(bytes.length), token = demo) => {
  const r = request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', token);
  if (size !== undefined) r.field('size', size);
  return r.attach('file', bytes, { filename: 'img.tar', contentType: 'application/x-tar' });
};

describe('the page at /', () => {
  it('a browser asking for text/html at / gets the page, uncached', async () => {
    const res = await request(t.app).get('/').set('Accept', BROWSER_ACCEPT);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.text).toContain('<script type="module" src="/ui/js/main.js">');
  });

  it.each([['*/*'], ['application/json'], [undefined]])('a client sending Accept %s at / gets the same answer as before the page (404 in Keystone shape)', async (accept) => {
    const r = request(t.app).get('/');
    if (accept) r.set('Accept', accept);
    const res = await r;
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 404, title: 'Not Found', message: expect.any(String) } });
  });

  it('the page, its style and its modules are served under /ui', async () => {
    expect((await request(t.app).get('/ui/')).text).toContain('<title>novadock</title>');
    const js = await request(t.app).get('/ui/js/servers.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect((await request(t.app).get('/ui/app.css')).headers['content-type']).toMatch(/^text\/css/);
    expect((await request(t.app).get('/ui/nothing.js')).status).toBe(404);
    expect((await request(t.app).get('/ui/..%2f..%2frouter.ts')).status).not.toBe(200);
  });
});

describe('POST /ui/images/{id}/upload (multipart into the ingest)', () => {
  it('uploads a docker archive: 204, and the image is active with the md5 and size of the file', async () => {
    const id = await queuedImage();
    const res = await upload(id, archive.bytes);
    expect(res.status).toBe(204);
    const img = (await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', demo)).body;
    expect(img).toMatchObject({ status: 'active', size: archive.bytes.length });
    const data = await request(t.app).get(`/image/v2/images/${id}/file`).set('X-Auth-Token', demo).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(Buffer.compare(data.body as Buffer, archive.bytes)).toBe(0);
  });

  it('a second upload to an active image is 409 with Glance\'s text, and the image stays as it was', async () => {
    const id = await queuedImage();
    expect((await upload(id, archive.bytes)).status).toBe(204);
    const res = await upload(id, archive.bytes).set('Accept', 'application/json');
    expect(res.status).toBe(409);
    expect(errorMessage(res.body)).toMatch(/active/);
    expect((await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', demo)).body.status).toBe('active');
  });

  it('a declared size over the cap is 413 before the data is read, and the image stays queued', async () => {
    const id = await queuedImage();
    const res = await upload(id, archive.bytes, String(2 * 1024 * 1024)).set('Accept', 'application/json');
    expect(res.status).toBe(413);
    expect(errorMessage(res.body)).toBe('Image of 2097152 bytes exceeds the size limit of 1048576 bytes.');
    expect((await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', demo)).body.status).toBe('queued');
  });

  it('data over the cap without a declared size is 413 while streaming, and the image stays queued', async () => {
    const id = await queuedImage();
    const res = await upload(id, Buffer.alloc(1024 * 1024 + 4096, 7), undefined).set('Accept', 'application/json');
    expect(res.status).toBe(413);
    expect((await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', demo)).body.status).toBe('queued');
  });

  it('data shorter than the declared size is 400, and the image stays queued', async () => {
    const id = await queuedImage();
    const res = await upload(id, archive.bytes, String(archive.bytes.length + 1)).set('Accept', 'application/json');
    expect(res.status).toBe(400);
    expect((await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', demo)).body.status).toBe('queued');
  });

  it.each([
    ['no token', 401, (id: string) => request(t.app).post(`/ui/images/${id}/upload`).attach('file', Buffer.from('x'), 'x.tar')],
    ['a reader', 403, async (id: string) => request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', await t.token('viewer')).attach('file', Buffer.from('x'), 'x.tar')],
    ['an unknown image', 404, () => upload('9f7c1c5e-0000-4000-8000-000000000000', archive.bytes)],
    ['a body that is not multipart', 415, (id: string) => request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', demo).set('Content-Type', 'application/octet-stream').send(archive.bytes)],
    ['a form without a file part', 400, (id: string) => request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', demo).field('size', '3')],
    ['two files', 400, (id: string) => upload(id, archive.bytes).attach('file', archive.bytes, 'again.tar')],
    ['a size that is not a number', 400, (id: string) => upload(id, archive.bytes, 'lots')],
    ["another project's image", 404, async (id: string) => upload(id, archive.bytes, undefined, await t.token('alt'))],
    ['multipart without a boundary', 400, (id: string) => request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', demo).set('Content-Type', 'multipart/form-data').send('x')],
    ['a multipart body cut short', 400, (id: string) => request(t.app).post(`/ui/images/${id}/upload`).set('X-Auth-Token', demo).set('Content-Type', 'multipart/form-data; boundary=b')
      .send('--b\r\nContent-Disposition: form-data; name="file"; filename="a.tar"\r\n\r\nabc')],
  ])('%s: %i in Glance\'s shape, never a 500', async (_what, status, send) => {
    const id = await queuedImage();
    const res = await send(id);
    expect(res.status).toBe(status);
    expect(typeof errorMessage(res.body)).toBe('string');
  });

  it('GET on the upload route is 405', async () => {
    expect((await request(t.app).get('/ui/images/x/upload').set('X-Auth-Token', demo)).status).toBe(405);
  });
});
