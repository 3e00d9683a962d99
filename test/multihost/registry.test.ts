/**
 * The embedded registry across network namespaces (issue 14): an image `docker push`ed to
 * novadock from this machine boots on an engine in another namespace, which cannot reach
 * 127.0.0.1 and pulls it from novadock at the hosts' bridge address instead
 * (compute_hosts[].registry_address; scripts/engines.sh starts the engines with that /24 as an
 * insecure registry). novadock listens on every address for it; the CLI still uses 127.0.0.1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEngines, Engines } from '../helpers/engines';
import { docker, openstack, run } from '../helpers/clients';
import { startServer, StartedServer } from '../helpers/server';
import { json, ok, testImage } from '../e2e/support';
import type { TestImage } from '../helpers/test-image';
import { dockerOn, removeProjects } from './support';

jest.setTimeout(300_000);

/** The bridge's address on this machine (scripts/engines.sh NET_PREFIX.1). */
const BRIDGE_ADDRESS = '10.251.0.1';

let engines: Engines;
let srv: StartedServer;
let image: TestImage;
let configDir: string;
let ref: string;

beforeAll(async () => {
  engines = startEngines(2);
  srv = await startServer({
    config: { compute_hosts: engines.hosts.map((h) => ({ ...h, registry_address: BRIDGE_ADDRESS })) },
    env: { NOVADOCK_BIND: '0.0.0.0' },
  });
  image = await testImage('mh-registry', true);
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-docker-config-'));
  ref = `127.0.0.1:${srv.port}/demo/mh-bbox:v1`;
}, 300_000);

afterAll(async () => {
  const projects = srv ? srv.projectIds() : [];
  await docker(['rmi', ref]);
  if (image) await docker(['rmi', image.imageId]);
  await srv?.cleanup();
  if (engines) {
    await removeProjects(engines.hosts, engines.hosts[0], projects);
    if (image) for (const e of engines.hosts) await dockerOn(e, ['rmi', '-f', image.imageId]);
  }
  engines?.stop();
  if (configDir) fs.rmSync(configDir, { recursive: true, force: true });
}, 240_000);

test('a pushed image boots on an engine in another namespace, which pulls it from novadock at the bridge address', async () => {
  const dockerAs = (args: string[], stdin?: string) => run('docker', ['--config', configDir, ...args], {}, { stdin });
  ok(await dockerAs(['login', `127.0.0.1:${srv.port}`, '-u', 'demo', '--password-stdin'], srv.passwords.demo));
  ok(await docker(['tag', image.imageId, ref]));
  ok(await dockerAs(['push', ref]));
  const target = engines.hosts[1];
  expect((await dockerOn(target, ['image', 'inspect', image.imageId])).code).not.toBe(0);
  const created = json<{ id: string; status: string }>(await openstack(
    ['server', 'create', '--image', 'mh-bbox:v1', '--flavor', 'm1.tiny', '--availability-zone', `nova:${target.name}`, '--wait', 'mh-reg', '-f', 'json'], srv.env.admin,
  ));
  expect(created.status).toBe('ACTIVE');
  const pulled = await dockerOn(target, ['image', 'inspect', image.imageId, '--format', '{{join .RepoDigests " "}}']);
  expect(pulled.code).toBe(0);
  expect(pulled.stdout).toContain(`${BRIDGE_ADDRESS}:${srv.port}/demo/mh-bbox@sha256:`);
  ok(await openstack(['server', 'delete', '--wait', created.id], srv.env.admin));
});
