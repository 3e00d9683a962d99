/**
 * /images/{id}/metadata through the compute API (nova/api/openstack/compute/image_metadata.py,
 * up to 2.38), checked against tempest's v2_1 image metadata schemas: the image's custom
 * properties as the image service keeps them, with Nova's errors. Also the compute image API's
 * edge cases Tempest's negative tests check: a blank id, the server filter given as an href,
 * invalid metadata on createImage.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { act, bootActive, call, uploadImage } from './servers-support';

let t: TestApp;
let id: string;
const md = () => `/compute/v2.1/images/${id}/metadata`;
const UNKNOWN = '7c1a4b55-0d7e-4b8e-9a3c-3a1d2b4e5f60';

beforeAll(async () => {
  t = await makeTestApp();
});
beforeEach(async () => {
  const res = await request(t.app).post('/image/v2/images').set('X-Auth-Token', await t.token('demo')).send({ name: 'md', container_format: 'bare', disk_format: 'raw', os_distro: 'busybox', tier: 'web' });
  id = res.body.id;
});
afterAll(async () => { await t.close(); });

const glanceProps = async () => {
  const res = await request(t.app).get(`/image/v2/images/${id}`).set('X-Auth-Token', await t.token('demo'));
  return { os_distro: res.body.os_distro, tier: res.body.tier, owner_note: res.body.owner_note };
};

it('lists, shows one key, merges, replaces, sets one and deletes one, and Glance sees each change', async () => {
  const list = await call(t, 'get', md());
  expect(list.status).toBe(200);
  expect(list.body).toEqual({ metadata: { os_distro: 'busybox', tier: 'web' } });
  expect(tempestProblems('v2_1/images.image_metadata', list)).toEqual([]);

  const one = await call(t, 'get', `${md()}/tier`);
  expect(one.body).toEqual({ meta: { tier: 'web' } });
  expect(tempestProblems('v2_1/images.image_meta_item', one)).toEqual([]);

  const merged = await call(t, 'post', md(), { body: { metadata: { owner_note: 'x', tier: 'db' } } });
  expect(merged.body).toEqual({ metadata: { os_distro: 'busybox', tier: 'db', owner_note: 'x' } });
  expect(await glanceProps()).toEqual({ os_distro: 'busybox', tier: 'db', owner_note: 'x' });

  const replaced = await call(t, 'put', md(), { body: { metadata: { tier: 'cache' } } });
  expect(replaced.body).toEqual({ metadata: { tier: 'cache' } });
  expect(await glanceProps()).toEqual({ os_distro: undefined, tier: 'cache', owner_note: undefined });

  const item = await call(t, 'put', `${md()}/os_distro`, { body: { meta: { os_distro: 'alpine' } } });
  expect(item.body).toEqual({ meta: { os_distro: 'alpine' } });
  expect((await call(t, 'delete', `${md()}/tier`)).status).toBe(204);
  expect((await call(t, 'get', md())).body).toEqual({ metadata: { os_distro: 'alpine' } });
});

it("answers Nova's errors: unknown image, unknown key, body and URI mismatch, bad keys, the 2.39 cut", async () => {
  for (const [method, path, body] of [
    ['get', `/compute/v2.1/images/${UNKNOWN}/metadata`, undefined],
    ['post', `/compute/v2.1/images/${UNKNOWN}/metadata`, { metadata: { a: 'b' } }],
    ['put', `/compute/v2.1/images/${UNKNOWN}/metadata`, { metadata: { a: 'b' } }],
    ['get', `/compute/v2.1/images/${UNKNOWN}/metadata/a`, undefined],
    ['put', `/compute/v2.1/images/${UNKNOWN}/metadata/a`, { meta: { a: 'b' } }],
    ['delete', `/compute/v2.1/images/${UNKNOWN}/metadata/a`, undefined],
  ] as const) {
    const res = await call(t, method, path, { body });
    expect({ path, status: res.status, message: res.body.itemNotFound?.message }).toEqual({ path, status: 404, message: 'Image not found.' });
  }
  expect((await call(t, 'get', `${md()}/nosuch`)).status).toBe(404);
  const del = await call(t, 'delete', `${md()}/nosuch`);
  expect(del.status).toBe(404);
  expect(del.body.itemNotFound.message).toBe('Invalid metadata key');
  const mismatch = await call(t, 'put', `${md()}/a`, { body: { meta: { b: 'c' } } });
  expect(mismatch.status).toBe(400);
  expect(mismatch.body.badRequest.message).toBe('Request body and URI mismatch');
  expect((await call(t, 'post', md(), { body: { metadata: { '': 'x' } } })).status).toBe(400);
  expect((await call(t, 'post', md(), { body: { metadata: { ['a'.repeat(256)]: 'x' } } })).status).toBe(400);
  const tooMany = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
  const over = await call(t, 'put', md(), { body: { metadata: tooMany } });
  expect(over.status).toBe(403);
  expect(over.body.forbidden.message).toBe('Image metadata limit exceeded');
  expect((await call(t, 'get', md(), { mv: '2.38' })).status).toBe(200);
  expect((await call(t, 'get', md(), { mv: '2.39' })).status).toBe(404);
  // Another project neither sees nor changes a private image.
  expect((await call(t, 'get', md(), { as: 'alt' })).status).toBe(404);
  expect((await call(t, 'post', md(), { as: 'alt', body: { metadata: { a: 'b' } } })).status).toBe(404);
});

describe('the compute image API\'s edge cases', () => {
  it('DELETE /images/ (a blank id) is 404; DELETE /images is 405', async () => {
    expect((await call(t, 'delete', '/compute/v2.1/images/')).status).toBe(404);
    expect((await call(t, 'delete', '/compute/v2.1/images')).status).toBe(405);
  });

  it('createImage refuses metadata keys Nova\'s parameter_types.metadata refuses, and the server filter takes an href', async () => {
    const boot = await uploadImage(t);
    const server = await bootActive(t, boot);
    for (const metadata of [{ '': '' }, { ['a'.repeat(256)]: 'b'.repeat(256) }, { 'bad/key': 'x' }]) {
      const res = await act(t, server, { createImage: { name: 'snap', metadata } });
      expect(res.status).toBe(400);
    }
    const ok = await act(t, server, { createImage: { name: 'snap', metadata: { purpose: 'filter' } } });
    expect(ok.status).toBe(202);
    await t.services.compute.tasks.idle();
    const href = `http://example.test/compute/v2.1/servers/${server}`;
    for (const ref of [href, server]) {
      const res = await call(t, 'get', '/compute/v2.1/images', { query: { server: ref } });
      expect(res.body.images.map((i: { name: string }) => i.name)).toEqual(['snap']);
    }
  });
});
