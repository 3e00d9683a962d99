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
 */
import type { Logger } from 'pino';
import type { QuotaConfig } from '../../config';
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
import type { ProjectSubnets } from './project-subnets';

export interface ComputeDeps {
  servers: ServerRepository;
  flavors: FlavorRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  images: ComputeImages;
  hostImages: HostImagesPort;
  /** Project subnets (allocated here, the same on every host). */
  subnets: ProjectSubnets;
  drivers: DriverRegistry;
  quotas: QuotaConfig;
  log: Logger;
  hostOptions?: HostServiceOptions;
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
}

export function buildCompute(deps: ComputeDeps): ComputeServices {
  const { servers, actions: actionRepo, log } = deps;
  const tasks = new TaskRunner(log);
  const hosts = new HostService(deps.drivers, deps.hostOptions);
  const queries = new ServerQueries(servers, actionRepo);
  const builder = new InstanceBuilder({ flavors: deps.flavors, images: deps.images, hostImages: deps.hostImages, subnets: deps.subnets, quotas: deps.quotas, log });
  const deleter = new ServerDeleter({ servers, actions: actionRepo, queries, hosts, runner: tasks, log });
  const sync = new PowerSync({ servers, actions: actionRepo, hosts, runner: tasks, deleter, log });
  const runner = new ActionRunner({ servers, actions: actionRepo, queries, hosts, runner: tasks, sync, log });
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
  };
}

export type { ComputeImages, HostImagesPort } from './ports';
