/**
 * Contract §10 S1–S3 with the Debian clients and plain HTTP: logging in by password and by token,
 * the catalog, version discovery, microversion negotiation, and flavors.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { escapeRe, json, lines, ok, tableRow, transcript } from './support';

jest.setTimeout(120_000);

let srv: StartedServer;
beforeAll(async () => {
  srv = await startServer();
}, 180_000);
afterAll(async () => {
  await srv?.cleanup();
});

describe('S1: authentication, catalog and versions with the openstack CLI', () => {
  it('token issue prints the project id and user id the server issued the token for', async () => {
    const r = ok(await openstack(['token', 'issue', '-f', 'value', '-c', 'project_id', '-c', 'user_id'], srv.env.admin));
    const login = await srv.login('admin');
    expect(lines(r)).toEqual([login.projectId, login.userId]);
  });

  it('a token from token issue authenticates the next command by itself, and once revoked it no longer does', async () => {
    const token = ok(await openstack(['token', 'issue', '-f', 'value', '-c', 'id'], srv.env.admin)).stdout.trim();
    expect(token.length).toBeGreaterThan(20);
    const { OS_USERNAME: _u, OS_PASSWORD: _p, OS_USER_DOMAIN_NAME: _d, ...rest } = srv.env.admin;
    const tokenEnv = { ...rest, OS_AUTH_TYPE: 'token', OS_TOKEN: token };

    const flavors = ok(await openstack(['flavor', 'list', '-f', 'value', '-c', 'Name'], tokenEnv));
    expect(lines(flavors)).toEqual(expect.arrayContaining(['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge']));

    ok(await openstack(['token', 'revoke', token], srv.env.admin));
    const after = await openstack(['flavor', 'list'], tokenEnv);
    expect(after.code).toBe(1);
    expect(after.stdout + after.stderr).toMatch(/HTTP 401|requires authentication/);
  });

  it('a wrong password is refused with Keystone\'s 401 message, a request id, and exit status 1', async () => {
    const r = await openstack(['server', 'list'], { ...srv.env.admin, OS_PASSWORD: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/The request you have made requires authentication\. \(HTTP 401\) \(Request-ID: req-[0-9a-f-]{36}\)/);
  });

  it('catalog list shows identity, compute and image with public, internal and admin URLs in RegionOne', async () => {
    const r = ok(await openstack(['catalog', 'list'], srv.env.admin));
    const paths: Record<string, string> = { identity: '/identity', compute: '/compute/v2.1', image: '/image' };
    for (const [type, p] of Object.entries(paths)) {
      expect(r.stdout).toMatch(new RegExp(`\\| \\S+\\s+\\| ${type}\\s+\\|`));
      for (const iface of ['public', 'internal', 'admin']) expect(r.stdout).toMatch(new RegExp(`${iface}: ${escapeRe(srv.url + p)}\\s*\\|`));
    }
    expect(r.stdout).toContain('RegionOne');
  });

  it('versions show lists identity 3.14, compute 2.1 with its microversion range, and image v2 at …/image/v2/', async () => {
    type Row = { 'Region Name': string; 'Service Type': string; Version: string; Status: string; Endpoint: string; 'Min Microversion': string | null; 'Max Microversion': string | null };
    const rows = json<Row[]>(await openstack(['versions', 'show', '-f', 'json'], srv.env.admin));
    const compute = (await (await fetch(`${srv.url}/compute/v2.1`)).json()) as { version: { version: string } };

    expect(rows).toEqual(expect.arrayContaining([
      expect.objectContaining({ 'Service Type': 'identity', Version: '3.14', Status: 'CURRENT' }),
      expect.objectContaining({ 'Service Type': 'compute', Version: '2.1', Status: 'CURRENT', 'Min Microversion': '2.1', 'Max Microversion': compute.version.version }),
      expect.objectContaining({ 'Service Type': 'image', Status: 'CURRENT', Endpoint: `${srv.url}/image/v2/` }),
    ]));
    for (const img of rows.filter((x) => x['Service Type'] === 'image')) expect(img.Version).toMatch(/^2\.\d+$/);
  });
});

describe('S2: raw Keystone, discovery and microversion negotiation over HTTP', () => {
  const passwordAuth = () => ({
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'admin', domain: { name: 'Default' }, password: srv.passwords.admin } } },
      scope: { project: { name: 'admin', domain: { name: 'Default' } } },
    },
  });

  it('GET /identity/v3 answers without a token with the v3.14 version document', async () => {
    const res = await fetch(`${srv.url}/identity/v3`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { version: { id: string; status: string; links: { rel: string; href: string }[] } };
    expect(body.version).toMatchObject({ id: 'v3.14', status: 'stable' });
    expect(body.version.links).toContainEqual({ rel: 'self', href: `${srv.url}/identity/v3/` });
  });

  it('GET /identity and GET /image answer 300 Multiple Choices', async () => {
    expect((await fetch(`${srv.url}/identity`)).status).toBe(300);
    expect((await fetch(`${srv.url}/image`)).status).toBe(300);
  });

  it('POST /identity/v3/auth/tokens answers 201 with the token only in X-Subject-Token', async () => {
    const res = await fetch(`${srv.url}/identity/v3/auth/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(passwordAuth()) });
    expect(res.status).toBe(201);
    const token = res.headers.get('x-subject-token');
    expect(token).toBeTruthy();
    const body = (await res.json()) as { token: { expires_at: string } };
    expect(JSON.stringify(body)).not.toContain(token as string);
    expect(body.token.expires_at).toMatch(/Z$/);
  });

  it('GET /compute/v2.1 answers without a token: id v2.1, min_version 2.1 and a max version', async () => {
    const res = await fetch(`${srv.url}/compute/v2.1`);
    expect(res.status).toBe(200);
    const { version } = (await res.json()) as { version: { id: string; min_version: string; version: string } };
    expect(version.id).toBe('v2.1');
    expect(version.min_version).toBe('2.1');
    expect(version.version).toMatch(/^2\.\d+$/);
  });

  it('a microversion out of range gets 406; an accepted one is echoed in both headers with Vary naming both', async () => {
    const { token } = await srv.login('admin');
    const tooHigh = await fetch(`${srv.url}/compute/v2.1/servers`, { headers: { 'X-Auth-Token': token, 'OpenStack-API-Version': 'compute 2.999' } });
    expect(tooHigh.status).toBe(406);

    const res = await fetch(`${srv.url}/compute/v2.1/servers`, { headers: { 'X-Auth-Token': token, 'X-OpenStack-Nova-API-Version': '2.47' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('openstack-api-version')).toBe('compute 2.47');
    expect(res.headers.get('x-openstack-nova-api-version')).toBe('2.47');
    const vary = (res.headers.get('vary') ?? '').toLowerCase();
    expect(vary).toContain('openstack-api-version');
    expect(vary).toContain('x-openstack-nova-api-version');
  });

  it('--os-compute-api-version 2.latest works when 2.92 is advertised, and says why not otherwise', async () => {
    const { version } = ((await (await fetch(`${srv.url}/compute/v2.1`)).json()) as { version: { version: string } });
    const r = await openstack(['--os-compute-api-version', '2.latest', 'server', 'list', '-f', 'value', '-c', 'Name'], srv.env.admin);
    if (Number(version.version.split('.')[1]) >= 92) {
      expect(r.code).toBe(0);
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Version 2.92 is not supported by the API. Minimum is 2.1 and maximum is ${version.version}. (HTTP 406)`);
    }
  });
});

describe('S3: flavors', () => {
  it('flavor list shows Nova\'s classic sizes in the OSC table', async () => {
    const r = ok(await openstack(['flavor', 'list'], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('ID', 'Name', 'RAM', 'Disk', 'Ephemeral', 'VCPUs', 'Is Public'));
    expect(r.stdout).toMatch(tableRow('1', 'm1.tiny', '512', '1', '0', '1', 'True'));
    expect(r.stdout).toMatch(tableRow('5', 'm1.xlarge', '16384', '160', '0', '8', 'True'));
  });

  it('flavor show by name prints ram and vcpus', async () => {
    const r = ok(await openstack(['flavor', 'show', 'm1.tiny', '-f', 'value', '-c', 'ram', '-c', 'vcpus'], srv.env.admin));
    expect(lines(r)).toEqual(['512', '1']);
  });

  it('a flavor that does not exist is reported by name, with exit status 1', async () => {
    const r = await openstack(['flavor', 'show', 'm1.nosuch'], srv.env.admin);
    expect(r.code).toBe(1);
    expect(transcript(r)).toMatch(/m1\.nosuch/);
  });
});

describe("issue 18: the identity directory and flavor access as the dashboard's admin pages use them", () => {
  it('users, role assignments and one\'s own projects list; a private flavor given to demo is demo\'s; identity writes are refused', async () => {
    expect(lines(ok(await openstack(['user', 'list', '-f', 'value', '-c', 'Name'], srv.env.admin)))).toEqual(expect.arrayContaining(['admin', 'demo']));
    const assignments = ok(await openstack(['role', 'assignment', 'list', '--names', '--project', 'demo', '--project-domain', 'Default', '-f', 'value', '-c', 'Role', '-c', 'User'], srv.env.admin));
    expect(lines(assignments)).toContain('member demo@Default');
    // --my-projects reads GET /v3/users/{id}/projects, as Horizon's login does.
    expect(lines(ok(await openstack(['project', 'list', '--my-projects', '-f', 'value', '-c', 'Name'], srv.env.demo)))).toEqual(['demo']);

    ok(await openstack(['flavor', 'create', '--private', '--project', 'demo', '--project-domain', 'Default', '--ram', '64', '--vcpus', '1', '--disk', '0', 'e2e.private'], srv.env.admin));
    try {
      expect(lines(ok(await openstack(['flavor', 'show', 'e2e.private', '-f', 'value', '-c', 'name'], srv.env.demo)))).toEqual(['e2e.private']);
    } finally {
      ok(await openstack(['flavor', 'delete', 'e2e.private'], srv.env.admin));
    }

    const refused = await openstack(['project', 'create', 'e2e-new'], srv.env.admin);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/identity directory is read-only.*\(HTTP 403\)/);
  });
});
