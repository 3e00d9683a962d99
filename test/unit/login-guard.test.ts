/**
 * Issue 18 part 4, the rules: passwords checked in a pool of their own (off libuv's, so file I/O
 * is not starved), a bounded queue, Keystone's lockout counted in the database (shared by every
 * process over it), reset on success and by an admin, and an unknown user costing one hash like
 * a known one.
 */
import fs from 'node:fs';
import { DomainError } from '../../src/errors';
import { hashPassword, verifyPassword } from '../../src/identity/passwords';
import { PasswordPool } from '../../src/identity/password-pool';
import { LoginGuard } from '../../src/identity/login-guard';
import { LoginLockoutRepository } from '../../src/db/login-lockout-repo';
import { makeTestServices, PASSWORDS, TestServices } from '../helpers/services';

const LOCKOUT = { lockoutFailureAttempts: 3, lockoutDuration: 60, authFailureLimit: 0, authFailureWindow: 60, passwordQueue: 64 };

const login = (t: TestServices, name: string, password: string) => t.services.tokens.issue({
  auth: { identity: { methods: ['password'], password: { user: { name, domain: { name: 'Default' }, password } } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } },
});
/** A pool that counts the password checks asked of it. */
class CountingPool extends PasswordPool {
  checks = 0;
  override verify(password: string, stored: string): Promise<boolean> {
    this.checks++;
    return super.verify(password, stored);
  }
}

const status = (p: Promise<unknown>) => p.then(() => 'ok', (e: DomainError) => e.kind);

describe('the password pool', () => {
  let pool: PasswordPool;
  beforeAll(() => { pool = new PasswordPool({ threads: 1, maxQueue: 2 }); });
  afterAll(() => pool.close());

  test('a hash stored before the pool existed still verifies, and the pool stores the same format', async () => {
    const old = await hashPassword('s3cret');
    expect(await pool.verify('s3cret', old)).toBe(true);
    expect(await pool.verify('wrong', old)).toBe(false);
    expect(await pool.verify('s3cret', 'md5$whatever')).toBe(false);
    expect(await verifyPassword('s3cret', await pool.hash('s3cret'))).toBe(true);
  });

  test('when more checks wait than the queue holds, the next is refused with 503 and Retry-After, and the others complete', async () => {
    const stored = await hashPassword('x');
    // One thread: one check runs, two wait, the fourth finds the queue full.
    const runs = [1, 2, 3].map(() => pool.verify('x', stored));
    const refused = await pool.verify('x', stored).then(() => undefined, (e: DomainError) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ kind: 'unavailable', headers: { 'Retry-After': '1' } });
    expect(await Promise.all(runs)).toEqual([true, true, true]);
  });

  test("while passwords are being checked, libuv's pool stays free: a file read issued after eight checks ends before the first of them", async () => {
    const stored = await hashPassword('x');
    const big = new PasswordPool({ threads: 1, maxQueue: 64 });
    try {
      const order: string[] = [];
      const checks = Array.from({ length: 8 }, () => big.verify('x', stored).then(() => order.push('check')));
      await fs.promises.readFile(__filename).then(() => order.push('read'));
      await Promise.all(checks);
      expect(order[0]).toBe('read');
    } finally {
      await big.close();
    }
  });
});

describe('lockout (Keystone security_compliance)', () => {
  let t: TestServices;
  beforeAll(async () => { t = await makeTestServices({ config: { login: LOCKOUT } }); });
  afterAll(() => t.close());

  const demoId = async () => (await t.services.identity.userByName('default', 'demo'))!.id;

  test('after lockout_failure_attempts wrong passwords the right one is refused too, with the same 401; an admin enabling the user unlocks it', async () => {
    for (let i = 0; i < 3; i++) expect(await status(login(t, 'demo', 'nope'))).toBe('unauthorized');
    expect(await status(login(t, 'demo', PASSWORDS.demo))).toBe('unauthorized');
    const lockout = new LoginLockoutRepository(t.services.db);
    expect((await lockout.state(await demoId()))?.count).toBe(3);
    await t.services.logins.update(await t.ctx('admin'), await demoId(), { enabled: true });
    expect(await lockout.state(await demoId())).toEqual({ count: 0, atMs: null });
    expect(await status(login(t, 'demo', PASSWORDS.demo))).toBe('ok');
  });

  test('a success resets the count: attempts below the limit never add up across successes', async () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++) expect(await status(login(t, 'demo', 'nope'))).toBe('unauthorized');
      expect(await status(login(t, 'demo', PASSWORDS.demo))).toBe('ok');
    }
    expect((await new LoginLockoutRepository(t.services.db).state(await demoId()))?.count).toBe(0);
  });

  test('a lock lasts lockout_duration after the last failure, then the user may try again', async () => {
    let clock = Date.now();
    const pool = new PasswordPool({ threads: 1 });
    const lockout = new LoginLockoutRepository(t.services.db);
    const guard = new LoginGuard({ users: t.services.identity, lockout, pool, policy: { maxAttempts: 2, durationMs: 60_000 }, now: () => clock });
    try {
      const user = await t.services.identity.userByName('default', 'alt');
      for (let i = 0; i < 2; i++) expect(await status(guard.authenticate(user, 'nope'))).toBe('unauthorized');
      clock += 59_000;
      expect(await status(guard.authenticate(user, PASSWORDS.alt))).toBe('unauthorized');
      clock += 60_001; // a minute after the last failure (the refused attempt above did not count)
      expect(await status(guard.authenticate(user, PASSWORDS.alt))).toBe('ok');
    } finally {
      await pool.close();
    }
  });

  test('guesses arriving at once pass the limit no further: ten at once, three checked, the count is three', async () => {
    const pool = new CountingPool({ threads: 1 });
    const lockout = new LoginLockoutRepository(t.services.db);
    const guard = new LoginGuard({ users: t.services.identity, lockout, pool, policy: { maxAttempts: 3, durationMs: 0 }, now: Date.now });
    try {
      const user = await t.services.identity.userByName('default', 'viewer');
      const results = await Promise.all(Array.from({ length: 10 }, () => status(guard.authenticate(user, 'nope'))));
      expect(results).toEqual(Array(10).fill('unauthorized'));
      expect((await lockout.state(user!.id))?.count).toBe(3);
      // Every attempt is hashed (a locked user answers as slowly as any other), three are counted.
      expect(pool.checks).toBe(10);
    } finally {
      await t.services.logins.update(await t.ctx('admin'), (await t.services.identity.userByName('default', 'viewer'))!.id, { enabled: true });
      await pool.close();
    }
  });

  test('a login refused for want of a password thread (503) is not counted as a failed attempt', async () => {
    const pool = new PasswordPool({ threads: 1, maxQueue: 0 }); // every check refused
    const lockout = new LoginLockoutRepository(t.services.db);
    const guard = new LoginGuard({ users: t.services.identity, lockout, pool, policy: { maxAttempts: 3, durationMs: 0 } });
    try {
      const user = await t.services.identity.userByName('default', 'alt');
      expect(await status(guard.authenticate(user, PASSWORDS.alt))).toBe('unavailable');
      expect((await lockout.state(user!.id))?.count).toBe(0);
    } finally {
      await pool.close();
    }
  });

  test('an unknown user costs one password check, as a known one does, and gets the same answer', async () => {
    const pool = new CountingPool({ threads: 1 });
    const guard = new LoginGuard({ users: t.services.identity, lockout: new LoginLockoutRepository(t.services.db), pool, policy: { maxAttempts: 0, durationMs: 0 } });
    try {
      const unknown = await guard.authenticate(undefined, 'nope').then(() => undefined, (e: DomainError) => e);
      const known = await guard.authenticate(await t.services.identity.userByName('default', 'alt'), 'nope').then(() => undefined, (e: DomainError) => e);
      expect(pool.checks).toBe(2); // decoyVerify goes through verify
      expect(unknown).toEqual(known);
      expect(unknown).toMatchObject({ kind: 'unauthorized', message: 'The request you have made requires authentication.' });
    } finally {
      await pool.close();
    }
  });

  test('two processes over one database share the count: failures on either lock the user on both', async () => {
    const file = `${t.dataDir}/shared.sqlite`;
    const a = await makeTestServices({ config: { login: LOCKOUT }, dbFile: file });
    const b = await makeTestServices({ config: { login: LOCKOUT }, dbFile: file });
    try {
      expect(await status(login(a, 'demo', 'nope'))).toBe('unauthorized');
      expect(await status(login(b, 'demo', 'nope'))).toBe('unauthorized');
      expect(await status(login(a, 'demo', 'nope'))).toBe('unauthorized');
      expect(await status(login(b, 'demo', PASSWORDS.demo))).toBe('unauthorized');
      expect(await status(login(a, 'demo', PASSWORDS.demo))).toBe('unauthorized');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
