/**
 * Contract §10 S4–S6 with the Debian clients: upload a `docker save` archive from a file and from a
 * pipe, list, show, set, save byte for byte, protect, delete; and see in the engine that novadock
 * loaded the image under the id it recorded, and removed it again on delete.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, StartedServer } from '../helpers/server';
import { glance, openstack, sh } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { imageInEngine, json, lines, ok, poll, recordedDockerImageId, sameBytes, tableRow, testImage, transcript } from './support';

jest.setTimeout(180_000);

let srv: StartedServer;
let archive: TestImage;
let piped: TestImage;
let work: string;
const md5 = (file: string) => crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-e2e-images-'));
  // Not in the engine before the upload: if it is there afterwards, novadock loaded it.
  archive = await testImage('e2e-images', false);
  piped = await testImage('e2e-pipe', true);
  srv = await startServer();
}, 240_000);
afterAll(async () => {
  await srv?.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('S4: upload a docker-save archive with openstack image create, then list and show it', () => {
  let id: string;

  it('image create --file prints the new image as the POST returned it: queued', async () => {
    const r = ok(await openstack(['image', 'create', '--file', archive.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox', '-f', 'value', '-c', 'status'], srv.env.admin));
    expect(lines(r)).toEqual(['queued']);
  });

  it('image show prints the md5 and size of the file and status active', async () => {
    const r = ok(await openstack(['image', 'show', 'busybox', '-f', 'value', '-c', 'status', '-c', 'size', '-c', 'checksum'], srv.env.admin));
    expect(lines(r)).toEqual([md5(archive.path), String(fs.statSync(archive.path).size), 'active']);
  });

  it('image list shows it in the | ID | Name | Status | table', async () => {
    const r = ok(await openstack(['image', 'list'], srv.env.admin));
    id = ok(await openstack(['image', 'show', 'busybox', '-f', 'value', '-c', 'id'], srv.env.admin)).stdout.trim();
    expect(r.stdout).toMatch(tableRow('ID', 'Name', 'Status'));
    expect(r.stdout).toMatch(tableRow(id, 'busybox', 'active'));
  });

  it('the engine now has the image, under the Docker id novadock recorded and shows as a property', async () => {
    const recorded = recordedDockerImageId(srv, id);
    expect(recorded).toBe(archive.imageId);
    expect(await imageInEngine(archive.imageId)).toBe(true);
    const listed = ok(await sh('docker images --no-trunc -q', {}));
    expect(lines(listed)).toContain(archive.imageId);
    const props = json<{ properties: Record<string, unknown> }>(await openstack(['image', 'show', 'busybox', '-f', 'json', '-c', 'properties'], srv.env.admin));
    expect(Object.values(props.properties)).toContain(archive.imageId);
  });

  it('another project does not see the admin project\'s private image', async () => {
    const r = ok(await openstack(['image', 'list', '-f', 'value', '-c', 'Name'], srv.env.demo));
    expect(lines(r)).not.toContain('busybox');
    const show = await openstack(['image', 'show', id], srv.env.demo);
    expect(show.code).toBe(1);
  });
});

describe('S5: image metadata, download and delete', () => {
  it('image set --property --tag shows up in image show', async () => {
    ok(await openstack(['image', 'set', '--property', 'os_distro=busybox', '--tag', 'demo', 'busybox'], srv.env.admin));
    const shown = json<{ tags: string[]; properties: Record<string, unknown> }>(await openstack(['image', 'show', 'busybox', '-f', 'json', '-c', 'tags', '-c', 'properties'], srv.env.admin));
    expect(shown.tags).toEqual(['demo']);
    expect(shown.properties).toMatchObject({ os_distro: 'busybox' });
  });

  it('image save writes a file byte-identical to the uploaded archive', async () => {
    const out = path.join(work, 'out.tar');
    ok(await openstack(['image', 'save', '--file', out, 'busybox'], srv.env.admin));
    expect(sameBytes(archive.path, out)).toBe(true);
  });

  it('image unset --property removes the property', async () => {
    ok(await openstack(['image', 'unset', '--property', 'os_distro', 'busybox'], srv.env.admin));
    const shown = json<{ properties: Record<string, unknown> }>(await openstack(['image', 'show', 'busybox', '-f', 'json', '-c', 'properties'], srv.env.admin));
    expect(shown.properties).not.toHaveProperty('os_distro');
  });

  it('a protected image refuses to be deleted (403, exit 1) and stays active; unprotected it deletes', async () => {
    ok(await openstack(['image', 'set', '--protected', 'busybox'], srv.env.admin));
    const r = await openstack(['image', 'delete', 'busybox'], srv.env.admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Failed to delete image with name or ID 'busybox': HttpException: 403");
    expect(r.stderr).toContain('Failed to delete 1 of 1 images.');
    expect(lines(ok(await openstack(['image', 'show', 'busybox', '-f', 'value', '-c', 'status'], srv.env.admin)))).toEqual(['active']);
    ok(await openstack(['image', 'set', '--unprotected', 'busybox'], srv.env.admin));
  });
});

describe('S6: the glance CLI', () => {
  let gid: string;

  it('glance image-create --file prints the property table with status, checksum, sha512 and size', async () => {
    const r = ok(await glance(['image-create', '--name', 'gbox', '--container-format', 'docker', '--disk-format', 'raw', '--file', archive.path], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('status', 'active'));
    expect(r.stdout).toMatch(tableRow('checksum', md5(archive.path)));
    expect(r.stdout).toMatch(tableRow('os_hash_algo', 'sha512'));
    expect(r.stdout).toMatch(tableRow('size', String(fs.statSync(archive.path).size)));
    gid = /\|\s*id\s*\|\s*([0-9a-f-]{36})\s*\|/.exec(r.stdout)?.[1] ?? '';
    expect(gid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('glance image-list shows it in the | ID | Name | table', async () => {
    const r = ok(await glance(['image-list'], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('ID', 'Name'));
    expect(r.stdout).toMatch(tableRow(gid, 'gbox'));
  });

  it('glance image-update --property prints the table with the new property', async () => {
    const r = ok(await glance(['image-update', '--property', 'owner_note=x', gid], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('owner_note', 'x'));
  });

  it('glance image-download writes the same bytes', async () => {
    const out = path.join(work, 'g.tar');
    ok(await glance(['image-download', '--file', out, gid], srv.env.admin));
    expect(sameBytes(archive.path, out)).toBe(true);
  });

  it('glance image-delete prints nothing, and the image is gone', async () => {
    const r = ok(await glance(['image-delete', gid], srv.env.admin));
    expect(r.stdout.trim()).toBe('');
    const show = await glance(['image-show', gid], srv.env.admin);
    expect(show.code).toBe(1);
    expect(transcript(show)).toMatch(/404|No image with/i);
  });

  it('docker save IMG | glance image-create uploads from a pipe, and docker images shows the loaded image under the recorded id', async () => {
    const r = ok(await sh(`docker save ${piped.imageId} | glance image-create --container-format docker --disk-format raw --name gpipe`, srv.env.admin));
    expect(r.stdout).toMatch(tableRow('status', 'active'));
    const id = /\|\s*id\s*\|\s*([0-9a-f-]{36})\s*\|/.exec(r.stdout)?.[1] ?? '';
    expect(recordedDockerImageId(srv, id)).toBe(piped.imageId);
    expect(lines(ok(await sh('docker images --no-trunc -q', {})))).toContain(piped.imageId);
  });

  it('deleting the only Glance image of a Docker image removes it from the engine', async () => {
    ok(await openstack(['image', 'delete', 'gpipe'], srv.env.admin));
    expect(await poll(() => imageInEngine(piped.imageId), (present) => !present, 10_000)).toBe(false);
  });
});

describe('uploads that are not what they claim, and other formats', () => {
  it('docker save | openstack image create (no --file) streams from a pipe too', async () => {
    const img = await testImage('e2e-opipe', true);
    const r = ok(await sh(`docker save ${img.imageId} | openstack image create --container-format docker --disk-format raw opipe -f value -c id`, srv.env.admin));
    const id = r.stdout.trim();
    const shown = await poll(() => openstack(['image', 'show', id, '-f', 'value', '-c', 'status'], srv.env.admin), (x) => x.stdout.trim() === 'active', 30_000);
    expect(lines(shown)).toEqual(['active']);
    ok(await openstack(['image', 'delete', id], srv.env.admin));
  });

  it('bytes that are not a docker-save archive are refused with a 400 and a reason; glance leaves the image queued', async () => {
    const junk = path.join(work, 'junk.tar');
    fs.writeFileSync(junk, crypto.randomBytes(64 * 1024));
    try {
      const r = await glance(['image-create', '--name', 'junk', '--container-format', 'docker', '--disk-format', 'raw', '--file', junk], srv.env.admin);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/400/);
      const shown = json<{ status: string; size: number | null }>(await openstack(['image', 'show', 'junk', '-f', 'json', '-c', 'status', '-c', 'size'], srv.env.admin));
      // OSC leaves a null column out of -f json: no size at all, or null.
      expect(shown.status).toBe('queued');
      expect(shown.size ?? null).toBeNull();
    } finally {
      await openstack(['image', 'delete', 'junk'], srv.env.admin);
    }
  });

  it('openstack image create of such bytes fails with the 400, and the SDK deletes the image it made', async () => {
    const junk = path.join(work, 'junk.tar');
    const r = await openstack(['image', 'create', '--file', junk, '--container-format', 'docker', '--disk-format', 'raw', 'junk2'], srv.env.admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/400/);
    // NOTE(openstack): openstacksdk's image proxy deletes an image whose upload failed.
    expect(lines(ok(await openstack(['image', 'list', '-f', 'value', '-c', 'Name'], srv.env.admin)))).not.toContain('junk2');
  });

  it('a bare/raw image is stored opaque and saved back byte for byte', async () => {
    const blob = path.join(work, 'blob.raw');
    fs.writeFileSync(blob, crypto.randomBytes(3 * 1024 * 1024 + 17));
    ok(await openstack(['image', 'create', '--file', blob, '--container-format', 'bare', '--disk-format', 'raw', 'blob'], srv.env.admin));
    const out = path.join(work, 'blob.out');
    ok(await openstack(['image', 'save', '--file', out, 'blob'], srv.env.admin));
    expect(sameBytes(blob, out)).toBe(true);
    ok(await openstack(['image', 'delete', 'blob'], srv.env.admin));
  });
});

describe('cleaning up with the CLI', () => {
  it('image delete removes the last image; image list is empty and the engine no longer has it', async () => {
    ok(await openstack(['image', 'delete', 'busybox'], srv.env.admin));
    const r = ok(await openstack(['image', 'list', '-f', 'value'], srv.env.admin));
    expect(lines(r)).toHaveLength(0);
    expect(await poll(() => imageInEngine(archive.imageId), (present) => !present, 10_000)).toBe(false);
  });
});
