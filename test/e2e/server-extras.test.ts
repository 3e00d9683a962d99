/**
 * Issue 15's server extras with the stock `openstack` CLI against a started novadock on a real
 * engine: `server set --tag` / `unset --tag` / `list --tags`, `server show --diagnostics` (the
 * engine's live figures, in the libvirt-like shape at OSC's default 2.1 and the standard one at 2.48).
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { json, lines, ok, serverStatusBecomes, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
const os = (args: string[]) => openstack(args, srv.env.admin);
/** OSC 6 speaks 2.1 unless told: tags need 2.26, the standard diagnostics 2.48. */
const at = (mv: string, args: string[]) => os(['--os-compute-api-version', mv, ...args]);

beforeAll(async () => {
  image = await testImage('e2e-extras', false);
  srv = await startServer();
  ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'tagged']));
  ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'plain']));
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

describe('server tags', () => {
  it('server set --tag adds tags that server show and server list --tags see; unset --tag removes one', async () => {
    ok(await at('2.52', ['server', 'set', '--tag', 'blue', '--tag', 'red', 'tagged']));
    expect((json<{ tags: string[] }>(await at('2.52', ['server', 'show', 'tagged', '-f', 'json', '-c', 'tags'])).tags).sort()).toEqual(['blue', 'red']);
    expect(lines(ok(await at('2.52', ['server', 'list', '--tags', 'blue', '-f', 'value', '-c', 'Name'])))).toEqual(['tagged']);
    expect(lines(ok(await at('2.52', ['server', 'list', '--not-tags', 'blue', '-f', 'value', '-c', 'Name'])))).toEqual(['plain']);
    ok(await at('2.52', ['server', 'unset', '--tag', 'red', 'tagged']));
    expect(json<{ tags: string[] }>(await at('2.52', ['server', 'show', 'tagged', '-f', 'json', '-c', 'tags'])).tags).toEqual(['blue']);
  });

  it('a malformed tag is refused with Nova\'s message', async () => {
    const r = await at('2.52', ['server', 'set', '--tag', 'a,b', 'tagged']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Tag 'a,b' is invalid");
  });
});

describe('server show --diagnostics', () => {
  it('prints the engine\'s figures in both shapes: running, memory used, the flavor\'s memory; a stopped server is a 409', async () => {
    type Diag = { state: string; driver: string; hypervisor: string; memory_details: { maximum: number; used: number } };
    const legacy = json<Record<string, number>>(await os(['server', 'show', '--diagnostics', 'tagged', '-f', 'json']));
    expect(legacy.memory).toBe(512 * 1024);
    expect(legacy.cpu0_time).toBeGreaterThan(0);
    const first = json<Diag>(await at('2.48', ['server', 'show', '--diagnostics', 'tagged', '-f', 'json']));
    expect(first).toMatchObject({ state: 'running', driver: 'libvirt', hypervisor: 'docker', memory_details: { maximum: 512 } });
    expect(first.memory_details.used).toBeGreaterThan(0);
    ok(await os(['server', 'stop', 'plain']));
    // `server stop` returns once the stop is accepted; the container runs until it is SHUTOFF.
    expect(await serverStatusBecomes(srv.env.admin, 'plain', 'SHUTOFF')).toBe('SHUTOFF');
    const stopped = await os(['server', 'show', '--diagnostics', 'plain']);
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toMatch(/Cannot 'get_diagnostics' instance .* while it is in power state shutdown/);
  });
});
