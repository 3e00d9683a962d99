/**
 * The floating IP part of the network service, built for the composition root (issue 17): the
 * repository, the NAT sync over each compute host's namespace, and the API's service.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/knex';
import { FloatingIpRepository } from '../db/floating-ip-repo';
import { NetworkRepository } from '../db/network-repo';
import type { NatTable } from '../virt/nat';
import { IptablesNat } from '../virt/nat-iptables';
import { FloatingIpService } from './floating-ips';
import { NatSync, type NatSyncDeps } from './nat-sync';
import { RouterRepository } from '../db/router-repo';
import { RouterService } from './routers';
import type { RouterEngine } from '../virt/routers';
import { CrossHostRouting } from './cross-host-routing';

/** How often every host's NAT is re-applied from the database (after engine restarts, failures). */
export const NAT_SWEEP_MS = 30_000;

export interface FloatingIpParts {
  service: FloatingIpService;
  routers: RouterService;
  sync: NatSync;
  /** Routers on networks spanning hosts; absent without a router engine. */
  routing?: CrossHostRouting;
  repo: FloatingIpRepository;
  stop(): Promise<void>;
}

export function buildFloatingIps(o: { db: Db; config: Config; log: Logger; hosts: () => string[]; nat?: NatTable; sweepIntervalMs?: number; floatingipQuota?: (projectId: string) => Promise<number>; routerQuota?: (projectId: string) => Promise<number>; reach?: NatSyncDeps['reach']; routerEngine?: RouterEngine }): FloatingIpParts {
  const hostConfig = (host: string) => o.config.seed.compute_hosts.find((h) => h.name === host);
  const nat = o.nat ?? new IptablesNat((host) => ({ netns: hostConfig(host)?.netns }), o.config.natChainTag);
  const repo = new FloatingIpRepository(o.db);
  const networks = new NetworkRepository(o.db);
  // The sync reads the routers' SNAT through the service built just after it, and where they are across hosts through the routing.
  const late: { routers?: RouterService; routing?: CrossHostRouting } = {};
  const sync = new NatSync({
    repo, nat, hosts: o.hosts, log: o.log, sweepIntervalMs: o.sweepIntervalMs ?? NAT_SWEEP_MS, snat: () => late.routers?.snat() ?? Promise.resolve([]),
    routed: () => late.routers?.routed() ?? Promise.resolve([]), reach: o.reach, exitPlan: (host) => late.routing?.exitPlan(host),
    settingsOf: (host) => ({ externalInterface: hostConfig(host)?.external_interface ?? o.config.externalInterface }),
  });
  const routerRepo = new RouterRepository(o.db);
  const routing = o.routerEngine && new CrossHostRouting({
    repo: routerRepo, engine: o.routerEngine, hosts: o.hosts, log: o.log, sweepIntervalMs: o.sweepIntervalMs ?? NAT_SWEEP_MS, exitsChanged: () => sync.syncAll(),
  });
  late.routing = routing;
  const routerService = new RouterService({ repo: routerRepo, networks, sync, quota: o.routerQuota, routing });
  late.routers = routerService;
  const service = new FloatingIpService({
    repo, networks, sync, quota: o.floatingipQuota, routerFor: (subnetId, networkId) => routerService.routerFor(subnetId, networkId),
    portsChanged: routing && (async (portIds) => {
      for (const id of await routerRepo.serversOfPorts(portIds)) await routing.serverChanged(id);
    }),
  });
  return {
    service, routers: routerService, sync, repo, routing,
    stop: async () => {
      sync.stop();
      routing?.stop();
      await sync.idle();
      await routing?.idle();
    },
  };
}
