/**
 * Key pairs through HTTP on a real SQLite (contract §5.15): generate and import, per user,
 * Nova's validation and errors, the quota, and the microversion deltas 2.2 / 2.10 / 2.35 / 2.92,
 * with shapes checked against tempest's strict schemas.
 */
import crypto from 'node:crypto';
import request from 'supertest';
import sshpk from 'sshpk';
import { makeTestApp, TestApp, PUBLIC_URL, Account } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { KeypairRepository } from '../../src/db/keypair-repo';

/** A self-signed test certificate (CN=novadock-test) and its SHA-1 fingerprint per openssl. */
const CERT = `-----BEGIN CERTIFICATE-----
MIICDjCCAXegAwIBAgIUKZznSUAy8LluWZCeB+ljAqF+CZ0wDQYJKoZIhvcNAQEL
BQAwGDEWMBQGA1UEAwwNbm92YWRvY2stdGVzdDAgFw0yNjExMjIwODI4MzJaGA8y
MTI2MTAyOTA4MjgzMlowGDEWMBQGA1UEAwwNbm92YWRvY2stdGVzdDCBnzANBgkq
hkiG9w0BAQEFAAOBjQAwgYkCgYEAwUxnjVyFuxv742C3W54PQhAcF3LV3DYQ8gGo
hV2NbOnIkmhe0BnRL++Ejs2St2W2zPlDX4SOozuXtbJTmTrrd/l/9AXI0pRh9JlX
Y7o6xL4twltB+v1kswa+7hwk+y+CZJILifHWJ850aRzKxU4TC2ZYGcm2vFWC3zuE
MOwt7GcCAwEAAaNTMFEwHQYDVR0OBBYEFKKwJJEC4o4fkICMfKDoV6d3tEziMB8G
A1UdIwQYMBaAFKKwJJEC4o4fkICMfKDoV6d3tEziMA8GA1UdEwEB/wQFMAMBAf8w
DQYJKoZIhvcNAQELBQADgYEAHGtKtqynX8JlsGuaztoRFjfO4kdRmqBP+qMiKBR5
EwNBx5vk8KXm2pUU6ocJzmyYLfL04yfOwkMZ3IwHpCLPfGv2sUxlRkQUswxUof6M
/myKcgnqGqi9qPAFiQraa+WRdTLYMHlYqfOQLfShmXyjijAxX/GdIoUeUjmPkU0/
En8=
-----END CERTIFICATE-----
`;
const CERT_FINGERPRINT = '39:ed:26:c0:5b:66:10:6f:fd:49:ad:62:5e:8d:42:6f:09:88:0b:16';

/** An OpenSSH public key line made here, and the MD5 fingerprint computed independently of sshpk. */
function sshPublicKey(comment = 'user@host'): { line: string; fingerprint: string } {
  const { publicKey } = crypto.generateKeyPairSync('ed25519');
  const [kind, blob] = sshpk.parseKey(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'pem').toString('ssh').split(' ');
  const line = `${kind} ${blob} ${comment}`;
  const md5 = crypto.createHash('md5').update(Buffer.from(line.split(' ')[1], 'base64')).digest('hex');
  return { line, fingerprint: md5.match(/../g)!.join(':') };
}

let h: TestApp;
let repo: KeypairRepository;
beforeAll(async () => {
  h = await makeTestApp({ quotas: { key_pairs: 4 } });
  repo = new KeypairRepository(h.db);
});
afterAll(async () => { await h.close(); });

const headers = async (account: Account, version?: string) => {
  const hd: Record<string, string> = { 'X-Auth-Token': await h.token(account) };
  if (version) hd['X-OpenStack-Nova-API-Version'] = version;
  return hd;
};
const get = async (path: string, account: Account = 'demo', version?: string) =>
  request(h.app).get(`/compute/v2.1/os-keypairs${path}`).set(await headers(account, version));
const post = async (body: unknown, account: Account = 'demo', version?: string) =>
  request(h.app).post('/compute/v2.1/os-keypairs').set(await headers(account, version)).send(body as object);
const del = async (name: string, account: Account = 'demo', version?: string, query = '') =>
  request(h.app).delete(`/compute/v2.1/os-keypairs/${encodeURIComponent(name)}${query}`).set(await headers(account, version));

describe('at 2.1 (what Tempest and OSC by default send)', () => {
  it('generates a key pair: 200, the private key once, an OpenSSH public key whose fingerprint matches', async () => {
    const res = await post({ keypair: { name: 'gen1' } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/keypairs.create_keypair', res)).toEqual([]);
    const k = res.body.keypair;
    expect(k.private_key).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(k.public_key).toMatch(/^ssh-rsa AAAA\S+ Generated-by-Nova$/);
    expect(k.user_id).toBe(await h.userId('demo'));
    // The private key really belongs to the public key.
    const derived = sshpk.parsePrivateKey(k.private_key, 'pem').toPublic().toString('ssh').split(' ')[1];
    expect(k.public_key.split(' ')[1]).toBe(derived);
    const md5 = crypto.createHash('md5').update(Buffer.from(k.public_key.split(' ')[1], 'base64')).digest('hex');
    expect(k.fingerprint).toBe(md5.match(/../g)!.join(':'));
    // Stored without the private key.
    const stored = await repo.get(await h.userId('demo'), 'gen1');
    expect(stored).toMatchObject({ public_key: k.public_key, fingerprint: k.fingerprint, type: 'ssh' });
    expect(JSON.stringify(stored)).not.toContain('PRIVATE KEY');
  });

  it('imports a public key: 200 without private_key, Nova\'s MD5 fingerprint', async () => {
    const key = sshPublicKey();
    const res = await post({ keypair: { name: 'imported', public_key: key.line } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/keypairs.create_keypair', res)).toEqual([]);
    expect(res.body.keypair).toEqual({ name: 'imported', public_key: key.line, fingerprint: key.fingerprint, user_id: await h.userId('demo') });
  });

  it('lists and shows the user\'s key pairs in the 2.1 shapes', async () => {
    const list = await get('');
    expect(list.status).toBe(200);
    expect(tempestProblems('v2_1/keypairs.list_keypairs', list)).toEqual([]);
    expect(list.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toEqual(expect.arrayContaining(['gen1', 'imported']));
    const show = await get('/imported');
    expect(show.status).toBe(200);
    expect(tempestProblems('v2_1/keypairs.get_keypair', show)).toEqual([]);
    expect(show.body.keypair).toMatchObject({ name: 'imported', deleted: false, deleted_at: null, updated_at: null, user_id: await h.userId('demo') });
    expect(Number.isInteger(show.body.keypair.id)).toBe(true);
  });

  it('keeps key pairs per user: another user neither lists nor sees them', async () => {
    const list = await get('', 'alt');
    expect(list.body.keypairs).toEqual([]);
    const show = await get('/imported', 'alt');
    expect(show.status).toBe(404);
    expect(show.body.itemNotFound.message).toBe(`Keypair imported not found for user ${await h.userId('alt')}`);
  });

  it('refuses a name already used by the same user with 409, but another user may use it', async () => {
    const dup = await post({ keypair: { name: 'imported', public_key: sshPublicKey().line } });
    expect(dup.status).toBe(409);
    expect(dup.body.conflictingRequest.message).toBe("Key pair 'imported' already exists.");
    const other = await post({ keypair: { name: 'imported', public_key: sshPublicKey().line } }, 'alt');
    expect(other.status).toBe(200);
  });

  it.each([
    [{ keypair: { name: 'bad', public_key: 'not a key' } }, 'Keypair data is invalid: failed to generate fingerprint'],
    [{ keypair: { name: 'bad', public_key: 'ssh-rsa AAAA' } }, 'Keypair data is invalid: failed to generate fingerprint'],
    [{ keypair: { name: 'a/b' } }, 'keypair/name'],
    [{ keypair: { name: 'a.b' } }, 'keypair/name'],
    [{ keypair: { name: '' } }, 'keypair/name'],
    [{ keypair: { name: 'x'.repeat(256) } }, 'keypair/name'],
    [{ keypair: { name: 'typed', type: 'ssh' } }, "'type' was unexpected"],
    [{ keypair: {} }, "'name' is a required property"],
    [{}, "'keypair' is a required property"],
  ])('refuses %j with 400 and stores nothing', async (body, message) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain(message);
    const name = (body as { keypair?: { name?: string } }).keypair?.name;
    if (name) expect(await repo.get(await h.userId('demo'), name)).toBeUndefined();
  });

  it('deletes with 202, then the key pair is gone and a second delete is 404', async () => {
    await post({ keypair: { name: 'gone', public_key: sshPublicKey().line } });
    const res = await del('gone');
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    expect(await repo.get(await h.userId('demo'), 'gone')).toBeUndefined();
    expect((await del('gone')).status).toBe(404);
  });

  it('forbids a reader to create or delete key pairs (403), but lets it list', async () => {
    const create = await post({ keypair: { name: 'by-viewer', public_key: sshPublicKey().line } }, 'viewer');
    expect(create.status).toBe(403);
    expect(await repo.get(await h.userId('viewer'), 'by-viewer')).toBeUndefined();
    expect((await del('gen1', 'viewer')).status).toBe(403);
    expect((await get('', 'viewer')).status).toBe(200);
  });

  it('ignores user_id below 2.10 (acts for the caller)', async () => {
    const res = await get(`?user_id=${await h.userId('alt')}`);
    expect(res.status).toBe(200);
    expect(res.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toContain('gen1');
  });
});

describe('from 2.2: type, 201 and 204', () => {
  it('creates with 201 and shows the type everywhere (tempest 2.2 schemas)', async () => {
    const create = await post({ keypair: { name: 'typed-ssh', type: 'ssh', public_key: sshPublicKey().line } }, 'alt', '2.2');
    expect(create.status).toBe(201);
    expect(tempestProblems('v2_2/keypairs.create_keypair', create)).toEqual([]);
    expect(create.body.keypair.type).toBe('ssh');
    const show = await get('/typed-ssh', 'alt', '2.2');
    expect(tempestProblems('v2_2/keypairs.get_keypair', show)).toEqual([]);
    const list = await get('', 'alt', '2.2');
    expect(tempestProblems('v2_2/keypairs.list_keypairs', list)).toEqual([]);
    expect(list.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toContain('typed-ssh');
    expect(list.body.keypairs.every((k: { keypair: { type: string } }) => k.keypair.type === 'ssh')).toBe(true);
  });

  it('imports an X509 certificate with its SHA-1 fingerprint', async () => {
    const res = await post({ keypair: { name: 'cert', type: 'x509', public_key: CERT } }, 'alt', '2.2');
    expect(res.status).toBe(201);
    expect(res.body.keypair).toMatchObject({ type: 'x509', fingerprint: CERT_FINGERPRINT, public_key: CERT });
    const bad = await post({ keypair: { name: 'badcert', type: 'x509', public_key: 'nope' } }, 'alt', '2.2');
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toMatch(/^Keypair data is invalid: failed to generate X509 fingerprint/);
  });

  it('generates an X509 key pair like Tempest\'s v2.2 test asks: a self-signed certificate and its private key', async () => {
    const res = await post({ keypair: { name: 'gen-cert', type: 'x509' } }, 'alt', '2.2');
    expect(res.status).toBe(201);
    expect(tempestProblems('v2_2/keypairs.create_keypair', res)).toEqual([]);
    const cert = new crypto.X509Certificate(res.body.keypair.public_key);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.fingerprint.toLowerCase()).toBe(res.body.keypair.fingerprint);
    const fromPrivate = crypto.createPublicKey(res.body.keypair.private_key).export({ type: 'spki', format: 'pem' });
    expect(fromPrivate).toBe(cert.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 9 * 365 * 24 * 3600 * 1000);
    const show = await get('/gen-cert', 'alt', '2.2');
    expect(show.body.keypair).toMatchObject({ type: 'x509', fingerprint: res.body.keypair.fingerprint });
  });

  it('deletes with 204 and no body', async () => {
    const res = await del('typed-ssh', 'alt', '2.2');
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await repo.get(await h.userId('alt'), 'typed-ssh')).toBeUndefined();
  });
});

describe('from 2.10: admins act for other users', () => {
  it('lets an admin create, list, show and delete another user\'s key pair', async () => {
    const alt = await h.userId('alt');
    const create = await post({ keypair: { name: 'for-alt', user_id: alt, public_key: sshPublicKey().line } }, 'admin', '2.10');
    expect(create.status).toBe(201);
    expect(create.body.keypair.user_id).toBe(alt);
    expect(await repo.get(alt, 'for-alt')).toBeDefined();
    const list = await get(`?user_id=${alt}`, 'admin', '2.10');
    expect(list.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toContain('for-alt');
    expect((await get(`/for-alt?user_id=${alt}`, 'admin', '2.10')).status).toBe(200);
    expect((await del('for-alt', 'admin', '2.10', `?user_id=${alt}`)).status).toBe(204);
    expect(await repo.get(alt, 'for-alt')).toBeUndefined();
  });

  it('forbids a member to name another user (403) but accepts its own id', async () => {
    const alt = await h.userId('alt');
    const res = await get(`?user_id=${alt}`, 'demo', '2.10');
    expect(res.status).toBe(403);
    expect(res.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-keypairs:index to be performed.");
    const create = await post({ keypair: { name: 'sneaky', user_id: alt, public_key: sshPublicKey().line } }, 'demo', '2.10');
    expect(create.status).toBe(403);
    expect(await repo.get(alt, 'sneaky')).toBeUndefined();
    expect((await get(`?user_id=${await h.userId('demo')}`, 'demo', '2.10')).status).toBe(200);
  });
});

describe('from 2.35: paging', () => {
  it('pages by name with limit and marker, and links to the next page', async () => {
    const admin = await h.userId('admin');
    for (const n of ['p-a', 'p-b', 'p-c']) await post({ keypair: { name: n, public_key: sshPublicKey().line } }, 'admin', '2.35');
    const first = await get('?limit=2', 'admin', '2.35');
    expect(first.status).toBe(200);
    expect(first.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toEqual(['p-a', 'p-b']);
    expect(first.body.keypairs_links).toEqual([{ rel: 'next', href: `${PUBLIC_URL}/compute/v2.1/os-keypairs?limit=2&marker=p-b` }]);
    const second = await get('?limit=2&marker=p-b', 'admin', '2.35');
    expect(second.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toEqual(['p-c']);
    expect(second.body.keypairs_links).toBeUndefined();
    const bad = await get('?marker=nope', 'admin', '2.35');
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toBe('Marker nope could not be found.');
    expect(await repo.count(admin)).toBe(3);
  });
});

describe('at 2.92', () => {
  it('requires public_key (no generation) and allows "@" and "." in names', async () => {
    const gen = await post({ keypair: { name: 'no-key' } }, 'admin', '2.92');
    expect(gen.status).toBe(400);
    expect(gen.body.badRequest.message).toContain("'public_key' is a required property");
    const res = await post({ keypair: { name: 'me@host.example', public_key: sshPublicKey().line } }, 'admin', '2.92');
    expect(res.status).toBe(201);
    expect(res.body.keypair.private_key).toBeUndefined();
  });
});

describe('quota', () => {
  it('refuses the key pair beyond key_pairs with 403, and a delete makes room again', async () => {
    // The viewer cannot write and alt has its own pairs; use a fresh count on demo.
    const demo = await h.userId('demo');
    while ((await repo.count(demo)) < 4) await post({ keypair: { name: `q${await repo.count(demo)}`, public_key: sshPublicKey().line } });
    const over = await post({ keypair: { name: 'one-too-many', public_key: sshPublicKey().line } });
    expect(over.status).toBe(403);
    expect(over.body.forbidden.message).toBe('Quota exceeded, too many key pairs.');
    expect(await repo.count(demo)).toBe(4);
    expect((await del('imported')).status).toBe(202);
    expect((await post({ keypair: { name: 'one-too-many', public_key: sshPublicKey().line } })).status).toBe(200);
  });

  it('holds under concurrent creates: never more than the quota', async () => {
    const admin = await h.userId('admin');
    const before = await repo.count(admin);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => post({ keypair: { name: `c${i}`, public_key: sshPublicKey().line } }, 'admin')));
    expect(await repo.count(admin)).toBe(4);
    expect(results.filter((r) => r.status === 200)).toHaveLength(4 - before);
    expect(results.filter((r) => r.status === 403)).toHaveLength(6 - (4 - before));
  });
});
