/**
 * Glance's metadefs schemas and the empty namespace listing (glance/api/v2/metadef_*.py), as the
 * names and shapes Tempest's test_images_metadefs_schema and glanceclient read.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';

let t: TestApp;
let token: string;
beforeAll(async () => {
  t = await makeTestApp();
  token = await t.token('viewer');
});
afterAll(async () => { await t.close(); });

const get = (path: string) => request(t.app).get(`/image/v2${path}`).set('X-Auth-Token', token);

it.each([
  ['namespace', 'namespace'], ['namespaces', 'namespaces'], ['object', 'object'], ['objects', 'objects'],
  ['property', 'property'], ['properties', 'properties'], ['tag', 'tag'], ['tags', 'tags'],
  ['resource_type', 'resource_type_association'], ['resource_types', 'resource_type_associations'],
])('GET /schemas/metadefs/%s is Glance\'s schema named %s', async (path, name) => {
  const res = await get(`/schemas/metadefs/${path}`);
  expect(res.status).toBe(200);
  expect(res.body.name).toBe(name);
  expect(res.body.properties).toEqual(expect.any(Object));
});

it('the item schemas require what Glance requires; the collections link first, next and describedby', async () => {
  expect((await get('/schemas/metadefs/namespace')).body).toMatchObject({ required: ['namespace'], additionalProperties: false });
  expect((await get('/schemas/metadefs/namespace')).body.properties.visibility).toMatchObject({ enum: ['public', 'private'] });
  expect((await get('/schemas/metadefs/tag')).body.required).toEqual(['name']);
  const tags = (await get('/schemas/metadefs/tags')).body;
  expect(tags.links).toEqual([{ href: '{first}', rel: 'first' }, { href: '{next}', rel: 'next' }, { href: '{schema}', rel: 'describedby' }]);
  expect(tags.properties.tags.items.name).toBe('tag');
});

it('lists no namespaces, as a Glance with none loaded, carrying the query into first', async () => {
  const res = await get('/metadefs/namespaces');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ namespaces: [], first: '/v2/metadefs/namespaces', schema: '/v2/schemas/metadefs/namespaces' });
  const q = await get('/metadefs/namespaces?limit=5&marker=x&resource_types=OS::Nova::Server');
  expect(q.body.first).toBe('/v2/metadefs/namespaces?limit=5&resource_types=OS%3A%3ANova%3A%3AServer');
});

it.each([
  ['limit=x', 'limit param must be an integer'], ['limit=-1', 'limit param must be positive'],
  ['sort_dir=up', 'Invalid sort direction: up'], ['visibility=shared', 'Invalid visibility value: shared'],
])('?%s is Glance\'s 400', async (query, message) => {
  const res = await get(`/metadefs/namespaces?${query}`);
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain(message);
});

it('needs a token; writes are 405', async () => {
  expect((await request(t.app).get('/image/v2/schemas/metadefs/tag')).status).toBe(401);
  expect((await request(t.app).post('/image/v2/schemas/metadefs/tag').set('X-Auth-Token', await t.token('demo')).send({})).status).toBe(405);
});
