/**
 * Two Docker engines, each in a network namespace of its own, as one cloud, driven by the stock
 * `openstack` CLI as an operator and a user would (issue 13's "done when"): boots spread over
 * the hosts, server groups, a disabled host, an availability zone from an aggregate, a cold
 * migration that keeps the server's files (confirm and revert), an evacuation off a stopped
 * engine. Where a server runs is read back both from the API (OS-EXT-SRV-ATTR:host) and from the
 * engines themselves (`docker -H <engine> inspect`).
 */
import { startEngines, Engines } from '../helpers/engines';
import { nova, openstack, run, RunResult } from '../helpers/clients';
import { startServer, StartedServer, ClientEnv } from '../helpers/server';
import { json, ok, poll, serverStatusBecomes, testImage, transcript } from '../e2e/support';
import { removeProjects } from './support';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

let engines: Engines;
let server: StartedServer;
let admin: ClientEnv;
let demo: ClientEnv;
const ENGINES_SH = path.join(__dirname, '..', '..', 'scripts', 'engines.sh');

const dockerAt = (host: string, args: string[]): Promise<RunResult> => {
  const h = engines.hosts.find((e) => e.name === host);
  if (!h) throw new Error(`no engine ${host}`);
  return run('docker', ['-H', h.docker_host, ...args], {});
};
const container = (serverId: string) => `novadock-${serverId}`;

interface Shown { id: string; status: string; 'OS-EXT-SRV-ATTR:host'?: string; 'OS-EXT-AZ:availability_zone'?: string; fault?: { message: string } }

async function show(name: string, env: ClientEnv = admin): Promise<Shown> {
  return json<Shown>(await openstack(['server', 'show', name, '-f', 'json'], env));
}

async function boot(name: string, extra: string[] = [], env: ClientEnv = admin): Promise<Shown> {
  ok(await openstack(['server', 'create', '--image', 'busybox-mh', '--flavor', 'm1.tiny', ...extra, name], env));
  return show(name, env);
}

async function active(name: string, env: ClientEnv = admin): Promise<Shown> {
  const status = await serverStatusBecomes(env, name, 'ACTIVE');
  // An ERROR says why (its fault), so a failure here explains itself.
  if (status !== 'ACTIVE') throw new Error(`${name} is ${status}, not ACTIVE: ${JSON.stringify((await show(name, env)).fault)}`);
  return show(name, env);
}

async function deleteAll(names: string[], env: ClientEnv = admin): Promise<void> {
  if (names.length) ok(await openstack(['server', 'delete', '--wait', ...names], env));
}

/** The server's container runs on exactly `host` (and on no other engine). */
async function runsOn(serverId: string, host: string): Promise<void> {
  for (const e of engines.hosts) {
    const r = await dockerAt(e.name, ['inspect', '-f', '{{.State.Running}}', container(serverId)]);
    if (e.name === host) expect(r.stdout.trim()).toBe('true');
    else expect(r.code).not.toBe(0);
  }
}

beforeAll(async () => {
  engines = startEngines(2);
  server = await startServer({ config: { compute_hosts: engines.hosts } });
  admin = server.env.admin;
  demo = server.env.demo;
  const img = await testImage('multihost', false);
  ok(await run('bash', ['-c', `glance image-create --container-format docker --disk-format raw --name busybox-mh --visibility public --file ${img.path}`], admin));
}, 240_000);

afterAll(async () => {
  const projects = server ? server.projectIds() : [];
  await server?.cleanup();
  // server.cleanup() looks at the machine's own engine; the test engines' containers and the
  // swarm's overlays of these projects go here (an overlay outlives its containers otherwise).
  if (engines) await removeProjects(engines.hosts, engines.hosts[0], projects);
  engines?.stop();
}, 240_000);

test('the hosts are listed as compute services and hypervisors, both up', async () => {
  const services = json<{ Host: string; Binary: string; State: string; Status: string }[]>(await openstack(['compute', 'service', 'list', '--service', 'nova-compute', '-f', 'json'], admin));
  expect(services.map((s) => [s.Host, s.State, s.Status]).sort()).toEqual([['host1', 'up', 'enabled'], ['host2', 'up', 'enabled']]);
  const hv = json<{ 'Hypervisor Hostname': string; State: string }[]>(await openstack(['hypervisor', 'list', '-f', 'json'], admin));
  expect(hv.map((h) => h.State)).toEqual(['up', 'up']);
});

test('boots spread by free RAM: four servers, two on each host', async () => {
  const names = ['spread-1', 'spread-2', 'spread-3', 'spread-4'];
  for (const n of names) await boot(n);
  const hosts: string[] = [];
  for (const n of names) {
    const s = await active(n);
    hosts.push(s['OS-EXT-SRV-ATTR:host'] as string);
    await runsOn(s.id, s['OS-EXT-SRV-ATTR:host'] as string);
  }
  expect(hosts.sort()).toEqual(['host1', 'host1', 'host2', 'host2']);
  await deleteAll(names);
}, 300_000);

test('an anti-affinity group of two lands on two hosts; a third member of the hard group has no valid host', async () => {
  const group = json<{ id: string }>(await openstack(['server', 'group', 'create', '--policy', 'anti-affinity', 'apart', '-f', 'json'], demo));
  await boot('apart-1', ['--hint', `group=${group.id}`], demo);
  await boot('apart-2', ['--hint', `group=${group.id}`], demo);
  const a = await active('apart-1', demo);
  const b = await active('apart-2', demo);
  // The admin sees the host; demo's servers are found by id (a name resolves in one's own project).
  const hostA = (await show(a.id))['OS-EXT-SRV-ATTR:host'];
  const hostB = (await show(b.id))['OS-EXT-SRV-ATTR:host'];
  expect(new Set([hostA, hostB]).size).toBe(2);
  await boot('apart-3', ['--hint', `group=${group.id}`], demo);
  expect(await serverStatusBecomes(demo, 'apart-3', 'ERROR')).toBe('ERROR');
  const third = await show('apart-3', demo);
  expect(third.fault?.message).toMatch(/^No valid host was found/);
  const group2 = json<{ members: string[] }>(await openstack(['server', 'group', 'show', 'apart', '-f', 'json'], demo));
  // As in Nova, a server joins its group when the API accepts it, before it is placed: the third
  // stays a member (in ERROR) until it is deleted.
  expect([...group2.members].sort()).toEqual([a.id, b.id, third.id].sort());
  await deleteAll(['apart-1', 'apart-2', 'apart-3'], demo);
  ok(await openstack(['server', 'group', 'delete', 'apart'], demo));
}, 300_000);

test('a disabled host takes nothing; enabled again, it does', async () => {
  ok(await openstack(['compute', 'service', 'set', '--disable', '--disable-reason', 'maintenance', 'host1', 'nova-compute'], admin));
  const listed = json<{ Host: string; Status: string }[]>(await openstack(['compute', 'service', 'list', '--service', 'nova-compute', '-f', 'json'], admin));
  expect(listed.find((s) => s.Host === 'host1')?.Status).toBe('disabled');
  for (const n of ['off-1', 'off-2', 'off-3']) await boot(n);
  for (const n of ['off-1', 'off-2', 'off-3']) expect((await active(n))['OS-EXT-SRV-ATTR:host']).toBe('host2');
  ok(await openstack(['compute', 'service', 'set', '--enable', 'host1', 'nova-compute'], admin));
  await boot('on-1');
  expect((await active('on-1'))['OS-EXT-SRV-ATTR:host']).toBe('host1');
  await deleteAll(['off-1', 'off-2', 'off-3', 'on-1']);
}, 300_000);

test('an aggregate with an availability zone makes a zone that boots honour', async () => {
  ok(await openstack(['aggregate', 'create', '--zone', 'az1', 'agg1'], admin));
  ok(await openstack(['aggregate', 'add', 'host', 'agg1', 'host2'], admin));
  const zones = json<{ 'Zone Name': string }[]>(await openstack(['availability', 'zone', 'list', '--compute', '-f', 'json'], demo));
  expect(zones.map((z) => z['Zone Name']).sort()).toEqual(['az1', 'nova']);
  for (const n of ['zoned-1', 'zoned-2']) await boot(n, ['--availability-zone', 'az1'], demo);
  for (const n of ['zoned-1', 'zoned-2']) {
    await active(n, demo);
    const s = await show((await show(n, demo)).id);
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('host2');
    expect(s['OS-EXT-AZ:availability_zone']).toBe('az1');
  }
  const bad = await openstack(['server', 'create', '--image', 'busybox-mh', '--flavor', 'm1.tiny', '--availability-zone', 'nowhere', 'nowhere-1'], demo);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/availability zone is not available/);
  await deleteAll(['zoned-1', 'zoned-2'], demo);
  ok(await openstack(['aggregate', 'remove', 'host', 'agg1', 'host2'], admin));
  ok(await openstack(['aggregate', 'delete', 'agg1'], admin));
}, 300_000);

async function writeInside(serverId: string, host: string, text: string): Promise<void> {
  ok(await dockerAt(host, ['exec', container(serverId), 'sh', '-c', `echo ${text} > /root/kept.txt`]));
}
async function readInside(serverId: string, host: string): Promise<string> {
  return ok(await dockerAt(host, ['exec', container(serverId), 'cat', '/root/kept.txt'])).stdout.trim();
}

test('a migrated server keeps a file written inside it; confirm leaves it on the new host', async () => {
  const s = await boot('mover', ['--availability-zone', 'nova:host1']);
  await active('mover');
  await writeInside(s.id, 'host1', 'kept-across-migration');
  ok(await openstack(['server', 'migrate', 'mover'], admin));
  expect(await serverStatusBecomes(admin, 'mover', 'VERIFY_RESIZE', 180_000)).toBe('VERIFY_RESIZE');
  expect((await show('mover'))['OS-EXT-SRV-ATTR:host']).toBe('host2');
  expect(await readInside(s.id, 'host2')).toBe('kept-across-migration');
  const migrations = json<{ 'Source Compute': string; 'Dest Compute': string; Status: string }[]>(await openstack(['server', 'migration', 'list', '--server', 'mover', '-f', 'json'], admin));
  expect(migrations[0]).toMatchObject({ 'Source Compute': 'host1', 'Dest Compute': 'host2', Status: 'finished' });
  ok(await openstack(['server', 'resize', 'confirm', 'mover'], admin));
  expect(await serverStatusBecomes(admin, 'mover', 'ACTIVE')).toBe('ACTIVE');
  await runsOn(s.id, 'host2');
  expect(await readInside(s.id, 'host2')).toBe('kept-across-migration');
  await deleteAll(['mover']);
}, 300_000);

test('a migration reverted goes back to its host with its file', async () => {
  const s = await boot('returner', ['--availability-zone', 'nova:host2']);
  await active('returner');
  await writeInside(s.id, 'host2', 'written-before-revert');
  ok(await openstack(['server', 'migrate', 'returner'], admin));
  expect(await serverStatusBecomes(admin, 'returner', 'VERIFY_RESIZE', 180_000)).toBe('VERIFY_RESIZE');
  ok(await openstack(['server', 'resize', 'revert', 'returner'], admin));
  expect(await serverStatusBecomes(admin, 'returner', 'ACTIVE', 180_000)).toBe('ACTIVE');
  expect((await show('returner'))['OS-EXT-SRV-ATTR:host']).toBe('host2');
  await runsOn(s.id, 'host2');
  expect(await readInside(s.id, 'host2')).toBe('written-before-revert');
  await deleteAll(['returner']);
}, 300_000);

test('live migration is refused with a clear 400', async () => {
  await boot('stayer', ['--availability-zone', 'nova:host1']);
  await active('stayer');
  const r = await openstack(['server', 'migrate', '--live-migration', 'stayer'], admin);
  expect(r.code).not.toBe(0);
  expect(`${r.stderr}`).toMatch(/HTTP 400|live migration/i);
  expect((await show('stayer')).status).toBe('ACTIVE');
  await deleteAll(['stayer']);
}, 180_000);

// A host lost (power, kernel): nothing reports its containers' end, so its servers are still ACTIVE
// when evacuated. (An engine stopped cleanly stops its containers first, and Docker may report
// them exited before its socket goes: such servers are SHUTOFF, and evacuate keeps them stopped,
// as Nova's does.)
test('losing an engine and evacuating brings its servers ACTIVE on the other; the old container is removed when it returns', async () => {
  const s = await boot('refugee', ['--availability-zone', 'nova:host2']);
  await active('refugee');
  const index = engines.hosts.findIndex((e) => e.name === 'host2') + 1;
  execFileSync('bash', [ENGINES_SH, 'crash', String(index)], { stdio: 'inherit' });
  try {
    const down = await poll(async () => json<{ Host: string; State: string }[]>(await openstack(['compute', 'service', 'list', '--service', 'nova-compute', '-f', 'json'], admin)),
      (l) => l.find((x) => x.Host === 'host2')?.State === 'down', 90_000, 500);
    expect(down.find((x) => x.Host === 'host2')?.State).toBe('down');
    // OSC 6.0.0's `server evacuate` sends the request, then fails reading novaclient's answer
    // ('TupleWithMeta' object has no attribute 'to_dict'); the nova CLI reads it.
    ok(await nova(['evacuate', 'refugee'], admin));
    expect(await serverStatusBecomes(admin, 'refugee', 'ACTIVE', 180_000)).toBe('ACTIVE');
    expect((await show('refugee'))['OS-EXT-SRV-ATTR:host']).toBe('host1');
  } finally {
    execFileSync('bash', [ENGINES_SH, 'start', String(index)], { stdio: 'inherit' });
  }
  const gone = await poll(() => dockerAt('host2', ['inspect', container(s.id)]), (r) => r.code !== 0, 90_000, 500);
  expect(transcript(gone)).toMatch(/No such (object|container)/);
  await runsOn(s.id, 'host1');
  await deleteAll(['refugee']);
}, 420_000);
