/**
 * The database: SQLite through knex and better-sqlite3. Only src/db imports knex.
 * WAL mode so readers never wait for the writer; foreign keys on; a busy timeout so
 * concurrent writers queue instead of failing.
 */
import path from 'node:path';
import fs from 'node:fs';
import knexFactory, { Knex } from 'knex';
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

export function openDb(file: string): Db {
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

