/**
 * The services as the composition root builds them (buildServices: real identity, a real SQLite
 * file — or, when NOVADOCK_TEST_PG_URL is set, a fresh schema on that PostgreSQL server
 * (test/helpers/postgres.ts) — the reconciler's collaborators), without an HTTP app: for unit tests of rules. A fake
 * driver and the memory store by default, or any drivers and store given. Seeds four accounts:
 * admin (admin), demo (member of demo), alt (member of alt), viewer (reader of demo); `ctx`
 * gives a request context for one of them, issued by the token service as a login would be.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { buildServices, Services } from '../../src/compose';
import { Config, DEFAULT_LOGIN, loadSeed } from '../../src/config';
import type { RequestContext } from '../../src/http/context';
import type { ComputeDriver } from '../../src/virt/driver';
import type { ImageStore } from '../../src/store/image-store';
import { FakeDriver } from '../../src/virt/fake/driver';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { MemoryImageStore } from '../../src/store/memory-store';
import type { MembershipOptions } from '../../src/cluster/membership';
import type { HostSettingsPort, PlacementPort, ServerGroupsPort } from '../../src/compute/scheduler/types';
import { createTestSchema, testPgUrl } from './postgres';
import type { ServerNetworkingDeps } from '../../src/compute/services/server-ports';
import type { ServerFirewall } from '../../src/virt/firewall';
import type { RouterEngine } from '../../src/virt/routers';
import { FakeNat } from '../../src/virt/fake/nat';
import type { NatTable } from '../../src/virt/nat';

export const PASSWORDS = { admin: 'admin-secret', demo: 'demo-secret', alt: 'alt-secret', viewer: 'viewer-secret' } as const;
export type Account = keyof typeof PASSWORDS;
/** The public URL the test services advertise in links and the catalog. */
export const PUBLIC_URL = 'http://127.0.0.1:8080';

export interface TestServicesOptions {
  /** One compute host (the default: a fake named fake-host). */
  driver?: ComputeDriver;
  /** Several compute hosts (instead of `driver`). */
  drivers?: ComputeDriver[];
  store?: ImageStore;
  config?: Partial<Config>;
  /** Quotas over the defaults. */
  quotas?: Partial<Config['seed']['quotas']>;
  /**
   * The SQLite file to use (a test that restarts the services passes the same one twice). On
   * PostgreSQL it names a schema instead, kept on close so that the next instance finds it.
   */
  dbFile?: string;
  /** Heartbeat and liveness timing (several processes over one database). */
  membership?: MembershipOptions;
  /** Stand-ins for os-services / aggregates and os-server-groups (the scheduler's ports). */
  hostSettings?: HostSettingsPort;
  serverGroups?: ServerGroupsPort;
  /** Where moves go, for tests that watch the calls (test/helpers/placement.ts); absent: the scheduler's. */
  placement?: PlacementPort;
  /** The clock console tokens expire by (ms since the epoch). */
  consoleClock?: () => number;
  /** The network service's ports for servers' interfaces (issue 17; test/helpers/fake-ports.ts). */
  computePorts?: ServerNetworkingDeps;
  /** issue 17 (net-secgroups): where security groups are enforced (absent: a RecordingFirewall). */
  firewall?: ServerFirewall;
  /** The hosts' NAT for floating IPs (default: an in-memory FakeNat). */
  nat?: NatTable;
  /** Routers on networks spanning hosts (absent: none, as on bridges). */
  routerEngine?: RouterEngine;
}

export interface TestServices {
  services: Services;
  /** The first compute host's driver. */
  driver: ComputeDriver;
  /** Every compute host's driver, in configuration order. */
  drivers: ComputeDriver[];
  store: ImageStore;
  dataDir: string;
  /** The body a client would send to log in as an account (project-scoped). */
  authBody(account: Account): object;
  /** A request context for an account, from a token the token service issued (a fresh request id each time). */
  ctx(account?: Account): Promise<RequestContext>;
  /** Creates a docker-format image as `account` and uploads a fake engine archive into it; resolves to its id. */
  uploadImage(account?: Account): Promise<string>;
  close(): Promise<void>;
}

/** Today's Nova's initial ratios (cpu 4.0, ram 1.0) and reserve: the placement tests count with them. */
export const NOVA_INITIAL = { cpuAllocationRatio: 4.0, ramAllocationRatio: 1.0, reservedHostMemoryMb: 512, reservedHostCpus: 0 };

let salt = 0;

export async function makeTestServices(opts: TestServicesOptions = {}): Promise<TestServices> {
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
    // issue 18 part 4: refused logins answered at once (the fuzz run would wait a second per 429)
    login: { ...DEFAULT_LOGIN, authFailureDelayMs: 0 },
    ...opts.config,
  };
  process.env.NOVADOCK_DEMO_PASSWORD = PASSWORDS.demo;
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const drivers = opts.drivers ?? [opts.driver ?? new FakeDriver({ host: 'fake-host' })];
  const store = opts.store ?? new MemoryImageStore();
  const pgUrl = config.databaseUrl === undefined ? testPgUrl() : undefined;
  const pg = pgUrl === undefined ? undefined : await createTestSchema(pgUrl, opts.dbFile);
  if (pg) config.databaseUrl = pg.url;
  const services = await buildServices({
    config, log, drivers, store, dbFile: opts.dbFile ?? path.join(dataDir, 'novadock.sqlite'), dbSchema: pg?.schema, sweepIntervalMs: 60_000, membership: opts.membership,
    hostSettings: opts.hostSettings, serverGroups: opts.serverGroups, placement: opts.placement, consoleClock: opts.consoleClock,
    computePorts: opts.computePorts,
    firewall: opts.firewall,
    routerEngine: opts.routerEngine,
    nat: opts.nat ?? new FakeNat(), // issue 17: no test touches the host's NAT unless it asks to
  });

  const authBody = (account: Account) => ({
    auth: {
      identity: { methods: ['password'], password: { user: { name: account, domain: { name: 'Default' }, password: PASSWORDS[account] } } },
      scope: { project: { name: account === 'viewer' ? 'demo' : account, domain: { name: 'Default' } } },
    },
  });
  const tokens = new Map<Account, string>();
  const ctx = async (account: Account = 'demo') => {
    let token = tokens.get(account);
    if (!token) {
      token = (await services.tokens.issue(authBody(account))).token;
      tokens.set(account, token);
    }
    return services.tokens.context(token, `req-${crypto.randomUUID()}`);
  };
  return {
    services,
    driver: drivers[0],
    drivers,
    store,
    dataDir,
    authBody,
    ctx,
    async uploadImage(account: Account = 'demo') {
      const c = await ctx(account);
      const img = await services.images.create(c, { name: 'busybox', container_format: 'docker', disk_format: 'raw' });
      const archive = await buildFakeArchive({ files: { '/etc/hostname': 'x' }, salt: `services-test-${++salt}-${Date.now()}` });
      await services.imageUploads.upload(c, img.id, Readable.from([archive.bytes]));
      await services.images.idle();
      return img.id;
    },
    async close() {
      await services.close();
      // A schema named by dbFile outlives this instance, as the file would (the cluster is thrown away).
      if (pg && opts.dbFile === undefined) await pg.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
