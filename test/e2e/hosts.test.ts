/**
 * Hosts as an operator drives them with the stock `openstack` CLI (OSC 6.0, which negotiates the
 * newest microversion: os-services by UUID from 2.53), against a started novadock with two compute
 * hosts: `compute service list/set` (disable with a reason, enable, down/up, also through the
 * pre-2.53 URLs at an explicit 2.11), `aggregate create --zone / add host / set --property /
 * show / remove host / delete`, and `availability zone list --compute [--long]`.
 *
 * NOTE(openstack): plain `openstack availability zone list` builds OSC's network client before
 * its try/except (openstackclient/common/availability_zone.py), so with no network service in
 * the catalog it fails with "public endpoint for network service … not found" whatever the
 * compute API answers; `--compute` lists the compute zones only and works.
 */
import crypto from 'node:crypto';
import { startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, lines, ok, tableRow } from './support';

jest.setTimeout(180_000);

let srv: StartedServer;
const tag = crypto.randomBytes(3).toString('hex');
const H1 = `e2e-hosts-${tag}-a`;
const H2 = `e2e-hosts-${tag}-b`;
const os = (args: string[]) => openstack(args, srv.env.admin);

beforeAll(async () => {
  srv = await startServer({ config: { compute_hosts: [{ name: H1 }, { name: H2 }] } });
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

interface ServiceRow { Binary: string; Host: string; Zone: string; Status: string; State: string; 'Disabled Reason'?: string | null; 'Forced Down'?: boolean }
const services = async (): Promise<ServiceRow[]> => json<ServiceRow[]>(await os(['compute', 'service', 'list', '--long', '-f', 'json']));
const computeOf = async (host: string) => (await services()).find((s) => s.Host === host && s.Binary === 'nova-compute');

describe('compute service list / set', () => {
  it('lists one nova-compute per configured host, up and enabled in zone nova, and the internal services', async () => {
    const rows = await services();
    expect(rows.filter((s) => s.Binary === 'nova-compute').map((s) => [s.Host, s.Zone, s.Status, s.State])).toEqual([
      [H1, 'nova', 'enabled', 'up'], [H2, 'nova', 'enabled', 'up'],
    ]);
    expect(rows.filter((s) => s.Binary !== 'nova-compute').map((s) => [s.Binary, s.Zone])).toEqual([['nova-scheduler', 'internal'], ['nova-conductor', 'internal']]);
  });

  it('--disable --disable-reason, then --enable', async () => {
    ok(await os(['compute', 'service', 'set', '--disable', '--disable-reason', 'kernel upgrade', H1, 'nova-compute']));
    expect(await computeOf(H1)).toMatchObject({ Status: 'disabled', 'Disabled Reason': 'kernel upgrade', State: 'up' });
    ok(await os(['compute', 'service', 'set', '--enable', H1, 'nova-compute']));
    expect(await computeOf(H1)).toMatchObject({ Status: 'enabled', 'Disabled Reason': null });
  });

  it('--down and --up (forced_down), also through the pre-2.53 force-down URL at 2.11', async () => {
    ok(await os(['compute', 'service', 'set', '--down', H2, 'nova-compute']));
    expect(await computeOf(H2)).toMatchObject({ State: 'down', 'Forced Down': true });
    ok(await os(['compute', 'service', 'set', '--up', H2, 'nova-compute']));
    expect(await computeOf(H2)).toMatchObject({ State: 'up', 'Forced Down': false });
    ok(await os(['--os-compute-api-version', '2.11', 'compute', 'service', 'set', '--down', '--disable', H2, 'nova-compute']));
    expect(await computeOf(H2)).toMatchObject({ State: 'down', Status: 'disabled' });
    ok(await os(['--os-compute-api-version', '2.11', 'compute', 'service', 'set', '--up', '--enable', H2, 'nova-compute']));
    expect(await computeOf(H2)).toMatchObject({ State: 'up', Status: 'enabled' });
  });

  it('refuses members with Nova\'s policy text, and a configured host cannot be deleted (409)', async () => {
    const member = await openstack(['compute', 'service', 'list'], srv.env.demo);
    expect(member.code).toBe(1);
    expect(member.stderr).toContain("Policy doesn't allow os_compute_api:os-services:list to be performed.");
    const id = ok(await os(['compute', 'service', 'list', '--host', H1, '--service', 'nova-compute', '-f', 'value', '-c', 'ID'])).stdout.trim();
    const del = await os(['compute', 'service', 'delete', id]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain('409');
    expect(await computeOf(H1)).toBeDefined();
  });
});

describe('aggregates and availability zones', () => {
  it('aggregate create --zone, add host, set --property, show and list --long', async () => {
    const created = json<Record<string, unknown>>(await os(['aggregate', 'create', '--zone', 'az1', 'agg1', '-f', 'json']));
    expect(created).toMatchObject({ name: 'agg1', availability_zone: 'az1' });
    ok(await os(['aggregate', 'add', 'host', 'agg1', H1]));
    ok(await os(['aggregate', 'set', '--property', 'ssd=true', 'agg1']));
    const shown = json<Record<string, unknown>>(await os(['aggregate', 'show', 'agg1', '-f', 'json']));
    expect(shown).toMatchObject({ name: 'agg1', availability_zone: 'az1', hosts: [H1], properties: { ssd: 'true' } });
    const listed = ok(await os(['aggregate', 'list', '--long']));
    expect(listed.stdout).toMatch(tableRow(String(created.id), 'agg1', 'az1', "ssd='true'", H1));
    expect(await computeOf(H1)).toMatchObject({ Zone: 'az1' });
  });

  it('refuses to put a host of az1 into another zone, with Nova\'s reason', async () => {
    ok(await os(['aggregate', 'create', '--zone', 'az2', 'agg2']));
    const r = await os(['aggregate', 'add', 'host', 'agg2', H1]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("One or more hosts already in availability zone(s) ['az1']");
    ok(await os(['aggregate', 'delete', 'agg2']));
  });

  it('availability zone list --compute shows az1, nova and (to an admin, as Nova) internal; --long each zone\'s hosts and services', async () => {
    expect(lines(ok(await os(['availability', 'zone', 'list', '--compute', '-f', 'value'])))).toEqual(['az1 available', 'internal available', 'nova available']);
    expect(lines(ok(await openstack(['availability', 'zone', 'list', '--compute', '-f', 'value'], srv.env.demo)))).toEqual(['az1 available', 'nova available']);
    const long = ok(await os(['availability', 'zone', 'list', '--compute', '--long'])).stdout;
    expect(long).toMatch(new RegExp(`\\|\\s*az1\\s*\\|\\s*available\\s*\\|\\s*\\|\\s*${H1}\\s*\\|\\s*nova-compute\\s*\\|\\s*enabled :-\\)`));
    expect(long).toMatch(new RegExp(`\\|\\s*nova\\s*\\|\\s*available\\s*\\|\\s*\\|\\s*${H2}\\s*\\|\\s*nova-compute\\s*\\|\\s*enabled :-\\)`));
    expect(long).toMatch(/\|\s*internal\s*\|\s*available\s*\|\s*\|\s*\S+\s*\|\s*nova-scheduler\s*\|/);
  });

  it('aggregate delete refuses a non-empty aggregate; after remove host it goes, and the host is back in nova', async () => {
    const refused = await os(['aggregate', 'delete', 'agg1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Host aggregate is not empty');
    ok(await os(['aggregate', 'remove', 'host', 'agg1', H1]));
    ok(await os(['aggregate', 'delete', 'agg1']));
    expect(lines(ok(await os(['aggregate', 'list', '-f', 'value'])))).toEqual([]);
    expect(await computeOf(H1)).toMatchObject({ Zone: 'nova' });
    expect(lines(ok(await os(['availability', 'zone', 'list', '--compute', '-f', 'value'])))).toEqual(['internal available', 'nova available']);
  });
});
