/**
 * The one integration harness: the services as the composition root builds them
 * (test/helpers/services.ts) under the app createApp builds, without listening, for supertest.
 * A fake driver and the memory store by default, or any drivers (several compute hosts) and store
 * given. The same four seeded accounts, logged in through the API.
 */
import request from 'supertest';
import pino from 'pino';
import type { Express } from 'express';
import type { Db } from '../../src/db/knex';
import { createApp } from '../../src/app';
import type { Services } from '../../src/compose';
import type { ComputeDriver } from '../../src/virt/driver';
import type { ImageStore } from '../../src/store/image-store';
import { Account, makeTestServices, TestServicesOptions } from './services';

export { PASSWORDS, PUBLIC_URL } from './services';
export type { Account } from './services';

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

export type TestAppOptions = TestServicesOptions;

export async function makeTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const t = await makeTestServices(opts);
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const app = createApp(t.services, log);
  const logins = new Map<Account, { token: string; projectId: string; userId: string }>();
  const login = async (account: Account) => {
    const cached = logins.get(account);
    if (cached) return cached;
    const res = await request(app).post('/identity/v3/auth/tokens').send(t.authBody(account));
    if (res.status !== 201) throw new Error(`login ${account}: ${res.status} ${JSON.stringify(res.body)}`);
    const c = { token: res.headers['x-subject-token'] as string, projectId: res.body.token.project.id as string, userId: res.body.token.user.id as string };
    logins.set(account, c);
    return c;
  };
  return {
    app,
    services: t.services,
    db: t.services.db,
    driver: t.driver,
    drivers: t.drivers,
    store: t.store,
    dataDir: t.dataDir,
    token: async (account) => (await login(account)).token,
    projectId: async (account) => (await login(account)).projectId,
    userId: async (account) => (await login(account)).userId,
    close: () => t.close(),
  };
}
