/**
 * Compute version documents (contract §4.1): served without a token, absolute links from the
 * public URL, the advertised microversion range, and tempest's version schemas.
 */
import request from 'supertest';
import { makeTestApp, TestApp, PUBLIC_URL } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { MAX_VERSION, MIN_VERSION } from '../../src/compute/microversion';

let h: TestApp;
beforeAll(async () => { h = await makeTestApp(); });
afterAll(async () => { await h.close(); });

describe('GET /compute/ (unversioned root)', () => {
  it.each(['/compute', '/compute/'])('answers %s with 200 and both versions, v2.0 first, each self link answering, without a token', async (path) => {
    const res = await request(h.app).get(path);
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/versions.list_versions', res)).toEqual([]);
    const v21 = res.body.versions.find((v: { id: string }) => v.id === 'v2.1');
    expect(v21).toMatchObject({ status: 'CURRENT', version: MAX_VERSION, min_version: MIN_VERSION });
    expect(v21.links).toEqual([{ rel: 'self', href: `${PUBLIC_URL}/compute/v2.1/` }]);
    // Every listed version's self link answers (Tempest's test_get_version_details follows them).
    expect(res.body.versions.map((v: { id: string }) => v.id)).toEqual(['v2.0', 'v2.1']);
    expect(res.body.versions[0]).toMatchObject({ status: 'SUPPORTED', version: '', min_version: '' });
    for (const v of res.body.versions) {
      const self = new URL(v.links.find((l: { rel: string }) => l.rel === 'self').href);
      expect((await request(h.app).get(self.pathname)).status).toBe(200);
    }
  });

  it('carries no microversion headers (they belong to /v2.1 responses)', async () => {
    const res = await request(h.app).get('/compute/');
    expect(res.headers['openstack-api-version']).toBeUndefined();
  });
});

describe('GET /compute/v2.1', () => {
  it.each(['/compute/v2.1', '/compute/v2.1/'])('answers %s with the v2.1 document, without a token', async (path) => {
    const res = await request(h.app).get(path);
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/versions.get_one_version', res)).toEqual([]);
    expect(res.body.version).toEqual({
      id: 'v2.1',
      status: 'CURRENT',
      version: MAX_VERSION,
      min_version: MIN_VERSION,
      updated: '2013-07-23T11:33:21Z',
      links: [
        { rel: 'self', href: `${PUBLIC_URL}/compute/v2.1/` },
        { rel: 'describedby', type: 'text/html', href: 'http://docs.openstack.org/' },
      ],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
    });
  });

  it('still needs a token below /compute/v2.1 (401 in Nova\'s shape)', async () => {
    const res = await request(h.app).get('/compute/v2.1/flavors');
    expect(res.status).toBe(401);
    expect(res.body.unauthorized.code).toBe(401);
  });

  it('negotiates on real endpoints: an out-of-range version is 406 (contract S2)', async () => {
    const res = await request(h.app).get('/compute/v2.1/flavors')
      .set('X-Auth-Token', await h.token('demo')).set('OpenStack-API-Version', 'compute 2.999');
    expect(res.status).toBe(406);
    expect(res.body.computeFault.message).toBe(`Version 2.999 is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  });

  it('echoes the negotiated version and Vary on a real endpoint (contract S2)', async () => {
    const res = await request(h.app).get('/compute/v2.1/flavors')
      .set('X-Auth-Token', await h.token('demo')).set('X-OpenStack-Nova-API-Version', '2.47');
    expect(res.status).toBe(200);
    expect(res.headers['openstack-api-version']).toBe('compute 2.47');
    expect(res.headers['x-openstack-nova-api-version']).toBe('2.47');
    expect(res.headers.vary).toContain('OpenStack-API-Version');
    expect(res.headers.vary).toContain('X-OpenStack-Nova-API-Version');
  });
});
