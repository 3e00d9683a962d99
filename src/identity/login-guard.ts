/**
 * What stands between a password guess and the cloud (issue 18 part 4), as Keystone does it:
 * - the password is checked in the password pool, never on the event loop;
 * - Keystone's lockout ([security_compliance] lockout_failure_attempts / lockout_duration): after
 *   that many failed attempts the user is locked until lockout_duration seconds after the last
 *   one, or until an admin enables the user again (PATCH /v3/users/{id} {"user": {"enabled":
 *   true}}: Keystone's User.enabled setter resets the count); a success resets it too;
 * - no hint of whether a user exists: an unknown user, a wrong password, a locked or disabled
 *   user all get the same 401, after the same amount of hashing.
 * NOTE(openstack): Keystone answers a locked user "The account is locked for user: <id>."
 * (keystone/exception.py AccountLocked), which tells a guesser the name exists and is worth
 * trying again later; the brief is the plain 401 every other failure gets, which Keystone itself
 * gives for a wrong password ("The request you have made requires authentication.").
 */
import { forbidden, notFound, unauthorized } from '../errors';
import type { IdentityRepository, UserRow } from '../db/identity-repo';
import type { LockoutPolicy, LoginLockoutRepository } from '../db/login-lockout-repo';
import type { RequestContext } from '../http/context';
import type { PasswordPool } from './password-pool';

/** A user as the identity API shows it. */
export type LoginUser = UserRow;

export interface LoginGuardDeps {
  users: IdentityRepository;
  lockout: LoginLockoutRepository;
  pool: PasswordPool;
  /** maxAttempts 0: no lockout. */
  policy: LockoutPolicy;
  /** ms since the epoch (tests move it). */
  now?: () => number;
}

export class LoginGuard {
  private readonly listeners: ((userId: string) => void)[] = [];

  constructor(private readonly deps: LoginGuardDeps) {}

  /**
   * The user whose password this is, or Keystone's 401. Keystone's order: a locked user is
   * refused, a wrong password counted, a right one resets the count, then a disabled user is
   * refused. Here the attempt is counted before its hash is computed (and released by a success),
   * so that guesses arriving at once cannot pass the limit together.
   */
  async authenticate(user: UserRow | undefined, password: string): Promise<UserRow> {
    const { lockout, pool, policy } = this.deps;
    if (!user) {
      await pool.decoyVerify(password);
      throw unauthorized();
    }
    const counting = policy.maxAttempts > 0;
    const allowed = counting ? await lockout.claimAttempt(user.id, policy, this.now()) : true;
    // Hashed even when locked: a locked user must take as long as an unknown one.
    const matches = await pool.verify(password, user.password_hash).catch(async (e) => {
      // Not checked at all (the pool's queue was full: 503): the attempt does not count.
      if (counting && allowed) await lockout.release(user.id);
      throw e;
    });
    if (!allowed || !matches) throw unauthorized();
    if (counting) await lockout.reset(user.id);
    if (!user.enabled) throw unauthorized();
    return user;
  }

  /**
   * PATCH /v3/users/{id} (identity:update_user, admins only): `enabled` only (other fields: 403). Enabling unlocks,
   * as Keystone's User.enabled setter does; disabling ends the user's tokens here at once (other
   * processes within their token context cache's minute).
   */
  async update(ctx: RequestContext, userId: string, patch: { enabled?: boolean } & Record<string, unknown>): Promise<UserRow> {
    if (!ctx.isAdmin) throw forbidden('You are not authorized to perform the requested action: identity:update_user.');
    const other = Object.keys(patch).filter((k) => k !== 'enabled');
    if (other.length > 0) throw forbidden(`This cloud's identity directory is read-only apart from a user's "enabled" (to unlock or disable a user); not: ${other.join(', ')}. Projects, users and their other fields come from novadock's configuration (NOVADOCK_CONFIG), and change there.`);
    if (patch.enabled !== undefined) {
      if (!(await this.deps.lockout.setEnabled(userId, patch.enabled))) throw notFound(`Could not find user: ${userId}.`);
      for (const l of this.listeners) l(userId);
    }
    const user = await this.deps.users.userById(userId);
    if (!user) throw notFound(`Could not find user: ${userId}.`);
    return user;
  }

  /** Called with a user's id when an admin changed whether the user may log in. */
  onUserChange(fn: (userId: string) => void): void {
    this.listeners.push(fn);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
