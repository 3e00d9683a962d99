/**
 * Networks that span hosts, end to end: a novadock with two compute hosts (two engines of one
 * swarm, each in a network namespace of its own: scripts/engines.sh), driven by the stock
 * `openstack` CLI. A server of one project on each host pings the other at the address the API
 * shows; a server of another project, on either host, reaches neither. Deleting the servers
 * leaves no container behind; the test removes the project networks it made.
 */
import crypto from 'node:crypto';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { busyboxImage } from '../helpers/test-image';
import { clientEnv, ClientEnv, startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, ok } from '../e2e/support';
import { dockerOn, pings, reaches, removeRun } from './support';

jest.setTimeout(600_000);

const tag = crypto.randomBytes(3).toString('hex');
let engines: Engines;
let hosts: TestEngine[];
let srv: StartedServer;
let a: ClientEnv;
let b: ClientEnv;
const opsPassword = `ops-${crypto.randomBytes(6).toString('hex')}`;
/** Compute host names of this run (the engines are shared with other runs: names of our own). */
const names = ['h1', 'h2'].map((h) => `mh-${tag}-${h}`);

interface Booted {
  id: string;
  addr: string;
  engine: TestEngine;
}

/** Boots a server on a named compute host (Nova's forced host, an admin's `nova:<host>`), waits for ACTIVE, reads its address. */
async function boot(env: ClientEnv, name: string, hostIndex: number): Promise<Booted> {
  const created = json<{ id: string; status: string }>(await openstack(['server', 'create', '--image', 'mh-busybox', '--flavor', 'm1.tiny',
    '--availability-zone', `nova:${names[hostIndex]}`, '--wait', '-f', 'json', '-c', 'id', '-c', 'status', name], env, { timeoutMs: 180_000 }));
  expect(created.status).toBe('ACTIVE');
  const shown = json<{ addresses: unknown; 'OS-EXT-SRV-ATTR:host'?: string }>(await openstack(['server', 'show', created.id, '-f', 'json', '-c', 'addresses'], env));
  const addr = /\b(\d+\.\d+\.\d+\.\d+)\b/.exec(JSON.stringify(shown.addresses))?.[1];
  if (!addr) throw new Error(`server ${name} shows no address: ${JSON.stringify(shown.addresses)}`);
  return { id: created.id, addr, engine: hosts[hostIndex] };
}

beforeAll(async () => {
  engines = startEngines(2);
  hosts = engines.hosts;
  srv = await startServer({
    config: {
      compute_hosts: hosts.map((h, i) => ({ name: names[i], docker_host: h.docker_host })),
      projects: [{ name: 'team-b' }],
      // An admin of the second project, so its servers too can be placed on a named host.
      users: [{ name: 'ops-b', password: opsPassword, project: 'team-b', roles: ['admin'] }],
    },
  });
  a = srv.env.admin;
  b = clientEnv(srv.url, 'ops-b', opsPassword, 'team-b');
  const image = busyboxImage('multihost');
  ok(await openstack(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', '--public', 'mh-busybox'], a, { timeoutMs: 180_000 }));
});

afterAll(async () => {
  await removeRun(srv, hosts, [busyboxImage('multihost').imageId]);
  engines?.stop();
});

test("a project's servers on two hosts reach each other at the addresses the API shows; another project's servers reach neither", async () => {
  const [a1, a2] = await Promise.all([boot(a, 'a1', 0), boot(a, 'a2', 1)]);
  const [b1, b2] = await Promise.all([boot(b, 'b1', 0), boot(b, 'b2', 1)]);
  // Each server runs on the host it was placed on (the container is on that engine).
  for (const s of [a1, a2, b1, b2]) expect((await dockerOn(s.engine, ['inspect', '--format', '{{.State.Running}}', `novadock-${s.id}`])).stdout.trim()).toBe('true');
  expect(new Set([a1.addr, a2.addr, b1.addr, b2.addr]).size).toBe(4);

  expect(await reaches(a1.engine, a1.id, a2.addr)).toBe(true);
  expect(await reaches(a2.engine, a2.id, a1.addr)).toBe(true);
  expect(await reaches(b1.engine, b1.id, b2.addr)).toBe(true);
  for (const [from, to] of [[b1, a1], [b1, a2], [b2, a1], [b2, a2], [a1, b1], [a2, b2]] as const) {
    expect(`${from.id} → ${to.addr}: ${await pings(from.engine, from.id, to.addr)}`).toBe(`${from.id} → ${to.addr}: false`);
  }

  ok(await openstack(['server', 'delete', '--wait', a1.id, a2.id], a, { timeoutMs: 180_000 }));
  ok(await openstack(['server', 'delete', '--wait', b1.id, b2.id], b, { timeoutMs: 180_000 }));
  for (const s of [a1, a2, b1, b2]) expect((await dockerOn(s.engine, ['ps', '-aq', '--filter', `name=novadock-${s.id}`])).stdout.trim()).toBe('');
});
