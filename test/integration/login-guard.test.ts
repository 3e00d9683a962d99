/**
 * Issue 18 part 4 through HTTP: Keystone's lockout answers a locked user exactly as it answers an
 * unknown one; an admin unlocks with PATCH /v3/users/{id} {"user": {"enabled": true}} (others
 * 403); failed logins per client address end in 429 with Retry-After, successes never count.
 */
import request from 'supertest';
import { makeTestApp, PASSWORDS, TestApp } from '../helpers/app';

const auth = (name: string, password: string) => ({
  auth: { identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } },
});

describe('login guard', () => {
  let t: TestApp;
  // Lockout after 3; the per-address limit high enough not to interfere (its own app below).
  beforeAll(async () => {
    t = await makeTestApp({ config: { login: { lockoutFailureAttempts: 3, lockoutDuration: 600, authFailureLimit: 100, authFailureWindow: 60, passwordQueue: 64 } } });
  });
  afterAll(() => t.close());

  const post = (body: unknown) => request(t.app).post('/identity/v3/auth/tokens').send(body as object);
  const patchUser = (id: string, token: string | undefined, body: unknown) => {
    const r = request(t.app).patch(`/identity/v3/users/${id}`);
    if (token) r.set('X-Auth-Token', token);
    return r.send(body as object);
  };

  test('when demo is locked after three wrong passwords, its right password gets the very answer an unknown user gets', async () => {
    const adminToken = await t.token('admin');
    const demoId = await t.userId('demo');
    for (let i = 0; i < 3; i++) expect((await post(auth('demo', `guess-${i}`))).status).toBe(401);
    const locked = await post(auth('demo', PASSWORDS.demo));
    const unknown = await post(auth('no-such-user', PASSWORDS.demo));
    expect(locked.status).toBe(401);
    expect(locked.body).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(locked.body);
    expect(unknown.headers['www-authenticate']).toBe(locked.headers['www-authenticate']);

    const unlocked = await patchUser(demoId, adminToken, { user: { enabled: true } });
    expect(unlocked.status).toBe(200);
    expect(unlocked.body.user).toMatchObject({ id: demoId, name: 'demo', domain_id: 'default', enabled: true, links: { self: `http://127.0.0.1:8080/identity/v3/users/${demoId}` } });
    expect((await post(auth('demo', PASSWORDS.demo))).status).toBe(201);
  });

  test('only an admin may update a user (403 in Keystone words), an unknown user is 404, and bad bodies are 400', async () => {
    const demoId = await t.userId('demo');
    const member = await patchUser(demoId, await t.token('demo'), { user: { enabled: true } });
    expect(member.status).toBe(403);
    expect(member.body).toEqual({ error: { code: 403, title: 'Forbidden', message: 'You are not authorized to perform the requested action: identity:update_user.' } });
    expect((await patchUser(demoId, undefined, { user: { enabled: true } })).status).toBe(401);
    const admin = await t.token('admin');
    const missing = await patchUser('nosuchuser', admin, { user: { enabled: true } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('Could not find user: nosuchuser.');
    for (const body of [{}, { user: {} }, { user: { enabled: 'yes' } }, { user: [] }, { user: { enabled: true }, extra: 1 }]) {
      const r = await patchUser(demoId, admin, body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe(400);
    }
    const rename = await patchUser(demoId, admin, { user: { name: 'other' } });
    expect(rename.status).toBe(403);
    expect(rename.body.error.message).toMatch(/read-only apart from a user.s "enabled"/);
  });

  test('a disabled user can neither log in nor use a token it holds; enabled again, it can', async () => {
    const admin = await t.token('admin');
    const altId = await t.userId('alt');
    const altToken = await t.token('alt');
    expect((await request(t.app).get('/compute/v2.1/servers').set('X-Auth-Token', altToken)).status).toBe(200);
    expect((await patchUser(altId, admin, { user: { enabled: false } })).body.user.enabled).toBe(false);
    expect((await request(t.app).get('/compute/v2.1/servers').set('X-Auth-Token', altToken)).status).toBe(401);
    const altAuth = { auth: { ...auth('alt', PASSWORDS.alt).auth, scope: { project: { name: 'alt', domain: { name: 'Default' } } } } };
    expect((await post(altAuth)).status).toBe(401);
    await patchUser(altId, admin, { user: { enabled: true } });
    expect((await post(altAuth)).status).toBe(201);
  });
});

describe('failed logins per client address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ config: { login: { lockoutFailureAttempts: 0, lockoutDuration: 0, authFailureLimit: 2, authFailureWindow: 60, passwordQueue: 64 } } });
  });
  afterAll(() => t.close());

  test('successes never count; past the limit of failures the address gets 429 with Retry-After in the Keystone shape, before any password is checked', async () => {
    const post = (body: unknown) => request(t.app).post('/identity/v3/auth/tokens').send(body as object);
    const adminToken = await t.token('admin');
    for (let i = 0; i < 3; i++) expect((await post(auth('demo', PASSWORDS.demo))).status).toBe(201);
    // A malformed body is not a failed login either.
    expect((await post({ auth: {} })).status).toBe(400);
    expect((await post(auth('demo', 'wrong-1'))).status).toBe(401);
    expect((await post(auth('demo', 'wrong-2'))).status).toBe(401);
    const limited = await post(auth('demo', PASSWORDS.demo));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.body).toEqual({ error: { code: 429, title: 'Too Many Requests', message: expect.stringMatching(/^Too many failed authentication attempts from this address\. Retry after \d+ seconds\.$/) } });
    // Tokens already held keep working: only logins are limited.
    expect((await request(t.app).get('/compute/v2.1/servers').set('X-Auth-Token', adminToken)).status).toBe(200);
  });
});
