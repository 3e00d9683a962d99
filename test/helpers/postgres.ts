/**
 * PostgreSQL for the tests: when NOVADOCK_TEST_PG_URL names a server (an admin URL, e.g. the
 * throwaway cluster scripts/lib.sh `start_test_postgres` runs), every test-services instance gets
 * a database of its own as a fresh schema on that server — cheaper than a database per test, and
 * just as isolated (the services' connections set search_path to it). Unset: SQLite, as always.
 */
import crypto from 'node:crypto';
import { Client } from 'pg';

/** The admin URL of the test PostgreSQL server, or undefined for SQLite. */
export function testPgUrl(): string | undefined {
  return process.env.NOVADOCK_TEST_PG_URL || undefined;
}

export interface TestSchema {
  /** URL of the server (config.databaseUrl). */
  url: string;
  /** Schema to use (search_path). */
  schema: string;
  /** Drops the schema and everything in it (after the services closed their connections). */
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * A schema for one test-services instance. Without `key`, a new empty one, named uniquely.
 * With `key` (a SQLite file path a test reuses across restarts), the same schema for the same
 * key, created if missing: a second instance finds what the first left.
 */
export async function createTestSchema(url: string, key?: string): Promise<TestSchema> {
  const schema = key === undefined
    ? `t_${process.pid}_${crypto.randomBytes(6).toString('hex')}`
    : `k_${crypto.createHash('sha256').update(key).digest('hex').slice(0, 24)}`;
  await withClient(url, (c) => c.query(`create schema if not exists ${quote(schema)}`));
  return {
    url,
    schema,
    drop: () => withClient(url, (c) => c.query(`drop schema if exists ${quote(schema)} cascade`)).then(() => undefined),
  };
}
