/**
 * Glance v2 image sharing through HTTP (fake driver, memory store, real SQLite): the owner
 * offers a `shared` image to another project, which sees it at once by id, lists it with
 * member_status, accepts it into its default listing, and loses it when the membership goes —
 * Tempest's ListSharedImagesTest flow plus the rules around it (who may add, answer, remove).
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { errorMessage } from '../helpers/glance';
import { MEMBER_SCHEMA, MEMBERS_SCHEMA } from '../../src/image/schemas';

let t: TestApp;
let demo: string;
let alt: string;
let admin: string;
let viewer: string;
let altProject: string;

beforeAll(async () => {
  t = await makeTestApp();
  [demo, alt, admin, viewer] = await Promise.all([t.token('demo'), t.token('alt'), t.token('admin'), t.token('viewer')]);
  altProject = await t.projectId('alt');
});
afterAll(async () => {
  await t.close();
});

const api = () => request(t.app);
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

async function create(token: string, body: Record<string, unknown> = {}) {
  const res = await api().post('/image/v2/images').set('X-Auth-Token', token).send({ container_format: 'bare', disk_format: 'raw', ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; visibility: string };
}

const addMember = (token: string, id: string, member: unknown) =>
  api().post(`/image/v2/images/${id}/members`).set('X-Auth-Token', token).send(member === undefined ? {} : { member });
const setStatus = (token: string, id: string, member: string, status: unknown) =>
  api().put(`/image/v2/images/${id}/members/${member}`).set('X-Auth-Token', token).send({ status });
const members = (token: string, id: string) => api().get(`/image/v2/images/${id}/members`).set('X-Auth-Token', token);
const show = (token: string, id: string) => api().get(`/image/v2/images/${id}`).set('X-Auth-Token', token);

async function listed(token: string, query = ''): Promise<string[]> {
  const res = await api().get(`/image/v2/images${query ? `?${query}` : ''}`).set('X-Auth-Token', token);
  expect(res.status).toBe(200);
  return res.body.images.map((i: { id: string }) => i.id);
}

describe('sharing an image with another project (Tempest ListSharedImagesTest)', () => {
  it('offers, lists by member_status, accepts into the default listing, and withdraws', async () => {
    const img = await create(demo, { name: 'to-share' });
    expect(img.visibility).toBe('shared');
    const upload = await api().put(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', demo)
      .set('Content-Type', 'application/octet-stream').send(Buffer.alloc(2048, 7));
    expect(upload.status).toBe(204);

    // Before: alt does not see it at all.
    expect((await show(alt, img.id)).status).toBe(404);
    expect(await listed(alt, 'member_status=all&visibility=shared')).not.toContain(img.id);

    const added = await addMember(demo, img.id, altProject);
    expect(added.status).toBe(200);
    expect(added.body).toEqual({
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      updated_at: added.body.created_at,
      image_id: img.id,
      member_id: altProject,
      schema: '/v2/schemas/member',
      status: 'pending',
    });

    // A pending member lists it only when asking for pending shared images, but can show and download it.
    expect(await listed(alt, 'member_status=pending&visibility=shared')).toEqual([img.id]);
    expect(await listed(alt)).not.toContain(img.id);
    expect(await listed(alt, 'visibility=shared')).not.toContain(img.id);
    expect((await show(alt, img.id)).body.id).toBe(img.id);
    const file = await api().get(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', alt).buffer(true);
    expect(file.status).toBe(200);
    expect(Buffer.from(file.body).equals(Buffer.alloc(2048, 7))).toBe(true);

    // The member accepts: the default listing and visibility=shared now include it.
    const accepted = await setStatus(alt, img.id, altProject, 'accepted');
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ image_id: img.id, member_id: altProject, status: 'accepted', schema: '/v2/schemas/member' });
    expect(await listed(alt)).toContain(img.id);
    expect(await listed(alt, 'visibility=shared')).toContain(img.id);
    expect(await listed(alt, 'member_status=pending&visibility=shared')).not.toContain(img.id);
    expect(await listed(alt, 'visibility=all')).toContain(img.id);
    expect(await listed(alt, 'visibility=private')).not.toContain(img.id);

    // The owner sees every member; the member sees the same one membership.
    const owned = await members(demo, img.id);
    expect(owned.status).toBe(200);
    expect(owned.body).toEqual({ members: [accepted.body], schema: '/v2/schemas/members' });
    expect((await members(alt, img.id)).body.members).toEqual([accepted.body]);
    expect((await api().get(`/image/v2/images/${img.id}/members/${altProject}`).set('X-Auth-Token', alt)).body).toEqual(accepted.body);

    // Withdrawn: 204, then gone from alt's listings and by id.
    const removed = await api().delete(`/image/v2/images/${img.id}/members/${altProject}`).set('X-Auth-Token', demo);
    expect(removed.status).toBe(204);
    expect((await members(demo, img.id)).body.members).toEqual([]);
    expect(await listed(alt)).not.toContain(img.id);
    expect(await listed(alt, 'member_status=all&visibility=shared')).not.toContain(img.id);
    expect((await show(alt, img.id)).status).toBe(404);
  });

  it('keeps a rejected image out of the default listing but lists it with member_status=rejected', async () => {
    const img = await create(demo);
    expect((await addMember(demo, img.id, altProject)).status).toBe(200);
    expect((await setStatus(alt, img.id, altProject, 'rejected')).body.status).toBe('rejected');
    expect(await listed(alt)).not.toContain(img.id);
    expect(await listed(alt, 'member_status=rejected')).toContain(img.id);
    expect(await listed(alt, 'member_status=all&visibility=shared')).toContain(img.id);
    // A rejected member still sees the image by id (Glance shows it to any member).
    expect((await show(alt, img.id)).status).toBe(200);
    // And may change its mind.
    expect((await setStatus(alt, img.id, altProject, 'accepted')).body.status).toBe('accepted');
    expect(await listed(alt)).toContain(img.id);
  });

  it("lists the owner's own shared images under visibility=shared whether or not they have members", async () => {
    const img = await create(demo);
    expect(await listed(demo, 'visibility=shared')).toContain(img.id);
    expect(await listed(alt, 'visibility=shared&member_status=all')).not.toContain(img.id);
  });
});

describe('who may do what with members', () => {
  it('lets only the owner (or an admin) add members: a member gets 403, a stranger 404', async () => {
    const img = await create(demo);
    expect((await addMember(demo, img.id, altProject)).status).toBe(200);
    const byMember = await addMember(alt, img.id, 'some-project');
    expect(byMember.status).toBe(403);
    expect(errorMessage(byMember.body)).toBe(`Not allowed to create members for image ${img.id}.`);
    const secret = await create(demo);
    expect((await addMember(alt, secret.id, altProject)).status).toBe(404);
    const byAdmin = await addMember(admin, img.id, 'third-project');
    expect(byAdmin.status).toBe(200);
    expect((await members(demo, img.id)).body.members.map((m: { member_id: string }) => m.member_id).sort())
      .toEqual([altProject, 'third-project'].sort());
    // The member still sees only its own membership.
    expect((await members(alt, img.id)).body.members.map((m: { member_id: string }) => m.member_id)).toEqual([altProject]);
  });

  it('lets only the member answer: the owner gets 403 and the status is unchanged', async () => {
    const img = await create(demo);
    await addMember(demo, img.id, altProject);
    const res = await setStatus(demo, img.id, altProject, 'accepted');
    expect(res.status).toBe(403);
    expect(errorMessage(res.body)).toBe(`Not allowed to update members for image ${img.id}.`);
    expect((await members(demo, img.id)).body.members[0].status).toBe('pending');
  });

  it('lets only the owner remove a member: the member gets 403 and stays', async () => {
    const img = await create(demo);
    await addMember(demo, img.id, altProject);
    const res = await api().delete(`/image/v2/images/${img.id}/members/${altProject}`).set('X-Auth-Token', alt);
    expect(res.status).toBe(403);
    expect((await members(demo, img.id)).body.members).toHaveLength(1);
  });

  it('gives a member no right to change the image itself (403, not 404)', async () => {
    const img = await create(demo, { name: 'owned' });
    await addMember(demo, img.id, altProject);
    const res = await api().patch(`/image/v2/images/${img.id}`).set('X-Auth-Token', alt)
      .set('Content-Type', 'application/openstack-images-v2.1-json-patch').send(JSON.stringify([{ op: 'replace', path: '/name', value: 'mine' }]));
    expect(res.status).toBe(403);
    expect((await show(demo, img.id)).body.name).toBe('owned');
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', alt)).status).toBe(403);
    expect((await show(demo, img.id)).status).toBe(200);
  });

  it('refuses every write to a reader (403) and changes nothing', async () => {
    const img = await create(demo);
    await addMember(demo, img.id, altProject);
    expect((await addMember(viewer, img.id, 'other')).status).toBe(403);
    expect((await setStatus(viewer, img.id, altProject, 'accepted')).status).toBe(403);
    expect((await api().delete(`/image/v2/images/${img.id}/members/${altProject}`).set('X-Auth-Token', viewer)).status).toBe(403);
    // Reading is fine.
    const read = await members(viewer, img.id);
    expect(read.status).toBe(200);
    expect(read.body.members).toEqual([expect.objectContaining({ member_id: altProject, status: 'pending' })]);
  });
});

describe('member errors', () => {
  it('refuses members on an image that is not shared (403) and records none', async () => {
    const img = await create(demo, { visibility: 'private' });
    const res = await addMember(demo, img.id, altProject);
    expect(res.status).toBe(403);
    expect(errorMessage(res.body)).toBe('Only shared images have members.');
    expect((await members(demo, img.id)).body.members).toEqual([]);
    expect((await show(alt, img.id)).status).toBe(404);
  });

  it('answers 409 to a duplicate member and keeps the first', async () => {
    const img = await create(demo);
    expect((await addMember(demo, img.id, altProject)).status).toBe(200);
    await setStatus(alt, img.id, altProject, 'accepted');
    const dup = await addMember(demo, img.id, altProject);
    expect(dup.status).toBe(409);
    expect(errorMessage(dup.body)).toBe(`Member ${altProject} is duplicated for image ${img.id}`);
    expect((await members(demo, img.id)).body.members.map((m: { status: string }) => m.status)).toEqual(['accepted']);
  });

  it('answers 404 for an unknown image or member', async () => {
    const img = await create(demo);
    expect((await addMember(demo, UNKNOWN, altProject)).status).toBe(404);
    expect((await members(demo, UNKNOWN)).status).toBe(404);
    expect((await api().get(`/image/v2/images/${img.id}/members/nobody`).set('X-Auth-Token', demo)).status).toBe(404);
    expect((await setStatus(demo, img.id, 'nobody', 'accepted')).status).toBe(404);
    expect((await api().delete(`/image/v2/images/${img.id}/members/nobody`).set('X-Auth-Token', demo)).status).toBe(404);
    expect((await api().delete(`/image/v2/images/${UNKNOWN}/members/${altProject}`).set('X-Auth-Token', demo)).status).toBe(404);
  });

  it('answers 400 to a malformed member or status, and records nothing', async () => {
    const img = await create(demo);
    for (const bad of [undefined, '', 42, ['x'], 'x'.repeat(256)]) {
      const res = await addMember(demo, img.id, bad);
      expect(res.status).toBe(400);
      expect(errorMessage(res.body)).toEqual(expect.any(String));
    }
    expect((await members(demo, img.id)).body.members).toEqual([]);
    await addMember(demo, img.id, altProject);
    for (const bad of ['maybe', null, 1]) expect((await setStatus(alt, img.id, altProject, bad)).status).toBe(400);
    expect((await members(demo, img.id)).body.members[0].status).toBe('pending');
    expect((await api().get('/image/v2/images?member_status=maybe').set('X-Auth-Token', alt)).status).toBe(400);
  });

  it('removes the memberships with the image', async () => {
    const img = await create(demo);
    await addMember(demo, img.id, altProject);
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', demo)).status).toBe(204);
    expect(await t.services.db('image_members').where({ image_id: img.id })).toEqual([]);
  });
});

describe('member schemas', () => {
  it('serves /v2/schemas/member and /v2/schemas/members', async () => {
    const one = await api().get('/image/v2/schemas/member').set('X-Auth-Token', demo);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(JSON.parse(JSON.stringify(MEMBER_SCHEMA)));
    expect(one.body.properties.status.enum).toEqual(['pending', 'accepted', 'rejected']);
    const all = await api().get('/image/v2/schemas/members').set('X-Auth-Token', demo);
    expect(all.body).toEqual(JSON.parse(JSON.stringify(MEMBERS_SCHEMA)));
  });
});
