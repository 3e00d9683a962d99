/** `npm run migrate`: bring the database in NOVADOCK_DATA_DIR up to date and exit. */
import path from 'node:path';
import { loadConfig } from '../config';
import { openDb, migrate } from './knex';

async function main() {
  const config = loadConfig();
  const db = openDb(path.join(config.dataDir, 'novadock.sqlite'));
  await migrate(db);
  await db.destroy();
  process.stdout.write(`database at ${path.join(config.dataDir, 'novadock.sqlite')} is up to date\n`);
}
main().catch((e) => { process.stderr.write(`migrate failed: ${e.message}\n`); process.exit(1); });
