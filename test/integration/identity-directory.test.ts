/**
 * The Keystone calls the OpenStack dashboard (Horizon, Zed) makes at login and on its Identity
 * pages, in the order it makes them (openstack_auth/backend.py, plugin/base.py, utils.py;
 * openstack_dashboard/api/keystone.py), checked for what Horizon reads from each answer.
 */
import request from 'supertest';
import { makeTestApp, PASSWORDS, TestApp } from '../helpers/app';

const BASE = 'http://127.0.0.1:8080/identity';

/** keystoneauth's v3 Password plugin with unscoped=True (Horizon's openstack_auth/plugin/password.py). */
const unscopedPassword = (name: string, password: string) => ({
  auth: { identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } }, scope: 'unscoped' },
});
const tokenAuth = (id: string, scope: unknown) => ({ auth: { identity: { methods: ['token'], token: { id } }, scope } });

describe('identity directory (the dashboard\'s Keystone calls)', () => {
  let t: TestApp;
  let admin: string;
  let demoToken: string;
  beforeAll(async () => {
    t = await makeTestApp();
    admin = await t.token('admin');
    demoToken = await t.token('demo');
  });
  afterAll(async () => { await t.close(); });

  const get = (path: string, token?: string) => {
    const req = request(t.app).get(`/identity${path}`);
    return token ? req.set('X-Auth-Token', token) : req;
  };

  test('when a member logs in as Horizon does, then an unscoped token lists its projects and is rescoped to one', async () => {
    const unscoped = await request(t.app).post('/identity/v3/auth/tokens').send(unscopedPassword('demo', PASSWORDS.demo));
    expect(unscoped.status).toBe(201);
    expect(unscoped.body.token.project).toBeUndefined();
    expect(unscoped.body.token.catalog).toBeUndefined();
    const token = unscoped.headers['x-subject-token'] as string;
    const userId = unscoped.body.token.user.id as string;

    // get_domain_scoped_auth: no role on the domain → Keystone's plain 401, and Horizon goes on.
    const domainScope = await request(t.app).post('/identity/v3/auth/tokens').send(tokenAuth(token, { domain: { name: 'Default' } }));
    expect(domainScope.status).toBe(401);
    expect(domainScope.body.error).toEqual({ code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' });

    // list_projects: client.projects.list(user=…) → GET /v3/users/{id}/projects.
    const projects = await get(`/v3/users/${userId}/projects`, token);
    expect(projects.status).toBe(200);
    expect(projects.body.projects).toEqual([expect.objectContaining({ id: await t.projectId('demo'), name: 'demo', enabled: true, domain_id: 'default' })]);
    expect(projects.body.links).toEqual({ self: `${BASE}/v3/users/${userId}/projects`, previous: null, next: null });

    // get_project_scoped_auth: v3 Token plugin with project_id.
    const scoped = await request(t.app).post('/identity/v3/auth/tokens').send(tokenAuth(token, { project: { id: projects.body.projects[0].id } }));
    expect(scoped.status).toBe(201);
    expect(scoped.body.token).toMatchObject({ methods: ['token'], project: { name: 'demo' }, user: { id: userId } });
    expect(scoped.body.token.catalog.length).toBeGreaterThan(0);

    // The possible scopes of the unscoped token (authorized_tenants, domains, system access).
    const auth = await get('/v3/auth/projects', token);
    expect(auth.status).toBe(200);
    expect(auth.body.projects.map((p: { name: string }) => p.name)).toEqual(['demo']);
    expect((await get('/v3/auth/domains', token)).body).toEqual({ domains: [], links: { self: `${BASE}/v3/auth/domains`, previous: null, next: null } });
    expect((await get('/v3/auth/system', token)).body.system).toEqual([]);

    // The catalog is a scoped token's.
    expect((await get('/v3/auth/catalog', token)).status).toBe(403);
    const catalog = await get('/v3/auth/catalog', scoped.headers['x-subject-token']);
    expect(catalog.body.catalog.map((c: { type: string }) => c.type)).toEqual(expect.arrayContaining(['compute', 'identity', 'image']));

    // An unscoped token opens no service.
    expect((await request(t.app).get('/compute/v2.1/servers').set('X-Auth-Token', token)).status).toBe(401);
    // Another user's projects are not the member's to list; without a token nothing answers.
    expect((await get(`/v3/users/${await t.userId('admin')}/projects`, token)).body.error).toMatchObject({ code: 403, message: 'You are not authorized to perform the requested action: identity:list_user_projects.' });
    expect((await get(`/v3/users/${userId}/projects`)).status).toBe(401);
  });

  test('the domain of one\'s project is readable by its members; the domain list, users and roles are admins\'', async () => {
    const mine = await get('/v3/domains/default', demoToken);
    expect(mine.status).toBe(200);
    expect(mine.body.domain).toEqual({ id: 'default', name: 'Default', description: 'The default domain', enabled: true, tags: [], options: {}, links: { self: `${BASE}/v3/domains/default` } });
    expect((await get('/v3/domains/nosuch', admin)).body.error).toMatchObject({ code: 404, message: 'Could not find domain: nosuch.' });
    expect((await get('/v3/domains', admin)).body.domains.map((d: { id: string }) => d.id)).toContain('default');
    expect((await get('/v3/domains?name=Default', admin)).body.domains).toHaveLength(1);
    for (const path of ['/v3/domains', '/v3/users', '/v3/roles', '/v3/groups', '/v3/role_assignments']) {
      const res = await get(path, demoToken);
      expect([path, res.status]).toEqual([path, 403]);
      expect(res.body.error.message).toMatch(/^You are not authorized to perform the requested action: identity:list_/);
    }
  });

  test('an admin lists users (filtered as Identity → Users does), reads one, and a member reads only itself', async () => {
    const users = await get('/v3/users?domain_id=default', admin);
    expect(users.status).toBe(200);
    expect(users.body.users.map((u: { name: string }) => u.name)).toEqual(['admin', 'alt', 'demo', 'viewer']);
    const demo = users.body.users.find((u: { name: string }) => u.name === 'demo');
    expect(demo).toEqual({
      id: await t.userId('demo'), name: 'demo', domain_id: 'default', enabled: true, password_expires_at: null, options: {},
      default_project_id: await t.projectId('demo'), links: { self: `${BASE}/v3/users/${demo.id}` },
    });
    expect((await get('/v3/users?name=alt', admin)).body.users).toHaveLength(1);
    expect((await get('/v3/users?domain_id=other', admin)).body.users).toEqual([]);
    expect((await get(`/v3/users?default_project_id=${await t.projectId('demo')}`, admin)).body.users.map((u: { name: string }) => u.name)).toEqual(['demo', 'viewer']);
    expect((await get(`/v3/users/${demo.id}`, demoToken)).body.user.name).toBe('demo');
    expect((await get(`/v3/users/${await t.userId('admin')}`, demoToken)).status).toBe(403);
    expect((await get('/v3/users/nosuch', admin)).body.error).toMatchObject({ code: 404, message: 'Could not find user: nosuch.' });
    expect((await get(`/v3/users/${demo.id}/groups`, admin)).body.groups).toEqual([]);
  });

  test('projects filter as the Projects page asks: enabled, is_domain', async () => {
    const names = async (q: string) => (await get(`/v3/projects${q}`, admin)).body.projects.map((p: { name: string }) => p.name);
    expect(await names('?enabled=true')).toEqual(expect.arrayContaining(['admin', 'alt', 'demo']));
    expect(await names('?enabled=false')).toEqual([]);
    expect(await names('?is_domain=true')).toEqual([]);
    expect(await names('?is_domain=false&domain_id=default')).toEqual(expect.arrayContaining(['admin', 'demo']));
  });

  test('an admin lists roles and finds the default role by name (get_default_role)', async () => {
    const roles = await get('/v3/roles', admin);
    expect(roles.body.roles.map((r: { name: string }) => r.name)).toEqual(['admin', 'member', 'reader']);
    const member = roles.body.roles[1];
    expect(member).toEqual({ id: member.id, name: 'member', domain_id: null, description: null, options: {}, links: { self: `${BASE}/v3/roles/${member.id}` } });
    expect((await get(`/v3/roles/${member.id}`, admin)).body.role.name).toBe('member');
    expect((await get('/v3/roles?name=reader', admin)).body.roles).toHaveLength(1);
  });

  test('role assignments: direct ones per project (with names), effective ones with their prior role, and Keystone\'s 400s', async () => {
    const demoProject = await t.projectId('demo');
    const tree = await get(`/v3/role_assignments?scope.project.id=${demoProject}&include_subtree=True&include_names=True`, admin);
    expect(tree.status).toBe(200);
    const rows = tree.body.role_assignments.map((a: { user: { name: string }; role: { name: string } }) => `${a.user.name}:${a.role.name}`).sort();
    expect(rows).toEqual(['demo:member', 'viewer:reader']);
    const one = tree.body.role_assignments.find((a: { user: { name: string } }) => a.user.name === 'demo');
    expect(one).toEqual({
      role: { id: one.role.id, name: 'member' },
      user: { id: await t.userId('demo'), name: 'demo', domain: { id: 'default', name: 'Default' } },
      scope: { project: { id: demoProject, name: 'demo', domain: { id: 'default', name: 'Default' } } },
      links: { assignment: `${BASE}/v3/projects/${demoProject}/users/${one.user.id}/roles/${one.role.id}` },
    });

    const adminUser = await t.userId('admin');
    const direct = await get(`/v3/role_assignments?user.id=${adminUser}`, admin);
    expect(direct.body.role_assignments).toHaveLength(1);
    expect(Object.keys(direct.body.role_assignments[0].user)).toEqual(['id']);
    const effective = await get(`/v3/role_assignments?user.id=${adminUser}&effective`, admin);
    const byRole = new Map(effective.body.role_assignments.map((a: { role: { id: string }; links: object }) => [a.role.id, a.links]));
    expect(byRole.size).toBe(3);
    const roles = (await get('/v3/roles', admin)).body.roles as { id: string; name: string }[];
    const id = (n: string) => roles.find((r) => r.name === n)!.id;
    expect(byRole.get(id('reader'))).toMatchObject({ prior_role: `${BASE}/v3/roles/${id('member')}` });
    expect((await get(`/v3/role_assignments?user.id=${adminUser}&effective&role.id=${id('reader')}`, admin)).body.role_assignments).toHaveLength(1);
    expect((await get(`/v3/role_assignments?group.id=g1`, admin)).body.role_assignments).toEqual([]);

    expect((await get('/v3/role_assignments?include_subtree=True', admin)).body.error).toMatchObject({ code: 400, message: 'scope.project.id must be specified if include_subtree is also specified' });
    expect((await get('/v3/role_assignments?effective&group.id=g1', admin)).status).toBe(400);
  });

  test('identity writes answer 403 with the reason, after the token is checked', async () => {
    const demoUser = await t.userId('demo');
    const demoProject = await t.projectId('demo');
    const writes = [
      request(t.app).post('/identity/v3/projects').send({ project: { name: 'p2' } }),
      request(t.app).patch(`/identity/v3/projects/${demoProject}`).send({ project: { description: 'x' } }),
      request(t.app).delete(`/identity/v3/projects/${demoProject}`),
      request(t.app).post('/identity/v3/users').send({ user: { name: 'u2' } }),
      request(t.app).patch(`/identity/v3/users/${demoUser}`).send({ user: { email: 'x' } }),
      request(t.app).delete(`/identity/v3/users/${demoUser}`),
      request(t.app).put(`/identity/v3/projects/${demoProject}/users/${demoUser}/roles/r1`),
    ];
    for (const w of writes) {
      const res = await w.set('X-Auth-Token', admin);
      expect(res.status).toBe(403);
      expect(res.body.error.message).toMatch(/identity directory is read-only.*NOVADOCK_CONFIG/);
    }
    expect((await request(t.app).post('/identity/v3/projects').send({ project: { name: 'p2' } })).status).toBe(401);
    const missing = await request(t.app).delete('/identity/v3/projects/nosuch').set('X-Auth-Token', admin);
    expect([missing.status, missing.body.error.message]).toEqual([404, 'Could not find project: nosuch.']);
    expect((await request(t.app).patch('/identity/v3/users/nosuch').set('X-Auth-Token', admin).send({ user: { enabled: true } })).status).toBe(404);
    expect((await get('/v3/projects?name=p2', admin)).body.projects).toEqual([]);
    expect((await get(`/v3/users/${demoUser}`, admin)).body.user.name).toBe('demo');
  });
});
