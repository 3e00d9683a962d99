/**
 * Issue 14 with the stock docker CLI against a started novadock's registry at /v2/ (the engine
 * takes 127.0.0.0/8 registries as plain HTTP): login with a Keystone password, push, the pushed
 * tag in `openstack image list`, boot it, remove it locally and pull it back (by tag and digest),
 * re-push a tag, `openstack image save` of a pushed image loads with `docker load`, a tarball
 * uploaded through Glance and a server snapshot pulled by the names Glance gives them, a wrong
 * password refused, another project refused, an admin let in. A temporary DOCKER_CONFIG
 * holds the logins; every tag and image made here is removed after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, StartedServer } from '../helpers/server';
import { docker, openstack, run } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { imageInEngine, json, ok, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
let image2: TestImage;
let image3: TestImage;
let configDir: string;
let registry: string;
let ref: string;
/** A member of another project (an admin may pull and push anywhere). */
const ALT_PASSWORD = 'alt-registry-secret';

const dockerAs = (args: string[], stdin?: string) => run('docker', ['--config', configDir, ...args], {}, { stdin });
const login = (user: string, password: string) => dockerAs(['login', registry, '-u', user, '--password-stdin'], password);
const demo = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => {
  image = await testImage('e2e-registry', true);
  image2 = await testImage('e2e-registry-2', true);
  image3 = await testImage('e2e-registry-3', false);
  srv = await startServer({ config: { projects: [{ name: 'alt' }], users: [{ name: 'alt', password: ALT_PASSWORD, project: 'alt', roles: ['member'] }] } });
  configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-docker-config-'));
  registry = `127.0.0.1:${srv.port}`;
  ref = `${registry}/demo/bbox:v1`;
}, 300_000);
afterAll(async () => {
  for (const r of [ref, `${registry}/admin/bbox:v1`]) await docker(['rmi', r]);
  for (const r of [`${registry}/demo/tarball:latest`, `${registry}/demo/regsnap:latest`]) await docker(['rmi', r]);
  for (const img of [image, image2, image3]) await docker(['rmi', img.imageId]);
  await srv?.cleanup();
  fs.rmSync(configDir, { recursive: true, force: true });
});

describe('docker login', () => {
  it('refuses a wrong password', async () => {
    const r = await login('demo', 'not-the-password');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unauthorized/i);
  });

  it('accepts the Keystone password', async () => {
    const r = ok(await login('demo', srv.passwords.demo));
    expect(r.stdout).toContain('Login Succeeded');
  });
});

describe('docker push', () => {
  it('pushes demo/bbox:v1, which openstack image list then shows, active', async () => {
    ok(await docker(['tag', image.imageId, ref]));
    ok(await dockerAs(['push', ref]));
    const images = json<{ Name: string; Status: string }[]>(await demo(['image', 'list', '-f', 'json']));
    expect(images).toContainEqual(expect.objectContaining({ Name: 'bbox:v1', Status: 'active' }));
    const shown = json<{ properties: Record<string, string>; container_format: string }>(await demo(['image', 'show', 'bbox:v1', '-f', 'json']));
    expect(shown.container_format).toBe('docker');
    expect(shown.properties.docker_image_id).toBe(image.imageId);
  });

  it('boots it on an engine that lacks it (the engine pulls it from novadock by digest): ACTIVE', async () => {
    ok(await docker(['rmi', ref]));
    await docker(['rmi', image.imageId]); // gone already when the tag was its only name
    expect(await imageInEngine(image.imageId)).toBe(false);
    const r = ok(await demo(['server', 'create', '--image', 'bbox:v1', '--flavor', 'm1.tiny', '--wait', 'reg1', '-f', 'value', '-c', 'status']));
    expect(r.stdout.trim()).toBe('ACTIVE');
    expect(await imageInEngine(image.imageId)).toBe(true);
    ok(await demo(['server', 'delete', '--wait', 'reg1']));
  });

  it('pulls it back with docker pull, by tag and by digest, once it is gone from the engine', async () => {
    await docker(['rmi', image.imageId]);
    expect(await imageInEngine(image.imageId)).toBe(false);
    ok(await dockerAs(['pull', ref]));
    expect(ok(await docker(['image', 'inspect', ref, '--format', '{{.Id}}'])).stdout.trim()).toBe(image.imageId);
    const digest = ok(await docker(['image', 'inspect', ref, '--format', '{{index .RepoDigests 0}}'])).stdout.trim();
    expect(digest).toMatch(new RegExp(`^${registry}/demo/bbox@sha256:[a-f0-9]{64}$`));
    ok(await dockerAs(['pull', digest]));
  });

  it('re-pushing the tag moves the name to the new image and hides the old one', async () => {
    ok(await docker(['tag', image2.imageId, ref]));
    ok(await dockerAs(['push', ref]));
    const shown = json<{ properties: Record<string, string> }>(await demo(['image', 'show', 'bbox:v1', '-f', 'json']));
    expect(shown.properties.docker_image_id).toBe(image2.imageId);
    const names = json<{ Name: string }[]>(await demo(['image', 'list', '-f', 'json'])).filter((i) => i.Name === 'bbox:v1');
    expect(names).toHaveLength(1);
  });
});

describe('Glance and the registry: one catalogue', () => {
  it('openstack image save of a pushed image gives an archive docker load accepts', async () => {
    const file = path.join(configDir, 'saved.tar');
    ok(await demo(['image', 'save', '--file', file, 'bbox:v1']));
    await docker(['rmi', ref]);
    await docker(['rmi', image2.imageId]);
    expect(await imageInEngine(image2.imageId)).toBe(false);
    ok(await docker(['load', '-i', file]));
    expect(await imageInEngine(image2.imageId)).toBe(true);
    fs.rmSync(file);
  });

  it('a tarball uploaded through Glance is pulled by the name its project and Glance name give it', async () => {
    ok(await demo(['image', 'create', '--container-format', 'docker', '--disk-format', 'raw', '--file', image3.path, 'tarball']));
    await docker(['rmi', image3.imageId]); // the upload loaded it: gone, so the pull fetches it
    expect(await imageInEngine(image3.imageId)).toBe(false);
    ok(await dockerAs(['pull', `${registry}/demo/tarball:latest`]));
    expect(ok(await docker(['image', 'inspect', `${registry}/demo/tarball:latest`, '--format', '{{.Id}}'])).stdout.trim()).toBe(image3.imageId);
  });

  it('a server snapshot is pulled by its name too', async () => {
    ok(await demo(['server', 'create', '--image', 'tarball', '--flavor', 'm1.tiny', '--wait', 'regsnap-src']));
    ok(await demo(['server', 'image', 'create', '--name', 'regsnap', '--wait', 'regsnap-src']));
    ok(await demo(['server', 'delete', '--wait', 'regsnap-src']));
    const snapId = json<{ properties: Record<string, string> }>(await demo(['image', 'show', 'regsnap', '-f', 'json'])).properties.docker_image_id;
    expect(snapId).toMatch(/^sha256:/);
    ok(await dockerAs(['pull', `${registry}/demo/regsnap:latest`]));
    expect(ok(await docker(['image', 'inspect', `${registry}/demo/regsnap:latest`, '--format', '{{.Id}}'])).stdout.trim()).toBe(snapId);
  });
});

describe('another project', () => {
  it('cannot pull demo\'s private image nor push into demo; an admin can pull it', async () => {
    ok(await login('alt', ALT_PASSWORD));
    const pull = await dockerAs(['pull', ref.replace(':v1', ':nope')]);
    expect(pull.code).not.toBe(0);
    const pulled = await dockerAs(['pull', ref]);
    expect(pulled.code).not.toBe(0);
    expect(pulled.stderr).toMatch(/not found|unknown|denied/i);
    const push = await dockerAs(['push', ref]);
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/denied/i);
    ok(await login('admin', srv.passwords.admin));
    ok(await dockerAs(['pull', ref]));
  });
});
