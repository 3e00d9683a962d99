/**
 * Where SQLite and PostgreSQL differ, in one place, so the repositories read the same on both.
 *
 * - Concurrency: SQLite has one connection (src/db/knex.ts), so every transaction runs alone and a
 *   read-then-write transaction cannot race. PostgreSQL runs transactions side by side (READ
 *   COMMITTED): a transaction that decides on what it read takes a lock first — a row lock
 *   (`forUpdate()`, which knex leaves out on SQLite) when the row exists, or `serialize` when the
 *   decision is about rows that may not exist yet (a quota count, a sequence).
 * - Errors: constraint violations carry SQLite's `SQLITE_CONSTRAINT*` codes or PostgreSQL's SQLSTATE.
 * - Strings: SQLite compares bytes (BINARY); PostgreSQL compares by the database's collation
 *   unless told `COLLATE "C"` (byte order for UTF-8).
 * - JSON: the JSON columns hold text. SQLite reads it in SQL (json_extract, json_each); on
 *   PostgreSQL the repositories parse it themselves, because jsonb refuses JSON that
 *   JSON.stringify writes and SQLite accepts (\u0000, lone surrogates).
 * - Numbers: PostgreSQL returns bigint and numeric results (count, sum, bigint columns) as
 *   strings; callers wrap them in Number.
 */
import type { Knex } from 'knex';

export type Dialect = 'sqlite' | 'postgres';

/** Which database a knex instance, transaction or query builder talks to. */
export function dialect(k: { client: unknown }): Dialect {
  return (k.client as { dialect?: unknown }).dialect === 'postgresql' ? 'postgres' : 'sqlite';
}

/**
 * True for a unique, primary-key or foreign-key violation: SQLite's SQLITE_CONSTRAINT_*,
 * PostgreSQL's 23505 (unique) and 23503 (foreign key).
 */
export function isConstraintViolation(e: unknown): boolean {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  return code.startsWith('SQLITE_CONSTRAINT') || code === '23505' || code === '23503';
}

/**
 * Makes the rest of transaction `tx` run alone among transactions that serialize on the same
 * `key`, until it ends: PostgreSQL's transaction-scoped advisory lock. On SQLite every
 * transaction already runs alone (one connection), so nothing is done.
 */
export async function serialize(tx: Knex.Transaction, key: string): Promise<void> {
  if (dialect(tx) !== 'postgres') return;
  await tx.raw('select pg_advisory_xact_lock(hashtext(?))', [key]);
}

/** Orders `q` by a string column in byte order, SQLite's BINARY collation, on both databases. */
export function orderBytes<Q extends Knex.QueryBuilder>(q: Q, column: string, dir: 'asc' | 'desc' = 'asc'): Q {
  if (dialect(q) === 'postgres') return q.orderByRaw(`?? collate "C" ${dir}`, [column]) as Q;
  return q.orderBy(column, dir) as Q;
}

/** `column op value` for a string column, compared in byte order on both databases. */
export function whereBytes<Q extends Knex.QueryBuilder>(q: Q, column: string, op: '<' | '<=' | '>' | '>=', value: string): Q {
  if (dialect(q) === 'postgres') return q.whereRaw(`?? collate "C" ${op} ?`, [column, value]) as Q;
  return q.where(column, op, value) as Q;
}
