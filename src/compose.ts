/**
 * The composition root's pieces, shared by main.ts and the tests: from a config, a driver
 * factory and an image store, build every repository, service and the reconciler.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config';
import { openDb, migrate, ping, Db } from './db/knex';
import { IdentityRepository } from './db/identity-repo';
import { TokenService } from './identity/token-service';
import { seedIdentity } from './identity/seed';
import type { ComputeDriver } from './virt/driver';
import { DriverRegistry } from './virt/registry';
import { HostImages } from './virt/host-images';
import type { ImageStore } from './store/image-store';
import { ImageRepository } from './db/image-repo';
import { ImageService } from './image/image-service';
import { ImageAccess } from './image/image-access';
import { ImageMembers } from './image/image-members';
import { ImageUploads } from './image/image-upload';
import { ImageSnapshots } from './image/image-snapshots';
import { Background } from './background';
import { ServerRepository } from './db/server-repo';
import { FlavorRepository } from './db/flavor-repo';
import { KeypairRepository } from './db/keypair-repo';
import { ActionRepository } from './db/action-repo';
import { buildCompute, ComputeServices } from './compute/services';
import { Reconciler } from './compute/reconciler';
import { KeypairService } from './compute/services/keypairs';
import { FlavorService } from './compute/services/flavors';

export interface Services {
  config: Config;
  db: Db;
  tokens: TokenService;
  identity: IdentityRepository;
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
}

/** The token signing secret, generated once and kept (0600) in the data directory. */
export function tokenSecret(dataDir: string): string {
  const file = path.join(dataDir, 'token-secret');
  try {
    const s = fs.readFileSync(file, 'utf8').trim();
    if (s.length >= 32) return s;
  } catch {
    /* first start */
  }
  fs.mkdirSync(dataDir, { recursive: true });
  const s = crypto.randomBytes(48).toString('base64url');
  fs.writeFileSync(file, `${s}\n`, { mode: 0o600 });
  return s;
}

export async function buildServices(opts: BuildOptions): Promise<Services> {
  const { config, log } = opts;
  const db = openDb(config.databaseUrl ?? opts.dbFile ?? path.join(config.dataDir, 'novadock.sqlite'), { searchPath: opts.dbSchema });
  await migrate(db);

  const identity = new IdentityRepository(db);
  await seedIdentity(identity, config.seed, {
    dataDir: config.dataDir,
    adminPassword: config.adminPassword,
    demoPassword: process.env.NOVADOCK_DEMO_PASSWORD || undefined,
    log,
  });
  const tokens = new TokenService(identity, tokenSecret(config.dataDir), config.tokenTtlSeconds, config.publicUrl);
  await tokens.loadRevocations();

  const drivers = new DriverRegistry(opts.drivers);
  const imageRepo = new ImageRepository(db);
  const hostImages = new HostImages({ drivers, store: opts.store, log });
  const imageDeps = {
    repo: imageRepo, store: opts.store, engines: hostImages, access: new ImageAccess(imageRepo), tasks: new Background(), maxImageSize: config.maxImageSize, log,
  };
  const images = new ImageService(imageDeps);
  const imageMembers = new ImageMembers(imageDeps);
  const imageUploads = new ImageUploads(imageDeps);
  const imageSnapshots = new ImageSnapshots(imageDeps);
  // Uploads a crash cut short: back to queued, and no partial bytes left in the store.
  await imageUploads.recoverInterruptedUploads();

  const flavors = new FlavorRepository(db);
  await flavors.seed(config.seed.flavors);
  const keypairRepo = new KeypairRepository(db);
  const compute = buildCompute({
    servers: new ServerRepository(db),
    flavors,
    keypairs: keypairRepo,
    actions: new ActionRepository(db),
    images: {
      find: (ctx, id) => images.find(ctx, id),
      list: (ctx, query) => images.list(ctx, query),
      delete: (ctx, id) => images.delete(ctx, id),
      beginSnapshot: (ctx, req) => imageSnapshots.beginSnapshot(ctx, req),
      finishSnapshot: (imageId, engineImageId, archive) => imageSnapshots.finishSnapshot(imageId, engineImageId, archive),
      abortSnapshot: (imageId) => imageSnapshots.abortSnapshot(imageId),
    },
    hostImages,
    drivers,
    quotas: config.seed.quotas,
    log,
  });
  const flavorService = new FlavorService(flavors);
  const keypairs = new KeypairService(keypairRepo, config.seed.quotas.key_pairs);
  const reconciler = new Reconciler({ sync: compute.sync, queries: compute.queries, hosts: compute.hosts, tasks: compute.tasks, drivers, log, sweepIntervalMs: opts.sweepIntervalMs ?? 10_000 });

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
    reconciler.stop();
    compute.hosts.stop();
    await compute.tasks.idle();
    await images.idle();
    await hostImages.idle();
    await db.destroy();
  };

  return { config, db, tokens, identity, images, imageMembers, imageUploads, imageSnapshots, hostImages, compute, flavors: flavorService, keypairs, reconciler, drivers, health, close };
}
