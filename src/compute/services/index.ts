/**
 * The compute services, built together: each concern its own object, collaborating through the
 * ones it is handed (no object reaches another through a global or an import circle).
 *
 *   TaskRunner      lanes and background work            HostService   hosts: status, info
 *   ServerQueries   reads                                InstanceBuilder  what boot and rebuild share
 *   BootService     create                               ServerActions    power, rebuild, console, admin
 *   ServerUpdates   name, metadata, security groups      ServerDeleter    delete
 *   Snapshots       createImage, createBackup            PowerSync        the reconciler's verbs
 *   ActionRunner    claim → lane → finish of every task-claiming action
 *   HostSettingsService  each host's service settings and zone (the scheduler's HostSettingsPort)
 *   OsServices      os-services             AggregateService  os-aggregates
 *   AvailabilityZones  os-availability-zone
 *   ServerGroups    os-server-groups, and the ServerGroupsPort boot and the moves consult
 *   PlacementService  the scheduler and its claims (allocations), through HostSettingsPort and
 *                   ServerGroupsPort (the services above, or stand-ins a test hands in)
 *   MigrationService  migrate, confirm/revert, evacuate, os-migrations (work: MoveWork, leftovers: MoveCleanup)
 *   ShelveService   shelve, shelveOffload, unshelve (and the offload poll)
 *   RemoteConsoles  serial console URLs and their one-time tokens (issue 15)
 */
import type { Logger } from 'pino';
import { DEFAULT_CAPACITY, HostCapacityConfig, QuotaConfig } from '../../config';
import type { AllocationRepository } from '../../db/allocation-repo';
import { PlacementService } from '../scheduler/placement';
import type { HostSettingsPort, PlacementPort, ServerGroupsPort } from '../scheduler/types';
import type { ServerRepository } from '../../db/server-repo';
import type { FlavorRepository } from '../../db/flavor-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { ServerGroupRepository } from '../../db/server-group-repo';
import type { MigrationRepository } from '../../db/migration-repo';
import type { DriverRegistry } from '../../virt/registry';
import { TaskRunner } from './task-runner';
import { HostService, HostServiceOptions } from './hosts';
import { ServerQueries } from './server-queries';
import { InstanceBuilder } from './instance-builder';
import type { ServerNetworking } from './server-ports';
import { ServerInterfaces } from './interfaces';
import { ActionRunner } from './action-runner';
import { BootService } from './boot';
import { ServerActions } from './server-actions';
import { ServerUpdates } from './server-updates';
import { ServerDeleter } from './server-delete';
import { Snapshots } from './snapshots';
import { PowerSync } from './power-sync';
import { QuotaService } from './quotas';
import { TenantUsageService } from './tenant-usage';
import type { QuotaUsage } from '../views/limits';
import type { QuotaRepository } from '../../db/quota-repo';
import { ServerGroups } from './server-groups';
import type { ComputeImages, HostImagesPort } from './ports';
import type { ComputeServiceRepository } from '../../db/compute-service-repo';
import type { AggregateRepository } from '../../db/aggregate-repo';
import { HostSettingsService } from './host-settings';
import { ControlPlanePort, OsServices } from './os-services';
import { AggregateService } from './aggregates';
import { AvailabilityZones } from './availability-zones';
import type { ProjectSubnets } from './project-subnets';
import { MigrationService } from './migrations';
import { MoveWork } from './move-work';
import { MoveCleanup } from './move-cleanup';
import { ShelveService } from './shelve';
import { ServerTags } from './server-tags';
import { ServerDiagnostics } from './server-diagnostics';
import { ResizeService } from './resize';
import { ConsoleSettings, RemoteConsoles } from './remote-consoles';
import type { ConsoleTokenRepository } from '../../db/console-token-repo';
import type { InTransaction } from '../../db/compute-records';

export interface ComputeDeps {
  servers: ServerRepository;
  flavors: FlavorRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  serverGroups: ServerGroupRepository;
  migrations: MigrationRepository;
  /** Server, migration and action writes in one transaction (moves: claim, VERIFY_RESIZE). */
  inTransaction: InTransaction;
  images: ComputeImages;
  hostImages: HostImagesPort;
  /** Project subnets (allocated here, the same on every host). */
  subnets: ProjectSubnets;
  drivers: DriverRegistry;
  /** The config's quotas: the defaults until class 'default' is set through the API. */
  quotas: QuotaConfig;
  /** Quota limits set through the API (issue 15). */
  quotaRepo: QuotaRepository;
  log: Logger;
  hostOptions?: HostServiceOptions;
  /** Placement's claims. */
  allocations: AllocationRepository;
  /** Reserve and allocation ratios of a host (config capacityOf); Nova's defaults when absent. */
  capacity?: (host: string) => HostCapacityConfig;
  /** A stand-in for os-services / os-aggregates' settings (tests); absent = HostSettingsService. */
  hostSettingsPort?: HostSettingsPort;
  /** A stand-in for os-server-groups as the scheduler reads it (tests); absent = ServerGroups. */
  serverGroupsPort?: ServerGroupsPort;
  /** A stand-in for where moves go (tests that watch the calls); absent = the PlacementService. */
  movePlacement?: PlacementPort;
  /** Grace period of os-stop before SIGKILL (see ServerActionsDeps). */
  shutdownTimeoutSeconds?: number;
  /** os-services settings and os-aggregates (issue 13). */
  computeServices: ComputeServiceRepository;
  aggregates: AggregateRepository;
  /** The running novadock processes, listed as nova-scheduler and nova-conductor. */
  control: ControlPlanePort;
  /** NOVADOCK_SHELVED_OFFLOAD_TIME (seconds; 0 = at once, the default; -1 = never). */
  shelvedOffloadTime?: number;
  /** Serial console tokens and settings (issue 15). */
  consoleTokens: ConsoleTokenRepository;
  consoleSettings: ConsoleSettings;
  // --- net-compute (issue 17): servers' interfaces are the network service's ports (tests may give a fake port service)
  networking: ServerNetworking;
  /** issue 17 (net-core): the project's default network's id in the Networking API (boot accepts it). */
  defaultNetworkId?: (projectId: string) => Promise<string>;
}

export interface ComputeServices {
  tasks: TaskRunner;
  hosts: HostService;
  queries: ServerQueries;
  boot: BootService;
  actions: ServerActions;
  updates: ServerUpdates;
  deleter: ServerDeleter;
  snapshots: Snapshots;
  sync: PowerSync;
  placement: PlacementService;
  /** The host settings the scheduler reads (HostSettingsService, or a test's stand-in). */
  hostSettings: HostSettingsPort;
  osServices: OsServices;
  aggregates: AggregateService;
  zones: AvailabilityZones;
  /** os-server-groups (the API's rules; the scheduler reads groups through `groupsPort`). */
  serverGroups: ServerGroups;
  groupsPort: ServerGroupsPort;
  migrations: MigrationService;
  shelve: ShelveService;
  /** Quota sets and classes; every quota check reads its limits here. */
  quotas: QuotaService;
  /** os-simple-tenant-usage (issue 15). */
  tenantUsage: TenantUsageService;
  /** /servers/{id}/tags (issue 15). */
  tags: ServerTags;
  /** GET /servers/{id}/diagnostics (issue 15). */
  diagnostics: ServerDiagnostics;
  /** resize (issue 15): the rules, then a cold move that prefers the server's own host. */
  resize: ResizeService;
  /** Serial console URLs and the websocket's token check (issue 15). */
  consoles: RemoteConsoles;
  // --- net-compute (issue 17): os-interface
  interfaces: ServerInterfaces;
}

export function buildCompute(deps: ComputeDeps): ComputeServices {
  const { servers, actions: actionRepo, log } = deps;
  const tasks = new TaskRunner(log);
  const hosts = new HostService(deps.drivers, deps.hostOptions);
  const hostNames = () => deps.drivers.all().map((d) => d.host);
  const settingsService = new HostSettingsService(hostNames, deps.computeServices, deps.aggregates);
  const hostSettings: HostSettingsPort = deps.hostSettingsPort ?? settingsService;
  // Usage is counted by the queries, built below (they need the groups, which need the quotas).
  const quotas: QuotaService = new QuotaService({ repo: deps.quotaRepo, defaults: deps.quotas, usage: (projectId: string, userId?: string): Promise<QuotaUsage> => queries.quotaUsage(projectId, userId) });
  const serverGroups = new ServerGroups(deps.serverGroups, quotas);
  const groupsPort: ServerGroupsPort = deps.serverGroupsPort ?? serverGroups;
  const hostImages = deps.hostImages;
  const placement = new PlacementService({
    allocations: deps.allocations,
    hosts,
    settings: hostSettings,
    capacity: deps.capacity ?? (() => DEFAULT_CAPACITY),
    images: hostImages.holds ? { holds: (host, ref) => hostImages.holds?.(host, ref) ?? false } : undefined,
    log,
  });
  const queries = new ServerQueries(servers, actionRepo, serverGroups);
  const builder = new InstanceBuilder({ flavors: deps.flavors, images: deps.images, hostImages: deps.hostImages, subnets: deps.subnets, quotas, log, interfaces: deps.networking });
  // The moves need the runner, which needs the sync, which needs the moves: bound once built.
  const late: { cleanup?: MoveCleanup } = {};
  const deleter = new ServerDeleter({ servers, actions: actionRepo, queries, hosts, runner: tasks, placement, groups: groupsPort, log, moves: () => late.cleanup, images: deps.images, networking: deps.networking });
  const sync = new PowerSync({ servers, actions: actionRepo, hosts, runner: tasks, deleter, placement, log, moves: () => late.cleanup, images: deps.images, networking: deps.networking });
  const runner = new ActionRunner({ servers, actions: actionRepo, queries, hosts, runner: tasks, sync, log });
  const moves: PlacementPort = deps.movePlacement ?? placement;
  const work = new MoveWork({
    servers, migrations: deps.migrations, actions: actionRepo, inTransaction: deps.inTransaction, hosts, builder, images: deps.images, placement: moves, log, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds ?? 2,
  });
  late.cleanup = new MoveCleanup({ migrations: deps.migrations, hosts, placement: moves, work, tasks, log });
  const instancesOn = async (host: string) => (await queries.serversOnHost(host)).length;
  const migrations = new MigrationService({
    servers, migrations: deps.migrations, inTransaction: deps.inTransaction, flavors: deps.flavors, queries, runner, tasks, hosts, work, placement: moves, hostSettings, groups: groupsPort, log,
  });
  const osServices = new OsServices({ hosts, settings: settingsService, repo: deps.computeServices, control: deps.control, instancesOn });
  return {
    tasks,
    hosts,
    queries,
    boot: new BootService({
      servers, keypairs: deps.keypairs, actions: actionRepo, builder, hosts, runner: tasks, quotas, placement, settings: hostSettings, groups: groupsPort, log, networking: deps.networking,
      defaultNetworkId: deps.defaultNetworkId, // issue 17 (net-core)
    }),
    actions: new ServerActions({ servers, keypairs: deps.keypairs, queries, runner, builder, hosts, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds }),
    updates: new ServerUpdates(servers, queries, builder),
    deleter,
    snapshots: new Snapshots({ servers, images: deps.images, queries, runner, tasks, hosts, log }),
    sync,
    groupsPort,
    placement,
    hostSettings,
    osServices,
    aggregates: new AggregateService({ repo: deps.aggregates, computeHosts: hostNames, instancesOn }),
    zones: new AvailabilityZones(osServices),
    serverGroups,
    quotas,
    tenantUsage: new TenantUsageService(servers),
    migrations,
    resize: new ResizeService({
      servers, flavors: deps.flavors, queries, migrations, quotas: (projectId) => quotas.limits(projectId),
      serviceUp: async (host) => (await hosts.hosts()).some((h) => h.host === host && h.state === 'up')
        && !(hostSettings.forcedDown ? await hostSettings.forcedDown(host) : (await hostSettings.all()).some((s) => s.host === host && s.forcedDown)),
    }),
    shelve: new ShelveService({
      servers, actions: actionRepo, images: deps.images, queries, runner, tasks, hosts, builder, placement, settings: hostSettings, groups: groupsPort, log,
      offloadTimeSeconds: deps.shelvedOffloadTime, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds,
    }),
    tags: new ServerTags(servers, queries),
    diagnostics: new ServerDiagnostics(queries, hosts),
    interfaces: new ServerInterfaces({ servers, queries, hosts, networking: deps.networking }),
    consoles: new RemoteConsoles({ servers, queries, tokens: deps.consoleTokens, hosts, settings: deps.consoleSettings }),
  };
}

export type { ComputeImages, HostImagesPort } from './ports';
