/**
 * /servers/{id}/tags through HTTP on a real SQLite, checked against Nova's server_tags.py and
 * tempest's v2_26 schemas: add, check, list, replace, remove; Nova's 400s for malformed tags and
 * the per-server limit, its 409 outside ACTIVE/PAUSED/SUSPENDED/SHUTOFF, 404 below 2.26; tags at
 * boot (2.52), in the server body (2.26) and the four list filters.
 */
import { makeTestApp, TestApp, PUBLIC_URL } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { act, bootActive, call, show, uploadImage } from './servers-support';

let t: TestApp;
let image: string;
let id: string;
const MV = '2.26';
const tagsOf = (sid: string) => `/compute/v2.1/servers/${sid}/tags`;

beforeAll(async () => {
  t = await makeTestApp();
  image = await uploadImage(t);
  id = await bootActive(t, image, { name: 'tagged' });
});
afterAll(async () => { await t.close(); });
beforeEach(async () => {
  expect((await call(t, 'delete', tagsOf(id), { mv: MV })).status).toBe(204);
});

describe('one tag at a time', () => {
  it('when a tag is added, then it is 201 with its Location, listed, shown in the server and checkable; again it is 204', async () => {
    const put = await call(t, 'put', `${tagsOf(id)}/blue`, { mv: MV });
    expect(put.status).toBe(201);
    expect(put.headers.location).toBe(`${PUBLIC_URL}/compute/v2.1/servers/${id}/tags/blue`);
    expect(put.text).toBe('');
    expect(tempestProblems('v2_26/servers.update_tag', put)).toEqual([]);
    expect((await call(t, 'put', `${tagsOf(id)}/blue`, { mv: MV })).status).toBe(204);

    const list = await call(t, 'get', tagsOf(id), { mv: MV });
    expect(list.body).toEqual({ tags: ['blue'] });
    expect(tempestProblems('v2_26/servers.list_tags', list)).toEqual([]);
    expect((await show(t, id, { mv: MV })).tags).toEqual(['blue']);
    expect((await show(t, id, { mv: '2.25' })).tags).toBeUndefined();

    const check = await call(t, 'get', `${tagsOf(id)}/blue`, { mv: MV });
    expect(check.status).toBe(204);
    const missing = await call(t, 'get', `${tagsOf(id)}/red`, { mv: MV });
    expect(missing.status).toBe(404);
    expect(missing.body.itemNotFound.message).toBe(`Server ${id} has no tag 'red'`);
  });

  it('when a tag is deleted, then it is gone; deleting it again is 404 in Nova\'s words', async () => {
    await call(t, 'put', `${tagsOf(id)}/blue`, { mv: MV });
    const del = await call(t, 'delete', `${tagsOf(id)}/blue`, { mv: MV });
    expect(del.status).toBe(204);
    expect(tempestProblems('v2_26/servers.delete_tag', del)).toEqual([]);
    expect((await call(t, 'get', tagsOf(id), { mv: MV })).body).toEqual({ tags: [] });
    const again = await call(t, 'delete', `${tagsOf(id)}/blue`, { mv: MV });
    expect(again.status).toBe(404);
    expect(again.body.itemNotFound.message).toBe(`Instance ${id} has no tag 'blue'`);
  });

  it.each([
    ['a%2Fb', "Tag 'a/b' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: 'a/b' does not match '^[^,/]*$'"],
    ['a,b', "Tag 'a,b' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: 'a,b' does not match '^[^,/]*$'"],
    ['x'.repeat(61), `Tag '${'x'.repeat(61)}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: '${'x'.repeat(61)}' is too long`],
  ])('a malformed tag %s is a 400 in Nova\'s words', async (raw, message) => {
    const res = await call(t, 'put', `${tagsOf(id)}/${raw}`, { mv: MV });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe(message);
  });

  it('a tag of 60 characters is accepted; a 51st tag is refused, even one the server has', async () => {
    expect((await call(t, 'put', `${tagsOf(id)}/${'y'.repeat(60)}`, { mv: MV })).status).toBe(201);
    const fifty = Array.from({ length: 50 }, (_, i) => `t${i}`);
    expect((await call(t, 'put', tagsOf(id), { mv: MV, body: { tags: fifty } })).status).toBe(200);
    for (const tag of ['t50', 't0']) {
      const res = await call(t, 'put', `${tagsOf(id)}/${tag}`, { mv: MV });
      expect(res.status).toBe(400);
      expect(res.body.badRequest.message).toBe('The number of tags exceeded the per-server limit 50');
    }
  });
});

describe('all tags at once', () => {
  it('when the tags are replaced, then the answer and the list are the new set; deleting all empties it', async () => {
    await call(t, 'put', `${tagsOf(id)}/old`, { mv: MV });
    const put = await call(t, 'put', tagsOf(id), { mv: MV, body: { tags: ['n1', 'n2', 'n1'] } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ tags: ['n1', 'n2'] });
    expect(tempestProblems('v2_26/servers.update_all_tags', put)).toEqual([]);
    expect((await call(t, 'get', tagsOf(id), { mv: MV })).body.tags.sort()).toEqual(['n1', 'n2']);
    const del = await call(t, 'delete', tagsOf(id), { mv: MV });
    expect(tempestProblems('v2_26/servers.delete_all_tags', del)).toEqual([]);
    expect((await call(t, 'get', tagsOf(id), { mv: MV })).body).toEqual({ tags: [] });
  });

  it.each([
    [{ tags: ['a/b'] }],
    [{ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }],
    [{ tags: [''] }],
    [{ tags: 'x' }],
    [{}],
    [{ tags: [], extra: 1 }],
  ])('a malformed body %j is a 400 and changes nothing', async (body) => {
    await call(t, 'put', `${tagsOf(id)}/kept`, { mv: MV });
    const res = await call(t, 'put', tagsOf(id), { mv: MV, body });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toMatch(/^Invalid input/);
    expect((await call(t, 'get', tagsOf(id), { mv: MV })).body).toEqual({ tags: ['kept'] });
  });
});

describe('rules', () => {
  it('below 2.26 every tags route is 404', async () => {
    for (const [method, path] of [['get', tagsOf(id)], ['put', `${tagsOf(id)}/a`], ['delete', tagsOf(id)], ['get', `${tagsOf(id)}/a`]] as const) {
      expect((await call(t, method, path, { mv: '2.25' })).status).toBe(404);
    }
  });

  it("another project's server is 404; an unknown server is 404 in Nova's words", async () => {
    expect((await call(t, 'get', tagsOf(id), { mv: MV, as: 'alt' })).status).toBe(404);
    expect((await call(t, 'put', `${tagsOf(id)}/a`, { mv: MV, as: 'alt' })).status).toBe(404);
    const unknown = '6b2ad8c9-0c39-4d8e-9d3a-1c2b5e0f7a11';
    const res = await call(t, 'put', `${tagsOf(unknown)}/a`, { mv: MV });
    expect(res.status).toBe(404);
    expect(res.body.itemNotFound.message).toBe(`Instance ${unknown} could not be found.`);
  });

  it('a server in ERROR refuses every change with Nova\'s 409 but still lists and checks its tags', async () => {
    const sid = await bootActive(t, image, { name: 'broken', tags: ['keep'], networks: 'auto' }, { mv: '2.52' });
    expect((await act(t, sid, { 'os-resetState': { state: 'error' } }, { as: 'admin' })).status).toBe(202);
    for (const [method, path, action, body] of [
      ['put', `${tagsOf(sid)}/a`, 'update tag', undefined],
      ['put', tagsOf(sid), 'update tags', { tags: ['a'] }],
      ['delete', `${tagsOf(sid)}/keep`, 'delete tag', undefined],
      ['delete', tagsOf(sid), 'delete tags', undefined],
    ] as const) {
      const res = await call(t, method, path, { mv: MV, body });
      expect(res.status).toBe(409);
      expect(res.body.conflictingRequest.message).toBe(`Cannot '${action}' instance ${sid} while it is in vm_state error`);
    }
    expect((await call(t, 'get', tagsOf(sid), { mv: MV })).body).toEqual({ tags: ['keep'] });
    expect((await call(t, 'get', `${tagsOf(sid)}/keep`, { mv: MV })).status).toBe(204);
  });

  it('a stopped server takes tags', async () => {
    const sid = await bootActive(t, image, { name: 'stopped' });
    expect((await act(t, sid, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await call(t, 'put', `${tagsOf(sid)}/off`, { mv: MV })).status).toBe(201);
  });

  it('a reader may list but not change tags', async () => {
    expect((await call(t, 'get', tagsOf(id), { mv: MV, as: 'viewer' })).status).toBe(200);
    expect((await call(t, 'put', `${tagsOf(id)}/a`, { mv: MV, as: 'viewer' })).status).toBe(403);
  });
});

describe('tags at boot and the list filters', () => {
  it('boots with tags at 2.52 and filters by tags, tags-any, not-tags and not-tags-any', async () => {
    const p = await bootActive(t, image, { name: 'f-p', tags: ['red', 'big'], networks: 'auto' }, { mv: '2.52' });
    const q = await bootActive(t, image, { name: 'f-q', tags: ['red'], networks: 'auto' }, { mv: '2.52' });
    const r = await bootActive(t, image, { name: 'f-r', tags: ['blue'], networks: 'auto' }, { mv: '2.52' });
    const names = async (query: Record<string, string>) => {
      const res = await call(t, 'get', '/compute/v2.1/servers', { mv: MV, query: { name: '^f-', ...query } });
      expect(res.status).toBe(200);
      return res.body.servers.map((s: { id: string }) => s.id).sort();
    };
    expect(await names({ tags: 'red,big' })).toEqual([p]);
    expect(await names({ 'tags-any': 'big,blue' })).toEqual([p, r].sort());
    expect(await names({ 'not-tags': 'red,big' })).toEqual([q, r].sort());
    expect(await names({ 'not-tags-any': 'big,blue' })).toEqual([q]);
    // Tags at boot are refused before 2.52.
    const old = await call(t, 'post', '/compute/v2.1/servers', { mv: '2.51', body: { server: { name: 'old', imageRef: image, flavorRef: '1', tags: ['x'] } } });
    expect(old.status).toBe(400);
  });
});
