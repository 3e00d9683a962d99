/**
 * Key material for key pairs, as Nova's nova/crypto.py makes and checks it: OpenSSH and X509
 * fingerprints, RSA key pairs, and self-signed certificates for `type: x509` (through a minimal
 * DER writer: Node can verify certificates but not issue them). No HTTP, no storage.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import sshpk from 'sshpk';
import { badRequest } from '../errors';

const generateKeyPair = promisify(crypto.generateKeyPair);

/** Thrown as Nova's InvalidKeypair: "Keypair data is invalid: <reason>" (400). */
const invalidKeypair = (reason: string) => badRequest(`Keypair data is invalid: ${reason}`);

/**
 * Nova's SSH fingerprint: MD5 of the key blob, colon-separated lowercase hex.
 * Anything that is not an OpenSSH public key line is refused, as Nova refuses it.
 */
export function sshFingerprint(publicKey: string): string {
  try {
    const key = sshpk.parseKey(publicKey.trim(), 'ssh');
    return key.fingerprint('md5').toString('hex');
  } catch {
    throw invalidKeypair('failed to generate fingerprint');
  }
}

/** Nova's X509 fingerprint: SHA-1 of the certificate, colon-separated lowercase hex. */
export function x509Fingerprint(pem: string): string {
  try {
    return new crypto.X509Certificate(pem).fingerprint.toLowerCase();
  } catch (e) {
    throw invalidKeypair(`failed to generate X509 fingerprint. Error message: ${(e as Error).message}`);
  }
}

/** A new RSA key pair as Nova makes one: 2048 bits, PKCS#1 PEM private key, OpenSSH public key. */
export async function generateSshKeyPair(): Promise<{ publicKey: string; privateKey: string; fingerprint: string }> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  // sshpk writes "(unnamed)" as the comment of a key without one: keep type and blob only.
  const [kind, blob] = sshpk.parseKey(publicKey, 'pem').toString('ssh').split(' ');
  const ssh = `${kind} ${blob} Generated-by-Nova`;
  return { publicKey: ssh, privateKey, fingerprint: sshFingerprint(ssh) };
}

// A minimal DER writer, enough for one self-signed certificate (RFC 5280 §4.1).
const der = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : (() => {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    return Buffer.from([0x80 | bytes.length, ...bytes]);
  })();
  return Buffer.concat([Buffer.from([tag]), len, content]);
};
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const oid = (hex: string) => der(0x06, Buffer.from(hex, 'hex'));
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));
/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
const time = (d: Date) => {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
};
const SHA256_WITH_RSA = seq(oid('2a864886f70d01010b'), Buffer.from([0x05, 0x00]));
const name = (attrs: [string, string][]) => seq(...attrs.map(([o, v]) => der(0x31, seq(oid(o), utf8(v)))));

/**
 * A new self-signed X509 certificate and its RSA key, as Nova's crypto.generate_x509_cert makes
 * one for `type: x509` key pairs: the certificate is the "public key", valid ten years.
 */
export async function generateX509KeyPair(commonName: string): Promise<{ certificate: string; privateKey: string; fingerprint: string }> {
  const { publicKey, privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01; // positive and minimal
  const subject = name([['55040a', 'OpenStack'], ['55040b', 'NovaDev'], ['550403', commonName]]);
  const now = new Date();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([0x02]))), // v3
    der(0x02, serial),
    SHA256_WITH_RSA,
    subject,
    seq(time(now), time(new Date(now.getTime() + 10 * 365 * 24 * 3600 * 1000))),
    subject,
    publicKey,
  );
  const signature = crypto.sign('sha256', tbs, privateKey);
  const cert = seq(tbs, SHA256_WITH_RSA, der(0x03, Buffer.concat([Buffer.from([0x00]), signature])));
  const certificate = `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return { certificate, privateKey, fingerprint: x509Fingerprint(certificate) };
}
