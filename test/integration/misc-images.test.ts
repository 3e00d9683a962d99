/**
 * The compute /images proxy (deprecated; Tempest's createImage test polls it at 2.1): Nova's
 * shapes and status mapping over what the image service lists for the caller, filters, paging,
 * delete through the image service, and 404 from 2.36.
 */
import request from 'supertest';
import { makeTestApp, TestApp, PUBLIC_URL } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { ImageRepository } from '../../src/db/image-repo';
import type { ImageRecord, ImageStatus } from '../../src/image/image-record';

function image(over: Partial<ImageRecord>): ImageRecord {
  return {
    id: '00000000-0000-4000-8000-000000000000', name: 'img', status: 'active', visibility: 'public', protected: false, os_hidden: false,
    checksum: null, os_hash_algo: null, os_hash_value: null, owner: null, size: 1024, virtual_size: null,
    container_format: 'docker', disk_format: 'raw', min_ram: 0, min_disk: 0, engine_image_id: null, properties: {}, tags: [],
    created_at: '2026-01-01T10:00:00.000Z', updated_at: '2026-01-01T10:00:01.000Z', ...over,
  };
}

const IDS = {
  busybox: '11111111-1111-4111-8111-111111111111',
  snap: '22222222-2222-4222-8222-222222222222',
  broken: '33333333-3333-4333-8333-333333333333',
};
const SERVER = '44444444-4444-4444-8444-444444444444';

let h: TestApp;
let repo: ImageRepository;

/** Moves a queued image through each status in turn, as uploads do. */
async function moveThrough(id: string, ...statuses: ImageStatus[]): Promise<void> {
  let from: ImageStatus = 'queued';
  for (const to of statuses) {
    if (!(await repo.transition(id, from, to))) throw new Error(`${id}: ${from} → ${to} lost`);
    from = to;
  }
}
beforeAll(async () => {
  h = await makeTestApp();
  repo = new ImageRepository(h.db);
  const demo = await h.projectId('demo');
  const admin = await h.projectId('admin');
  // Records in the states a createImage goes through, written straight to the repository
  // (created queued, then moved through Glance's transition table).
  await repo.create(image({ id: IDS.busybox, name: 'busybox', owner: admin, min_ram: 64, created_at: '2026-01-01T10:00:00.000Z' }));
  await moveThrough(IDS.busybox, 'saving', 'active');
  await repo.create(image({
    id: IDS.snap, name: 'snap', size: null, visibility: 'private', owner: demo,
    properties: { instance_uuid: SERVER, image_type: 'snapshot' }, created_at: '2026-01-02T10:00:00.000Z',
  }));
  await repo.create(image({ id: IDS.broken, name: null, visibility: 'public', owner: demo, created_at: '2026-01-03T10:00:00.000Z' }));
  await moveThrough(IDS.broken, 'saving', 'killed');
});
afterAll(async () => { await h.close(); });

const get = async (path: string, version?: string) => {
  const r = request(h.app).get(`/compute/v2.1${path}`).set('X-Auth-Token', await h.token('demo'));
  return version ? r.set('X-OpenStack-Nova-API-Version', version) : r;
};

describe('GET /images', () => {
  it('lists the caller\'s images newest first with id, name and links (tempest 2.1 schema)', async () => {
    const res = await get('/images');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/images.list_images', res)).toEqual([]);
    expect(res.body.images.map((i: { id: string }) => i.id)).toEqual([IDS.broken, IDS.snap, IDS.busybox]);
    expect(res.body.images[2].links).toEqual([
      { rel: 'self', href: `${PUBLIC_URL}/compute/v2.1/images/${IDS.busybox}` },
      { rel: 'bookmark', href: `${PUBLIC_URL}/compute/images/${IDS.busybox}` },
      { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${PUBLIC_URL}/image/images/${IDS.busybox}` },
    ]);
  });

  it('details them with Nova\'s status and progress (tempest 2.1 schema)', async () => {
    const res = await get('/images/detail');
    expect(tempestProblems('v2_1/images.list_images_details', res)).toEqual([]);
    const by = Object.fromEntries(res.body.images.map((i: { id: string }) => [i.id, i]));
    expect(by[IDS.busybox]).toMatchObject({ status: 'ACTIVE', progress: 100, minRam: 64, minDisk: 0, 'OS-EXT-IMG-SIZE:size': 1024, created: '2026-01-01T10:00:00Z', metadata: {} });
    expect(by[IDS.snap]).toMatchObject({ status: 'SAVING', progress: 25, server: { id: SERVER }, metadata: { instance_uuid: SERVER, image_type: 'snapshot' } });
    expect(by[IDS.broken]).toMatchObject({ status: 'ERROR', progress: 0, name: null });
  });

  it('filters by name, status, server, type and minRam', async () => {
    const ids = async (q: string) => (await get(`/images/detail?${q}`)).body.images.map((i: { id: string }) => i.id);
    expect(await ids('name=busybox')).toEqual([IDS.busybox]);
    expect(await ids('status=SAVING')).toEqual([IDS.snap]);
    expect(await ids(`server=${SERVER}`)).toEqual([IDS.snap]);
    expect(await ids('type=snapshot')).toEqual([IDS.snap]);
    expect(await ids('minRam=32')).toEqual([IDS.busybox]);
    expect((await get('/images?minRam=x')).status).toBe(400);
  });

  it('pages with limit and marker, linking to the next page', async () => {
    const first = await get('/images?limit=2');
    expect(first.body.images.map((i: { id: string }) => i.id)).toEqual([IDS.broken, IDS.snap]);
    expect(first.body.images_links).toEqual([{ rel: 'next', href: `${PUBLIC_URL}/compute/v2.1/images?limit=2&marker=${IDS.snap}` }]);
    const second = await get(`/images?limit=2&marker=${IDS.snap}`);
    expect(second.body.images.map((i: { id: string }) => i.id)).toEqual([IDS.busybox]);
    expect((await get('/images?marker=nope')).status).toBe(400);
  });
});

describe('GET /images/{id}', () => {
  it('shows an image as Tempest polls it after createImage (tempest 2.1 schema)', async () => {
    const res = await get(`/images/${IDS.snap}`);
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/images.get_image', res)).toEqual([]);
    expect(res.body.image).toMatchObject({ id: IDS.snap, status: 'SAVING', 'OS-EXT-IMG-SIZE:size': null });
  });

  it('answers 404 "Image not found." for an unknown or invisible image', async () => {
    const res = await get('/images/99999999-9999-4999-8999-999999999999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ itemNotFound: { code: 404, message: 'Image not found.' } });
    const other = await request(h.app).get(`/compute/v2.1/images/${IDS.snap}`).set('X-Auth-Token', await h.token('alt'));
    expect(other.status).toBe(404);
  });

  it('is gone from 2.36, as in Nova', async () => {
    expect((await get(`/images/${IDS.busybox}`, '2.36')).status).toBe(404);
    expect((await get('/images', '2.36')).status).toBe(404);
  });
});

describe('DELETE /images/{id}', () => {
  it('deletes through the image service with 204, then the image is 404', async () => {
    const res = await request(h.app).delete(`/compute/v2.1/images/${IDS.broken}`).set('X-Auth-Token', await h.token('demo'));
    expect(res.status).toBe(204);
    expect(await repo.get(IDS.broken)).toBeUndefined();
    expect((await get(`/images/${IDS.broken}`)).status).toBe(404);
    const again = await request(h.app).delete(`/compute/v2.1/images/${IDS.broken}`).set('X-Auth-Token', await h.token('demo'));
    expect(again.status).toBe(404);
  });
});
