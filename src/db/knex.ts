/**
 * The database, through knex: SQLite (better-sqlite3) by default, PostgreSQL (pg) when the target
 * is a postgres:// URL. Only src/db imports knex. The same migrations and queries serve both; the
 * few places where the dialects differ go through src/db/dialect.ts.
 *
 * SQLite: WAL mode so readers never wait for the writer; foreign keys on; a busy timeout so
 * concurrent writers queue instead of failing.
 */
import path from 'node:path';
import fs from 'node:fs';
import knexFactory, { Knex } from 'knex';
import { badRequest } from '../errors';
import * as initial from '../../migrations/20261122000000_initial';
import * as imageMembers from '../../migrations/20261122100000_image_members';
import * as engineImageId from '../../migrations/20261204000000_engine_image_id';
import * as workers from '../../migrations/20261204100000_workers';
import * as allocations from '../../migrations/20261205000000_allocations';
import * as hostServices from '../../migrations/20261205010000_host_services';
import * as serverGroups from '../../migrations/20261205020000_server_groups';
import * as migrationsTable from '../../migrations/20261205030000_migrations';
import * as projectSubnets from '../../migrations/20261205040000_project_subnets';
import * as shelve from '../../migrations/20261206200000_shelve';
import * as quotas from '../../migrations/20261206500000_quotas';
import * as autoDiskConfig from '../../migrations/20261206400000_auto_disk_config';
import * as resizeFlavors from '../../migrations/20261206100000_resize_flavors';
import * as consoleAuthTokens from '../../migrations/20261206300000_console_auth_tokens';
import * as flavorAccess from '../../migrations/20261207070000_flavor_access'; // issue 18: flavor access
// issue 18 part 4: login lockout
import * as loginLockout from '../../migrations/20261207050000_login_lockout';
// issue 14: the embedded registry
import * as registry from '../../migrations/20261207030000_registry';
// issue 14: registry archive indexes
import * as imageArchiveIndexes from '../../migrations/20261207040000_image_archive_indexes';
// issue 17: the Networking API's shared records
import * as networking from '../../migrations/20261208010000_networking';
// issue 17 (net-core): ports made for servers, attach order
import * as portAttachments from '../../migrations/20261208100000_port_attachments';

import { dialect } from './dialect';

export type Db = Knex;

interface Migration { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }

/** Migrations are imported, not globbed, so they work from ts-jest and from the compiled tree alike. */
const MIGRATIONS: Record<string, Migration> = {
  '20261122000000_initial': initial,
  '20261122100000_image_members': imageMembers,
  '20261204000000_engine_image_id': engineImageId,
  '20261204100000_workers': workers,
  '20261205000000_allocations': allocations,
  '20261205010000_host_services': hostServices,
  '20261205020000_server_groups': serverGroups,
  '20261205030000_migrations': migrationsTable,
  '20261205040000_project_subnets': projectSubnets,
  '20261206200000_shelve': shelve,
  '20261206500000_quotas': quotas,
  '20261206400000_auto_disk_config': autoDiskConfig,
  '20261206100000_resize_flavors': resizeFlavors,
  '20261206300000_console_auth_tokens': consoleAuthTokens, // issue 15: serial console
  '20261207070000_flavor_access': flavorAccess, // issue 18: flavor access (the dashboard's Flavors panel)
  // issue 18 part 4: login lockout
  '20261207050000_login_lockout': loginLockout,
  '20261207030000_registry': registry, // issue 14: the embedded registry
  '20261207040000_image_archive_indexes': imageArchiveIndexes, // issue 14: registry archive indexes
  '20261208010000_networking': networking, // issue 17: networks, subnets, ports, security groups, floating IPs, routers
  '20261208100000_port_attachments': portAttachments, // issue 17 (net-core): ports made for servers, attach order
};

class ListedMigrations implements Knex.MigrationSource<string> {
  async getMigrations() { return Object.keys(MIGRATIONS).sort(); }
  getMigrationName(m: string) { return m; }
  async getMigration(m: string) { return MIGRATIONS[m]; }
}

export interface OpenOptions {
  /** PostgreSQL only: the schema to work in (it must exist); tests give each database its own. */
  searchPath?: string;
}

/** Whether a database target names a PostgreSQL server rather than a SQLite file. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * PostgreSQL refuses values SQLite stores as they come: text holding U+0000, strings longer than
 * a varchar(n), numbers beyond a column's range. Such a value comes from the request (whatever
 * got past validation), so it is the request that is invalid (400), not the server (500).
 */
const PG_INVALID_INPUT: Record<string, string> = {
  22021: 'Invalid input: text cannot contain the character U+0000.',
  22001: 'Invalid input: a value is longer than its field allows.',
  22003: 'Invalid input: a number is out of range.',
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const KnexPgClient: new (config: Knex.Config) => unknown = require('knex/lib/dialects/postgres');

/** knex's pg client, with PostgreSQL's "this value cannot be stored" errors as bad requests. */
class PgClient extends (KnexPgClient as new (config: Knex.Config) => { _query(conn: unknown, obj: unknown): Promise<unknown> }) {
  override async _query(conn: unknown, obj: unknown): Promise<unknown> {
    try {
      return await super._query(conn, obj);
    } catch (e) {
      const message = PG_INVALID_INPUT[String((e as { code?: unknown }).code)];
      throw message ? badRequest(message) : e;
    }
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const KnexSqliteClient: new (config: Knex.Config) => unknown = require('knex/lib/dialects/better-sqlite3');

/** What SqliteClient uses of a better-sqlite3 connection and its statements. */
interface SqliteStatement { reader: boolean; all(bindings: unknown[]): unknown; run(bindings: unknown[]): { lastInsertRowid: unknown; changes: number } }
interface SqliteConnection { prepare(sql: string): SqliteStatement }
interface SqliteQuery { sql?: string; bindings?: unknown[]; options?: unknown; response?: unknown; context?: unknown }

/** Prepared statements kept per connection (the oldest go first past this many). */
const STATEMENT_CACHE_MAX = 500;
/** Per connection, not per client: a transaction's client is a copy of the client's prototype, without its fields. */
const statements = new WeakMap<object, Map<string, SqliteStatement>>();

/**
 * knex's better-sqlite3 client, with each connection's prepared statements kept and used again:
 * knex prepares every query anew, which costs about as much as running it (a wide table's
 * `select *` most), on every request's every query. A statement runs to its end within one call
 * (all or run), so one is never in use twice at once. Schema changes (the migrations) empty the
 * cache; SQLite would recompile a statement whose table changed anyway. Queries that ask for
 * safeIntegers are prepared anew, as knex does, since that setting stays on a statement.
 */
class SqliteClient extends (KnexSqliteClient as new (config: Knex.Config) => {
  _query(conn: unknown, obj: unknown): Promise<unknown>; _formatBindings(bindings: unknown[] | undefined): unknown[];
}) {
  override async _query(conn: unknown, obj: unknown): Promise<unknown> {
    const q = obj as SqliteQuery;
    if (!conn || !q.sql || typeof (q.options as { safeIntegers?: unknown } | undefined)?.safeIntegers === 'boolean') return super._query(conn, obj);
    const connection = conn as SqliteConnection;
    let cache = statements.get(connection);
    if (!cache) statements.set(connection, (cache = new Map()));
    let statement = cache.get(q.sql);
    if (!statement) {
      statement = connection.prepare(q.sql);
      if (/^\s*(create|alter|drop)\b/i.test(q.sql)) cache.clear();
      else {
        if (cache.size >= STATEMENT_CACHE_MAX) cache.delete(cache.keys().next().value!);
        cache.set(q.sql, statement);
      }
    }
    const bindings = this._formatBindings(q.bindings);
    if (statement.reader) {
      q.response = statement.all(bindings);
      return q;
    }
    const response = statement.run(bindings);
    q.response = response;
    q.context = { lastID: response.lastInsertRowid, changes: response.changes };
    return q;
  }
}

/** Opens a SQLite file (or ':memory:'), or a PostgreSQL server for a postgres:// or postgresql:// URL. */
export function openDb(target: string, opts: OpenOptions = {}): Db {
  if (isPostgresUrl(target)) {
    return knexFactory({
      client: PgClient as unknown as typeof Knex.Client,
      connection: target,
      ...(opts.searchPath ? { searchPath: [opts.searchPath] } : {}),
      // Connections open on demand: an idle server holds none.
      pool: { min: 0, max: 10 },
    });
  }
  const file = target;
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  return knexFactory({
    client: SqliteClient as unknown as typeof Knex.Client,
    connection: { filename: file },
    useNullAsDefault: true,
    // better-sqlite3 is synchronous: one connection serialises writers without SQLITE_BUSY.
    pool: {
      min: 1,
      max: 1,
      afterCreate: (conn: { pragma(s: string): unknown }, done: (err: Error | null, c: unknown) => void) => {
        conn.pragma('journal_mode = WAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        conn.pragma('synchronous = NORMAL');
        done(null, conn);
      },
    },
  });
}

/**
 * Brings the schema up to date. A database migrated by a newer novadock is refused with a clear
 * message (this version would misread it), before anything is written.
 */
export async function migrate(db: Db): Promise<void> {
  if (await db.schema.hasTable('knex_migrations')) {
    const applied: string[] = await db('knex_migrations').pluck('name');
    const unknown = applied.filter((m) => !(m in MIGRATIONS));
    if (unknown.length > 0) {
      throw new Error(`the database schema is newer than this novadock: it has migration(s) ${unknown.join(', ')}, which this version does not know. `
        + 'Run the novadock version that migrated it (or a newer one); this one stops rather than misread the data.');
    }
  }
  await db.migrate.latest({ migrationSource: new ListedMigrations() });
}

/**
 * Runs `fn` (migrations, seeding) while holding the database's start-up lock, so that processes
 * starting at once take turns: on PostgreSQL an advisory lock held by a transaction (released
 * by the server if this process dies); on a SQLite file a lock file beside it naming the holder's
 * pid (taken over when that process is gone). Whoever holds it is the only one migrating, so a
 * migration lock that knex left set (a process killed mid-migration) is stale and freed.
 */
export async function withStartupLock<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const locked = async () => {
    if (await db.schema.hasTable('knex_migrations_lock')) await db.migrate.forceFreeMigrationsLock({ migrationSource: new ListedMigrations() });
    return fn();
  };
  if (dialect(db) === 'postgres') {
    return db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(?)', [STARTUP_LOCK]);
      return locked();
    });
  }
  const file = (db.client.config.connection as { filename?: string }).filename;
  if (!file || file === ':memory:') return locked();
  const release = await lockFile(`${file}.startup-lock`);
  try {
    return await locked();
  } finally {
    release();
  }
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** An exclusive lock file holding our pid; a holder that is no longer running loses it. */
async function lockFile(lock: string, waitMs = 120_000): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(fs.readFileSync(lock, 'utf8').trim() || 'NaN');
    // Unreadable (being written) is given a moment; a dead holder's lock is removed.
    if (Number.isInteger(holder) && holder !== process.pid && !pidAlive(holder)) fs.rmSync(lock, { force: true });
    else if (Date.now() > deadline) throw new Error(`${lock} is held by process ${holder}, which is still running: is another novadock starting on this database?`);
    else await new Promise((r) => setTimeout(r, 100));
  }
}

/** The advisory lock key of start-up ("novadock" in the lock space of this database). */
const STARTUP_LOCK = 0x6e6f7661;

/** Answers the health check: the database takes a query. */
export async function ping(db: Db): Promise<void> {
  await db.raw('select 1');
}

