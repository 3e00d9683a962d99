/**
 * Key pairs, per user (Nova's API-database `key_pairs`). A key pair is identified by
 * (user_id, name); the row's rowid (SQLite's implicit one, an explicit serial column on
 * PostgreSQL) is the integer `id` Nova shows at 2.1.
 */
import type { Db } from './knex';
import { isConstraintViolation, orderBytes, serialize, whereBytes } from './dialect';
import { now } from '../clock';
import { conflict, quotaExceeded } from '../errors';

export type KeypairType = 'ssh' | 'x509';

export interface KeypairRecord {
  /** Integer id (creation order), shown by GET /os-keypairs/{name}. */
  id: number;
  name: string;
  public_key: string;
  fingerprint: string;
  type: string;
  user_id: string;
  created_at: string;
}

export interface NewKeypair {
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  type: KeypairType;
}

/** The list's marker names no key pair of this user (Nova's MarkerNotFound → 400). */
export class KeypairMarkerNotFound extends Error {
  constructor(readonly marker: string) {
    super(`Marker ${marker} could not be found.`);
    this.name = 'KeypairMarkerNotFound';
  }
}

interface KeypairRow {
  rowid: number;
  user_id: string;
  name: string;
  type: string;
  public_key: string;
  fingerprint: string;
  created_at: string;
}

const fromRow = (r: KeypairRow): KeypairRecord => ({
  id: Number(r.rowid),
  name: r.name,
  public_key: r.public_key,
  fingerprint: r.fingerprint,
  type: r.type,
  user_id: r.user_id,
  created_at: r.created_at,
});

export class KeypairRepository {
  constructor(private readonly db: Db) {}

  private q() {
    return this.db<KeypairRow>('keypairs');
  }

  /** The user's key pair with this name, or undefined. */
  async get(userId: string, name: string): Promise<KeypairRecord | undefined> {
    const r = await this.q().select('rowid', '*').where({ user_id: userId, name }).first();
    return r ? fromRow(r as KeypairRow) : undefined;
  }

  /**
   * The user's key pairs by name (Nova orders by name, then id), paged after `marker` (a name).
   * Throws KeypairMarkerNotFound for a marker that is not one of the user's key pairs.
   */
  async list(userId: string, page: { limit?: number; marker?: string } = {}): Promise<KeypairRecord[]> {
    let sql = this.q().select('rowid', '*').where({ user_id: userId });
    if (page.marker !== undefined) {
      const m = await this.q().where({ user_id: userId, name: page.marker }).first();
      if (!m) throw new KeypairMarkerNotFound(page.marker);
      sql = whereBytes(sql, 'name', '>', page.marker);
    }
    // Names in byte order (SQLite's BINARY), whatever PostgreSQL's collation: markers page the same.
    sql = orderBytes(sql, 'name', 'asc');
    if (page.limit !== undefined) sql = sql.limit(page.limit);
    return ((await sql) as KeypairRow[]).map(fromRow);
  }

  async count(userId: string): Promise<number> {
    const r = await this.q().where({ user_id: userId }).count<{ n: number }[]>({ n: '*' });
    return Number(r[0]?.n ?? 0);
  }

  /**
   * Stores a key pair. The quota check (403, Nova's KeypairLimitExceeded) and the insert are one
   * transaction, so concurrent creates cannot overshoot; an existing name is a 409.
   * `maxKeypairs` < 0 means unlimited.
   */
  async create(k: NewKeypair, maxKeypairs: number): Promise<KeypairRecord> {
    try {
      await this.db.transaction(async (trx) => {
        // The count is about rows that do not exist yet: one create per user at a time.
        await serialize(trx, `novadock.keypairs:${k.user_id}`);
        if (maxKeypairs >= 0) {
          const r = await trx('keypairs').where({ user_id: k.user_id }).count<{ n: number }[]>({ n: '*' });
          if (Number(r[0]?.n ?? 0) + 1 > maxKeypairs) throw quotaExceeded('Quota exceeded, too many key pairs.');
        }
        if (await trx('keypairs').where({ user_id: k.user_id, name: k.name }).first()) {
          throw conflict(`Key pair '${k.name}' already exists.`);
        }
        await trx('keypairs').insert({ ...k, created_at: now() });
      });
    } catch (e) {
      if (isConstraintViolation(e)) throw conflict(`Key pair '${k.name}' already exists.`);
      throw e;
    }
    return (await this.get(k.user_id, k.name))!;
  }

  /** Deletes the user's key pair; false when there was none. */
  async delete(userId: string, name: string): Promise<boolean> {
    return (await this.q().where({ user_id: userId, name }).delete()) > 0;
  }
}
