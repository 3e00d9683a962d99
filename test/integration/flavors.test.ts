/**
 * Flavors through HTTP on a real SQLite (contract §5.11, S3): the seeded sizes, visibility by
 * role, filters and paging, admin create/update/delete, extra specs, microversion shapes checked
 * against tempest's strict schemas.
 */
import request from 'supertest';
import { makeTestApp, TestApp, PUBLIC_URL, Account } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { FlavorRepository } from '../../src/db/flavor-repo';
import { DEFAULT_FLAVORS } from '../../src/config';

let h: TestApp;
let repo: FlavorRepository;
beforeAll(async () => {
  h = await makeTestApp();
  repo = new FlavorRepository(h.db);
});
afterAll(async () => { await h.close(); });

const as = async (account: Account, version?: string) => {
  const headers: Record<string, string> = { 'X-Auth-Token': await h.token(account) };
  if (version) headers['OpenStack-API-Version'] = `compute ${version}`;
  return headers;
};
const get = async (path: string, account: Account = 'demo', version?: string) =>
  request(h.app).get(`/compute/v2.1${path}`).set(await as(account, version));
const send = async (method: 'post' | 'put' | 'delete', path: string, body: unknown, account: Account = 'admin', version?: string) => {
  const r = request(h.app)[method](`/compute/v2.1${path}`).set(await as(account, version));
  return body === undefined ? r : r.send(body as object);
};

describe('listing the seeded flavors', () => {
  it('lists Nova\'s classic sizes by id, each with absolute self and bookmark links (tempest 2.1 schema)', async () => {
    const res = await get('/flavors');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/flavors.list_flavors', res)).toEqual([]);
    expect(res.body.flavors.map((f: { name: string }) => f.name)).toEqual(DEFAULT_FLAVORS.map((f) => f.name));
    expect(res.body.flavors[0]).toEqual({
      id: '1',
      name: 'm1.tiny',
      links: [
        { rel: 'self', href: `${PUBLIC_URL}/compute/v2.1/flavors/1` },
        { rel: 'bookmark', href: `${PUBLIC_URL}/compute/flavors/1` },
      ],
    });
    expect(res.body.flavors_links).toBeUndefined();
  });

  it('shows m1.tiny in detail at 2.1 exactly as Nova does, swap as ""', async () => {
    const res = await get('/flavors/detail');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/flavors.list_flavors_details', res)).toEqual([]);
    const { links: _links, ...tiny } = res.body.flavors[0];
    expect(tiny).toEqual({
      id: '1', name: 'm1.tiny', ram: 512, disk: 1, vcpus: 1, swap: '',
      'OS-FLV-EXT-DATA:ephemeral': 0, 'OS-FLV-DISABLED:disabled': false, 'os-flavor-access:is_public': true, rxtx_factor: 1,
    });
  });

  it('adds description at 2.55 and extra_specs at 2.61, and makes swap an integer at 2.75', async () => {
    const r255 = await get('/flavors/detail', 'demo', '2.55');
    expect(tempestProblems('v2_55/flavors.list_flavors_details', r255)).toEqual([]);
    expect(r255.body.flavors[0].description).toBeNull();
    expect(r255.body.flavors[0].extra_specs).toBeUndefined();
    const i255 = await get('/flavors', 'demo', '2.55');
    expect(tempestProblems('v2_55/flavors.list_flavors', i255)).toEqual([]);

    const r261 = await get('/flavors/detail', 'demo', '2.61');
    expect(tempestProblems('v2_61/flavors.list_flavors_details', r261)).toEqual([]);
    expect(r261.body.flavors[0].extra_specs).toEqual({});
    expect(r261.body.flavors[0].swap).toBe('');

    const r275 = await get('/flavors/1', 'demo', '2.75');
    expect(r275.body.flavor.swap).toBe(0);
  });

  it('answers OSC\'s `flavor list` sequence: detail?is_public=True at 2.61, then os-extra_specs per flavor', async () => {
    const list = await get('/flavors/detail?is_public=True', 'demo', '2.61');
    expect(list.status).toBe(200);
    expect(list.body.flavors.map((f: { id: string }) => f.id)).toEqual(DEFAULT_FLAVORS.map((f) => f.id));
    for (const f of list.body.flavors) {
      const specs = await get(`/flavors/${f.id}/os-extra_specs`, 'demo', '2.61');
      expect(specs.status).toBe(200);
      expect(tempestProblems('v2_1/flavors_extra_specs.set_get_flavor_extra_specs', specs)).toEqual([]);
    }
  });

  it('resolves a name the way novaclient does: the name is a 404, then the list has it', async () => {
    const byName = await get('/flavors/m1.tiny');
    expect(byName.status).toBe(404);
    expect(byName.body).toEqual({ itemNotFound: { code: 404, message: 'Flavor m1.tiny could not be found.' } });
    const list = await get('/flavors?is_public=None');
    expect(list.body.flavors.find((f: { name: string }) => f.name === 'm1.tiny').id).toBe('1');
  });

  it('shows one flavor (tempest 2.1 schema)', async () => {
    const res = await get('/flavors/2');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/flavors.create_update_get_flavor_details', res)).toEqual([]);
    expect(res.body.flavor).toMatchObject({ id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 });
  });
});

describe('filters, sorting and paging', () => {
  it('filters by minRam and minDisk', async () => {
    const res = await get('/flavors/detail?minRam=4096&minDisk=80');
    expect(res.body.flavors.map((f: { name: string }) => f.name)).toEqual(['m1.large', 'm1.xlarge']);
  });

  it.each([['minRam', 'abc'], ['minDisk', '1.5']])('refuses %s=%s with 400', async (name, value) => {
    const res = await get(`/flavors?${name}=${value}`);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe(`Invalid ${name} filter [${value}]`);
  });

  it('sorts by memory_mb descending', async () => {
    const res = await get('/flavors/detail?sort_key=memory_mb&sort_dir=desc');
    expect(res.body.flavors.map((f: { ram: number }) => f.ram)).toEqual([16384, 8192, 4096, 2048, 512]);
  });

  it('refuses an unknown sort key or direction with 400', async () => {
    expect((await get('/flavors?sort_key=colour')).status).toBe(400);
    const dir = await get('/flavors?sort_dir=up');
    expect(dir.status).toBe(400);
    expect(dir.body.badRequest.message).toBe("Unknown sort direction, must be 'desc' or 'asc'");
  });

  it('pages with limit and a next link that carries the marker, until the list is exhausted', async () => {
    const seen: string[] = [];
    let path = '/flavors?limit=2';
    for (let i = 0; i < 5 && path; i++) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(tempestProblems('v2_1/flavors.list_flavors', res)).toEqual([]);
      seen.push(...res.body.flavors.map((f: { id: string }) => f.id));
      const next = res.body.flavors_links?.[0];
      path = next ? next.href.slice(`${PUBLIC_URL}/compute/v2.1`.length) : '';
      if (next) expect(next.href).toBe(`${PUBLIC_URL}/compute/v2.1/flavors?limit=2&marker=${seen[seen.length - 1]}`);
    }
    expect(seen).toEqual(['1', '2', '3', '4', '5']);
  });

  it('refuses an unknown marker and a negative limit with 400', async () => {
    const marker = await get('/flavors?marker=nope');
    expect(marker.status).toBe(400);
    expect(marker.body.badRequest.message).toBe('marker [nope] not found');
    expect((await get('/flavors?limit=-1')).status).toBe(400);
    expect((await get('/flavors?limit=abc')).status).toBe(400);
  });

  it('refuses a bad is_public value with 400 for admins', async () => {
    const res = await get('/flavors?is_public=maybe', 'admin');
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe('Invalid is_public filter [maybe]');
  });
});

describe('managing flavors (admin)', () => {
  it('creates a flavor with a given id: 200, Nova\'s shape, and it is stored', async () => {
    const res = await send('post', '/flavors', { flavor: { name: 'c1.test', id: 'c1', ram: 256, vcpus: 2, disk: 3, swap: 128, 'OS-FLV-EXT-DATA:ephemeral': 4, rxtx_factor: 2.5 } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/flavors.create_update_get_flavor_details', res)).toEqual([]);
    expect(res.body.flavor).toMatchObject({ id: 'c1', name: 'c1.test', ram: 256, vcpus: 2, disk: 3, swap: 128, 'OS-FLV-EXT-DATA:ephemeral': 4, rxtx_factor: 2.5, 'os-flavor-access:is_public': true });
    expect(await repo.get('c1')).toMatchObject({ name: 'c1.test', ram: 256, swap: 128, ephemeral: 4, rxtx_factor: 2.5 });
    expect((await get('/flavors/c1')).status).toBe(200);
  });

  it('generates a UUID id when none is given, and takes digit strings and numeric ids as Nova does', async () => {
    const auto = await send('post', '/flavors', { flavor: { name: 'auto.id', ram: '128', vcpus: '1', disk: '0' } });
    expect(auto.status).toBe(200);
    expect(auto.body.flavor.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(auto.body.flavor.ram).toBe(128);
    const numeric = await send('post', '/flavors', { flavor: { name: 'num.id', id: 42, ram: 64, vcpus: 1, disk: 0 } });
    expect(numeric.body.flavor.id).toBe('42');
  });

  it('refuses a duplicate name or id with 409 and changes nothing', async () => {
    const byName = await send('post', '/flavors', { flavor: { name: 'm1.tiny', ram: 1, vcpus: 1, disk: 0 } });
    expect(byName.status).toBe(409);
    expect(byName.body.conflictingRequest.message).toBe('Flavor with name m1.tiny already exists.');
    const byId = await send('post', '/flavors', { flavor: { name: 'other', id: '1', ram: 1, vcpus: 1, disk: 0 } });
    expect(byId.status).toBe(409);
    expect(byId.body.conflictingRequest.message).toBe('Flavor with ID 1 already exists.');
    expect(await repo.get('1')).toMatchObject({ name: 'm1.tiny', ram: 512 });
    expect(await repo.getByName('other')).toBeUndefined();
  });

  it.each([
    [{ flavor: { name: 'x', vcpus: 1, disk: 0 } }, "'ram' is a required property"],
    [{ flavor: { name: 'x', ram: 0, vcpus: 1, disk: 0 } }, 'flavor/ram'],
    [{ flavor: { name: 'x', ram: 1, vcpus: 1, disk: -1 } }, 'flavor/disk'],
    [{ flavor: { name: ' x', ram: 1, vcpus: 1, disk: 0 } }, 'flavor/name'],
    [{ flavor: { name: 'x', ram: 1, vcpus: 1, disk: 0, colour: 'red' } }, "'colour' was unexpected"],
    [{ flavor: { name: 'x', id: 'a/b', ram: 1, vcpus: 1, disk: 0 } }, 'flavor/id'],
    [{ flavor: { name: 'x', ram: 1, vcpus: 1, disk: 0, rxtx_factor: 0 } }, 'flavor/rxtx_factor'],
    [{ flavor: { name: 'x', ram: 1, vcpus: 1, disk: 0, description: 'only from 2.55' } }, "'description' was unexpected"],
  ])('refuses the invalid body %j with 400', async (body, message) => {
    const res = await send('post', '/flavors', body);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain(message);
  });

  it.each(['demo', 'viewer'] as Account[])('forbids %s to create, update or delete flavors (403)', async (account) => {
    const create = await send('post', '/flavors', { flavor: { name: `by-${account}`, ram: 1, vcpus: 1, disk: 0 } }, account);
    expect(create.status).toBe(403);
    // A reader is stopped by the read-only rule before the flavor policy; both are Nova's 403 shape.
    expect(create.body.forbidden.message).toMatch(/^Policy doesn't allow .* to be performed\.$/);
    if (account === 'demo') expect(create.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-flavor-manage:create to be performed.");
    expect((await send('delete', '/flavors/1', undefined, account)).status).toBe(403);
    expect((await send('put', '/flavors/1', { flavor: { description: 'x' } }, account, '2.55')).status).toBe(403);
    expect(await repo.getByName(`by-${account}`)).toBeUndefined();
    expect(await repo.get('1')).toBeDefined();
  });

  it('takes a description at 2.55 and updates it with PUT (absent below 2.55)', async () => {
    const res = await send('post', '/flavors', { flavor: { name: 'described', id: 'd1', ram: 64, vcpus: 1, disk: 0, description: 'small and cheap' } }, 'admin', '2.55');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_55/flavors.create_update_get_flavor_details', res)).toEqual([]);
    expect(res.body.flavor.description).toBe('small and cheap');
    const put = await send('put', '/flavors/d1', { flavor: { description: 'changed' } }, 'admin', '2.61');
    expect(put.status).toBe(200);
    expect(tempestProblems('v2_61/flavors.create_update_get_flavor_details', put)).toEqual([]);
    expect(put.body.flavor).toMatchObject({ description: 'changed', extra_specs: {} });
    expect((await repo.get('d1'))!.description).toBe('changed');
    expect((await send('put', '/flavors/d1', { flavor: { description: 'x' } }, 'admin')).status).toBe(404);
    expect((await send('put', '/flavors/none', { flavor: { description: 'x' } }, 'admin', '2.55')).status).toBe(404);
  });

  it('deletes a flavor with 202 and an empty body; it is gone; a second delete is 404', async () => {
    await send('post', '/flavors', { flavor: { name: 'doomed', id: 'doomed', ram: 64, vcpus: 1, disk: 0 } });
    const del = await send('delete', '/flavors/doomed', undefined);
    expect(del.status).toBe(202);
    expect(del.text).toBe('');
    expect(await repo.get('doomed')).toBeUndefined();
    expect((await get('/flavors/doomed')).status).toBe(404);
    const again = await send('delete', '/flavors/doomed', undefined);
    expect(again.status).toBe(404);
    expect(again.body.itemNotFound.message).toBe('Flavor doomed could not be found.');
  });

  it('answers 405 to a method the collection does not serve', async () => {
    expect((await send('put', '/flavors', {})).status).toBe(405);
  });
});

describe('private flavors', () => {
  beforeAll(async () => {
    const res = await send('post', '/flavors', { flavor: { name: 'secret', id: 'p1', ram: 64, vcpus: 1, disk: 0, 'os-flavor-access:is_public': false } });
    expect(res.status).toBe(200);
    expect(res.body.flavor['os-flavor-access:is_public']).toBe(false);
  });

  it('are invisible to members: not listed even with is_public=None, 404 on show and on extra specs', async () => {
    const list = await get('/flavors?is_public=None');
    expect(list.body.flavors.map((f: { id: string }) => f.id)).not.toContain('p1');
    expect((await get('/flavors/p1')).status).toBe(404);
    expect((await get('/flavors/p1/os-extra_specs')).status).toBe(404);
  });

  it('have an (empty) access list for admins; public flavors have none (404), members are refused (403)', async () => {
    const res = await get('/flavors/p1/os-flavor-access', 'admin');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ flavor_access: [] });
    const pub = await get('/flavors/1/os-flavor-access', 'admin');
    expect(pub.status).toBe(404);
    expect(pub.body.itemNotFound.message).toBe('Access list not available for public flavors.');
    expect((await get('/flavors/1/os-flavor-access', 'demo')).status).toBe(403);
  });

  it('are listed for admins with is_public=None or false, not by default', async () => {
    const ids = async (q: string) => (await get(`/flavors${q}`, 'admin')).body.flavors.map((f: { id: string }) => f.id);
    expect(await ids('')).not.toContain('p1');
    expect(await ids('?is_public=none')).toContain('p1');
    expect(await ids('?is_public=False')).toEqual(['p1']);
    expect((await get('/flavors/p1', 'admin')).status).toBe(200);
  });
});

describe('extra specs', () => {
  it('sets, shows, updates and removes keys, with the new state visible at 2.61', async () => {
    const post = await send('post', '/flavors/2/os-extra_specs', { extra_specs: { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': 1024 } });
    expect(post.status).toBe(200);
    expect(post.body).toEqual({ extra_specs: { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': 1024 } });
    expect((await repo.get('2'))!.extra_specs).toEqual({ 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': '1024' });

    const all = await get('/flavors/2/os-extra_specs');
    expect(all.body).toEqual({ extra_specs: { 'hw:cpu_policy': 'dedicated', 'quota:cpu_shares': '1024' } });
    const one = await get('/flavors/2/os-extra_specs/hw:cpu_policy');
    expect(one.status).toBe(200);
    expect(tempestProblems('v2_1/flavors_extra_specs.set_get_flavor_extra_specs_key', one)).toEqual([]);
    expect(one.body).toEqual({ 'hw:cpu_policy': 'dedicated' });

    const put = await send('put', '/flavors/2/os-extra_specs/hw:cpu_policy', { 'hw:cpu_policy': 'shared' });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ 'hw:cpu_policy': 'shared' });
    expect((await get('/flavors/2', 'demo', '2.61')).body.flavor.extra_specs).toEqual({ 'hw:cpu_policy': 'shared', 'quota:cpu_shares': '1024' });

    const del = await send('delete', '/flavors/2/os-extra_specs/quota:cpu_shares', undefined);
    expect(del.status).toBe(200);
    expect(del.text).toBe('');
    expect((await repo.get('2'))!.extra_specs).toEqual({ 'hw:cpu_policy': 'shared' });
  });

  it('answers 404 for an unknown key or flavor, in Nova\'s words', async () => {
    const key = await get('/flavors/1/os-extra_specs/nope');
    expect(key.status).toBe(404);
    expect(key.body.itemNotFound.message).toBe('Flavor 1 has no extra specs with key nope.');
    expect((await send('delete', '/flavors/1/os-extra_specs/nope', undefined)).status).toBe(404);
    expect((await get('/flavors/none/os-extra_specs')).status).toBe(404);
    expect((await send('post', '/flavors/none/os-extra_specs', { extra_specs: { a: 'b' } })).status).toBe(404);
  });

  it('refuses a body whose key is not the one in the URL, or a bad key, with 400', async () => {
    const mismatch = await send('put', '/flavors/1/os-extra_specs/a', { b: 'c' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.badRequest.message).toBe('Request body and URI mismatch');
    expect((await send('put', '/flavors/1/os-extra_specs/a', { a: 'b', c: 'd' })).status).toBe(400);
    expect((await send('post', '/flavors/1/os-extra_specs', { extra_specs: { 'bad/key': 'x' } })).status).toBe(400);
    expect((await send('post', '/flavors/1/os-extra_specs', { extra_specs: { k: 'x'.repeat(256) } })).status).toBe(400);
    expect((await repo.get('1'))!.extra_specs).toEqual({});
  });

  it('forbids members and readers to change extra specs (403)', async () => {
    for (const account of ['demo', 'viewer'] as Account[]) {
      expect((await send('post', '/flavors/1/os-extra_specs', { extra_specs: { a: 'b' } }, account)).status).toBe(403);
      expect((await send('put', '/flavors/1/os-extra_specs/a', { a: 'b' }, account)).status).toBe(403);
      expect((await send('delete', '/flavors/1/os-extra_specs/a', undefined, account)).status).toBe(403);
    }
    expect((await repo.get('1'))!.extra_specs).toEqual({});
  });

  it('keeps every key when two admins add keys concurrently', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => send('post', '/flavors/3/os-extra_specs', { extra_specs: { [`k${i}`]: String(i) } })));
    expect(Object.keys((await repo.get('3'))!.extra_specs).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
  });
});

describe('seeding', () => {
  it('is idempotent and brings seeded rows into line with the config, keeping admin-added extra specs', async () => {
    await repo.setExtraSpecs('4', { added: 'by-admin' });
    await repo.seed(DEFAULT_FLAVORS);
    expect((await repo.list({ isPublic: null })).filter((f) => DEFAULT_FLAVORS.some((d) => d.id === f.id))).toHaveLength(5);
    await repo.seed(DEFAULT_FLAVORS.map((f) => (f.id === '4' ? { ...f, ram: 9000 } : f)));
    expect(await repo.get('4')).toMatchObject({ name: 'm1.large', ram: 9000, extra_specs: { added: 'by-admin' } });
    await repo.seed(DEFAULT_FLAVORS);
    expect((await repo.get('4'))!.ram).toBe(8192);
  });

  it('refuses to start when a configured name is used by another flavor id', async () => {
    await expect(repo.seed([{ id: 'other', name: 'm1.tiny', ram: 1, vcpus: 1, disk: 0 }])).rejects.toThrow(/already used by flavor '1'/);
    expect(await repo.get('other')).toBeUndefined();
  });
});
