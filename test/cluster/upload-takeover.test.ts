/**
 * Issue 16: an upload in progress on a process that is killed -9 goes back to `queued` on the
 * survivor (once it finds the dead process's heartbeat stale), its partial bytes are gone from the
 * shared store, and the next upload of the same image works.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cleanUpClustersAfterEach, partialUpload, startCluster, waitFor } from './support';

jest.setTimeout(300_000);
cleanUpClustersAfterEach();

test('when the process receiving an upload is killed -9, then the survivor puts the image back to queued and a new upload of it succeeds', async () => {
  const c = await startCluster('upload');
  const [victim, survivor] = c.direct;
  const archive = fs.readFileSync(c.image.path);
  const created = await survivor.image('POST', '/images', { name: 'cluster-upload', container_format: 'docker', disk_format: 'raw' });
  expect(created.status).toBe(201);
  const id = (created.body as { id: string }).id;

  const upload = await partialUpload(victim.url, `/image/v2/images/${id}/file`, victim.token, archive, Math.floor(archive.length / 2));
  try {
    const saving = await waitFor(() => survivor.image('GET', `/images/${id}`), (r) => r.body?.status === 'saving', 30_000, 50);
    expect(saving.value.body?.status).toBe('saving');
    await c.srv.processes[0].kill9();
  } finally {
    upload.abort();
  }
  const at = Date.now();
  const queued = await waitFor(() => survivor.image('GET', `/images/${id}`), (r) => r.body?.status !== 'saving', 60_000, 50);
  console.log(`upload-takeover: the survivor shows the image ${queued.value.body?.status} ${Date.now() - at} ms after the kill`);
  expect(queued.value.body).toMatchObject({ status: 'queued', size: null, checksum: null });
  expect(fs.readdirSync(path.join(c.srv.dataDir, 'images')).filter((f) => f.startsWith(id))).toEqual([]);

  const put = await survivor.call('PUT', `/image/v2/images/${id}/file`, { body: archive, timeoutMs: 120_000 });
  expect(put.status).toBe(204);
  const done = await survivor.image('GET', `/images/${id}`);
  expect(done.body).toMatchObject({ status: 'active', size: archive.length });
  const download = await survivor.call('GET', `/image/v2/images/${id}/file`);
  expect(download.status).toBe(200);
});
