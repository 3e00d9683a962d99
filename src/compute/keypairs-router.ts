/**
 * /compute/v2.1/os-keypairs — SSH key pairs per user (nova/api/openstack/compute/keypairs.py).
 * Mounted by computeRouter after the token, microversion and JSON-body middleware.
 *
 *   GET    /         list the user's key pairs (2.10: ?user_id= for admins; 2.35: limit/marker)
 *   POST   /         generate (private_key returned once) or import (public_key) a key pair
 *   GET    /{name}   show
 *   DELETE /{name}   delete (202 at 2.1, 204 from 2.2)
 *
 * Microversions: 2.2 adds `type` (ssh|x509) and answers create with 201; 2.10 lets admins act
 * for another user; 2.35 pages the list; 2.92 forbids generation (public_key required) and
 * allows '@' and '.' in names.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import sshpk from 'sshpk';
import { Router, Request } from 'express';
import type { Services } from '../compose';
import { badRequest, forbidden, msg, notFound, quotaExceeded } from '../errors';
import { handle } from '../http/async';
import { ctxOf } from '../http/auth';
import { canWrite, RequestContext } from '../http/context';
import { methodNotAllowed } from '../http/errors';
import { validate } from '../http/validation';
import { KeypairMarkerNotFound, KeypairRecord, KeypairRepository, KeypairType } from '../db/keypair-repo';
import { atLeast } from './microversion';
import { nextPageLinks, novaTime } from './views/common';
import { limitParam, queryParam } from '../http/query';
import { MAX_LIMIT } from './max-limit';
import * as schemas from './schemas/keypairs';

const generateKeyPair = promisify(crypto.generateKeyPair);

// ---------------------------------------------------------------------------------------------
// Rules (nova/compute/api.py KeypairAPI, nova/crypto.py): no HTTP in here.
// ---------------------------------------------------------------------------------------------

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

/** Key pair rules over the repository: quota, validity of the key, generation. */
export class KeypairService {
  constructor(private readonly repo: KeypairRepository, private readonly maxKeypairs: number) {}

  /**
   * Imports `publicKey`, or generates a pair when it is absent. Errors in Nova's order:
   * quota (403) before key validity (400) before an existing name (409).
   */
  async create(userId: string, name: string, type: KeypairType, publicKey: string | undefined): Promise<{ keypair: KeypairRecord; privateKey?: string }> {
    if (this.maxKeypairs >= 0 && (await this.repo.count(userId)) >= this.maxKeypairs) {
      throw quotaExceeded('Quota exceeded, too many key pairs.');
    }
    if (publicKey !== undefined) {
      const fingerprint = type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
      return { keypair: await this.repo.create({ user_id: userId, name, type, public_key: publicKey, fingerprint }, this.maxKeypairs) };
    }
    if (type === 'x509') {
      const x = await generateX509KeyPair(`${userId}-${new Date().toISOString()}`);
      const keypair = await this.repo.create({ user_id: userId, name, type, public_key: x.certificate, fingerprint: x.fingerprint }, this.maxKeypairs);
      return { keypair, privateKey: x.privateKey };
    }
    const generated = await generateSshKeyPair();
    const keypair = await this.repo.create({ user_id: userId, name, type, public_key: generated.publicKey, fingerprint: generated.fingerprint }, this.maxKeypairs);
    return { keypair, privateKey: generated.privateKey };
  }

  async get(userId: string, name: string): Promise<KeypairRecord> {
    const k = await this.repo.get(userId, name);
    if (!k) throw notFound(msg.keypairNotFound(name, userId));
    return k;
  }

  async list(userId: string, page: { limit?: number; marker?: string }): Promise<KeypairRecord[]> {
    try {
      return await this.repo.list(userId, page);
    } catch (e) {
      if (e instanceof KeypairMarkerNotFound) throw badRequest(e.message);
      throw e;
    }
  }

  async delete(userId: string, name: string): Promise<void> {
    if (!(await this.repo.delete(userId, name))) throw notFound(msg.keypairNotFound(name, userId));
  }
}

// ---------------------------------------------------------------------------------------------
// Views (per microversion)
// ---------------------------------------------------------------------------------------------

function withType(req: Request, v: Record<string, unknown>, k: KeypairRecord) {
  if (atLeast(req, '2.2')) v.type = k.type;
  return v;
}

function createdView(req: Request, k: KeypairRecord, privateKey?: string) {
  const v: Record<string, unknown> = { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint, user_id: k.user_id };
  withType(req, v, k);
  if (privateKey !== undefined) v.private_key = privateKey;
  return { keypair: v };
}

function showView(req: Request, k: KeypairRecord) {
  return {
    keypair: withType(req, {
      public_key: k.public_key,
      name: k.name,
      fingerprint: k.fingerprint,
      user_id: k.user_id,
      deleted: false,
      created_at: novaTime(k.created_at),
      updated_at: null,
      deleted_at: null,
      id: k.id,
    }, k),
  };
}

function listItem(req: Request, k: KeypairRecord) {
  return { keypair: withType(req, { name: k.name, public_key: k.public_key, fingerprint: k.fingerprint }, k) };
}

// ---------------------------------------------------------------------------------------------
// Router
// ---------------------------------------------------------------------------------------------

/**
 * The user a request acts for: `user_id` (query or body, from 2.10) when given, else the caller.
 * Acting for someone else is an admin's right (Nova: "admin_api or user_id:%(user_id)s").
 */
function targetUser(req: Request, ctx: RequestContext, action: string, fromBody?: string): string {
  let userId = fromBody;
  if (userId === undefined && atLeast(req, '2.10')) userId = queryParam(req, 'user_id');
  if (!atLeast(req, '2.10') || userId === undefined) return ctx.userId;
  if (userId !== ctx.userId && !ctx.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:${action} to be performed.`);
  return userId;
}

function requireWrite(ctx: RequestContext, action: string): void {
  if (!canWrite(ctx)) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:${action} to be performed.`);
}

interface CreateBody { keypair: { name: string; public_key?: string; type?: KeypairType; user_id?: string } }

export function keypairsRouter(services: Services): Router {
  const keypairs = new KeypairService(new KeypairRepository(services.db), services.config.seed.quotas.key_pairs);
  const router = Router();

  router.route('/')
    .get(handle(async (req, res) => {
      const ctx = ctxOf(req);
      const userId = targetUser(req, ctx, 'index');
      const paged = atLeast(req, '2.35');
      const page = paged ? { limit: limitParam(req, MAX_LIMIT), marker: queryParam(req, 'marker') } : {};
      const list = await keypairs.list(userId, page);
      const body: Record<string, unknown> = { keypairs: list.map((k) => listItem(req, k)) };
      if (paged) {
        const links = nextPageLinks(services.config.publicUrl, 'os-keypairs', req.query, list.length, list[list.length - 1]?.name);
        if (links.length) body.keypairs_links = links;
      }
      res.status(200).json(body);
    }))
    .post(handle(async (req, res) => {
      const schema = atLeast(req, '2.92') ? schemas.createKeypairV292
        : atLeast(req, '2.10') ? schemas.createKeypairV210
          : atLeast(req, '2.2') ? schemas.createKeypairV22
            : schemas.createKeypair;
      const { keypair: k } = validate<CreateBody>(schema, req.body);
      const ctx = ctxOf(req);
      requireWrite(ctx, 'create');
      const userId = targetUser(req, ctx, 'create', k.user_id);
      const { keypair, privateKey } = await keypairs.create(userId, k.name, k.type ?? 'ssh', k.public_key);
      res.status(atLeast(req, '2.2') ? 201 : 200).json(createdView(req, keypair, privateKey));
    }))
    .all(methodNotAllowed());

  router.route('/:name')
    .get(handle(async (req, res) => {
      const ctx = ctxOf(req);
      const userId = targetUser(req, ctx, 'show');
      res.status(200).json(showView(req, await keypairs.get(userId, req.params.name)));
    }))
    .delete(handle(async (req, res) => {
      const ctx = ctxOf(req);
      requireWrite(ctx, 'delete');
      const userId = targetUser(req, ctx, 'delete');
      await keypairs.delete(userId, req.params.name);
      res.status(atLeast(req, '2.2') ? 204 : 202).end();
    }))
    .all(methodNotAllowed());

  return router;
}
