/**
 * The Networking API's mount (issue 17): version document without a token, the extension list
 * and its lookups, a token on everything under /v2.0, and Neutron's error shape for whatever goes
 * wrong there (unknown paths, bad bodies, methods), never Nova's or a 500.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { EXTENSIONS } from '../../src/network/extensions';

let t: TestApp;
let member: string;

beforeAll(async () => {
  t = await makeTestApp();
  member = await t.token('demo');
});
afterAll(() => t.close());

test('GET /networking answers the version document without a token', async () => {
  const res = await request(t.app).get('/networking/');
  expect(res.status).toBe(200);
  expect(res.body.versions).toEqual([expect.objectContaining({ id: 'v2.0', status: 'CURRENT' })]);
  expect(res.body.versions[0].links[0].href).toMatch(/\/networking\/v2\.0\/$/);
});

test('the extension list names exactly the served extensions, each found by alias; an unknown alias is a NeutronError 404', async () => {
  const list = await request(t.app).get('/networking/v2.0/extensions').set('X-Auth-Token', member);
  expect(list.status).toBe(200);
  expect(list.body.extensions.map((e: { alias: string }) => e.alias)).toEqual(EXTENSIONS.map((e) => e.alias));
  for (const e of EXTENSIONS) {
    const one = await request(t.app).get(`/networking/v2.0/extensions/${e.alias}`).set('X-Auth-Token', member);
    expect(one.status).toBe(200);
    expect(one.body.extension.alias).toBe(e.alias);
  }
  const missing = await request(t.app).get('/networking/v2.0/extensions/no-such-thing').set('X-Auth-Token', member);
  expect(missing.status).toBe(404);
  expect(missing.body).toEqual({ NeutronError: { type: 'HTTPNotFound', message: 'Extension with alias no-such-thing does not exist', detail: '' } });
});

test('under /v2.0 a token is required, and errors are Neutron-shaped', async () => {
  const anon = await request(t.app).get('/networking/v2.0/extensions');
  expect(anon.status).toBe(401);
  expect(anon.body.NeutronError.type).toBe('HTTPUnauthorized');
  const unknown = await request(t.app).get('/networking/v2.0/no-such-collection').set('X-Auth-Token', member);
  expect(unknown.status).toBe(404);
  expect(unknown.body.NeutronError).toEqual(expect.objectContaining({ type: 'HTTPNotFound', detail: '' }));
  const bad = await request(t.app).post('/networking/v2.0/extensions').set('X-Auth-Token', member).type('json').send('{"a":');
  expect(bad.status).toBe(400);
  expect(bad.body.NeutronError.type).toBe('HTTPBadRequest');
  const method = await request(t.app).delete('/networking/v2.0/extensions').set('X-Auth-Token', member);
  expect(method.status).toBe(405);
  expect(method.body.NeutronError.type).toBe('HTTPMethodNotAllowed');
});
