/**
 * The app as main.ts builds it (buildServices + createApp: real identity, real SQLite file,
 * memory image store, the real computeRouter mounting these routers), with any number of
 * compute hosts (makeTestApp takes one), for the compute periphery tests.
 *
 * It also loads tempest's strict compute response schemas (dumped from the installed tempest
 * 33.0.0 into misc-tempest-schemas.json, unchanged) and checks bodies against them with the
 * formats tempest's validator knows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { Express } from 'express';
import request from 'supertest';
import pino from 'pino';
import Ajv, { ValidateFunction } from 'ajv';
import { loadSeed, Config } from '../../src/config';
import type { Db } from '../../src/db/knex';
import { createApp } from '../../src/app';
import { buildServices, Services } from '../../src/compose';
import { FakeDriver } from '../../src/virt/fake/driver';
import { MemoryImageStore } from '../../src/store/memory-store';
import type { ComputeDriver } from '../../src/virt/driver';
import schemas from './misc-tempest-schemas.json';

export const PASSWORDS = { admin: 'admin-secret', demo: 'demo-secret', alt: 'alt-secret', viewer: 'viewer-secret' } as const;
export type Account = keyof typeof PASSWORDS;
export const PUBLIC_URL = 'http://127.0.0.1:8080';

export interface Harness {
  app: Express;
  db: Db;
  services: Services;
  drivers: ComputeDriver[];
  token(account: Account): Promise<string>;
  projectId(account: Account): Promise<string>;
  userId(account: Account): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  drivers?: ComputeDriver[];
  quotas?: Partial<Config['seed']['quotas']>;
}

export async function makeHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-misc-'));
  const seed = loadSeed(undefined);
  seed.projects.push({ name: 'alt' });
  seed.users.push(
    { name: 'alt', password: PASSWORDS.alt, project: 'alt', roles: ['member'] },
    { name: 'viewer', password: PASSWORDS.viewer, project: 'demo', roles: ['reader'] },
  );
  Object.assign(seed.quotas, opts.quotas ?? {});
  const config: Config = {
    port: 0, bind: '127.0.0.1', publicUrl: PUBLIC_URL, dataDir, adminPassword: PASSWORDS.admin,
    tokenTtlSeconds: 3600, maxImageSize: 1024 ** 3, logLevel: 'silent', seed,
  };
  process.env.NOVADOCK_DEMO_PASSWORD = PASSWORDS.demo;
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const drivers = opts.drivers ?? [new FakeDriver({ host: 'fake-host' })];
  const services = await buildServices({
    config, log, drivers, store: new MemoryImageStore(), dbFile: path.join(dataDir, 'novadock.sqlite'), sweepIntervalMs: 60_000,
  });
  const app = createApp(services, log);

  const cache = new Map<Account, { token: string; projectId: string; userId: string }>();
  const login = async (account: Account) => {
    let c = cache.get(account);
    if (!c) {
      const res = await request(app).post('/identity/v3/auth/tokens').send({
        auth: {
          identity: { methods: ['password'], password: { user: { name: account, domain: { name: 'Default' }, password: PASSWORDS[account] } } },
          scope: { project: { name: account === 'viewer' ? 'demo' : account, domain: { name: 'Default' } } },
        },
      });
      if (res.status !== 201) throw new Error(`login ${account}: ${res.status} ${JSON.stringify(res.body)}`);
      c = { token: res.headers['x-subject-token'], projectId: res.body.token.project.id, userId: res.body.token.user.id };
      cache.set(account, c);
    }
    return c;
  };
  return {
    app, db: services.db, services, drivers,
    token: async (a) => (await login(a)).token,
    projectId: async (a) => (await login(a)).projectId,
    userId: async (a) => (await login(a)).userId,
    async close() {
      services.compute.hosts.stop();
      await services.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------ tempest schemas

/** Tempest's FormatChecker: draft-4 formats plus iso8601-date-time. */
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
ajv.addFormat('uri', (s: string) => { try { return Boolean(new URL(s).protocol); } catch { return false; } });
ajv.addFormat('ipv4', (s: string) => net.isIPv4(s));
ajv.addFormat('ipv6', (s: string) => net.isIPv6(s));
ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i);
ajv.addFormat('iso8601-date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/);

const compiled = new Map<string, ValidateFunction>();

export type TempestSchemaName = keyof typeof schemas;

/**
 * Checks a response against one of tempest's schemas ("v2_1/flavors.list_flavors"): status code
 * and body. Returns the list of problems (empty = valid) so a failing test shows them.
 */
export function tempestProblems(name: TempestSchemaName, res: { status: number; body: unknown }): string[] {
  const s = schemas[name] as { status_code?: number[]; response_body?: object } & Record<string, unknown>;
  const problems: string[] = [];
  // A few entries are fragments (e.g. tenant_networks.param_network), not whole responses.
  const isResponse = Array.isArray(s.status_code);
  if (isResponse && !s.status_code!.includes(res.status)) problems.push(`status ${res.status} not in ${JSON.stringify(s.status_code)}`);
  const bodySchema = isResponse ? s.response_body : s;
  if (bodySchema) {
    let v = compiled.get(name);
    if (!v) {
      v = ajv.compile(bodySchema);
      compiled.set(name, v);
    }
    if (!v(res.body)) problems.push(...(v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`));
  }
  return problems;
}
