/**
 * Project subnets (src/compute/services/project-subnets.ts): one per project from the configured
 * range, recorded so every host and every process sees the same one; no two projects share or
 * overlap one, even when processes allocate at once; a used-up range fails with a clear message;
 * a subnet an engine refuses is kept out of use and the project moves on. On SQLite, or on
 * PostgreSQL when NOVADOCK_TEST_PG_URL is set.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import pino from 'pino';
import { migrate, openDb, Db } from '../../src/db/knex';
import { ProjectSubnetRepository } from '../../src/db/subnet-repo';
import type { ServerRepository } from '../../src/db/server-repo';
import type { ServerRecord } from '../../src/compute/server-record';
import { checkProjectNetworkSettings, NoFreeSubnet, ProjectNetworkSettings, ProjectSubnets } from '../../src/compute/services/project-subnets';
import { SubnetUnavailable } from '../../src/virt/driver';
import { FakeDriver } from '../../src/virt/fake/driver';
import { createTestSchema, testPgUrl, TestSchema } from '../helpers/postgres';
import { makeTestServices } from '../helpers/services';

const log = pino({ level: 'silent' });
const SMALL: ProjectNetworkSettings = { range: '10.160.0.0/20', prefix: 24 }; // 16 subnets

/** Two connections to one database, as two processes would have. */
let dbs: Db[];
let dir: string;
let schema: TestSchema | undefined;

beforeEach(async () => {
  const pg = testPgUrl();
  if (pg) {
    schema = await createTestSchema(pg);
    dbs = [openDb(schema.url, { searchPath: schema.schema }), openDb(schema.url, { searchPath: schema.schema })];
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-subnets-'));
    const file = path.join(dir, 'db.sqlite');
    dbs = [openDb(file), openDb(file)];
  }
  await migrate(dbs[0]);
});

afterEach(async () => {
  await Promise.all(dbs.map((d) => d.destroy()));
  if (schema) await schema.drop();
  else fs.rmSync(dir, { recursive: true, force: true });
  schema = undefined;
});

const noServers = { list: async () => [] } as unknown as ServerRepository;
const allocator = (db: Db, settings: ProjectNetworkSettings = SMALL, servers = noServers) =>
  new ProjectSubnets({ repo: new ProjectSubnetRepository(db), servers, settings, log });

const span = (cidr: string) => {
  const [a, p] = ipaddr.IPv4.parseCIDR(cidr);
  const start = a.octets.reduce((x, o) => x * 256 + o, 0);
  return [start, start + 2 ** (32 - p) - 1];
};
const overlap = (x: string, y: string) => {
  const [a, b] = span(x);
  const [c, d] = span(y);
  return a <= d && c <= b;
};
const inRange = (cidr: string, range: string) => ipaddr.IPv4.parse(cidr.split('/')[0]).match(ipaddr.IPv4.parseCIDR(range));

describe('allocation', () => {
  test('every project gets its own subnet of the range, the same one every time it asks, from either process', async () => {
    const [a, b] = [allocator(dbs[0], { range: '10.160.0.0/16', prefix: 24 }), allocator(dbs[1], { range: '10.160.0.0/16', prefix: 24 })];
    const projects = Array.from({ length: 200 }, (_, i) => `project-${i}`);
    const subnets = [];
    for (const p of projects) subnets.push(await a.subnetOf(p));
    expect(new Set(subnets).size).toBe(200);
    for (const s of subnets) {
      expect(s).toMatch(/\/24$/);
      expect(inRange(s, '10.160.0.0/16')).toBe(true);
    }
    expect(await b.subnetOf('project-7')).toBe(subnets[7]);
    expect(await a.subnetOf('project-7')).toBe(subnets[7]);
  });

  test('two processes allocating at once never hand out one subnet twice, and agree on a project both ask for', async () => {
    const [a, b] = [allocator(dbs[0]), allocator(dbs[1])];
    const asks = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).subnetOf(`p-${i}`));
    const both = [a.subnetOf('shared'), b.subnetOf('shared'), a.subnetOf('shared'), b.subnetOf('shared')];
    const got = await Promise.all(asks);
    const shared = await Promise.all(both);
    expect(new Set(shared).size).toBe(1);
    expect(new Set([...got, shared[0]]).size).toBe(13);
  });

  test('a used-up range fails with a message naming the setting, and allocates nothing', async () => {
    const a = allocator(dbs[0]);
    for (let i = 0; i < 16; i++) await a.subnetOf(`p-${i}`);
    const err = await a.subnetOf('one-too-many').catch((e) => e);
    expect(err).toBeInstanceOf(NoFreeSubnet);
    expect(err.message).toBe('No free project subnet: all 16 subnets (/24) of NOVADOCK_PROJECT_NETWORK_RANGE 10.160.0.0/20 are in use.');
    expect(await new ProjectSubnetRepository(dbs[0]).get('one-too-many')).toBeUndefined();
  });

  test('after the prefix setting changes, new subnets do not overlap those handed out before', async () => {
    const before = allocator(dbs[0], { range: '10.160.0.0/20', prefix: 23 });
    const old = [await before.subnetOf('a'), await before.subnetOf('b')];
    const after = allocator(dbs[0], { range: '10.160.0.0/20', prefix: 24 });
    const fresh = [];
    for (let i = 0; i < 12; i++) fresh.push(await after.subnetOf(`n-${i}`));
    for (const f of fresh) for (const o of old) expect(overlap(f, o)).toBe(false);
    await expect(after.subnetOf('n-12')).rejects.toBeInstanceOf(NoFreeSubnet);
  });

  test('settings that cannot work stop the start with a message naming the setting', () => {
    expect(() => checkProjectNetworkSettings({ range: 'ten', prefix: 24 })).toThrow(/NOVADOCK_PROJECT_NETWORK_RANGE must be an IPv4 range/);
    expect(() => checkProjectNetworkSettings({ range: '10.161.0.0/12', prefix: 24 })).toThrow('NOVADOCK_PROJECT_NETWORK_RANGE 10.161.0.0/12 is not a network address: did you mean 10.160.0.0/12?');
    expect(() => checkProjectNetworkSettings({ range: '10.160.0.0/12', prefix: 8 })).toThrow(/NOVADOCK_PROJECT_NETWORK_PREFIX must be an integer from 12/);
    expect(() => checkProjectNetworkSettings({ range: '10.160.0.0/12', prefix: 30 })).toThrow(/to 28, got '30'/);
  });
});

describe('an engine refuses a subnet', () => {
  test('the project moves to a free subnet clear of what the engine has, and the refused one is never handed out again', async () => {
    const a = allocator(dbs[0]);
    const first = await a.subnetOf('p');
    expect(first).toBe('10.160.0.0/24');
    // The engine holds 10.160.0.0/23 (someone else's network): .0 and .1 are both out.
    const next = await a.refused('p', first, 'Pool overlaps with other one on this address space', ['10.160.0.0/23', '172.17.0.0/16', 'fd00::/64']);
    expect(next).toBe('10.160.2.0/24');
    expect(await a.subnetOf('p')).toBe(next);
    // Not overlapping the host's networks is this move's concern; the blocked one is everyone's.
    expect(await a.subnetOf('q')).toBe('10.160.1.0/24');
    const others = [];
    for (let i = 0; i < 13; i++) others.push(await a.subnetOf(`o-${i}`));
    expect(others).not.toContain(first);
    await expect(a.subnetOf('none-left')).rejects.toBeInstanceOf(NoFreeSubnet);
  });

  test('spawns of one project refused at once agree on the one subnet it moves to', async () => {
    const [a, b] = [allocator(dbs[0]), allocator(dbs[1])];
    const first = await a.subnetOf('p');
    const moved = await Promise.all([a.refused('p', first, 'overlap', []), b.refused('p', first, 'overlap', []), a.refused('p', first, 'overlap', [])]);
    expect(new Set(moved).size).toBe(1);
    expect(moved[0]).not.toBe(first);
    expect(await b.subnetOf('p')).toBe(moved[0]);
  });
});

describe('the network part of a spec', () => {
  test("lists the addresses the project's other servers hold in its subnet, not the server's own", async () => {
    const server = (id: string, addrs: string[]) => ({ id, addresses: { private: addrs.map((addr) => ({ addr, version: 4, mac: '' })) } }) as unknown as ServerRecord;
    const servers = { list: async () => [server('me', ['10.160.0.9']), server('other', ['10.160.0.7']), server('old', ['172.19.0.2'])] } as unknown as ServerRepository;
    const spec = await allocator(dbs[0], SMALL, servers).networkFor('p', 'me');
    expect(spec).toEqual({ projectId: 'p', subnet: '10.160.0.0/24', addressesInUse: ['10.160.0.7'] });
  });

  test('a boot whose subnet the engine refuses moves the project and comes up ACTIVE in the new subnet', async () => {
    let refusedOnce = false;
    const driver = new FakeDriver({
      host: 'fake-host',
      failOn: (op) => {
        if (op !== 'spawn' || refusedOnce) return undefined;
        refusedOnce = true;
        return new SubnetUnavailable('10.160.0.0/24', 'fake-host', 'Pool overlaps with other one on this address space', ['10.160.0.0/24']);
      },
    });
    const t = await makeTestServices({ driver });
    try {
      const image = await t.uploadImage();
      const ctx = await t.ctx();
      // The Networking API's default network was made first, on the subnet the engine will refuse.
      const network = await t.services.networkCore.defaults.ensure(ctx.projectId);
      expect((await t.services.networkCore.repo.subnetsOf(network.id)).map((x) => x.cidr)).toEqual(['10.160.0.0/24']);
      const { servers } = await t.services.compute.boot.create(ctx, { name: 'vm', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
      await t.services.compute.tasks.idle();
      const s = await t.services.compute.queries.get(ctx, servers[0].id);
      expect(s.vm_state).toBe('active');
      expect(s.addresses.private[0].addr).toBe('10.160.1.254');
      expect(await new ProjectSubnetRepository(t.services.db).get(ctx.projectId)).toBe('10.160.1.0/24');
      expect((await t.services.db('project_subnets').where({ cidr: '10.160.0.0/24' }).first()).project_id).toBeNull();
      // ... and its subnet followed the project to where its servers are.
      expect((await t.services.networkCore.repo.subnetsOf(network.id)).map((x) => [x.cidr, x.gateway_ip, x.allocation_pools])).toEqual([
        ['10.160.1.0/24', '10.160.1.1', [{ start: '10.160.1.2', end: '10.160.1.254' }]],
      ]);
    } finally {
      await t.close();
    }
  });
});
