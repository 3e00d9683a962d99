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
 *   PlacementService  the scheduler and its claims (allocations), HostSettingsPort and
 *                   ServerGroupsPort: given, or the defaults (every host enabled in "nova", no groups)
 */
import type { Logger } from 'pino';
import { DEFAULT_CAPACITY, HostCapacityConfig, QuotaConfig } from '../../config';
import type { AllocationRepository } from '../../db/allocation-repo';
import { PlacementService } from '../scheduler/placement';
import { DefaultHostSettings, NoServerGroups } from '../scheduler/defaults';
import type { HostSettingsPort, ServerGroupsPort } from '../scheduler/types';
import type { ServerRepository } from '../../db/server-repo';
import type { FlavorRepository } from '../../db/flavor-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { DriverRegistry } from '../../virt/registry';
import { TaskRunner } from './task-runner';
import { HostService, HostServiceOptions } from './hosts';
import { ServerQueries } from './server-queries';
import { InstanceBuilder } from './instance-builder';
import { ActionRunner } from './action-runner';
import { BootService } from './boot';
import { ServerActions } from './server-actions';
import { ServerUpdates } from './server-updates';
import { ServerDeleter } from './server-delete';
import { Snapshots } from './snapshots';
import { PowerSync } from './power-sync';
import type { ComputeImages, HostImagesPort } from './ports';

export interface ComputeDeps {
  servers: ServerRepository;
  flavors: FlavorRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  images: ComputeImages;
  hostImages: HostImagesPort;
  drivers: DriverRegistry;
  quotas: QuotaConfig;
  log: Logger;
  hostOptions?: HostServiceOptions;
  /** Placement's claims. */
  allocations: AllocationRepository;
  /** Reserve and allocation ratios of a host (config capacityOf); Nova's defaults when absent. */
  capacity?: (host: string) => HostCapacityConfig;
  /** os-services / os-aggregates; absent = every host enabled, in the default zone. */
  hostSettings?: HostSettingsPort;
  /** os-server-groups; absent = no groups. */
  serverGroups?: ServerGroupsPort;
  /** Grace period of os-stop before SIGKILL (see ServerActionsDeps). */
  shutdownTimeoutSeconds?: number;
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
  /** The settings in use (the given port or the defaults). */
  hostSettings: HostSettingsPort;
  serverGroups: ServerGroupsPort;
}

export function buildCompute(deps: ComputeDeps): ComputeServices {
  const { servers, actions: actionRepo, log } = deps;
  const tasks = new TaskRunner(log);
  const hosts = new HostService(deps.drivers, deps.hostOptions);
  const hostSettings = deps.hostSettings ?? new DefaultHostSettings(() => deps.drivers.all().map((d) => d.host));
  const serverGroups = deps.serverGroups ?? new NoServerGroups();
  const hostImages = deps.hostImages;
  const placement = new PlacementService({
    allocations: deps.allocations,
    hosts,
    settings: hostSettings,
    capacity: deps.capacity ?? (() => DEFAULT_CAPACITY),
    images: hostImages.holds ? { holds: (host, ref) => hostImages.holds?.(host, ref) ?? false } : undefined,
    log,
  });
  const queries = new ServerQueries(servers, actionRepo);
  const builder = new InstanceBuilder({ flavors: deps.flavors, images: deps.images, hostImages: deps.hostImages, quotas: deps.quotas, log });
  const deleter = new ServerDeleter({ servers, actions: actionRepo, queries, hosts, runner: tasks, placement, groups: serverGroups, log });
  const sync = new PowerSync({ servers, actions: actionRepo, hosts, runner: tasks, deleter, placement, log });
  const runner = new ActionRunner({ servers, actions: actionRepo, queries, hosts, runner: tasks, sync, log });
  return {
    tasks,
    hosts,
    queries,
    boot: new BootService({
      servers, keypairs: deps.keypairs, actions: actionRepo, builder, hosts, runner: tasks, quotas: deps.quotas, placement, settings: hostSettings, groups: serverGroups, log,
    }),
    actions: new ServerActions({ servers, keypairs: deps.keypairs, queries, runner, builder, hosts, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds }),
    updates: new ServerUpdates(servers, queries, builder),
    deleter,
    snapshots: new Snapshots({ servers, images: deps.images, queries, runner, tasks, hosts, log }),
    sync,
    placement,
    hostSettings,
    serverGroups,
  };
}

export type { ComputeImages, HostImagesPort } from './ports';
