/**
 * Builds the app the way main.ts does, without listening, for supertest:
 * fake driver + memory store by default (unit/integration), or any driver/store given.
 * Seeds four accounts: admin (admin), demo (member of demo), alt (member of alt), viewer (reader of demo).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import pino from 'pino';
import type { Express } from 'express';
import { createApp } from '../../src/app';
import { buildServices, Services } from '../../src/compose';
import { Config, loadSeed } from '../../src/config';
import type { ComputeDriver } from '../../src/virt/driver';
import type { ImageStore } from '../../src/store/image-store';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';

export const PASSWORDS = { admin: 'admin-secret', demo: 'demo-secret', alt: 'alt-secret', viewer: 'viewer-secret' } as const;
export type Account = keyof typeof PASSWORDS;

export interface TestApp {
  app: Express;
  services: Services;
  driver: ComputeDriver;
  store: ImageStore;
  dataDir: string;
  /** A project-scoped token for one of the seeded accounts (cached). */
  token(account: Account): Promise<string>;
  /** Project id of an account's project. */
  projectId(account: Account): Promise<string>;
  close(): Promise<void>;
}

export async function makeTestApp(opts: { driver?: ComputeDriver; store?: ImageStore; config?: Partial<Config>; dbFile?: string } = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-test-'));
  const seed = loadSeed(undefined);
  seed.projects.push({ name: 'alt' });
  seed.users.push(
    { name: 'alt', password: PASSWORDS.alt, project: 'alt', roles: ['member'] },
    { name: 'viewer', password: PASSWORDS.viewer, project: 'demo', roles: ['reader'] },
  );
  const config: Config = {
    port: 0,
    bind: '127.0.0.1',
    publicUrl: 'http://127.0.0.1:8080',
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
  const driver = opts.driver ?? new FakeDriver({ host: 'fake-host' });
  const store = opts.store ?? new MemoryImageStore();
  const services = await buildServices({ config, log, drivers: [driver], store, dbFile: opts.dbFile ?? path.join(dataDir, 'novadock.sqlite'), sweepIntervalMs: 60_000 });
  const app = createApp(services, log);
  const tokens = new Map<Account, string>();
  const projects = new Map<Account, string>();
  const login = async (account: Account) => {
    const res = await request(app).post('/identity/v3/auth/tokens').send({
      auth: {
        identity: { methods: ['password'], password: { user: { name: account, domain: { name: 'Default' }, password: PASSWORDS[account] } } },
        scope: { project: { name: account === 'viewer' ? 'demo' : account, domain: { name: 'Default' } } },
      },
    });
    if (res.status !== 201) throw new Error(`login ${account}: ${res.status} ${JSON.stringify(res.body)}`);
    tokens.set(account, res.headers['x-subject-token']);
    projects.set(account, res.body.token.project.id);
  };
  return {
    app,
    services,
    driver,
    store,
    dataDir,
    async token(account) {
      if (!tokens.has(account)) await login(account);
      return tokens.get(account)!;
    },
    async projectId(account) {
      if (!projects.has(account)) await login(account);
      return projects.get(account)!;
    },
    async close() {
      await services.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
