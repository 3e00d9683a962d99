/**
 * Keystone's failed-authentication counter on the users table (migration 20261207050000), each
 * change one atomic UPDATE, so that processes sharing a PostgreSQL database count together.
 */
import type { Db } from './knex';

export interface LockoutPolicy {
  /** Attempts that may fail before the user is locked (Keystone's lockout_failure_attempts). */
  maxAttempts: number;
  /** How long a lock lasts after the last failure, in ms; 0 = until an admin enables the user. */
  durationMs: number;
}

export class LoginLockoutRepository {
  constructor(private readonly db: Db) {}

  /**
   * Counts an attempt before its password is checked, if the user is not locked: the count goes
   * up by one (or starts again at one when a lock has run out) in the same statement that checks
   * it, so however many guesses arrive at once, at most `maxAttempts` are ever checked per lock
   * period. False when the user is locked (or gone).
   */
  async claimAttempt(userId: string, policy: LockoutPolicy, nowMs: number): Promise<boolean> {
    const expired = policy.durationMs > 0 ? nowMs - policy.durationMs : undefined;
    const n = await this.db('users')
      .where({ id: userId })
      .andWhere((q) => {
        q.where('failed_auth_count', '<', policy.maxAttempts);
        if (expired !== undefined) q.orWhere('failed_auth_at_ms', '<=', expired);
      })
      .update({
        failed_auth_count: expired !== undefined
          ? this.db.raw('case when failed_auth_at_ms <= ? then 1 else failed_auth_count + 1 end', [expired])
          : this.db.raw('failed_auth_count + 1'),
        failed_auth_at_ms: nowMs,
      });
    return n > 0;
  }

  /** Takes back an attempt that was counted but never checked. */
  async release(userId: string): Promise<void> {
    await this.db('users').where({ id: userId }).andWhere('failed_auth_count', '>', 0).decrement('failed_auth_count', 1);
  }

  /** A success, or an admin enabling the user: the count starts again (Keystone's _reset_failed_auth). */
  async reset(userId: string): Promise<void> {
    await this.db('users').where({ id: userId }).update({ failed_auth_count: 0, failed_auth_at_ms: null });
  }

  /**
   * Enables or disables a user; enabling also resets the count (Keystone's User.enabled setter),
   * in the same statement. False when there is no such user.
   */
  async setEnabled(userId: string, enabled: boolean): Promise<boolean> {
    const patch = enabled ? { enabled: true, failed_auth_count: 0, failed_auth_at_ms: null } : { enabled: false };
    return (await this.db('users').where({ id: userId }).update(patch)) > 0;
  }

  /** The counter as stored (tests and the user view). */
  async state(userId: string): Promise<{ count: number; atMs: number | null } | undefined> {
    const row = await this.db('users').where({ id: userId }).first('failed_auth_count', 'failed_auth_at_ms');
    if (!row) return undefined;
    return { count: Number(row.failed_auth_count), atMs: row.failed_auth_at_ms === null ? null : Number(row.failed_auth_at_ms) };
  }
}
