/**
 * The compute services, built together: each concern its own object, collaborating through the
 * ones it is handed (no object reaches another through a global or an import circle).
 *
 *   TaskRunner      lanes and background work            HostService   hosts: status, info, placement
 *   ServerQueries   reads                                InstanceBuilder  what boot and rebuild share
 *   BootService     create                               ServerActions    power, rebuild, console, admin
 *   ServerUpdates   name, metadata, security groups      ServerDeleter    delete
 *   Snapshots       createImage, createBackup            PowerSync        the reconciler's verbs
 *   ActionRunner    claim → lane → finish of every task-claiming action
 *   MigrationService  migrate, confirm/revert, evacuate, os-migrations (work: MoveWork, leftovers: MoveCleanup)
 */
import type { Logger } from 'pino';
import type { QuotaConfig } from '../../config';
import type { ServerRepository } from '../../db/server-repo';
import type { FlavorRepository } from '../../db/flavor-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { MigrationRepository } from '../../db/migration-repo';
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
import type { HostSettingsPort, PlacementPort, ServerGroupsPort } from '../scheduler/types';
import { MigrationService } from './migrations';
import { MoveWork } from './move-work';
import { MoveCleanup } from './move-cleanup';
import { FirstHostPlacement } from './first-host-placement';

export interface ComputeDeps {
  servers: ServerRepository;
  flavors: FlavorRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  migrations: MigrationRepository;
  images: ComputeImages;
  hostImages: HostImagesPort;
  drivers: DriverRegistry;
  quotas: QuotaConfig;
  log: Logger;
  hostOptions?: HostServiceOptions;
  /** Grace period of os-stop before SIGKILL (see ServerActionsDeps). */
  shutdownTimeoutSeconds?: number;
  /** Where moves go; absent: the stand-in FirstHostPlacement (first answering host, no capacity). */
  placement?: PlacementPort;
  /** os-services' forced_down, for moves; absent: no host is forced down. */
  hostSettings?: HostSettingsPort;
  /** os-server-groups, for moves; absent: no groups. */
  groups?: ServerGroupsPort;
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
  migrations: MigrationService;
}

export function buildCompute(deps: ComputeDeps): ComputeServices {
  const { servers, actions: actionRepo, log } = deps;
  const tasks = new TaskRunner(log);
  const hosts = new HostService(deps.drivers, deps.hostOptions);
  const queries = new ServerQueries(servers, actionRepo);
  const builder = new InstanceBuilder({ flavors: deps.flavors, images: deps.images, hostImages: deps.hostImages, quotas: deps.quotas, log });
  // The moves need the runner, which needs the sync, which needs the moves: bound once built.
  const late: { cleanup?: MoveCleanup } = {};
  const deleter = new ServerDeleter({ servers, actions: actionRepo, queries, hosts, runner: tasks, log, moves: () => late.cleanup });
  const sync = new PowerSync({ servers, actions: actionRepo, hosts, runner: tasks, deleter, log, moves: () => late.cleanup });
  const runner = new ActionRunner({ servers, actions: actionRepo, queries, hosts, runner: tasks, sync, log });
  const placement = deps.placement ?? new FirstHostPlacement({ names: () => hosts.names(), answers: (h) => hosts.answers(h) }, deps.hostSettings);
  const work = new MoveWork({
    servers, migrations: deps.migrations, actions: actionRepo, hosts, builder, images: deps.images, placement, log, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds ?? 2,
  });
  late.cleanup = new MoveCleanup({ migrations: deps.migrations, hosts, placement, work, tasks, log });
  return {
    tasks,
    hosts,
    queries,
    boot: new BootService({ servers, keypairs: deps.keypairs, actions: actionRepo, builder, hosts, runner: tasks, quotas: deps.quotas, log }),
    actions: new ServerActions({ servers, keypairs: deps.keypairs, queries, runner, builder, hosts, shutdownTimeoutSeconds: deps.shutdownTimeoutSeconds }),
    updates: new ServerUpdates(servers, queries, builder),
    deleter,
    snapshots: new Snapshots({ servers, images: deps.images, queries, runner, tasks, hosts, log }),
    sync,
    migrations: new MigrationService({
      servers, migrations: deps.migrations, flavors: deps.flavors, queries, runner, tasks, hosts, work, placement, hostSettings: deps.hostSettings, groups: deps.groups, log,
    }),
  };
}

export type { ComputeImages, HostImagesPort } from './ports';
