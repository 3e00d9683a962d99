/**
 * Migrations on a live database: a database that a newer novadock migrated is refused with a
 * clear message before anything is written, and two processes starting at once on one
 * database both come up (one migrates, the other finds it done).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, migrate, withStartupLock } from '../../src/db/knex';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-schema-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a schema newer than this novadock is refused, naming the migration it does not know', async () => {
  const db = openDb(path.join(dir, 'db.sqlite'));
  try {
    await migrate(db);
    const before = await db('knex_migrations').count({ n: '*' }).first();
    await db('knex_migrations').insert({ name: '20991231000000_from_the_future', batch: 99, migration_time: new Date() });
    await expect(migrate(db)).rejects.toThrow(/schema is newer than this novadock.*20991231000000_from_the_future/);
    // Nothing was migrated or rolled back meanwhile.
    const after = await db('knex_migrations').count({ n: '*' }).first();
    expect(Number(after?.n)).toBe(Number(before?.n) + 1);
  } finally {
    await db.destroy();
  }
});

test('a start-up lock left by a process that is gone is taken over', async () => {
  const file = path.join(dir, 'db.sqlite');
  fs.writeFileSync(`${file}.startup-lock`, '2147483646'); // no such pid
  const db = openDb(file);
  try {
    await withStartupLock(db, () => migrate(db));
    expect(await db.schema.hasTable('workers')).toBe(true);
  } finally {
    await db.destroy();
  }
});

test('two processes migrating one database at once both come up with the whole schema', async () => {
  const file = path.join(dir, 'db.sqlite');
  const a = openDb(file);
  const b = openDb(file);
  try {
    await Promise.all([withStartupLock(a, () => migrate(a)), withStartupLock(b, () => migrate(b))]);
    expect(await a.schema.hasTable('workers')).toBe(true);
    expect(await b.schema.hasColumn('servers', 'task_owner')).toBe(true);
    expect(fs.readdirSync(dir)).not.toContain('db.sqlite.startup-lock');
  } finally {
    await a.destroy();
    await b.destroy();
  }
});
