/** `npm run migrate`: bring the database (NOVADOCK_DATABASE_URL, else SQLite in NOVADOCK_DATA_DIR) up to date and exit. */
import path from 'node:path';
import { loadConfig } from '../config';
import { openDb, migrate, withStartupLock } from './knex';

async function main() {
  const config = loadConfig();
  const target = config.databaseUrl ?? path.join(config.dataDir, 'novadock.sqlite');
  const db = openDb(target);
  // Under the same lock as a starting server: `npm run up` migrates while one may be starting.
  await withStartupLock(db, () => migrate(db));
  await db.destroy();
  // A URL may carry a password: name only its host and database.
  const shown = config.databaseUrl ? `PostgreSQL database ${describeUrl(config.databaseUrl)}` : `database at ${target}`;
  process.stdout.write(`${shown} is up to date\n`);
}

function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}
main().catch((e) => { process.stderr.write(`migrate failed: ${e.message}\n`); process.exit(1); });
