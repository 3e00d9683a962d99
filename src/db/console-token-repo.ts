/**
 * Console tokens (migration 20261206300000_console_auth_tokens): one-time tokens of the serial
 * console URLs, kept as their SHA-256 with the server, project and expiry they were issued for.
 * Using a token deletes its row: the delete that removes it is the one use (a compare-and-set on
 * the row's existence), so a token raced for by two connections, in one process or several over
 * PostgreSQL, is used once.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
import type { Db } from './knex';

export interface ConsoleTokenRecord {
  consoleType: string;
  instanceUuid: string;
  projectId: string;
  /** Expiry, ms since the epoch. */
  expiresMs: number;
}

const hashOf = (token: string): string => crypto.createHash('sha256').update(token, 'utf8').digest('hex');

export class ConsoleTokenRepository {
  constructor(private readonly db: Db) {}

  /** Records a token (its hash only). */
  async add(token: string, rec: ConsoleTokenRecord): Promise<void> {
    await this.db('console_auth_tokens').insert({
      token_hash: hashOf(token), console_type: rec.consoleType, instance_uuid: rec.instanceUuid, project_id: rec.projectId, expires_ms: rec.expiresMs, created_at: stamp(),
    });
  }

  /**
   * Uses a token: resolves to what it was issued for when this call removed its row, undefined
   * when it was never issued or is used already (expiry is the caller's to judge: an expired
   * token is used up all the same).
   */
  async take(token: string): Promise<ConsoleTokenRecord | undefined> {
    const hash = hashOf(token);
    const row = await this.db('console_auth_tokens').where({ token_hash: hash }).first();
    if (!row) return undefined;
    const removed = await this.db('console_auth_tokens').where({ token_hash: hash }).del();
    if (removed !== 1) return undefined; // another connection used it between the read and the delete
    return { consoleType: row.console_type, instanceUuid: row.instance_uuid, projectId: row.project_id, expiresMs: Number(row.expires_ms) };
  }

  /** Forgets the tokens that expired before `nowMs` (Nova's clean_expired_console_auths). */
  async purgeExpired(nowMs: number): Promise<number> {
    return this.db('console_auth_tokens').where('expires_ms', '<', nowMs).del();
  }
}
