/**
 * Moves between two real Docker engines (separate network namespaces, scripts/engines.sh) with
 * the stock `openstack` and `nova` CLIs (evacuate with `nova`, see the note below), as issue 13's "Done when" asks: a migrated server keeps
 * a file written inside it, confirm and revert both work, live migration is refused, and a host
 * that stops answering is evacuated, its old container removed when it answers again.
 *
 * The source host is configured through a relay to its engine's socket (test/helpers/socket-proxy.ts):
 * cutting the relay takes that compute host away from novadock without stopping an engine other
 * tests share. The scenarios build on each other, in file order.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { startServer, StartedServer } from '../helpers/server';
import { nova, openstack, run, RunResult } from '../helpers/clients';
import { SocketProxy } from '../helpers/socket-proxy';
import { busyboxImage } from '../helpers/test-image';
import { json, ok, poll, serverStatusBecomes } from '../e2e/support';

jest.setTimeout(300_000);

let engines: Engines;
let src: TestEngine;
let dst: TestEngine;
let relay: SocketProxy;
let relayDir: string;
let srv: StartedServer;
const ids: Record<string, string> = {};

const os_ = (args: string[]) => openstack(args, srv.env.admin);
const socketOf = (e: TestEngine) => e.docker_host.replace(/^unix:\/\//, '');
/** The docker CLI on one engine, straight to its own socket. */
const dockerOn = (e: TestEngine, args: string[]) => run('docker', ['-H', e.docker_host, ...args], {});
const container = (id: string) => `novadock-${id}`;

async function hostOf(name: string): Promise<string> {
  return ok(await os_(['server', 'show', name, '-f', 'value', '-c', 'OS-EXT-SRV-ATTR:host'])).stdout.trim();
}

/** The names of the containers one engine holds for a server (set-aside ones included). */
async function containersOn(e: TestEngine, id: string): Promise<string[]> {
  const r = ok(await dockerOn(e, ['ps', '-a', '--filter', `label=novadock.server_id=${id}`, '--format', '{{.Names}}']));
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

async function readFile(e: TestEngine, id: string, file: string): Promise<RunResult> {
  return dockerOn(e, ['exec', container(id), 'cat', file]);
}

async function bootOnSource(name: string): Promise<string> {
  ok(await os_(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--availability-zone', `nova:${src.name}`, '--wait', name]));
  const id = ok(await os_(['server', 'show', name, '-f', 'value', '-c', 'id'])).stdout.trim();
  expect(await hostOf(name)).toBe(src.name);
  ok(await dockerOn(src, ['exec', container(id), 'sh', '-c', `echo "written on ${src.name} by ${name}" > /root/moved.txt`]));
  return id;
}

beforeAll(async () => {
  engines = startEngines(2);
  [src, dst] = engines.hosts;
  relayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-relay-'));
  relay = new SocketProxy(socketOf(src), path.join(relayDir, 'engine.sock'));
  await relay.start();
  srv = await startServer({
    config: { compute_hosts: [{ name: src.name, docker_host: relay.dockerHost }, { name: dst.name, docker_host: dst.docker_host }] },
  });
  const image = busyboxImage('multihost-migrate');
  ok(await os_(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
}, 600_000);

afterAll(async () => {
  if (srv) {
    await relay.start().catch(() => undefined);
    const names = Object.keys(ids);
    if (names.length) await os_(['server', 'delete', '--wait', ...names]);
    await os_(['image', 'delete', 'busybox']);
    const projects = srv.projectIds();
    await srv.cleanup();
    // What belongs to this server's projects on the two engines (cleanup() looks at the local one).
    for (const e of [src, dst]) {
      for (const p of projects) {
        const ctrs = (await dockerOn(e, ['ps', '-aq', '--filter', `label=novadock.project_id=${p}`])).stdout.split('\n').filter(Boolean);
        if (ctrs.length) await dockerOn(e, ['rm', '-f', '-v', ...ctrs]);
        const nets = (await dockerOn(e, ['network', 'ls', '-q', '--filter', `label=novadock.project_id=${p}`])).stdout.split('\n').filter(Boolean);
        for (const n of nets) await dockerOn(e, ['network', 'rm', n]);
      }
      for (const id of Object.values(ids)) {
        const imgs = (await dockerOn(e, ['images', '-q', '--filter', `label=novadock.move_of=${id}`])).stdout.split('\n').filter(Boolean);
        if (imgs.length) await dockerOn(e, ['rmi', '-f', ...imgs]);
      }
    }
  }
  await relay?.cut();
  if (relayDir) fs.rmSync(relayDir, { recursive: true, force: true });
  engines?.stop();
}, 300_000);

describe('cold migration with confirm', () => {
  it('server migrate --wait moves it to the other host: VERIFY_RESIZE there, the file written inside it with it', async () => {
    ids.mvA = await bootOnSource('mvA');
    const r = ok(await os_(['server', 'migrate', '--wait', 'mvA']));
    expect(r.stdout).toMatch(/Complete/);
    expect(ok(await os_(['server', 'show', 'mvA', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('VERIFY_RESIZE');
    expect(await hostOf('mvA')).toBe(dst.name);
    const file = await readFile(dst, ids.mvA, '/root/moved.txt');
    expect([file.code, file.stdout.trim()]).toEqual([0, `written on ${src.name} by mvA`]);
    // Until confirmed, the source keeps its container, stopped and set aside.
    expect(await containersOn(src, ids.mvA)).toEqual([`${container(ids.mvA)}_resize`]);
  });

  it('server migration confirm: ACTIVE on the new host, the old container gone from the source', async () => {
    ok(await os_(['server', 'migration', 'confirm', 'mvA']));
    expect(await serverStatusBecomes(srv.env.admin, 'mvA', 'ACTIVE')).toBe('ACTIVE');
    expect(await hostOf('mvA')).toBe(dst.name);
    expect(await poll(() => containersOn(src, ids.mvA), (c) => c.length === 0)).toEqual([]);
    expect((await readFile(dst, ids.mvA, '/root/moved.txt')).stdout.trim()).toBe(`written on ${src.name} by mvA`);
    const state = ok(await dockerOn(dst, ['inspect', '--format', '{{.State.Status}}', container(ids.mvA)]));
    expect(state.stdout.trim()).toBe('running');
  });
});

describe('cold migration with revert', () => {
  it('migrate to a named host (2.56), then server resize revert: back on the source, ACTIVE, with its file', async () => {
    ids.mvB = await bootOnSource('mvB');
    ok(await openstack(['--os-compute-api-version', '2.56', 'server', 'migrate', '--host', dst.name, '--wait', 'mvB'], srv.env.admin));
    expect(await hostOf('mvB')).toBe(dst.name);
    expect(ok(await os_(['server', 'show', 'mvB', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('VERIFY_RESIZE');
    ok(await os_(['server', 'resize', 'revert', 'mvB']));
    expect(await serverStatusBecomes(srv.env.admin, 'mvB', 'ACTIVE')).toBe('ACTIVE');
    expect(await hostOf('mvB')).toBe(src.name);
    expect((await readFile(src, ids.mvB, '/root/moved.txt')).stdout.trim()).toBe(`written on ${src.name} by mvB`);
    expect(await containersOn(dst, ids.mvB)).toEqual([]);
    expect(await containersOn(src, ids.mvB)).toEqual([container(ids.mvB)]);
  });

  it('server migration list and nova migration-list show both moves', async () => {
    const list = json<Record<string, unknown>[]>(await os_(['server', 'migration', 'list', '-f', 'json']));
    const byServer = (id: string) => list.filter((m) => m['Server UUID'] === id).map((m) => [m['Source Compute'], m['Dest Compute'], m.Status]);
    expect(byServer(ids.mvA)).toEqual([[src.name, dst.name, 'confirmed']]);
    expect(byServer(ids.mvB)).toEqual([[src.name, dst.name, 'reverted']]);
    const n = ok(await nova(['migration-list'], srv.env.admin));
    const row = (id: string) => n.stdout.split('\n').find((l) => l.includes(id)) ?? '';
    expect(row(ids.mvA)).toMatch(new RegExp(`\\|\\s*${src.name}\\s*\\|\\s*${dst.name}\\s*\\|.*\\|\\s*confirmed\\s*\\|`));
    expect(row(ids.mvB)).toMatch(new RegExp(`\\|\\s*${src.name}\\s*\\|\\s*${dst.name}\\s*\\|.*\\|\\s*reverted\\s*\\|`));
  });

  it('live migration is refused: the compute driver does not support it', async () => {
    const r = await os_(['server', 'migrate', '--live-migration', 'mvB']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/does not support live migration/);
    expect(ok(await os_(['server', 'show', 'mvB', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('ACTIVE');
  });
});

describe('evacuate', () => {
  it('while the source answers, evacuate is refused', async () => {
    ids.mvC = await bootOnSource('mvC');
    const r = await os_(['server', 'evacuate', 'mvC']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Compute service of ${src.name} is still in use`));
  });

  // NOTE(openstack): OSC 6.0.0's `server evacuate` sends the request, then fails on novaclient's
  // answer (it reads `.id` of the TupleWithMeta that Server.evacuate returns); `nova evacuate` works.
  it('with the source gone, nova evacuate rebuilds it from its image on the other host, same id', async () => {
    await relay.cut();
    ok(await nova(['evacuate', 'mvC'], srv.env.admin));
    expect(ok(await os_(['server', 'show', 'mvC', '-f', 'value', '-c', 'id'])).stdout.trim()).toBe(ids.mvC);
    expect(await serverStatusBecomes(srv.env.admin, 'mvC', 'ACTIVE')).toBe('ACTIVE');
    expect(await hostOf('mvC')).toBe(dst.name);
    // Rebuilt from the image: the file written on the lost host is not there.
    expect((await readFile(dst, ids.mvC, '/root/moved.txt')).code).not.toBe(0);
    // The old container is still on the engine novadock cannot reach.
    expect(await containersOn(src, ids.mvC)).toEqual([container(ids.mvC)]);
  });

  it('when the source answers again, its old container is removed, not resurrected, and the evacuation is completed', async () => {
    await relay.start();
    expect(await poll(() => containersOn(src, ids.mvC), (c) => c.length === 0, 120_000)).toEqual([]);
    const list = await poll(
      async () => json<Record<string, unknown>[]>(await openstack(['--os-compute-api-version', '2.23', 'server', 'migration', 'list', '--type', 'evacuation', '-f', 'json'], srv.env.admin)),
      (l) => l.some((m) => m['Server UUID'] === ids.mvC && m.Status === 'completed'),
    );
    expect(list.filter((m) => m['Server UUID'] === ids.mvC).map((m) => m.Status)).toEqual(['completed']);
    expect(await hostOf('mvC')).toBe(dst.name);
    expect(ok(await os_(['server', 'show', 'mvC', '-f', 'value', '-c', 'status'])).stdout.trim()).toBe('ACTIVE');
  });
});
