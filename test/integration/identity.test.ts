/** Keystone v3 subset through HTTP on a real SQLite (contract §3). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { makeTestApp, PASSWORDS, TestApp } from '../helpers/app';

const passwordAuth = (name: string, password: string, scope: unknown = { project: { name, domain: { name: 'Default' } } }) => ({
  auth: { identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } }, scope },
});

describe('identity', () => {
  let t: TestApp;
  beforeAll(async () => { t = await makeTestApp(); });
  afterAll(async () => { await t.close(); });

  test('projects: an admin finds one by id or name; a member reads only its own, and cannot list (OSC find_resource)', async () => {
    const demo = await t.projectId('demo');
    const admin = await t.token('admin');
    const byId = await request(t.app).get(`/identity/v3/projects/${demo}`).set('X-Auth-Token', admin);
    expect(byId.status).toBe(200);
    expect(byId.body.project).toMatchObject({ id: demo, name: 'demo', domain_id: 'default', enabled: true, links: { self: `http://127.0.0.1:8080/identity/v3/projects/${demo}` } });
    const byName = await request(t.app).get('/identity/v3/projects').query({ name: 'demo' }).set('X-Auth-Token', admin);
    expect(byName.body.projects.map((p: { id: string }) => p.id)).toEqual([demo]);
    expect((await request(t.app).get('/identity/v3/projects/demo').set('X-Auth-Token', admin)).status).toBe(404);
    const member = await t.token('demo');
    expect((await request(t.app).get(`/identity/v3/projects/${demo}`).set('X-Auth-Token', member)).status).toBe(200);
    expect((await request(t.app).get(`/identity/v3/projects/${await t.projectId('alt')}`).set('X-Auth-Token', member)).status).toBe(404);
    expect((await request(t.app).get('/identity/v3/projects').set('X-Auth-Token', member)).status).toBe(403);
    expect((await request(t.app).get(`/identity/v3/projects/${demo}`)).status).toBe(401);
  });

  test('version documents answer without a token: 300 at /identity, 200 at /identity/v3 with a self link', async () => {
    const root = await request(t.app).get('/identity');
    expect(root.status).toBe(300);
    expect(root.body.versions.values[0].id).toBe('v3.14');
    const v3 = await request(t.app).get('/identity/v3');
    expect(v3.status).toBe(200);
    expect(v3.body.version).toMatchObject({ id: 'v3.14', status: 'stable', links: [{ rel: 'self', href: 'http://127.0.0.1:8080/identity/v3/' }] });
    expect((await request(t.app).get('/identity/v3/')).status).toBe(200);
  });

  test('password auth scoped by project name issues a token in X-Subject-Token with a catalog', async () => {
    const res = await request(t.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
    expect(res.status).toBe(201);
    expect(res.headers['x-subject-token']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(res.headers['x-openstack-request-id']).toMatch(/^req-[0-9a-f-]{36}$/);
    const token = res.body.token;
    expect(token.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Date.parse(token.expires_at) - Date.now()).toBeGreaterThan(30_000);
    expect(token.project).toMatchObject({ name: 'demo', domain: { id: 'default', name: 'Default' } });
    expect(token.user).toMatchObject({ name: 'demo', domain: { id: 'default' } });
    expect(token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['member', 'reader']);
    const types = token.catalog.map((s: { type: string }) => s.type).sort();
    expect(types).toEqual(['compute', 'identity', 'image', 'network']);
    const compute = token.catalog.find((s: { type: string }) => s.type === 'compute');
    expect(compute.endpoints.map((e: { interface: string }) => e.interface).sort()).toEqual(['admin', 'internal', 'public']);
    expect(compute.endpoints[0]).toMatchObject({ region_id: 'RegionOne', region: 'RegionOne', url: 'http://127.0.0.1:8080/compute/v2.1' });
    const image = token.catalog.find((s: { type: string }) => s.type === 'image');
    expect(image.endpoints[0].url).toBe('http://127.0.0.1:8080/image');
    // issue 17: the Networking API, unversioned
    expect(token.catalog.find((s: { type: string }) => s.type === 'network')).toMatchObject({ name: 'neutron', endpoints: expect.arrayContaining([expect.objectContaining({ interface: 'public', url: 'http://127.0.0.1:8080/networking' })]) });
  });

  test('admin holds admin, member and reader (implied roles)', async () => {
    const res = await request(t.app).post('/identity/v3/auth/tokens').send(passwordAuth('admin', PASSWORDS.admin));
    expect(res.status).toBe(201);
    expect(res.body.token.roles.map((r: { name: string }) => r.name).sort()).toEqual(['admin', 'member', 'reader']);
  });

  test('user by id and project by id work, and a token can be exchanged for another token', async () => {
    const first = await request(t.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
    const { user, project } = first.body.token;
    const byId = await request(t.app).post('/identity/v3/auth/tokens').send({
      auth: { identity: { methods: ['password'], password: { user: { id: user.id, password: PASSWORDS.demo } } }, scope: { project: { id: project.id } } },
    });
    expect(byId.status).toBe(201);
    expect(byId.body.token.project.id).toBe(project.id);
    const viaToken = await request(t.app).post('/identity/v3/auth/tokens').send({
      auth: { identity: { methods: ['token'], token: { id: first.headers['x-subject-token'] } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } },
    });
    expect(viaToken.status).toBe(201);
    expect(viaToken.body.token.methods).toEqual(['token']);
    // A token made from a token never outlives it.
    expect(Date.parse(viaToken.body.token.expires_at)).toBeLessThanOrEqual(Date.parse(first.body.token.expires_at));
  });

  test.each([
    ['a wrong password', passwordAuth('demo', 'wrong')],
    ['an unknown user', passwordAuth('nobody', 'x')],
    ['a project the user has no role on', passwordAuth('demo', PASSWORDS.demo, { project: { name: 'admin', domain: { name: 'Default' } } })],
    ['an unknown project', passwordAuth('demo', PASSWORDS.demo, { project: { name: 'nope', domain: { name: 'Default' } } })],
  ])('%s is 401 in the Keystone shape with WWW-Authenticate', async (_what, body) => {
    const res = await request(t.app).post('/identity/v3/auth/tokens').send(body);
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['www-authenticate']).toBe('Keystone uri="http://127.0.0.1:8080/identity"');
    expect(res.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
  });

  test.each([
    ['malformed JSON', '{"auth": '],
    ['a body without identity', '{"auth": {}}'],
    ['methods that are not a list', '{"auth": {"identity": {"methods": "password"}}}'],
    ['a user without a password', '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "domain": {"name": "Default"}}}}}}'],
    ['a user name without a domain', '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "password": "x"}}}}}'],
  ])('%s is a 400 in the Keystone shape, never a 500', async (_what, raw) => {
    const res = await request(t.app).post('/identity/v3/auth/tokens').set('Content-Type', 'application/json').send(raw);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 400, title: 'Bad Request' });
    expect(typeof res.body.error.message).toBe('string');
  });

  test('a token validates (GET, HEAD) until it is revoked; then it is 401 everywhere', async () => {
    const admin = await t.token('admin');
    const issued = await request(t.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
    const subject = issued.headers['x-subject-token'];
    const shown = await request(t.app).get('/identity/v3/auth/tokens').set('X-Auth-Token', admin).set('X-Subject-Token', subject);
    expect(shown.status).toBe(200);
    expect(shown.headers['x-subject-token']).toBe(subject);
    expect(shown.body.token.user.name).toBe('demo');
    expect((await request(t.app).head('/identity/v3/auth/tokens').set('X-Auth-Token', admin).set('X-Subject-Token', subject)).status).toBe(200);
    expect((await request(t.app).get('/compute/v2.1/flavors').set('X-Auth-Token', subject)).status).toBe(200);

    expect((await request(t.app).delete('/identity/v3/auth/tokens').set('X-Auth-Token', admin).set('X-Subject-Token', subject)).status).toBe(204);
    expect((await request(t.app).get('/identity/v3/auth/tokens').set('X-Auth-Token', admin).set('X-Subject-Token', subject)).status).toBe(404);
    const after = await request(t.app).get('/compute/v2.1/flavors').set('X-Auth-Token', subject);
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toMatch(/^Keystone uri=/);
  });

  test('every response carries X-OpenStack-Request-Id, errors included', async () => {
    for (const res of [await request(t.app).get('/identity/v3'), await request(t.app).get('/nowhere'), await request(t.app).get('/compute/v2.1/servers')]) {
      expect(res.headers['x-openstack-request-id']).toMatch(/^req-/);
    }
  });
});

describe('identity across restarts', () => {
  test('seeding is idempotent and revoked tokens stay revoked after a restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-restart-'));
    const dbFile = path.join(dataDir, 'novadock.sqlite');
    try {
      const first = await makeTestApp({ config: { dataDir }, dbFile });
      const issued = await request(first.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
      const kept = await request(first.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
      const userId = issued.body.token.user.id;
      const revoke = await request(first.app).delete('/identity/v3/auth/tokens').set('X-Auth-Token', kept.headers['x-subject-token']).set('X-Subject-Token', issued.headers['x-subject-token']);
      expect(revoke.status).toBe(204);
      await first.close();

      const second = await makeTestApp({ config: { dataDir }, dbFile });
      const again = await request(second.app).post('/identity/v3/auth/tokens').send(passwordAuth('demo', PASSWORDS.demo));
      expect(again.body.token.user.id).toBe(userId);
      expect((await request(second.app).get('/compute/v2.1/flavors').set('X-Auth-Token', issued.headers['x-subject-token'])).status).toBe(401);
      expect((await request(second.app).get('/compute/v2.1/flavors').set('X-Auth-Token', kept.headers['x-subject-token'])).status).toBe(200);
      await second.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('passwords are stored as salted hashes, never in clear', async () => {
    const t = await makeTestApp();
    try {
      const rows = await t.services.db('users').select('name', 'password_hash');
      for (const r of rows) {
        expect(r.password_hash).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
        expect(r.password_hash).not.toContain(PASSWORDS[r.name as keyof typeof PASSWORDS] ?? '\u0000');
      }
      const [a, b] = rows.map((r: { password_hash: string }) => r.password_hash.split('$')[1]);
      expect(a).not.toBe(b);
    } finally {
      await t.close();
    }
  });
});
