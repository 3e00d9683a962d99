/**
 * Contract §10 S7–S14 with the Debian `openstack` and `nova` CLIs, as a new user would drive them:
 * boot and wait, list, show, filters, power actions and their conflicts, console log, properties,
 * rename, snapshot and boot the snapshot, rebuild, reboot --hard, an external `docker kill`, and
 * delete --wait. Each step checks what the client printed AND what the engine shows.
 * The scenarios build on each other, in file order, like a user's session.
 */
import { startServer, StartedServer } from '../helpers/server';
import { docker, nova, openstack } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { parseExposition, valueOf } from '../helpers/prometheus';
import { containerOf, containerState, imageInEngine, json, lines, ok, poll, recordedDockerImageId, serverStatusBecomes, tableRow, testImage, transcript } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
let image2: TestImage;
const ids: Record<string, string> = {};
let imageId: string;
let image2Id: string;

const os = (args: string[]) => openstack(args, srv.env.admin);
const serverId = async (name: string) => ok(await os(['server', 'show', name, '-f', 'value', '-c', 'id'])).stdout.trim();

beforeAll(async () => {
  image = await testImage('e2e-compute', false);
  image2 = await testImage('e2e-compute-2', false);
  srv = await startServer();
  ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
  ok(await os(['image', 'create', '--file', image2.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox2']));
  imageId = ok(await os(['image', 'show', 'busybox', '-f', 'value', '-c', 'id'])).stdout.trim();
  image2Id = ok(await os(['image', 'show', 'busybox2', '-f', 'value', '-c', 'id'])).stdout.trim();
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

describe('S7: boot and wait', () => {
  it('server create --wait prints a blank line from the wait loop, then ACTIVE', async () => {
    const r = ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--wait', 'vm1', '-f', 'value', '-c', 'status']));
    expect(r.stdout).toMatch(/^\s*\n\s*ACTIVE\s*$/);
    ids.vm1 = await serverId('vm1');
  });

  it('GET /metrics (loopback, no token) shows that boot in the boot histogram and the server active (issue 18)', async () => {
    const res = await fetch(`${srv.url}/metrics`);
    expect(res.status).toBe(200);
    const families = await parseExposition(await res.text());
    expect(valueOf(families, 'novadock_server_boot_duration_seconds_count', { result: 'success' })).toBe(1);
    expect(valueOf(families, 'novadock_servers', { vm_state: 'active', task_state: 'none' })).toBe(1);
  });

  it('docker ps shows its container running with the flavor\'s limits and none of the host\'s powers', async () => {
    const ctr = await containerOf(ids.vm1);
    expect(ctr?.State.Status).toBe('running');
    expect(ctr?.Image).toBe(image.imageId);
    expect(ctr?.Config.Hostname).toBe('vm1');
    const hc = ctr!.HostConfig;
    expect(hc.Memory).toBe(512 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(hc.Memory); // no swap on top
    expect(hc.NanoCpus || (hc.CpuQuota / hc.CpuPeriod) * 1e9).toBe(1e9);
    expect(hc.PidsLimit).toBeGreaterThan(0);
    expect(hc.Privileged).toBe(false);
    expect(hc.NetworkMode).not.toBe('host');
    expect(hc.Binds ?? []).toEqual([]);
    expect(hc.CapAdd ?? []).toEqual([]);
  });

  it('server list shows it ACTIVE with its address, image and flavor names', async () => {
    const r = ok(await os(['server', 'list']));
    expect(r.stdout).toMatch(tableRow('ID', 'Name', 'Status', 'Networks', 'Image', 'Flavor'));
    const row = new RegExp(`\\|\\s*${ids.vm1}\\s*\\|\\s*vm1\\s*\\|\\s*ACTIVE\\s*\\|\\s*(\\S+)=(\\d+\\.\\d+\\.\\d+\\.\\d+)\\s*\\|\\s*busybox\\s*\\|\\s*m1\\.tiny\\s*\\|`).exec(r.stdout);
    expect(row).not.toBeNull();
    const engineAddrs = Object.values((await containerOf(ids.vm1))!.NetworkSettings.Networks).map((n) => n.IPAddress);
    expect(engineAddrs).toContain(row![2]);
  });

  it('server list --long adds task state, power state, image and flavor ids, zone and host', async () => {
    type Row = Record<string, unknown>;
    const rows = json<Row[]>(await os(['server', 'list', '--long', '-f', 'json']));
    const vm1 = rows.find((x) => x.ID === ids.vm1);
    expect(vm1).toMatchObject({
      Name: 'vm1', Status: 'ACTIVE', 'Task State': null, 'Power State': 1, // -f json prints the raw value
      'Image Name': 'busybox', 'Image ID': imageId, 'Flavor Name': 'm1.tiny', 'Flavor ID': '1', 'Availability Zone': 'nova',
    });
    expect(typeof vm1?.Host).toBe('string');
    const table = ok(await os(['server', 'list', '--long']));
    expect(table.stdout).toMatch(new RegExp(`\\|\\s*${ids.vm1}\\s*\\|\\s*vm1\\s*\\|\\s*ACTIVE\\s*\\|\\s*None\\s*\\|\\s*Running\\s*\\|`));
  });
});

describe('S8: boot without waiting, an explicit microversion, no network', () => {
  it('--os-compute-api-version 2.37 --nic none prints BUILD, and the server becomes ACTIVE with no address', async () => {
    const r = ok(await os(['--os-compute-api-version', '2.37', 'server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--nic', 'none', 'vm2', '-f', 'value', '-c', 'status']));
    expect(lines(r)).toEqual(['BUILD']);
    expect(await serverStatusBecomes(srv.env.admin, 'vm2', 'ACTIVE')).toBe('ACTIVE');
    ids.vm2 = await serverId('vm2');
    const shown = json<{ addresses: unknown }>(await os(['server', 'show', 'vm2', '-f', 'json', '-c', 'addresses']));
    expect(shown.addresses === '' || JSON.stringify(shown.addresses) === '{}').toBe(true);
    expect(await containerState(ids.vm2)).toBe('running');
  });

  it('--nic none at 2.1 fails in the client before any request, and no server is made', async () => {
    const r = await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--nic', 'none', 'vm3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nics must be a list or a tuple, not <class 'str'>");
    expect(lines(ok(await os(['server', 'list', '-f', 'value', '-c', 'Name'])))).not.toContain('vm3');
  });
});

describe('S9: show and filters', () => {
  it('server show prints the fields in alphabetical order, power state as its number', async () => {
    const r = ok(await os(['server', 'show', 'vm1', '-f', 'value', '-c', 'name', '-c', 'status', '-c', 'OS-EXT-STS:vm_state', '-c', 'OS-EXT-STS:power_state', '-c', 'flavor', '-c', 'image']));
    expect(lines(r)).toEqual(['1', 'active', 'm1.tiny (1)', `busybox (${imageId})`, 'vm1', 'ACTIVE']);
  });

  it('server list filters by status and name regex, newest first', async () => {
    const r = ok(await os(['server', 'list', '--status', 'ACTIVE', '--name', '^vm', '-f', 'value', '-c', 'Name']));
    expect(lines(r)).toEqual(['vm2', 'vm1']);
  });

  it('another project sees none of them; admin --all-projects sees them all', async () => {
    expect(lines(ok(await openstack(['server', 'list', '-f', 'value', '-c', 'Name'], srv.env.demo)))).toEqual([]);
    expect(lines(ok(await os(['server', 'list', '--all-projects', '-f', 'value', '-c', 'Name'])))).toEqual(expect.arrayContaining(['vm1', 'vm2']));
    const show = await openstack(['server', 'show', ids.vm1], srv.env.demo);
    expect(show.code).toBe(1);
  });

  it('server show of a name that does not exist says so, with exit status 1', async () => {
    const r = await os(['server', 'show', 'nosuch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("No server with a name or ID of 'nosuch' exists.");
  });
});

describe('S10: power actions and conflicts', () => {
  it('stop makes it SHUTOFF and the container exited; stopping again is a 409 naming the state', async () => {
    ok(await os(['server', 'stop', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'SHUTOFF')).toBe('SHUTOFF');
    expect(await containerState(ids.vm1)).toBe('exited');
    const again = await os(['server', 'stop', 'vm1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`Cannot 'stop' instance ${ids.vm1} while it is in vm_state stopped \\(HTTP 409\\) \\(Request-ID: req-`));
  });

  it('start makes it ACTIVE again in the same container', async () => {
    const before = (await containerOf(ids.vm1))!.Id;
    ok(await os(['server', 'start', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
    const ctr = await containerOf(ids.vm1);
    expect(ctr?.State.Status).toBe('running');
    expect(ctr?.Id).toBe(before);
  });

  it('reboot --wait prints Complete and keeps the container and its filesystem', async () => {
    const before = (await containerOf(ids.vm1))!.Id;
    ok(await docker(['exec', before, 'sh', '-c', 'echo kept > /root/reboot-marker']));
    const r = ok(await os(['server', 'reboot', '--wait', 'vm1']));
    expect(r.stdout).toContain('Complete');
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
    expect((await containerOf(ids.vm1))?.Id).toBe(before);
    expect(ok(await docker(['exec', before, 'cat', '/root/reboot-marker'])).stdout.trim()).toBe('kept');
  });

  it('reboot --hard --wait brings it back ACTIVE in the same container', async () => {
    const before = (await containerOf(ids.vm1))!.Id;
    ok(await os(['server', 'reboot', '--hard', '--wait', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
    const ctr = await containerOf(ids.vm1);
    expect(ctr?.Id).toBe(before);
    expect(ctr?.State.Status).toBe('running');
  });

  it('pause makes it PAUSED and the container paused; unpause makes it ACTIVE and running', async () => {
    ok(await os(['server', 'pause', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'PAUSED')).toBe('PAUSED');
    expect(await containerState(ids.vm1)).toBe('paused');
    ok(await os(['server', 'unpause', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
    expect(await containerState(ids.vm1)).toBe('running');
  });

  it('suspend makes it SUSPENDED (the container frozen); resume makes it ACTIVE; resuming again is a 409', async () => {
    ok(await os(['server', 'suspend', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'SUSPENDED')).toBe('SUSPENDED');
    expect(await containerState(ids.vm1)).toBe('paused');
    ok(await os(['server', 'resume', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
    expect(await containerState(ids.vm1)).toBe('running');
    const again = await os(['server', 'resume', 'vm1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ConflictException: 409');
    expect(again.stderr).toContain(`Cannot 'resume' instance ${ids.vm1} while it is in vm_state active`);
  });
});

describe('an external docker kill', () => {
  it('shows the server SHUTOFF without any API call, and server start brings it back', async () => {
    const ctr = (await containerOf(ids.vm1))!;
    ok(await docker(['kill', ctr.Id]));
    // The reconciler's event listener does this; the bound is a give-up, bench/kill-lag measures the lag.
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'SHUTOFF', 30_000)).toBe('SHUTOFF');
    const power = json<Record<string, unknown>>(await os(['server', 'show', 'vm1', '-f', 'json', '-c', 'OS-EXT-STS:power_state', '-c', 'OS-EXT-STS:vm_state']));
    expect(power).toMatchObject({ 'OS-EXT-STS:vm_state': 'stopped' });
    expect(['Shutdown', 4, '4']).toContain(power['OS-EXT-STS:power_state']);
    ok(await os(['server', 'start', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
  });
});

describe('S11: console log, properties, rename', () => {
  it('console log show --lines 5 prints the tail of the container\'s console, also once it is stopped', async () => {
    ok(await os(['server', 'stop', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'SHUTOFF')).toBe('SHUTOFF');
    const full = lines(ok(await os(['console', 'log', 'show', 'vm1'])));
    const tail = lines(ok(await os(['console', 'log', 'show', '--lines', '5', 'vm1'])));
    // NOTE(openstack): Nova keeps log.split('\n')[-length:], so the newline that ends the
    // console takes one of the five: four lines of text, or five if the last line is unended.
    expect(tail.length).toBeGreaterThanOrEqual(4);
    expect(tail.length).toBeLessThanOrEqual(5);
    expect(full.slice(-tail.length)).toEqual(tail);
    for (const l of tail) expect(l).toMatch(/^tick \d+$/);
    expect(full.length).toBeGreaterThan(tail.length);
    ok(await os(['server', 'start', 'vm1']));
    expect(await serverStatusBecomes(srv.env.admin, 'vm1', 'ACTIVE')).toBe('ACTIVE');
  });

  it('server set/unset --property and set --name show in server show', async () => {
    ok(await os(['server', 'set', '--property', 'owner=alice', '--property', 'tier=web', 'vm1']));
    ok(await os(['server', 'unset', '--property', 'tier', 'vm1']));
    ok(await os(['server', 'set', '--name', 'web1', 'vm1']));
    const shown = json(await os(['server', 'show', 'web1', '-f', 'json', '-c', 'name', '-c', 'properties']));
    expect(shown).toEqual({ name: 'web1', properties: { owner: 'alice' } });
  });
});

describe('S12: snapshot, and boot the snapshot', () => {
  it('server image create --wait prints the snapshot active; it carries image_type and instance_uuid', async () => {
    const ctr = (await containerOf(ids.vm1))!;
    ok(await docker(['exec', ctr.Id, 'sh', '-c', 'echo from-web1 > /root/snap-marker']));
    const r = ok(await os(['server', 'image', 'create', '--name', 'web1-snap', '--wait', 'web1', '-f', 'value', '-c', 'status', '-c', 'name']));
    expect(lines(r)).toEqual(['web1-snap', 'active']);
    const shown = json<{ status: string; properties: Record<string, unknown> }>(await os(['image', 'show', 'web1-snap', '-f', 'json', '-c', 'status', '-c', 'properties']));
    expect(shown.status).toBe('active');
    expect(shown.properties).toMatchObject({ image_type: 'snapshot', instance_uuid: ids.vm1 });
    expect(lines(ok(await os(['server', 'show', 'web1', '-f', 'value', '-c', 'status', '-c', 'OS-EXT-STS:task_state'])))).toEqual(['None', 'ACTIVE']);
  });

  it('the snapshot boots, with the filesystem the server had', async () => {
    ok(await os(['server', 'create', '--image', 'web1-snap', '--flavor', 'm1.tiny', '--wait', 'snapvm']));
    ids.snapvm = await serverId('snapvm');
    const ctr = await containerOf(ids.snapvm);
    expect(ctr?.State.Status).toBe('running');
    expect(ok(await docker(['exec', ctr!.Id, 'cat', '/root/snap-marker'])).stdout.trim()).toBe('from-web1');
  });
});

describe('rebuild', () => {
  it('server rebuild --image --wait gives a new container from the new image, same id and address', async () => {
    const before = (await containerOf(ids.vm1))!;
    const addrBefore = json<{ addresses: unknown }>(await os(['server', 'show', 'web1', '-f', 'json', '-c', 'addresses'])).addresses;
    ok(await os(['server', 'rebuild', '--image', 'busybox2', '--wait', 'web1']));
    expect(await serverStatusBecomes(srv.env.admin, 'web1', 'ACTIVE')).toBe('ACTIVE');
    const after = await containerOf(ids.vm1);
    expect(after?.Id).not.toBe(before.Id);
    expect(after?.Image).toBe(image2.imageId);
    expect(after?.State.Status).toBe('running');
    const shown = json<{ id: string; image: string; addresses: unknown }>(await os(['server', 'show', 'web1', '-f', 'json', '-c', 'id', '-c', 'image', '-c', 'addresses']));
    expect(shown.id).toBe(ids.vm1);
    expect(shown.image).toBe(`busybox2 (${image2Id})`);
    expect(shown.addresses).toEqual(addrBefore);
  });
});

describe('S13: the nova CLI', () => {
  it('nova list prints the | ID | Name | Status | Task State | Power State | Networks | table', async () => {
    const r = ok(await nova(['list'], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('ID', 'Name', 'Status', 'Task State', 'Power State', 'Networks'));
    expect(r.stdout).toMatch(new RegExp(`\\|\\s*${ids.vm1}\\s*\\|\\s*web1\\s*\\|\\s*ACTIVE\\s*\\|\\s*-\\s*\\|\\s*Running\\s*\\|`));
  });

  it('nova boot prints the server in BUILD with its adminPass; nova show then shows it ACTIVE with flavor and image', async () => {
    const r = ok(await nova(['boot', '--image', 'busybox', '--flavor', 'm1.tiny', 'nvm1'], srv.env.admin));
    expect(r.stdout).toMatch(tableRow('status', 'BUILD'));
    expect(r.stdout).toMatch(/\|\s*adminPass\s*\|\s*\S+\s*\|/);
    const shown = await poll(() => nova(['show', 'nvm1'], srv.env.admin), (x) => tableRow('status', 'ACTIVE').test(x.stdout), 90_000);
    expect(shown.stdout).toMatch(tableRow('status', 'ACTIVE'));
    expect(shown.stdout).toMatch(tableRow('flavor:original_name', 'm1.tiny'));
    expect(shown.stdout).toMatch(tableRow('image', `busybox (${imageId})`));
    ids.nvm1 = /\|\s*id\s*\|\s*([0-9a-f-]{36})\s*\|/.exec(shown.stdout)?.[1] ?? '';
    // The next tests look the container up by this id: '' would match any container.
    expect(ids.nvm1).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('docker ps shows nvm1\'s container with m1.tiny\'s limits', async () => {
    const ps = ok(await docker(['ps', '--no-trunc', '--format', '{{.ID}} {{.Labels}}']));
    expect(ps.stdout).toContain(ids.nvm1);
    const ctr = await containerOf(ids.nvm1);
    expect(ctr?.HostConfig.Memory).toBe(512 * 1024 * 1024);
  });

  it('nova delete is accepted, and the server and its container go away', async () => {
    const r = ok(await nova(['delete', 'nvm1'], srv.env.admin));
    expect(r.stdout).toContain('Request to delete server nvm1 has been accepted.');
    const gone = await poll(() => nova(['show', ids.nvm1], srv.env.admin), (x) => x.code !== 0, 60_000);
    expect(gone.code).toBe(1);
    expect(await containerState(ids.nvm1)).toBe('absent');
  });
});

describe('S14: delete and cleanup', () => {
  it('server delete --wait returns once the servers are gone, with their containers', async () => {
    ok(await os(['server', 'delete', '--wait', 'web1', 'vm2', 'snapvm']));
    expect(lines(ok(await os(['server', 'list', '-f', 'value'])))).toHaveLength(0);
    for (const name of ['vm1', 'vm2', 'snapvm']) expect(await containerState(ids[name])).toBe('absent');
  });

  it('image delete of the snapshot and the images leaves the image list empty', async () => {
    const snapDocker = recordedDockerImageId(srv, ok(await os(['image', 'show', 'web1-snap', '-f', 'value', '-c', 'id'])).stdout.trim());
    ok(await os(['image', 'delete', 'web1-snap', 'busybox', 'busybox2']));
    expect(lines(ok(await os(['image', 'list', '-f', 'value'])))).toHaveLength(0);
    expect(snapDocker).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await poll(() => imageInEngine(snapDocker!), (present) => !present, 10_000)).toBe(false);
  });

  it('a server that does not exist cannot be deleted: the CLI says so', async () => {
    const r = await os(['server', 'delete', 'nosuch']);
    expect(r.code).toBe(1);
    expect(transcript(r)).toMatch(/nosuch/);
  });
});
