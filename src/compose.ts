/**
 * The composition root's pieces, shared by main.ts and the tests: from a config, a driver
 * factory and an image store, build every repository, service and the reconciler.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { capacityOf, Config, DEFAULT_CONSOLE_TOKEN_TTL, DEFAULT_PROJECT_NETWORKS, serialConsoleBaseUrl } from './config';
import { openDb, migrate, ping, withStartupLock, Db } from './db/knex';
import { WorkerRepository } from './db/worker-repo';
import { Membership, MembershipOptions } from './cluster/membership';
import { IdentityRepository } from './db/identity-repo';
import { TokenService } from './identity/token-service';
import { seedIdentity } from './identity/seed';
import type { ComputeDriver } from './virt/driver';
import { DriverRegistry } from './virt/registry';
import { HostImages } from './virt/host-images';
import type { ImageStore } from './store/image-store';
import { ImageRepository } from './db/image-repo';
import { ArchiveIndexRepository } from './db/archive-index-repo';
import { ImageService } from './image/image-service';
import { ImageAccess } from './image/image-access';
import { ImageMembers } from './image/image-members';
import { ImageUploads } from './image/image-upload';
import { ImageSnapshots } from './image/image-snapshots';
import { Background } from './background';
import { ServerRepository } from './db/server-repo';
import { FlavorRepository } from './db/flavor-repo';
import { QuotaRepository } from './db/quota-repo';
import { KeypairRepository } from './db/keypair-repo';
import { ActionRepository } from './db/action-repo';
import { ComputeServiceRepository } from './db/compute-service-repo';
import { AggregateRepository } from './db/aggregate-repo';
import { ServerGroupRepository } from './db/server-group-repo';
import { AllocationRepository } from './db/allocation-repo';
import { MigrationRepository } from './db/migration-repo';
import { computeTransaction } from './db/compute-records';
import { buildCompute, ComputeServices } from './compute/services';
import { ServerNetworking, ServerNetworkingDeps } from './compute/services/server-ports';
import { adoptPortlessServers } from './network/adopt-ports';
import { Reconciler } from './compute/reconciler';
import { KeypairService } from './compute/services/keypairs';
import { FlavorService } from './compute/services/flavors';
import type { HostSettingsPort, PlacementPort, ServerGroupsPort } from './compute/scheduler/types';
import { ProjectSubnets } from './compute/services/project-subnets';
import { ProjectSubnetRepository } from './db/subnet-repo';
import { ConsoleTokenRepository } from './db/console-token-repo';
// issue 18 part 4: logins that cannot stall the cloud
import { DEFAULT_LOGIN } from './config';
import { LoginLockoutRepository } from './db/login-lockout-repo';
import { PasswordPool } from './identity/password-pool';
import { LoginGuard } from './identity/login-guard';
import { Metrics } from './metrics/metrics';
// issue 14: the embedded registry
import { buildRegistry, RegistryParts } from './registry/build';
// issue 17 (net-secgroups): security groups and rules
import { SecurityGroupRepository } from './db/security-group-repo';
import { SecurityGroupService } from './network/security-groups';
import { SecurityGroupEnforcement } from './network/security-group-enforcement';
import { PortEvents } from './network/port-events';
import { NovaSecurityGroups } from './network/nova-security-groups';
import { RecordingFirewall, ServerFirewall } from './virt/firewall';
import type { RouterEngine } from './virt/routers';
// issue 17 (net-core): networks, subnets, ports, quotas of the network service
import { buildNetworkCore, NetworkCore } from './network/build';
// issue 17: floating IPs
import { buildFloatingIps, FloatingIpParts } from './network/build-floating-ips';
import { NovaFloatingIps } from './network/nova-floating-ips';
import type { NatTable } from './virt/nat';

export interface Services {
  config: Config;
  db: Db;
  tokens: TokenService;
  identity: IdentityRepository;
  /** Password checks off the event loop, Keystone's lockout, and unlocking by an admin. */
  logins: LoginGuard;
  /** Glance: records, sharing, data, snapshots (one concern each, sharing one task tracker). */
  images: ImageService;
  imageMembers: ImageMembers;
  imageUploads: ImageUploads;
  imageSnapshots: ImageSnapshots;
  /** Each compute host's engine copy of the images. */
  hostImages: HostImages;
  compute: ComputeServices;
  flavors: FlavorService;
  keypairs: KeypairService;
  reconciler: Reconciler;
  drivers: DriverRegistry;
  /** This process among the others sharing the database (heartbeat, leases, recovery of the dead). */
  membership: Membership;
  /** Prometheus metrics of this instance (GET /metrics; issue 18). */
  metrics: Metrics;
  /** The embedded registry at /v2/ (issue 14). */
  registry: RegistryParts;
  // issue 17 (net-secgroups): security groups and rules
  securityGroups: SecurityGroupService;
  portEvents: PortEvents;
  securityGroupEnforcement: SecurityGroupEnforcement;
  novaSecurityGroups: NovaSecurityGroups;
  novaFloatingIps: NovaFloatingIps;
  /** The network service's core: networks, subnets, ports, quotas, the compute side's port service (issue 17). */
  networkCore: NetworkCore;
  /** Floating IPs and the hosts' NAT (issue 17). */
  floatingIps: FloatingIpParts;
  health(): Promise<{ ok: boolean; database: string; compute_hosts: Record<string, string> }>;
  close(): Promise<void>;
}

export interface BuildOptions {
  config: Config;
  log: Logger;
  drivers: ComputeDriver[];
  store: ImageStore;
  /** SQLite database file when config.databaseUrl is unset; defaults to <dataDir>/novadock.sqlite. ':memory:' for unit tests. */
  dbFile?: string;
  /** PostgreSQL only: the schema to use (tests give each instance its own). */
  dbSchema?: string;
  /** Seconds between reconciler sweeps (events do the live work). */
  sweepIntervalMs?: number;
  /** Heartbeat and liveness timing of this process among several (tests shorten them). */
  membership?: MembershipOptions;
  /** os-services / aggregates and os-server-groups as the scheduler sees them (absent: the defaults). */
  hostSettings?: HostSettingsPort;
  serverGroups?: ServerGroupsPort;
  /** Where moves go, for tests that watch the calls (absent: the scheduler's placement). */
  placement?: PlacementPort;
  /** The clock console tokens expire by (ms since the epoch; absent: Date.now). */
  consoleClock?: () => number;
  // --- net-compute (issue 17): the network service's ports for servers' interfaces (absent: the project network only)
  computePorts?: ServerNetworkingDeps;
  /** issue 17 (net-secgroups): where security groups are enforced (absent: recorded only, as on the fake driver). */
  firewall?: ServerFirewall;
  /** issue 17: routers on networks spanning hosts (their containers, servers' routes); absent: the hosts route between bridges only. */
  routerEngine?: RouterEngine;
  /** issue 17: the hosts' NAT for floating IPs (absent: iptables in each host's namespace); its sweep period. */
  nat?: NatTable;
  natSweepMs?: number;
}

/**
 * The token signing secret, generated once and kept (0600) in the data directory. Created
 * exclusively: processes sharing the directory that start at once all end up with the one that
 * was written first.
 */
export function tokenSecret(dataDir: string): string {
  const file = path.join(dataDir, 'token-secret');
  const read = () => {
    try {
      const s = fs.readFileSync(file, 'utf8').trim();
      return s.length >= 32 ? s : undefined;
    } catch {
      return undefined; // first start
    }
  };
  const existing = read();
  if (existing) return existing;
  fs.mkdirSync(dataDir, { recursive: true });
  const s = crypto.randomBytes(48).toString('base64url');
  // Written whole to a private file, then linked into place: link fails if the name exists, so
  // a reader never sees a half-written secret and exactly one writer wins.
  const tmp = `${file}.${process.pid}.${crypto.randomUUID()}`;
  fs.writeFileSync(tmp, `${s}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
    return s;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const theirs = read();
    if (!theirs) throw new Error(`${file} holds no usable token secret (at least 32 characters): remove it to have a new one made`);
    return theirs;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export async function buildServices(opts: BuildOptions): Promise<Services> {
  const { config, log } = opts;
  const db = openDb(config.databaseUrl ?? opts.dbFile ?? path.join(config.dataDir, 'novadock.sqlite'), { searchPath: opts.dbSchema });
  const workers = new WorkerRepository(db);
  const membership = new Membership(workers, log, opts.membership);
  const identity = new IdentityRepository(db);
  const flavors = new FlavorRepository(db);
  // Processes starting at once take turns to migrate and seed.
  await withStartupLock(db, async () => {
    await migrate(db);
    await seedIdentity(identity, config.seed, {
      dataDir: config.dataDir,
      adminPassword: config.adminPassword,
      demoPassword: process.env.NOVADOCK_DEMO_PASSWORD || undefined,
      log,
    });
    await flavors.seed(config.seed.flavors);
  });
  await membership.join();
  // issue 18 part 4: logins that cannot stall the cloud
  const loginSettings = config.login ?? DEFAULT_LOGIN;
  const passwordPool = new PasswordPool({ threads: loginSettings.passwordThreads, maxQueue: loginSettings.passwordQueue, nice: loginSettings.passwordNice });
  const logins = new LoginGuard({
    users: identity,
    lockout: new LoginLockoutRepository(db),
    pool: passwordPool,
    policy: { maxAttempts: loginSettings.lockoutFailureAttempts, durationMs: loginSettings.lockoutDuration * 1000 },
  });
  const tokens = new TokenService(identity, tokenSecret(config.dataDir), config.tokenTtlSeconds, config.publicUrl, logins);
  logins.onUserChange((userId) => tokens.forgetUser(userId));
  await tokens.loadRevocations();

  const drivers = new DriverRegistry(opts.drivers);
  // Metrics (issue 18): the servers' states are counted at scrape time (`servers` is built below).
  const metrics = new Metrics({ serverStates: () => servers.countByState() });
  const stopEngineErrors = opts.drivers.map((d) => d.onEngineError?.((e) => metrics.engineCallFailed(d.host, e.operation, e.code)));
  const imageRepo = new ImageRepository(db, membership.id);
  const hostImages = new HostImages({ drivers, store: opts.store, log, named: (engineImageId) => imageRepo.dockerImageInUse(engineImageId) });
  const imageDeps = {
    repo: imageRepo, store: opts.store, engines: hostImages, access: new ImageAccess(imageRepo), tasks: new Background(), maxImageSize: config.maxImageSize, log,
    uploads: metrics,
  };
  const images = new ImageService(imageDeps);
  const imageMembers = new ImageMembers(imageDeps);
  // issue 14 (registry-archive): uploads and snapshots keep the registry's index of their archive.
  const archiveIndexRepo = new ArchiveIndexRepository(db);
  const imageUploads = new ImageUploads({ ...imageDeps, archiveIndexes: archiveIndexRepo });
  const imageSnapshots = new ImageSnapshots({ ...imageDeps, archiveIndexes: archiveIndexRepo });
  // Uploads a crash cut short: back to queued, and no partial bytes left in the store (only those
  // of processes that are gone: others sharing the database may be uploading right now).
  const isAlive = (worker: string) => membership.isAlive(worker);
  await imageUploads.recoverInterruptedUploads(isAlive);

  const keypairRepo = new KeypairRepository(db);
  const servers = new ServerRepository(db, membership.id);
  const subnets = new ProjectSubnets({ repo: new ProjectSubnetRepository(db), servers, settings: config.projectNetworks ?? DEFAULT_PROJECT_NETWORKS, log });
  // issue 17 (net-core): the network service's core
  const networkCore = buildNetworkCore({
    db, projectSubnets: subnets, projectRange: (config.projectNetworks ?? DEFAULT_PROJECT_NETWORKS).range,
    projectHasServers: async (projectId) => (await servers.list({ projectId })).length > 0,
    projectExists: async (projectId) => (await identity.projectById(projectId)) !== undefined,
    // A deleted network's engine networks go from every host (each removes it once nothing uses it).
    backend: { removed: async (n) => void (await Promise.all(drivers.all().map((d) => d.removeNetwork(n.id).catch((err) => log.warn({ err, network: n.id }, 'could not remove an engine network'))))) },
  });
  subnets.onMoved = (projectId, from, to) => networkCore.defaults.moved(projectId, from, to); // issue 17: the default network follows
  const compute = buildCompute({
    servers,
    flavors,
    keypairs: keypairRepo,
    actions: new ActionRepository(db, (a) => metrics.actionFinished(a)),
    serverGroups: new ServerGroupRepository(db),
    migrations: new MigrationRepository(db),
    inTransaction: computeTransaction(db, membership.id),
    images: {
      find: (ctx, id) => images.find(ctx, id),
      list: (ctx, query) => images.list(ctx, query),
      delete: (ctx, id) => images.delete(ctx, id),
      beginSnapshot: (ctx, req) => imageSnapshots.beginSnapshot(ctx, req),
      finishSnapshot: (imageId, engineImageId, archive) => imageSnapshots.finishSnapshot(imageId, engineImageId, archive),
      abortSnapshot: (imageId) => imageSnapshots.abortSnapshot(imageId),
    },
    hostImages,
    subnets,
    drivers,
    quotas: config.seed.quotas,
    quotaRepo: new QuotaRepository(db),
    allocations: new AllocationRepository(db),
    capacity: (host) => capacityOf(config, host),
    hostSettingsPort: opts.hostSettings,
    serverGroupsPort: opts.serverGroups,
    movePlacement: opts.placement,
    log,
    shelvedOffloadTime: config.shelvedOffloadTime,
    computeServices: new ComputeServiceRepository(db),
    aggregates: new AggregateRepository(db),
    consoleTokens: new ConsoleTokenRepository(db),
    defaultNetworkId: async (projectId) => (await networkCore.defaults.ensure(projectId)).id, // issue 17 (net-core)
    consoleSettings: { baseUrl: serialConsoleBaseUrl(config), tokenTtlSeconds: config.consoleTokenTtlSeconds ?? DEFAULT_CONSOLE_TOKEN_TTL, now: opts.consoleClock },
    // issue 17: every server's interfaces are ports of the network service (tests may pass a fake).
    networking: new ServerNetworking(opts.computePorts ?? { ports: networkCore.serverPorts, subnets: networkCore.repo, events: networkCore.events }),
    control: {
      processes: async () => (await workers.all())
        .filter((w) => membership.isAlive(w.id))
        .map((w) => ({ hostname: w.hostname, heartbeatAt: new Date(w.heartbeat_ms).toISOString() })),
    },
  });
  const flavorService = new FlavorService(flavors);
  const keypairs = new KeypairService(keypairRepo, compute.quotas);
  // issue 17 (net-secgroups): security groups, their rules applied to servers' containers as groups,
  // memberships (PortEvents) and started containers (the reconciler) change.
  const securityGroupRepo = new SecurityGroupRepository(db);
  const securityGroups = new SecurityGroupService(securityGroupRepo);
  // One event stream for every part: the core's ports raise it, enforcement and forwards hear it.
  const portEvents = networkCore.events;
  // issue 17: servers from before the network service get their ports before the API answers.
  if (!opts.computePorts) {
    await adoptPortlessServers({
      servers, defaults: networkCore.defaults, ports: networkCore.ports, groups: securityGroupRepo, log,
      bind: (serverId, host, status) => networkCore.serverPorts.bind(serverId, host, status),
    });
  }
  const novaSecurityGroups = new NovaSecurityGroups(securityGroups, securityGroupRepo, portEvents);
  // A server's `security_groups` follow its ports' groups, whichever API changed them (first listener: done before the answer).
  portEvents.on(async (serverId) => {
    const names = await novaSecurityGroups.namesOfServer(serverId);
    if (names) await compute.updates.followPortGroups(serverId, names);
  });
  const securityGroupEnforcement = new SecurityGroupEnforcement(securityGroupRepo, opts.firewall ?? new RecordingFirewall(), log);
  const enforce = (p: Promise<unknown>) => void compute.tasks.track(p.catch((err) => log.warn({ err }, 'security group enforcement failed')));
  securityGroups.onChange((groupIds) => enforce(securityGroupEnforcement.groupsChanged(groupIds)));
  portEvents.on((serverId) => enforce(securityGroupEnforcement.portsChanged(serverId)));
  const instancesRunning = (_host: string, serverIds: string[]) => { for (const id of serverIds) enforce(securityGroupEnforcement.applyServer(id)); };
  const reconciler = new Reconciler({
    sync: compute.sync, queries: compute.queries, hosts: compute.hosts, tasks: compute.tasks, drivers, log, sweepIntervalMs: opts.sweepIntervalMs ?? 10_000,
    resumeGuests: config.resumeGuestsStateOnHostBoot ?? false,
    ownership: {
      hold: (host) => membership.hold(`compute-host:${host}`),
      // A task is abandoned when the process doing it is gone; this process's own tasks, when
      // nothing here is doing them any more (as a single process always judged).
      isAbandoned: (s) => (s.task_owner === membership.id ? !compute.tasks.isBusy(s.id) : !s.task_owner || !membership.isAlive(s.task_owner)),
      intervalMs: membership.heartbeatMs,
    },
    lag: (host, seconds) => metrics.reconciled(host, seconds),
    instancesRunning,
  });
  membership.whenWorkersDie(async () => {
    await imageUploads.recoverInterruptedUploads(isAlive);
    await reconciler.recoverAbandoned();
  });
  membership.onTick(() => tokens.loadRevocations());
  compute.shelve.start();
  membership.start();
  // issue 14: the embedded registry
  const registry = buildRegistry({ config, db, identity, tokens, images, imageRepo, hostImages, secret: tokenSecret(config.dataDir), log, store: opts.store, imageUploads });
  // issue 17: floating IPs, forwarded on the hosts where their servers run
  const floatingIps = buildFloatingIps({
    db, config, log, hosts: () => drivers.all().map((d) => d.host), nat: opts.nat, sweepIntervalMs: opts.natSweepMs,
    floatingipQuota: async (projectId) => (await networkCore.quotas.limits(projectId)).floatingip,
    routerQuota: async (projectId) => (await networkCore.quotas.limits(projectId)).router,
    reach: async (host, serverId, fixedIps) => (await drivers.get(host)?.hostAddresses?.(serverId, fixedIps)) ?? {},
    routerEngine: opts.routerEngine,
  });
  // The floating IPs' forwards before the answer (a port deleted through the API has lost its
  // forward when the call returns). The routes across hosts after it, off the server's lane: they
  // run one sync at a time for the whole process, reading the rows afresh, so a server's next task
  // (and the reconciler, which waits for its lane) must not queue behind every other server's
  // routes. Counted in the compute services' idle().
  const stopFipEvents = networkCore.events.on(async (serverId) => {
    await floatingIps.sync.serverChanged(serverId);
    const routing = floatingIps.routing;
    if (routing) void compute.tasks.track(routing.serverChanged(serverId));
  });
  floatingIps.sync.start();
  floatingIps.routing?.start();
  const novaFloatingIps = new NovaFloatingIps(floatingIps.service, networkCore.repo, networkCore.portRepo); // os-floating-ips

  const health = async () => {
    let database = 'ok';
    try {
      await ping(db);
    } catch (e) {
      database = (e as Error).message;
    }
    const hosts: Record<string, string> = {};
    await Promise.all(drivers.all().map(async (d) => {
      try {
        await d.ping();
        hosts[d.host] = 'ok';
      } catch (e) {
        hosts[d.host] = (e as Error).message;
      }
    }));
    const ok = database === 'ok' && Object.values(hosts).every((v) => v === 'ok');
    return { ok, database, compute_hosts: hosts };
  };

  const close = async () => {
    registry.stop();
    stopFipEvents();
    await floatingIps.stop();
    reconciler.stop();
    compute.shelve.stop();
    compute.hosts.stop();
    membership.halt();
    await membership.idle(); // a recovery in flight may still schedule work
    await compute.tasks.idle();
    await images.idle();
    await hostImages.idle();
    await membership.leave();
    await passwordPool.close();
    for (const stop of stopEngineErrors) stop?.();
    await db.destroy();
  };

  return { config, db, tokens, identity, logins, images, imageMembers, imageUploads, imageSnapshots, hostImages, compute, flavors: flavorService, keypairs, reconciler, drivers, membership, metrics, registry, networkCore, floatingIps, novaFloatingIps, health, close,
    securityGroups, portEvents, securityGroupEnforcement, novaSecurityGroups };
}
