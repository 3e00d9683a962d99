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

export type Db = Knex;

interface Migration { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> }

/** Migrations are imported, not globbed, so they work from ts-jest and from the compiled tree alike. */
const MIGRATIONS: Record<string, Migration> = {
  '20261122000000_initial': initial,
  '20261122100000_image_members': imageMembers,
  '20261204000000_engine_image_id': engineImageId,
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
    client: 'better-sqlite3',
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

export async function migrate(db: Db): Promise<void> {
  await db.migrate.latest({ migrationSource: new ListedMigrations() });
}

/** Answers the health check: the database takes a query. */
export async function ping(db: Db): Promise<void> {
  await db.raw('select 1');
}

