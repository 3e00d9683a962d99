/**
 * The one integration harness: the app built the way main.ts builds it (buildServices +
 * createApp: real identity, a real SQLite file), without listening, for supertest. A fake driver
 * and the memory store by default, or any drivers (several compute hosts) and store given.
 * Seeds four accounts: admin (admin), demo (member of demo), alt (member of alt), viewer (reader of demo).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import pino from 'pino';
import type { Express } from 'express';
import type { Db } from '../../src/db/knex';
import { createApp } from '../../src/app';
import { buildServices, Services } from '../../src/compose';
import { Config, loadSeed } from '../../src/config';
import type { ComputeDriver } from '../../src/virt/driver';
import type { ImageStore } from '../../src/store/image-store';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';

export const PASSWORDS = { admin: 'admin-secret', demo: 'demo-secret', alt: 'alt-secret', viewer: 'viewer-secret' } as const;
export type Account = keyof typeof PASSWORDS;
/** The public URL the test app advertises in links and the catalog. */
export const PUBLIC_URL = 'http://127.0.0.1:8080';

export interface TestApp {
  app: Express;
  services: Services;
  /** The database, for tests that set up rows directly. */
  db: Db;
  /** The first compute host's driver. */
  driver: ComputeDriver;
  /** Every compute host's driver, in configuration order. */
  drivers: ComputeDriver[];
  store: ImageStore;
  dataDir: string;
  /** A project-scoped token for one of the seeded accounts (cached). */
  token(account: Account): Promise<string>;
  /** Project id of an account's project. */
  projectId(account: Account): Promise<string>;
  /** User id of an account. */
  userId(account: Account): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** One compute host (the default: a fake named fake-host). */
  driver?: ComputeDriver;
  /** Several compute hosts (instead of `driver`). */
  drivers?: ComputeDriver[];
  store?: ImageStore;
  config?: Partial<Config>;
  /** Quotas over the defaults. */
  quotas?: Partial<Config['seed']['quotas']>;
  dbFile?: string;
}

export async function makeTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-test-'));
  const seed = loadSeed(undefined);
  seed.projects.push({ name: 'alt' });
  seed.users.push(
    { name: 'alt', password: PASSWORDS.alt, project: 'alt', roles: ['member'] },
    { name: 'viewer', password: PASSWORDS.viewer, project: 'demo', roles: ['reader'] },
  );
  Object.assign(seed.quotas, opts.quotas ?? {});
  const config: Config = {
    port: 0,
    bind: '127.0.0.1',
    publicUrl: PUBLIC_URL,
    dataDir,
    adminPassword: PASSWORDS.admin,
    tokenTtlSeconds: 3600,
    maxImageSize: 1024 ** 3,
    logLevel: 'silent',
    seed,
    ...opts.config,
  };
  process.env.NOVADOCK_DEMO_PASSWORD = PASSWORDS.demo;
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const drivers = opts.drivers ?? [opts.driver ?? new FakeDriver({ host: 'fake-host' })];
  const driver = drivers[0];
  const store = opts.store ?? new MemoryImageStore();
  const services = await buildServices({ config, log, drivers, store, dbFile: opts.dbFile ?? path.join(dataDir, 'novadock.sqlite'), sweepIntervalMs: 60_000 });
  const app = createApp(services, log);
  const logins = new Map<Account, { token: string; projectId: string; userId: string }>();
  const login = async (account: Account) => {
    const cached = logins.get(account);
    if (cached) return cached;
    const res = await request(app).post('/identity/v3/auth/tokens').send({
      auth: {
        identity: { methods: ['password'], password: { user: { name: account, domain: { name: 'Default' }, password: PASSWORDS[account] } } },
        scope: { project: { name: account === 'viewer' ? 'demo' : account, domain: { name: 'Default' } } },
      },
    });
    if (res.status !== 201) throw new Error(`login ${account}: ${res.status} ${JSON.stringify(res.body)}`);
    const c = { token: res.headers['x-subject-token'] as string, projectId: res.body.token.project.id as string, userId: res.body.token.user.id as string };
    logins.set(account, c);
    return c;
  };
  return {
    app,
    services,
    db: services.db,
    driver,
    drivers,
    store,
    dataDir,
    token: async (account) => (await login(account)).token,
    projectId: async (account) => (await login(account)).projectId,
    userId: async (account) => (await login(account)).userId,
    async close() {
      await services.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
