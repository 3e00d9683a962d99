/**
 * The Glance v2 surface through HTTP on a real SQLite (fake driver, memory store):
 * discovery, create/show/list/patch/delete, tags, (de)activation, members, schemas,
 * visibility between projects and roles, and errors in Glance's JSON shape.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { IMAGE_SCHEMA } from '../../src/image/schemas';
import { errorMessage } from '../helpers/glance';



let t: TestApp;
let demo: string;
let alt: string;
let admin: string;
let viewer: string;

beforeAll(async () => {
  t = await makeTestApp();
  [demo, alt, admin, viewer] = await Promise.all([t.token('demo'), t.token('alt'), t.token('admin'), t.token('viewer')]);
});
afterAll(async () => {
  await t.close();
});

const api = () => request(t.app);
const V21 = 'application/openstack-images-v2.1-json-patch';
const V20 = 'application/openstack-images-v2.0-json-patch';

async function create(token: string, body: Record<string, unknown> = {}) {
  const res = await api().post('/image/v2/images').set('X-Auth-Token', token).send({ container_format: 'bare', disk_format: 'raw', ...body });
  expect(res.status).toBe(201);
  return res.body as Record<string, unknown> & { id: string };
}

async function show(token: string, id: string) {
  return api().get(`/image/v2/images/${id}`).set('X-Auth-Token', token);
}

async function patch(token: string, id: string, ops: unknown, type = V21) {
  return api().patch(`/image/v2/images/${id}`).set('X-Auth-Token', token).set('Content-Type', type).send(JSON.stringify(ops));
}

/** Every id of a listing, following `next` like the SDK does. */
async function listAll(token: string, query: string): Promise<string[]> {
  const ids: string[] = [];
  let url: string | undefined = `/image/v2/images?${query}`;
  while (url) {
    const res: request.Response = await api().get(url.startsWith('/v2') ? `/image${url}` : url).set('X-Auth-Token', token);
    expect(res.status).toBe(200);
    ids.push(...res.body.images.map((i: { id: string }) => i.id));
    url = res.body.next;
  }
  return ids;
}

describe('version discovery', () => {
  it('GET /image and /image/ answer 300 and /image/versions 200 with the v2 base, without a token', async () => {
    for (const [path, status] of [['/image', 300], ['/image/', 300], ['/image/versions', 200]] as const) {
      const res = await api().get(path);
      expect(res.status).toBe(status);
      expect(res.body.versions[0]).toEqual({ id: 'v2.17', status: 'CURRENT', links: [{ rel: 'self', href: 'http://127.0.0.1:8080/image/v2/' }] });
    }
  });

  it('everything under /image/v2 needs a token: 401 in Glance JSON with WWW-Authenticate', async () => {
    const res = await api().get('/image/v2/images');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Keystone uri=/);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(errorMessage(res.body)).toBe('The request you have made requires authentication.');
  });
});

describe('creating an image', () => {
  it('answers 201 with Location and the queued image, custom properties flat at top level', async () => {
    const res = await api().post('/image/v2/images').set('X-Auth-Token', demo).send({
      name: 'cirros', container_format: 'docker', disk_format: 'raw', tags: ['x'], min_ram: 64, 'owner_specified.openstack.md5': '', a: 'b',
    });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`http://127.0.0.1:8080/image/v2/images/${res.body.id}`);
    expect(res.body).toMatchObject({
      name: 'cirros', status: 'queued', visibility: 'shared', protected: false, os_hidden: false, checksum: null, size: null,
      os_hash_algo: null, os_hash_value: null, virtual_size: null, owner: await t.projectId('demo'), tags: ['x'], min_ram: 64, min_disk: 0,
      self: `/v2/images/${res.body.id}`, file: `/v2/images/${res.body.id}/file`, schema: '/v2/schemas/image', 'owner_specified.openstack.md5': '', a: 'b',
    });
    expect(res.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Object.keys(res.body)).toHaveLength(22 + 2);
    // and it is stored
    expect((await show(demo, res.body.id)).body).toEqual(res.body);
  });

  it('honours a given id once; the same id again is 409', async () => {
    const id = 'a9c5f2b0-3c07-4e8c-9a77-0e5d8b3c1f11';
    expect((await create(demo, { id })).id).toBe(id);
    const again = await api().post('/image/v2/images').set('X-Auth-Token', demo).send({ id });
    expect(again.status).toBe(409);
    expect(errorMessage(again.body)).toBe(`Image with identifier ${id} already exists!`);
  });

  it.each([
    ['a read-only status', { status: 'active' }, 403, "Attribute 'status' is read-only."],
    ['a read-only checksum', { checksum: 'abc' }, 403, "Attribute 'checksum' is read-only."],
    ['a reserved attribute', { deleted: 'x' }, 403, "Attribute 'deleted' is reserved."],
    ['a container format outside the enum', { container_format: 'wrong' }, 400, /container_format/],
    ['a non-UUID id', { id: 'not-a-uuid' }, 400, /id/],
    ['a 256-character name', { name: 'n'.repeat(256) }, 400, /name/],
    ['a non-string property', { foo: 5 }, 400, /not of type 'string'/],
    ['a public image from a member', { visibility: 'public' }, 403, 'You are not authorized to complete publicize_image action.'],
  ])('refuses %s', async (_what, body, status, message) => {
    const res = await api().post('/image/v2/images').set('X-Auth-Token', demo).send(body);
    expect(res.status).toBe(status);
    expect(errorMessage(res.body)).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('refuses malformed JSON and a non-object body with 400', async () => {
    const bad = await api().post('/image/v2/images').set('X-Auth-Token', demo).set('Content-Type', 'application/json').send('{"name": ');
    expect(bad.status).toBe(400);
    const arr = await api().post('/image/v2/images').set('X-Auth-Token', demo).set('Content-Type', 'application/json').send('["a"]');
    expect(arr.status).toBe(400);
  });

  it('lets an admin create public images; readers may not create at all (403)', async () => {
    expect((await create(admin, { visibility: 'public' })).visibility).toBe('public');
    const res = await api().post('/image/v2/images').set('X-Auth-Token', viewer).send({ name: 'nope' });
    expect(res.status).toBe(403);
  });
});

describe('showing an image', () => {
  it('is 404 for unknown ids, non-UUID strings and the empty id', async () => {
    for (const path of ['/image/v2/images/0b8e3d1e-0000-4000-8000-000000000000', '/image/v2/images/cirros', '/image/v2/images/']) {
      const res = await api().get(path).set('X-Auth-Token', demo);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(errorMessage(res.body)).toEqual(expect.any(String));
    }
    expect((await api().delete('/image/v2/images/').set('X-Auth-Token', demo)).status).toBe(404);
  });

  it("hides another project's private and shared images (404), shows public and community ones", async () => {
    const priv = await create(alt, { name: 'alt-private', visibility: 'private' });
    const shared = await create(alt, { name: 'alt-shared' });
    const community = await create(alt, { name: 'alt-community', visibility: 'community' });
    const pub = await create(admin, { name: 'admin-public', visibility: 'public' });
    expect((await show(demo, priv.id)).status).toBe(404);
    expect((await show(demo, shared.id)).status).toBe(404);
    expect((await show(demo, community.id)).status).toBe(200);
    expect((await show(demo, pub.id)).status).toBe(200);
    expect((await show(admin, priv.id)).status).toBe(200);
    // a reader of demo sees what demo sees
    expect((await show(viewer, priv.id)).status).toBe(404);
    // and demo may not change what it can see but does not own
    expect((await patch(demo, pub.id, [{ op: 'add', path: '/name', value: 'mine' }])).status).toBe(403);
    expect((await api().delete(`/image/v2/images/${community.id}`).set('X-Auth-Token', demo)).status).toBe(403);
    expect((await patch(demo, priv.id, [{ op: 'add', path: '/name', value: 'mine' }])).status).toBe(404);
  });
});

describe('listing images', () => {
  let mine: string[];
  beforeAll(async () => {
    mine = [];
    for (const name of ['list-c', 'list-a', 'list-b', 'list-d', 'list-e']) mine.push((await create(demo, { name, tags: ['listing', name], size_tag: name })).id);
  });

  it('defaults to newest first with first/schema links, and excludes hidden images', async () => {
    const hidden = await create(demo, { name: 'list-hidden', os_hidden: true, tags: ['listing'] });
    const res = await api().get('/image/v2/images?tag=listing').set('X-Auth-Token', demo);
    expect(res.status).toBe(200);
    expect(res.body.images.map((i: { id: string }) => i.id)).toEqual([...mine].reverse());
    expect(res.body.first).toBe('/v2/images?tag=listing');
    expect(res.body.schema).toBe('/v2/schemas/images');
    expect(res.body.next).toBeUndefined();
    const withHidden = await api().get('/image/v2/images?tag=listing&os_hidden=True').set('X-Auth-Token', demo);
    expect(withHidden.body.images.map((i: { id: string }) => i.id)).toEqual([hidden.id]);
  });

  it('pages with limit and marker; next repeats the query; following next yields every image once', async () => {
    const first = await api().get('/image/v2/images?tag=listing&limit=2&sort_key=name&sort_dir=asc').set('X-Auth-Token', demo);
    expect(first.body.images.map((i: { name: string }) => i.name)).toEqual(['list-a', 'list-b']);
    expect(first.body.next).toBe(`/v2/images?tag=listing&limit=2&sort_key=name&sort_dir=asc&marker=${first.body.images[1].id}`);
    const all = await listAll(demo, 'tag=listing&limit=2&sort_key=name&sort_dir=asc');
    expect(all).toEqual([mine[1], mine[2], mine[0], mine[3], mine[4]]);
  });

  it('sorts with sort= as the SDK sends it', async () => {
    const res = await api().get('/image/v2/images?tag=listing&sort=name:desc').set('X-Auth-Token', demo);
    expect(res.body.images.map((i: { name: string }) => i.name)).toEqual(['list-e', 'list-d', 'list-c', 'list-b', 'list-a']);
  });

  it('filters by name, tags (AND), custom property, status and visibility', async () => {
    const byName = await api().get('/image/v2/images?name=list-b').set('X-Auth-Token', demo);
    expect(byName.body.images.map((i: { id: string }) => i.id)).toEqual([mine[2]]);
    expect(await listAll(demo, 'tag=listing&tag=list-d')).toEqual([mine[3]]);
    expect(await listAll(demo, 'size_tag=list-e')).toEqual([mine[4]]);
    expect(await listAll(demo, 'tag=listing&status=active')).toEqual([]);
    expect(await listAll(demo, 'tag=listing&status=in:queued,active')).toHaveLength(5);
    expect(await listAll(demo, 'tag=listing&visibility=private')).toEqual([]);
    expect(await listAll(demo, 'tag=listing&name=in:list-a,list-e')).toEqual([mine[4], mine[1]]);
  });

  it("never lists another project's private images, and lists community ones only when asked", async () => {
    const secret = await create(alt, { name: 'alt-secret', visibility: 'private', tags: ['iso'] });
    const comm = await create(alt, { name: 'alt-comm', visibility: 'community', tags: ['iso'] });
    expect(await listAll(demo, 'tag=iso')).toEqual([]);
    expect(await listAll(demo, 'tag=iso&visibility=community')).toEqual([comm.id]);
    expect(await listAll(demo, 'tag=iso&visibility=all')).toEqual([comm.id]);
    expect((await listAll(alt, 'tag=iso')).sort()).toEqual([secret.id, comm.id].sort());
    expect((await listAll(admin, 'tag=iso')).sort()).toEqual([secret.id, comm.id].sort());
  });

  it('refuses an unknown marker, a bad limit, a bad sort key and a bad visibility with 400', async () => {
    const marker = '0b8e3d1e-0000-4000-8000-0000000000ff';
    const res = await api().get(`/image/v2/images?marker=${marker}`).set('X-Auth-Token', demo);
    expect([res.status, errorMessage(res.body)]).toEqual([400, `marker [${marker}] not found`]);
    for (const q of ['limit=abc', 'limit=-1', 'sort_key=bogus', 'sort_dir=sideways', 'visibility=secret', 'os_hidden=perhaps']) {
      expect((await api().get(`/image/v2/images?${q}`).set('X-Auth-Token', demo)).status).toBe(400);
    }
  });
});

describe('updating an image', () => {
  it('v2.1 patch (SDK): add on existing attributes, properties and the whole tag list', async () => {
    const img = await create(demo, { name: 'p1', foo: 'old' });
    const res = await patch(demo, img.id, [
      { op: 'add', path: '/foo', value: 'bar' }, { op: 'add', path: '/hw_x', value: '1' },
      { op: 'add', path: '/name', value: 'p1-renamed' }, { op: 'add', path: '/tags', value: ['t1'] },
      { op: 'add', path: '/min_disk', value: 1 }, { op: 'add', path: '/protected', value: true },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'p1-renamed', foo: 'bar', hw_x: '1', tags: ['t1'], min_disk: 1, protected: true });
    expect((await show(demo, img.id)).body).toMatchObject({ name: 'p1-renamed', foo: 'bar', tags: ['t1'], protected: true });
    expect((await patch(demo, img.id, [{ op: 'remove', path: '/foo' }])).body.foo).toBeUndefined();
  });

  it("v2.0 patch (tempest): Glance's old op form, with add of a present property refused (409)", async () => {
    const img = await create(demo, { name: 'p2', foo: 'x' });
    const res = await patch(demo, img.id, [{ replace: '/name', value: 'p2-new' }], V20);
    expect([res.status, res.body.name]).toEqual([200, 'p2-new']);
    const dup = await patch(demo, img.id, [{ add: '/foo', value: 'y' }], V20);
    expect([dup.status, errorMessage(dup.body)]).toEqual([409, 'Property foo already present.']);
  });

  it('refuses other media types with 415 and Accept-Patch', async () => {
    const img = await create(demo);
    const res = await patch(demo, img.id, [{ op: 'add', path: '/a', value: 'b' }], 'application/json');
    expect(res.status).toBe(415);
    expect(res.headers['accept-patch']).toBe(`${V20}, ${V21}`);
  });

  it('maps Glance errors: read-only 403, core remove 403, missing property 409, bad value 400, owner change 403; nothing is half-applied', async () => {
    const img = await create(demo, { name: 'p3' });
    const cases: Array<[unknown, number]> = [
      [[{ op: 'replace', path: '/status', value: 'active' }], 403],
      [[{ op: 'remove', path: '/name' }], 403],
      [[{ op: 'remove', path: '/nope' }], 409],
      [[{ op: 'replace', path: '/nope', value: 'x' }], 409],
      [[{ op: 'add', path: '/min_ram', value: 'x' }], 400],
      [[{ op: 'add', path: '/owner', value: await t.projectId('alt') }], 403],
      [[{ op: 'add', path: '/name', value: 'half' }, { op: 'remove', path: '/nope' }], 409],
      [{ not: 'a list' }, 400],
    ];
    for (const [ops, status] of cases) expect((await patch(demo, img.id, ops)).status).toBe(status);
    expect((await show(demo, img.id)).body.name).toBe('p3');
    expect((await patch(demo, '0b8e3d1e-0000-4000-8000-000000000000', [{ op: 'add', path: '/a', value: 'b' }])).status).toBe(404);
  });

  it('readers may not patch (403)', async () => {
    const img = await create(demo);
    expect((await patch(viewer, img.id, [{ op: 'add', path: '/a', value: 'b' }])).status).toBe(403);
  });
});

describe('tags', () => {
  it('PUT is idempotent (204), DELETE removes (204) then 404', async () => {
    const img = await create(demo);
    for (let i = 0; i < 2; i++) expect((await api().put(`/image/v2/images/${img.id}/tags/blue`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await show(demo, img.id)).body.tags).toEqual(['blue']);
    expect((await api().delete(`/image/v2/images/${img.id}/tags/blue`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await show(demo, img.id)).body.tags).toEqual([]);
    expect((await api().delete(`/image/v2/images/${img.id}/tags/blue`).set('X-Auth-Token', demo)).status).toBe(404);
  });
});

describe('deleting an image', () => {
  it('answers 204 and the image is gone (404)', async () => {
    const img = await create(demo);
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await show(demo, img.id)).status).toBe(404);
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', demo)).status).toBe(404);
  });

  it('refuses a protected image with 403 until it is unprotected', async () => {
    const img = await create(demo, { protected: true });
    const res = await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', demo);
    expect([res.status, errorMessage(res.body)]).toEqual([403, `Image ${img.id} is protected and cannot be deleted.`]);
    expect((await show(demo, img.id)).status).toBe(200);
    await patch(demo, img.id, [{ op: 'replace', path: '/protected', value: false }]);
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', demo)).status).toBe(204);
  });

  it('readers may not delete (403)', async () => {
    const img = await create(demo);
    expect((await api().delete(`/image/v2/images/${img.id}`).set('X-Auth-Token', viewer)).status).toBe(403);
    expect((await show(demo, img.id)).status).toBe(200);
  });
});

describe('deactivation', () => {
  it("is for admins and the owning project's members (Glance's policy); a deactivated image cannot be downloaded by its owner (403) until reactivated", async () => {
    const img = await create(demo);
    await api().put(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', demo).set('Content-Type', 'application/octet-stream').send(Buffer.from('data')).expect(204);
    const alt = await t.token('alt');
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', alt)).status).toBe(404);
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', await t.token('viewer'))).status).toBe(403);
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await api().post(`/image/v2/images/${img.id}/actions/reactivate`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', admin)).status).toBe(204);
    expect((await show(demo, img.id)).body.status).toBe('deactivated');
    const dl = await api().get(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', demo);
    expect(dl.status).toBe(403);
    expect((await api().get(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', admin)).status).toBe(200);
    expect((await api().post(`/image/v2/images/${img.id}/actions/reactivate`).set('X-Auth-Token', admin)).status).toBe(204);
    expect((await show(demo, img.id)).body.status).toBe('active');
    expect((await api().get(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', demo)).status).toBe(200);
  });

  it('refuses to deactivate a queued image (403)', async () => {
    const img = await create(demo);
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', admin)).status).toBe(403);
  });

  it('refuses to reactivate a queued image (403): reactivate is the way back from deactivated, and the image stays queued', async () => {
    const img = await create(demo);
    const res = await api().post(`/image/v2/images/${img.id}/actions/reactivate`).set('X-Auth-Token', admin);
    expect([res.status, errorMessage(res.body)]).toEqual([403, "Not allowed to reactivate image in status 'queued'"]);
    expect((await show(demo, img.id)).body.status).toBe('queued');
  });

  it('deactivating a deactivated image, or reactivating an active one, is a no-op (204)', async () => {
    const img = await create(demo);
    await api().put(`/image/v2/images/${img.id}/file`).set('X-Auth-Token', demo).set('Content-Type', 'application/octet-stream').send(Buffer.from('data')).expect(204);
    expect((await api().post(`/image/v2/images/${img.id}/actions/reactivate`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await show(demo, img.id)).body.status).toBe('active');
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await api().post(`/image/v2/images/${img.id}/actions/deactivate`).set('X-Auth-Token', demo)).status).toBe(204);
    expect((await show(demo, img.id)).body.status).toBe('deactivated');
  });
});

describe('members and schemas', () => {
  it('lists no members for a visible image', async () => {
    const img = await create(demo);
    const res = await api().get(`/image/v2/images/${img.id}/members`).set('X-Auth-Token', demo);
    expect(res.body).toEqual({ members: [], schema: '/v2/schemas/members' });
  });

  it('serves the image schema of contract §6.11 (os_hash_value maxLength 128, string additionalProperties)', async () => {
    const res = await api().get('/image/v2/schemas/image').set('X-Auth-Token', viewer);
    expect(res.status).toBe(200);
    expect(res.body.additionalProperties).toEqual({ type: 'string' });
    expect(res.body.properties.os_hash_value).toMatchObject({ type: ['null', 'string'], maxLength: 128 });
    expect(res.body.properties.container_format.enum).toEqual([null, 'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(IMAGE_SCHEMA)));
  });

  it('serves the images, member(s) and metadefs schemas glanceclient fetches', async () => {
    for (const path of ['images', 'member', 'members', 'metadefs/namespace', 'metadefs/resource_type']) {
      const res = await api().get(`/image/v2/schemas/${path}`).set('X-Auth-Token', demo);
      expect(res.status).toBe(200);
      expect(res.body.name).toEqual(expect.any(String));
    }
  });

  it('every image the API returns validates against the served schema (glanceclient checks this)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const Ajv = require('ajv');
    const validate = new Ajv({ strict: false }).compile({ ...IMAGE_SCHEMA, type: 'object' });
    const res = await api().get('/image/v2/images?limit=1000').set('X-Auth-Token', admin);
    expect(res.body.images.length).toBeGreaterThan(5);
    for (const img of res.body.images) expect([img.id, validate(img)]).toEqual([img.id, true]);
  });
});

describe('unknown paths and methods', () => {
  it('are Glance-shaped 404 and 405', async () => {
    expect((await api().get('/image/v2/nothing').set('X-Auth-Token', demo)).status).toBe(404);
    const res = await api().post('/image/v2/images/0b8e3d1e-0000-4000-8000-000000000000').set('X-Auth-Token', demo);
    expect(res.status).toBe(405);
    expect(errorMessage(res.body)).toBe('The method POST is not allowed for this resource.');
  });
});
