/**
 * Scheduling decisions with 100 compute hosts and 1,000 servers (issue 13; target: p50 <= 2 ms).
 *
 *   bash bench/run.sh scheduler [--hosts 100] [--servers 1000] [--decisions 500]
 *
 * A decision is what a boot's build waits for before its image is made present: one
 * PlacementService.placeBoot, i.e. the host cache and the settings read, then one placement
 * transaction on a real SQLite file (usage by host from the allocations table, the candidates
 * built, filters and weighers run, the allocation inserted and the server's host recorded).
 * The hosts are fake engines (src/virt/fake) of mixed sizes behind the real HostService; the
 * servers are real rows, placed by these same decisions while the cloud fills up to --servers
 * (flavors m1.tiny, m1.small and m1.medium in turn). Then --decisions more are timed with the
 * cloud full, and the scheduler alone (selectHosts over the same 100 candidates, no database).
 * No engine, no HTTP: this is the scheduler's own cost, not a boot's.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { openDb, migrate } from '../src/db/knex';
import { ServerRepository, NewServer } from '../src/db/server-repo';
import { AllocationRepository } from '../src/db/allocation-repo';
import { DEFAULT_CAPACITY } from '../src/config';
import { FakeDriver } from '../src/virt/fake/driver';
import { DriverRegistry } from '../src/virt/registry';
import { HostService } from '../src/compute/services/hosts';
import { PlacementService } from '../src/compute/scheduler/placement';
import type { HostSettings, HostSettingsPort } from '../src/compute/scheduler/types';
import { selectHosts } from '../src/compute/scheduler/scheduler';
import type { RequestSpec } from '../src/compute/scheduler/types';
import type { ServerRecord } from '../src/compute/server-record';
import { main, median, ms, now, numArg, percentile, report } from './lib';

/** Every fake host enabled, in the default zone (what os-services and aggregates say of an untouched cloud). */
class AllEnabled implements HostSettingsPort {
  constructor(private readonly hosts: () => string[]) {}
  async all(): Promise<HostSettings[]> {
    return this.hosts().map((host) => ({ host, disabled: false, disabledReason: null, forcedDown: false, zone: 'nova' }));
  }
  async zoneExists(zone: string): Promise<boolean> {
    return zone === 'nova';
  }
}

const FLAVORS = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
];

function newServer(i: number): NewServer {
  const f = FLAVORS[i % FLAVORS.length];
  return {
    id: crypto.randomUUID(), name: `bench-${i}`, project_id: 'bench', user_id: 'bench', image_id: null, flavor_id: f.id,
    flavor: { ...f, ephemeral: 0, swap: 0, extra_specs: {} }, vm_state: 'building', task_state: 'scheduling', power_state: 0, host: null,
    availability_zone: 'nova', reservation_id: `r-${i}`, launch_index: 0, hostname: `bench-${i}`, description: null, metadata: {}, addresses: {},
    requested_networks: 'none', access_ip_v4: '', access_ip_v6: '', key_name: null, key_data: null, user_data: null, config_drive: false,
    security_groups: ['default'], tags: [], locked: false, locked_by: null, locked_reason: null, progress: 0, fault: null, launched_at: null, terminated_at: null,
  };
}

const specOf = (s: ServerRecord): RequestSpec => ({ memoryMb: s.flavor.ram, vcpus: s.flavor.vcpus, count: 1 });

main(async (cleanups) => {
  const hostCount = numArg('hosts', 100);
  const serverCount = numArg('servers', 1000);
  const decisions = numArg('decisions', 500);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-bench-scheduler-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const db = openDb(path.join(dir, 'novadock.sqlite'));
  cleanups.push(() => db.destroy());
  await migrate(db);

  // Hosts of 32 to 128 GiB and 16 to 64 CPUs, so the weighers have something to choose between.
  const drivers = Array.from({ length: hostCount }, (_, i) => new FakeDriver({
    host: `host-${String(i).padStart(3, '0')}`, hypervisor: { memoryMb: 32768 * (1 + (i % 4)), vcpus: 16 * (1 + (i % 4)) },
  }));
  const hosts = new HostService(new DriverRegistry(drivers), { intervalMs: 3_600_000 });
  cleanups.push(async () => hosts.stop());
  const placement = new PlacementService({
    allocations: new AllocationRepository(db),
    hosts,
    settings: new AllEnabled(() => drivers.map((d) => d.host)),
    capacity: () => DEFAULT_CAPACITY,
    log: pino({ level: 'silent' }),
  });
  const servers = new ServerRepository(db);
  const insert = async (i: number): Promise<ServerRecord> => {
    const r = await servers.insertWithinQuota([newServer(i)], 1, { instances: -1, cores: -1, ram: -1 });
    if (!r.ok) throw new Error('insert refused');
    return r.servers[0];
  };
  await hosts.hosts(); // the first refresh of the host cache, as a running process has had

  const timePlace = async (from: number, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = from; i < from + n; i++) {
      const s = await insert(i);
      const t0 = now();
      await placement.placeBoot([s], specOf(s));
      out.push(ms(t0));
    }
    return out;
  };
  const filling = await timePlace(0, serverCount);
  const full = await timePlace(serverCount, decisions);

  // The scheduler alone, over the candidates of a full cloud.
  const usage = await new AllocationRepository(db).usage();
  const settings = new Map((await new AllEnabled(() => drivers.map((d) => d.host)).all()).map((s) => [s.host, s]));
  const candidates = placement.candidates(await hosts.hosts(), settings, usage, {});
  const alone: number[] = [];
  for (let i = 0; i < decisions; i++) {
    const t0 = now();
    selectHosts(candidates, { memoryMb: FLAVORS[i % 3].ram, vcpus: FLAVORS[i % 3].vcpus, count: 1 });
    alone.push(ms(t0));
  }
  const placed = Number((await db('allocations').count({ n: '*' }).first())?.n);
  const used = new Set((await db('allocations').distinct('host')).map((r: { host: string }) => r.host)).size;

  const p50 = median(full);
  report('scheduler', [
    { name: `decision p50, ${hostCount} hosts, ${serverCount} servers placed`, value: p50, unit: 'ms', target: '<= 2', met: p50 <= 2 },
    { name: 'decision p95, same', value: percentile(full, 95), unit: 'ms' },
    { name: `decision p50 while the first ${serverCount} were placed`, value: median(filling), unit: 'ms' },
    { name: 'decision p95, same', value: percentile(filling, 95), unit: 'ms' },
    { name: `scheduler alone (filters + weighers, ${hostCount} candidates) p50`, value: median(alone), unit: 'ms' },
    { name: 'scheduler alone p95', value: percentile(alone, 95), unit: 'ms' },
  ], [
    `${placed} allocations on ${used} of ${hostCount} hosts; SQLite file in ${os.tmpdir()}; ${decisions} decisions timed with the cloud full.`,
  ]);
});
