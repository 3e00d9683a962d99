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
import type { ImageStore } from './store/image-store';
import { ImageRepository } from './db/image-repo';
import { ImageService } from './image/image-service';
import { ServerRepository } from './db/server-repo';
import { FlavorRepository } from './db/flavor-repo';
import { KeypairRepository } from './db/keypair-repo';
import { ActionRepository } from './db/action-repo';
import { ComputeService } from './compute/compute-service';
import { Reconciler } from './compute/reconciler';
import { KeypairService } from './compute/services/keypairs';
import { FlavorService } from './compute/services/flavors';

export interface Services {
  config: Config;
  db: Db;
  tokens: TokenService;
  identity: IdentityRepository;
  images: ImageService;
  compute: ComputeService;
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
  /** Database file; defaults to <dataDir>/novadock.sqlite. ':memory:' for unit tests. */
  dbFile?: string;
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
  const db = openDb(opts.dbFile ?? path.join(config.dataDir, 'novadock.sqlite'));
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
  const images = new ImageService({ repo: imageRepo, store: opts.store, drivers, maxImageSize: config.maxImageSize, log });
  // Uploads a crash cut short: back to queued, and no partial bytes left in the store.
  await images.recoverInterruptedUploads();

  const flavors = new FlavorRepository(db);
  await flavors.seed(config.seed.flavors);
  const compute = new ComputeService({
    servers: new ServerRepository(db),
    flavors,
    keypairs: new KeypairRepository(db),
    actions: new ActionRepository(db),
    images,
    drivers,
    quotas: config.seed.quotas,
    publicUrl: config.publicUrl,
    log,
  });
  const flavorService = new FlavorService(flavors);
  const keypairs = new KeypairService(new KeypairRepository(db), config.seed.quotas.key_pairs);
  const reconciler = new Reconciler({ compute, drivers, log, sweepIntervalMs: opts.sweepIntervalMs ?? 10_000 });

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
    await compute.idle();
    await images.idle();
    await db.destroy();
  };

  return { config, db, tokens, identity, images, compute, flavors: flavorService, keypairs, reconciler, drivers, health, close };
}
