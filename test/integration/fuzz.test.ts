/**
 * Bounded fuzzing of every endpoint: generated and mutated requests (wrong types, missing and
 * extra fields, huge strings, unicode, bad UUIDs, bad headers, bad json-patch) against the real
 * app on a loopback port. Whatever comes in: no 5xx, no crash, and every error is JSON in the
 * OpenStack shape of its API. The run is bounded by count (FUZZ_RUNS, default 10,000).
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { makeTestApp, PASSWORDS, TestApp } from '../helpers/app';
import { answerMalformedRequests } from '../../src/http/client-error';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { parseExposition } from '../helpers/prometheus';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer | string;
}

let t: TestApp;
let server: http.Server;
let base: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const ids = { server: '', image: '', imageQueued: '', flavor: '1', keypair: 'fuzzkey', serverGroup: '', project: '' };
const tokens: Record<string, string> = {};
// issue 17 (net-core): demo's network, subnet and port to aim at
const netIds = { network: '', subnet: '', port: '' };

function send(req: FuzzRequest): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    // Frame every body explicitly: Node does not chunk a GET/DELETE body by default, and unframed
    // bytes would be read as the next request on the kept-alive socket.
    const headers = req.body === undefined ? req.headers : { ...req.headers, 'Content-Length': String(Buffer.byteLength(req.body)) };
    const r = http.request(`${base}${req.path}`, { method: req.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.setTimeout(15_000, () => r.destroy(new Error(`timeout: ${req.method} ${req.path}`)));
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** The OpenStack error shape of the API a path belongs to. */
function checkErrorShape(path: string, status: number, contentType: string | undefined, body: string): string | undefined {
  if (!contentType || !contentType.startsWith('application/json')) return `content-type ${contentType}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'body is not JSON';
  }
  const o = parsed as Record<string, unknown>;
  if (path.startsWith('/compute')) {
    const keys = Object.keys(o);
    const inner = o[keys[0]] as Record<string, unknown> | undefined;
    if (keys.length !== 1 || typeof inner !== 'object' || inner === null || inner.code !== status || typeof inner.message !== 'string') return `not a Nova fault: ${body.slice(0, 200)}`;
  } else if (path.startsWith('/networking')) {
    // issue 17: Neutron's {"NeutronError": {type, message, detail}}
    const n = o.NeutronError as Record<string, unknown> | undefined;
    if (!n || typeof n.type !== 'string' || typeof n.message !== 'string' || typeof n.detail !== 'string') return `not a NeutronError: ${body.slice(0, 200)}`;
  } else if (path.startsWith('/image')) {
    // Glance's flat JSON for Accept: application/json, nested under "error" otherwise (glanceclient).
    const g = (typeof o.error === 'object' && o.error !== null ? o.error : o) as Record<string, unknown>;
    if (typeof g.message !== 'string' || typeof g.code !== 'string' || !String(g.code).startsWith(String(status))) return `not a Glance error: ${body.slice(0, 200)}`;
  } else {
    const e = o.error as Record<string, unknown> | undefined;
    if (!e || e.code !== status || typeof e.message !== 'string' || typeof e.title !== 'string') return `not a Keystone error: ${body.slice(0, 200)}`;
  }
  return undefined;
}

// ---- arbitraries -----------------------------------------------------------------------------

/** Percent-encodes anything, lone surrogates included (replaced, as a browser would). */
const enc = (s: string) => encodeURIComponent(s.toWellFormed());

const hugeString = fc.integer({ min: 256, max: 70_000 }).map((n) => 'x'.repeat(n));
const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  hugeString,
  fc.constantFrom('', ' ', '../../etc/passwd', '%00', '\u0000', '\ud800', '🙂'.repeat(300), "' OR 1=1 --", '${jndi:x}', '.*', '(', '[a-', 'null', 'true', '-1', '1e999', 'NaN'),
);
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 3 }), nastyString, fc.integer(), fc.double(), fc.constant(null), fc.boolean());

const idLike = fc.oneof(
  fc.constant('REAL'),
  fc.uuid(),
  nastyString.map((s) => enc(s).slice(0, 3000)),
  fc.constantFrom('-1', '0', 'detail', '%2e%2e', '%ZZ', '%C0%AF', '%', '%00', 'ffffffff-ffff-ffff-ffff-fffffffffffff', 'None', 'null'),
);

/** Mutates a valid object: drop a key, retype a key, add an unknown key, or replace it whole. */
function mutated(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  type M = (o: Record<string, unknown>) => Record<string, unknown>;
  const addKey: fc.Arbitrary<M> = fc.tuple(nastyString, anyJson).map(([k, v]) => (o) => ({ ...o, [k.slice(0, 300)]: v }));
  const mutation: fc.Arbitrary<M> = keys.length === 0 ? fc.oneof(fc.constant((o: Record<string, unknown>) => o), addKey) : fc.oneof(
    fc.constant((o: Record<string, unknown>) => o),
    fc.constantFrom(...keys).map((k): M => (o) => { const c = { ...o }; delete c[k]; return c; }),
    fc.tuple(fc.constantFrom(...keys), anyJson).map(([k, v]): M => (o) => ({ ...o, [k]: v })),
    addKey,
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => ms.reduce((o, m) => m(o), valid)) },
    { weight: 1, arbitrary: anyJson },
  );
}

/** Nested mutation: the wrapper key ("server", "image", …) stays, the inside is mutated. */
const wrapped = (key: string, inner: Record<string, unknown>) => fc.oneof(
  { weight: 4, arbitrary: mutated(inner).map((v) => ({ [key]: v })) },
  { weight: 1, arbitrary: mutated({ [key]: inner }) },
);

const bodyText = (body: fc.Arbitrary<unknown>) => fc.oneof(
  { weight: 8, arbitrary: body.map((b) => JSON.stringify(b) ?? 'null') },
  { weight: 1, arbitrary: fc.constantFrom('{', '{"server": ', '[', 'not json', '', '\u0000\u0001', '{"a":1}{"b":2}', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {}}}') },
  { weight: 1, arbitrary: nastyString },
);

const contentTypes = fc.constantFrom(
  'application/json', 'application/json', 'application/json', 'application/json; charset=utf-8',
  'text/plain', 'application/xml', '', 'application/octet-stream', 'multipart/form-data; boundary=x', '*/*',
);
const patchTypes = fc.constantFrom(
  'application/openstack-images-v2.1-json-patch', 'application/openstack-images-v2.0-json-patch',
  'application/json-patch+json', 'application/json', 'text/plain',
);
const microversion = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('2.1', '2.37', '2.47', '2.73', '2.92', 'latest', '2.93', '3.0', '1.9', '2', 'x.y', '2.1.1', '', ' 2.5 ', '02.010', 'compute 2.5'),
  // Header values as a client can send them: visible ASCII (Node refuses the rest before sending).
  fc.stringMatching(/^[\x21-\x7e]{0,100}$/),
);
// Mostly valid tokens, so most requests reach the handlers; some bad ones everywhere.
const tokenChoice = fc.constantFrom('admin', 'admin', 'admin', 'demo', 'demo', 'demo', 'demo', 'demo', 'alt', 'viewer', 'none', 'garbage', 'tampered');

const serverBody = {
  name: 'fuzz', imageRef: 'IMAGE', flavorRef: '1', networks: 'none', metadata: { a: 'b' },
  min_count: 1, max_count: 1, accessIPv4: '10.0.0.1', adminPass: 'x', user_data: 'aGVsbG8=', availability_zone: 'nova', key_name: 'fuzzkey',
};
const imageBody = { name: 'fuzz', container_format: 'bare', disk_format: 'raw', visibility: 'private', tags: ['a'], min_ram: 0, protected: false, custom: 'v' };
const actionBodies: Record<string, unknown> = {
  'os-start': null, 'os-stop': null, reboot: { type: 'SOFT' }, pause: null, unpause: null, suspend: null, resume: null,
  'os-getConsoleOutput': { length: 5 }, createImage: { name: 'snap', metadata: { a: 'b' } }, rebuild: { imageRef: 'IMAGE', name: 'r' },
  lock: null, unlock: null, forceDelete: null, 'os-resetState': { state: 'active' }, bogusAction: {},
  shelve: null, shelveOffload: null, unshelve: { availability_zone: 'nova', host: 'fake-host' },
  // resize (issue 15)
  resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'AUTO' },
  'os-getSerialConsole': { type: 'serial' }, 'os-getVNCConsole': { type: 'novnc' }, // issue 15
};

const actionBody = fc.constantFrom(...Object.keys(actionBodies)).chain((k) => {
  const v = actionBodies[k];
  const inner = v && typeof v === 'object' ? mutated(v as Record<string, unknown>) : fc.oneof(fc.constant(v), anyJson);
  return fc.oneof({ weight: 4, arbitrary: inner.map((b) => ({ [k]: b })) }, { weight: 1, arbitrary: mutated({ [k]: v }) });
});

const patchBody = fc.array(fc.oneof(
  fc.record({ op: fc.constantFrom('add', 'replace', 'remove', 'move', 'copy', 'test', 'bogus'), path: fc.oneof(fc.constantFrom('/name', '/tags', '/min_ram', '/protected', '/status', '/id', '/visibility', '/owner', '/x', '/a/b', '', '/', '/checksum', '/size'), nastyString.map((s) => `/${s.slice(0, 300)}`)), value: anyJson }, { requiredKeys: [] }),
  fc.record({ replace: fc.constantFrom('/name', '/x', '/tags'), value: anyJson }, { requiredKeys: [] }),
  anyJson,
), { maxLength: 4 });

const query = (keys: string[]) => fc.dictionary(fc.oneof(fc.constantFrom(...keys), nastyString.map((s) => s.slice(0, 50))), nastyString.map((s) => s.slice(0, 2000)), { maxKeys: 4 })
  .map((q) => {
    const s = Object.entries(q).map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
    return s ? `?${s}` : '';
  });

type Shape = { method: fc.Arbitrary<string>; path: fc.Arbitrary<string>; body?: fc.Arbitrary<string>; ctype?: fc.Arbitrary<string> };
const GET = fc.constant('GET');
const shapes: Shape[] = [
  // identity
  { method: fc.constant('POST'), path: fc.constant('/identity/v3/auth/tokens'), body: bodyText(wrapped('auth', { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'x' } } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } })) },
  { method: fc.constantFrom('GET', 'HEAD', 'DELETE'), path: fc.constant('/identity/v3/auth/tokens') },
  { method: fc.constantFrom('GET', 'POST', 'PUT'), path: fc.constantFrom('/identity', '/identity/v3', '/identity/v3/users', '/identity/v3/auth/tokens/x') },
  // issue 18: Keystone's directory reads (filters as the dashboard sends them) and the refused writes
  { method: GET, path: fc.tuple(fc.constantFrom('users', 'roles', 'domains', 'groups', 'projects', 'role_assignments', 'auth/projects', 'auth/domains', 'auth/system'),
    query(['name', 'domain_id', 'enabled', 'default_project_id', 'user.id', 'scope.project.id', 'role.id', 'group.id', 'scope.domain.id', 'effective', 'include_names', 'include_subtree'])).map(([c, q]) => `/identity/v3/${c}${q}`) },
  { method: GET, path: fc.tuple(fc.constantFrom('users', 'users/ID/projects', 'users/ID/groups', 'roles', 'domains'), idLike).map(([c, id]) => `/identity/v3/${c.includes('ID') ? c.replace('ID', enc(id)) : `${c}/${enc(id)}`}`) },
  { method: fc.constantFrom('POST', 'PATCH', 'DELETE', 'PUT'), path: fc.tuple(fc.constantFrom('projects', 'users', 'domains', 'roles'), idLike).map(([c, id]) => `/identity/v3/${c}/${enc(id)}`), body: bodyText(wrapped('project', { name: 'p', enabled: true })) },
  // identity: issue 18 part 4 (update user: enabled; never a real user's id, so that the run's tokens keep working)
  { method: fc.constantFrom('PATCH', 'PATCH', 'GET'), path: idLike.filter((id) => id !== 'REAL').map((id) => `/identity/v3/users/${id}`), body: bodyText(wrapped('user', { enabled: true })) },
  // image
  { method: GET, path: query(['name', 'status', 'visibility', 'owner', 'tag', 'limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'os_hidden', 'size_min', 'size_max', 'container_format', 'disk_format', 'member_status', 'id', 'created_at', 'protected']).map((q) => `/image/v2/images${q}`) },
  { method: fc.constant('POST'), path: fc.constant('/image/v2/images'), body: bodyText(mutated(imageBody)) },
  { method: fc.constantFrom('GET', 'DELETE', 'PUT', 'POST'), path: idLike.map((id) => `/image/v2/images/${id === 'REAL' ? ids.image : id}`) },
  { method: fc.constant('PATCH'), path: idLike.map((id) => `/image/v2/images/${id === 'REAL' ? ids.image : id}`), body: bodyText(patchBody), ctype: patchTypes },
  { method: fc.constantFrom('PUT', 'GET'), path: idLike.map((id) => `/image/v2/images/${id === 'REAL' ? ids.imageQueued : id}/file`), body: nastyString, ctype: fc.constantFrom('application/octet-stream', 'application/json', 'text/plain') },
  { method: fc.constantFrom('PUT', 'DELETE'), path: fc.tuple(idLike, nastyString).map(([id, tag]) => `/image/v2/images/${id === 'REAL' ? ids.image : id}/tags/${enc(tag.slice(0, 400))}`) },
  { method: fc.constant('POST'), path: fc.tuple(idLike, fc.constantFrom('deactivate', 'reactivate', 'bogus')).map(([id, a]) => `/image/v2/images/${id === 'REAL' ? ids.image : id}/actions/${a}`) },
  { method: GET, path: fc.constantFrom('/image', '/image/versions', '/image/v2/schemas/image', '/image/v2/schemas/images', '/image/v2/schemas/bogus', '/image/v2/images/', '/image/v2/info/import') },
  // issue 18: metadef resource types and single namespaces (none loaded), volume attachments (none)
  { method: GET, path: fc.tuple(fc.constantFrom('/image/v2/metadefs/resource_types', '/image/v2/metadefs/namespaces/NS', '/image/v2/metadefs/namespaces/NS/resource_types'), nastyString).map(([p, ns]) => p.replace('NS', enc(ns.slice(0, 300)))) },
  { method: fc.constantFrom('GET', 'DELETE', 'POST'), path: fc.tuple(idLike, fc.constantFrom('', '/VOL'), nastyString, query(['limit', 'offset'])).map(([id, sub, v, q]) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/os-volume_attachments${sub.replace('VOL', `/${enc(v.slice(0, 200))}`)}${q}`) },
  { method: fc.constantFrom('GET', 'POST'), path: fc.tuple(fc.constantFrom('/image/v2/metadefs/namespaces', '/image/v2/schemas/metadefs/namespaces', '/image/v2/schemas/metadefs/tag'), query(['limit', 'marker', 'sort_dir', 'sort_key', 'visibility', 'resource_types'])).map(([p, q]) => `${p}${q}`) },
  // compute
  { method: GET, path: fc.tuple(fc.constantFrom('/servers', '/servers/detail'), query(['name', 'status', 'image', 'flavor', 'changes-since', 'ip', 'all_tenants', 'limit', 'marker', 'sort_key', 'sort_dir', 'tenant_id', 'deleted', 'vm_state'])).map(([p, q]) => `/compute/v2.1${p}${q}`) },
  { method: fc.constant('POST'), path: fc.constant('/compute/v2.1/servers'), body: bodyText(wrapped('server', serverBody)) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}`), body: bodyText(wrapped('server', { name: 'n', accessIPv4: '1.2.3.4', accessIPv6: '::1', description: 'd' })) },
  { method: fc.constant('POST'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/action`), body: bodyText(actionBody) },
  { method: fc.constantFrom('GET', 'POST', 'PUT'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/metadata`), body: bodyText(wrapped('metadata', { a: 'b', c: 'd' })) },
  // serial console (issue 15)
  { method: fc.constantFrom('POST', 'GET'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/remote-consoles`), body: bodyText(wrapped('remote_console', { protocol: 'serial', type: 'serial' })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(idLike, nastyString).map(([id, k]) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/metadata/${enc(k.slice(0, 400))}`), body: bodyText(wrapped('meta', { a: 'b' })) },
  // issue 15: server tags (the microversion arbitrary reaches 2.26+ often enough).
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/tags`), body: bodyText(mutated({ tags: ['a', 'b'] })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(idLike, nastyString).map(([id, tag]) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/tags/${enc(tag.slice(0, 400))}`), body: bodyText(anyJson) },
  { method: fc.constantFrom('GET', 'DELETE', 'POST'), path: idLike.map((id) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/os-server-password`) },
  { method: fc.constantFrom('GET', 'POST', 'PUT'), path: idLike.map((id) => `/compute/v2.1/images/${id === 'REAL' ? ids.image : id}/metadata`), body: bodyText(wrapped('metadata', { a: 'b' })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(idLike, nastyString).map(([id, k]) => `/compute/v2.1/images/${id === 'REAL' ? ids.image : id}/metadata/${enc(k.slice(0, 400))}`), body: bodyText(wrapped('meta', { a: 'b' })) },
  { method: GET, path: fc.tuple(idLike, fc.constantFrom('ips', 'ips/private', 'os-instance-actions', 'os-instance-actions/req-x', 'diagnostics', 'bogus')).map(([id, s]) => `/compute/v2.1/servers/${id === 'REAL' ? ids.server : id}/${s}`) },
  { method: GET, path: fc.tuple(fc.constantFrom('/flavors', '/flavors/detail'), query(['is_public', 'minRam', 'minDisk', 'limit', 'marker', 'sort_key', 'sort_dir'])).map(([p, q]) => `/compute/v2.1${p}${q}`) },
  { method: fc.constantFrom('GET', 'DELETE'), path: idLike.map((id) => `/compute/v2.1/flavors/${id === 'REAL' ? ids.flavor : id}`) },
  { method: fc.constant('POST'), path: fc.constant('/compute/v2.1/flavors'), body: bodyText(wrapped('flavor', { name: 'f', ram: 64, vcpus: 1, disk: 1, id: 'fz', 'os-flavor-access:is_public': true })) },
  { method: fc.constantFrom('GET', 'POST'), path: idLike.map((id) => `/compute/v2.1/flavors/${id === 'REAL' ? ids.flavor : id}/os-extra_specs`), body: bodyText(wrapped('extra_specs', { k: 'v' })) },
  { method: fc.constantFrom('GET', 'POST'), path: fc.constant('/compute/v2.1/os-keypairs'), body: bodyText(wrapped('keypair', { name: 'k', public_key: 'ssh-rsa AAAA', type: 'ssh' })) },
  { method: fc.constantFrom('GET', 'DELETE'), path: idLike.map((id) => `/compute/v2.1/os-keypairs/${id === 'REAL' ? ids.keypair : id}`) },
  { method: GET, path: query(['all_projects', 'limit', 'offset']).map((q) => `/compute/v2.1/os-server-groups${q}`) },
  { method: fc.constant('POST'), path: fc.constant('/compute/v2.1/os-server-groups'), body: bodyText(wrapped('server_group', { name: 'g', policies: ['anti-affinity'], policy: 'anti-affinity', rules: { max_server_per_host: 2 } })) },
  { method: fc.constantFrom('GET', 'DELETE'), path: idLike.map((id) => `/compute/v2.1/os-server-groups/${id === 'REAL' ? ids.serverGroup : id}`) },
  // quotas (issue 15)
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(idLike, fc.constantFrom('', '/defaults', '/detail', '/bogus'), query(['user_id', 'force'])).map(([id, s, q]) => `/compute/v2.1/os-quota-sets/${id === 'REAL' ? ids.project : id}${s}${q}`), body: bodyText(wrapped('quota_set', { instances: 50, cores: '100', ram: -1, key_pairs: 100, force: 'True' })) },
  { method: fc.constantFrom('GET', 'PUT'), path: fc.oneof(fc.constant('default'), nastyString.map((s) => enc(s.slice(0, 300)))).map((c) => `/compute/v2.1/os-quota-class-sets/${c}`), body: bodyText(wrapped('quota_class_set', { instances: 50, cores: 100, metadata_items: '128' })) },
  { method: fc.constantFrom('GET', 'POST'), path: fc.tuple(fc.constantFrom('', '/REAL', '/bogus'), query(['start', 'end', 'detailed', 'limit', 'marker'])).map(([p, q]) => `/compute/v2.1/os-simple-tenant-usage${p.replace('REAL', ids.project)}${q}`) },
  // issue 17 (net-secgroups): security groups and rules, Neutron's list parameters
  { method: GET, path: fc.tuple(fc.constantFrom('security-groups', 'security-group-rules'), query(['fields', 'name', 'id', 'sort_key', 'sort_dir', 'limit', 'marker', 'protocol', 'direction'])).map(([c, q]) => `/networking/v2.0/${c}${q}`) },
  { method: fc.constant('POST'), path: fc.constant('/networking/v2.0/security-groups'), body: bodyText(wrapped('security_group', { name: 'g', description: 'd', stateful: true })) },
  { method: fc.constant('POST'), path: fc.constant('/networking/v2.0/security-group-rules'), body: bodyText(wrapped('security_group_rule', { security_group_id: 'x', direction: 'ingress', protocol: 'tcp', port_range_min: 1, port_range_max: 2, ethertype: 'IPv4', remote_ip_prefix: '10.230.0.0/16' })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(fc.constantFrom('security-groups', 'security-group-rules'), idLike).map(([c, id]) => `/networking/v2.0/${c}/${enc(id)}`), body: bodyText(wrapped('security_group', { name: 'n', description: 'd' })) },
  { method: fc.constantFrom('GET', 'DELETE', 'POST'), path: idLike.map((id) => `/compute/v2.1/os-security-groups/${enc(id)}`), body: bodyText(wrapped('security_group', { name: 'n', description: 'd' })) },
  // issue 17 (net-router): the compute API's floating IP proxy
  { method: fc.constantFrom('GET', 'DELETE', 'POST'), path: idLike.map((id) => `/compute/v2.1/os-floating-ips/${enc(id)}`), body: bodyText(mutated({ pool: 'public' })) },
  { method: fc.constant('POST'), path: fc.constant('/compute/v2.1/os-floating-ips'), body: bodyText(mutated({ pool: 'public' })) },
  // issue 17 (net-core): networks, subnets, ports, network quotas
  { method: GET, path: fc.tuple(fc.constantFrom('networks', 'subnets', 'ports'), query(['name', 'fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse', 'shared', 'router:external', 'network_id', 'device_id', 'fixed_ips', 'admin_state_up', 'id', 'cidr'])).map(([c, q]) => `/networking/v2.0/${c}${q}`) },
  { method: fc.constant('POST'), path: fc.constant('/networking/v2.0/networks'), body: bodyText(wrapped('network', { name: 'fz', admin_state_up: true, shared: false, mtu: 1500, description: 'd', 'router:external': false })) },
  { method: fc.constant('POST'), path: fc.constant('/networking/v2.0/subnets'), body: bodyText(wrapped('subnet', { network_id: 'NETWORK_ID', ip_version: 4, cidr: '10.210.90.0/24', gateway_ip: '10.210.90.1', allocation_pools: [{ start: '10.210.90.10', end: '10.210.90.20' }], dns_nameservers: ['10.210.90.53'], host_routes: [{ destination: '10.211.0.0/16', nexthop: '10.210.90.2' }], enable_dhcp: true })) },
  { method: fc.constant('POST'), path: fc.constant('/networking/v2.0/ports'), body: bodyText(wrapped('port', { network_id: 'NETWORK_ID', name: 'p', fixed_ips: [{ ip_address: '10.210.91.5' }], security_groups: [], port_security_enabled: false, mac_address: 'fa:16:3e:00:00:01' })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(fc.constantFrom('network', 'subnet', 'port'), idLike, query(['fields'])).map(([c, id, q]) => `/networking/v2.0/${c}s/${id === 'REAL' ? netIds[c] : enc(id)}${q}`), body: bodyText(wrapped('network', { name: 'n', fixed_ips: [{ ip_address: '10.210.91.6' }], gateway_ip: null, allocation_pools: [] })) },
  { method: fc.constantFrom('GET', 'PUT', 'DELETE'), path: fc.tuple(idLike, fc.constantFrom('', '/default', '/details', '/bogus')).map(([id, sub]) => `/networking/v2.0/quotas/${id === 'REAL' ? ids.project : enc(id)}${sub}`), body: bodyText(wrapped('quota', { network: 50, port: '10', subnet: -1, force: true })) },
  { method: fc.constantFrom('GET', 'POST'), path: fc.constantFrom('/networking', '/networking/v2.0', '/networking/v2.0/extensions', '/networking/v2.0/extensions/quotas', '/networking/v2.0/bogus', '/networking/v2.0/networks.json') },
  { method: GET, path: fc.constantFrom('/compute/v2.1/limits', '/compute/v2.1/os-availability-zone', '/compute/v2.1/os-availability-zone/detail', '/compute/v2.1/os-networks', '/compute/v2.1/os-security-groups', '/compute/v2.1/os-floating-ips', '/compute/v2.1/os-floating-ip-pools', '/compute/v2.1/os-hypervisors', '/compute/v2.1/os-hypervisors/detail', '/compute/v2.1/images', '/compute/v2.1/images/detail', '/compute', '/compute/v2.1', '/compute/v2.1/bogus') },
];

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.constantFrom(...shapes).chain((s) =>
  fc.record({
    method: s.method,
    path: s.path,
    body: s.body ? fc.option(s.body, { nil: undefined, freq: 8 }) : fc.constant(undefined),
    ctype: s.ctype ?? contentTypes,
    token: tokenChoice,
    mv: microversion,
    mvHeader: fc.constantFrom('X-OpenStack-Nova-API-Version', 'OpenStack-API-Version'),
    extraHeader: fc.option(fc.tuple(fc.constantFrom('Accept', 'X-Fuzz-Length', 'X-Subject-Token', 'X-Fuzz', 'x-openstack-image-size'), nastyString.map((v) => v.replace(/[^\x20-\x7e]/g, '').slice(0, 200))), { nil: undefined }),
  }).map((r) => {
    const headers: Record<string, string> = { 'Content-Type': r.ctype };
    if (r.token !== 'none') headers['X-Auth-Token'] = r.token === 'garbage' ? 'gAAAAAB-not-a-token' : r.token === 'tampered' ? `${tokens.demo.slice(0, -4)}AAAA` : tokens[r.token];
    if (r.mv !== undefined) headers[r.mvHeader] = r.mvHeader === 'OpenStack-API-Version' ? `compute ${r.mv}` : r.mv;
    if (r.extraHeader) headers[r.extraHeader[0]] = r.extraHeader[1];
    // A sacrificial token: DELETE /v3/auth/tokens may revoke it, never the ones the run relies on.
    headers['X-Subject-Token'] ??= tokens.subject;
    let body: string | undefined = r.body;
    if (body !== undefined) body = body.replace(/IMAGE/g, ids.image);
    if (body !== undefined) body = body.replace(/NETWORK_ID/g, netIds.network); // issue 17 (net-core)
    return { method: r.method, path: r.path, headers, body };
  }),
);

// ---- the run ---------------------------------------------------------------------------------

beforeAll(async () => {
  t = await makeTestApp();
  server = http.createServer(t.app);
  answerMalformedRequests(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const a of ['admin', 'demo', 'alt', 'viewer'] as const) tokens[a] = await t.token(a);
  ids.project = await t.projectId('demo');
  const subject = await send({ method: 'POST', path: '/identity/v3/auth/tokens', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: PASSWORDS.demo } } } } }) });
  tokens.subject = String(subject.headers['x-subject-token']);
  // Real objects to aim at: an active image, a queued image, a server, a keypair.
  const j = (token: string, extra: Record<string, string> = {}) => ({ 'X-Auth-Token': token, 'Content-Type': 'application/json', ...extra });
  const img = await send({ method: 'POST', path: '/image/v2/images', headers: j(tokens.demo), body: JSON.stringify({ name: 'fz', container_format: 'docker', disk_format: 'raw' }) });
  ids.image = JSON.parse(img.body).id;
  const up = await send({ method: 'PUT', path: `/image/v2/images/${ids.image}/file`, headers: j(tokens.demo, { 'Content-Type': 'application/octet-stream' }), body: (await buildFakeArchive({ salt: 'fuzz' })).bytes });
  expect(up.status).toBe(204);
  const q = await send({ method: 'POST', path: '/image/v2/images', headers: j(tokens.demo), body: JSON.stringify({ name: 'fzq', container_format: 'bare', disk_format: 'raw' }) });
  ids.imageQueued = JSON.parse(q.body).id;
  await send({ method: 'POST', path: '/compute/v2.1/os-keypairs', headers: j(tokens.demo), body: JSON.stringify({ keypair: { name: ids.keypair } }) });
  const group = await send({ method: 'POST', path: '/compute/v2.1/os-server-groups', headers: j(tokens.demo), body: JSON.stringify({ server_group: { name: 'fz', policies: ['affinity'] } }) });
  ids.serverGroup = JSON.parse(group.body).server_group.id;
  const srv = await send({ method: 'POST', path: '/compute/v2.1/servers', headers: j(tokens.demo), body: JSON.stringify({ server: { name: 'fz', imageRef: ids.image, flavorRef: '1' } }) });
  expect(srv.status).toBe(202);
  ids.server = JSON.parse(srv.body).server.id;
  await t.services.compute.tasks.idle();
  // issue 17 (net-core)
  netIds.network = JSON.parse((await send({ method: 'POST', path: '/networking/v2.0/networks', headers: j(tokens.demo), body: JSON.stringify({ network: { name: 'fz' } }) })).body).network.id;
  netIds.subnet = JSON.parse((await send({ method: 'POST', path: '/networking/v2.0/subnets', headers: j(tokens.demo), body: JSON.stringify({ subnet: { network_id: netIds.network, ip_version: 4, cidr: '10.210.91.0/24' } }) })).body).subnet.id;
  netIds.port = JSON.parse((await send({ method: 'POST', path: '/networking/v2.0/ports', headers: j(tokens.demo), body: JSON.stringify({ port: { network_id: netIds.network } }) })).body).port.id;
}, 60_000);

afterAll(async () => {
  agent.destroy();
  await new Promise((r) => server.close(r));
  await t.close();
});

test(`${RUNS} generated and mutated requests across every endpoint: no 5xx, every error OpenStack-shaped JSON`, async () => {
  const stats = { requests: 0, byStatus: {} as Record<number, number> };
  await fc.assert(
    fc.asyncProperty(fuzzRequest, async (req) => {
      const res = await send(req);
      stats.requests++;
      stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
      if (res.status >= 500) throw new Error(`${res.status} for ${req.method} ${req.path}: ${res.body.slice(0, 300)}`);
      if (res.status >= 400 && req.method !== 'HEAD') {
        const problem = checkErrorShape(req.path, res.status, res.headers['content-type'], res.body);
        if (problem) throw new Error(`${res.status} for ${req.method} ${req.path.slice(0, 200)}: ${problem}; body ${res.body.slice(0, 300)}; headers ${JSON.stringify(req.headers).slice(0, 400)}`);
      }
    }),
    { numRuns: RUNS, seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined, endOnFailure: true },
  );
  // The process is still healthy afterwards.
  const health = await send({ method: 'GET', path: '/healthcheck', headers: {} });
  expect(health.status).toBe(200);
  expect(stats.requests).toBe(RUNS);
  // Metrics (issue 18): whatever the URLs, requests are labelled by route template, so the
  // fuzzer's paths made no series of their own (no id, no generated string, a bounded count).
  const scraped = await parseExposition((await send({ method: 'GET', path: '/metrics', headers: {} })).body);
  const routes = new Set(scraped.flatMap((f) => f.samples.map((x) => x.labels.route)).filter((r) => r !== undefined));
  const known = Object.values(ids).filter((v) => v.length > 8);
  expect([...routes].filter((r) => known.some((id) => r.includes(id)) || !/^[A-Za-z0-9_./:*|-]*$/.test(r))).toEqual([]);
  expect(routes.size).toBeLessThan(300);
  expect(routes).toContain('/compute/v2.1/servers/:id');
  // eslint-disable-next-line no-console
  console.log(`fuzz: ${stats.requests} requests, 5xx: 0, statuses: ${JSON.stringify(stats.byStatus)}`);
}, 20 * 60_000);
