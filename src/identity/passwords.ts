/**
 * Salted password hashes with Node's scrypt: `scrypt$<salt hex>$<hash hex>`. Never stored in clear.
 * Logins check passwords in their own worker threads (password-pool.ts); these async helpers, on
 * libuv's thread pool, serve the seeding at start-up.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

export const KEYLEN = 32;
const scrypt = promisify(crypto.scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export const formatHash = (salt: Buffer, hash: Buffer): string => `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;

/** The salt and hash of a stored value, or undefined when it is not ours. */
export function parseHash(stored: string): { salt: Buffer; hash: Buffer } | undefined {
  const [scheme, saltHex, hashHex] = stored.split('$');
  if (scheme !== 'scrypt' || !saltHex || !hashHex) return undefined;
  return { salt: Buffer.from(saltHex, 'hex'), hash: Buffer.from(hashHex, 'hex') };
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  return formatHash(salt, await scrypt(password, salt, KEYLEN));
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  return crypto.timingSafeEqual(parsed.hash, await scrypt(password, parsed.salt, parsed.hash.length));
}

export function generatePassword(): string {
  return crypto.randomBytes(12).toString('base64url');
}
