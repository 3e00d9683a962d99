/**
 * The SQLite client keeps each connection's prepared statements (src/db/knex.ts): the same query
 * run again answers from the table as it is now, a schema change is seen by the queries after it,
 * writes report their changes, RETURNING reads back, and transactions use the same statements.
 */
import { openDb } from '../../src/db/knex';
import type { Db } from '../../src/db/knex';

let db: Db;
beforeEach(async () => {
  db = openDb(':memory:');
  await db.schema.createTable('t', (t) => { t.string('id').primary(); t.integer('n'); });
});
afterEach(async () => { await db.destroy(); });

test('a query run again sees the rows written since', async () => {
  const read = () => db('t').where({ n: 1 }).select('id');
  expect(await read()).toEqual([]);
  await db('t').insert({ id: 'a', n: 1 });
  expect(await read()).toEqual([{ id: 'a' }]);
  await db('t').insert({ id: 'b', n: 1 });
  expect(await read()).toEqual([{ id: 'a' }, { id: 'b' }]);
});

test('writes report how many rows they changed, and RETURNING gives the row written', async () => {
  await db('t').insert([{ id: 'a', n: 1 }, { id: 'b', n: 1 }]);
  expect(await db('t').where({ n: 1 }).update({ n: 2 })).toBe(2);
  expect(await db('t').where({ n: 1 }).update({ n: 2 })).toBe(0);
  expect(await db('t').where({ id: 'a', n: 2 }).update({ n: 3 }, ['id', 'n'])).toEqual([{ id: 'a', n: 3 }]);
});

test('after a schema change the same query text sees the new columns', async () => {
  await db('t').insert({ id: 'a', n: 1 });
  expect(await db('t').select('*')).toEqual([{ id: 'a', n: 1 }]);
  await db.schema.alterTable('t', (t) => { t.string('label').defaultTo('x'); });
  expect(await db('t').select('*')).toEqual([{ id: 'a', n: 1, label: 'x' }]);
});

test('inside and outside a transaction, and a rolled-back write is gone', async () => {
  await db.transaction(async (trx) => { await trx('t').insert({ id: 'a', n: 1 }); });
  await expect(db.transaction(async (trx) => {
    await trx('t').insert({ id: 'b', n: 1 });
    expect(await trx('t').count({ c: '*' })).toEqual([{ c: 2 }]);
    throw new Error('roll back');
  })).rejects.toThrow('roll back');
  expect(await db('t').count({ c: '*' })).toEqual([{ c: 1 }]);
});
