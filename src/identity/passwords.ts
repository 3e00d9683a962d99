/**
 * Salted password hashes with Node's scrypt: `scrypt$<salt hex>$<hash hex>`. Never stored in clear.
 * Hashing runs on libuv's thread pool (async scrypt), never on the event loop: a burst of logins
 * must not stall other requests, nor a process's heartbeat (src/cluster/membership.ts).
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const KEYLEN = 32;
const scrypt = promisify(crypto.scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN);
  return `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, saltHex, hashHex] = stored.split('$');
  if (scheme !== 'scrypt' || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = await scrypt(password, Buffer.from(saltHex, 'hex'), expected.length);
  return crypto.timingSafeEqual(expected, actual);
}

export function generatePassword(): string {
  return crypto.randomBytes(12).toString('base64url');
}
