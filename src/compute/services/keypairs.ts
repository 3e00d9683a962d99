/**
 * Key pairs per user (nova/compute/api.py KeypairAPI): quota, validity of an imported key,
 * generation of a new one. Errors by kind; no HTTP in here.
 */
import { badRequest, msg, notFound, quotaExceeded } from '../../errors';
import type { QuotaLimitsPort } from './quotas';
import { KeypairMarkerNotFound, KeypairRecord, KeypairRepository, KeypairType } from '../../db/keypair-repo';
export type { KeypairRecord, KeypairType };
import { generateSshKeyPair, generateX509KeyPair, sshFingerprint, x509Fingerprint } from '../keys';

/** Key pair rules over the repository: quota, validity of the key, generation. */
export class KeypairService {
  constructor(private readonly repo: KeypairRepository, private readonly quotas: QuotaLimitsPort) {}

  /**
   * Imports `publicKey`, or generates a pair when it is absent. Errors in Nova's order:
   * quota (403) before key validity (400) before an existing name (409). The limit is the
   * key_pairs quota of `projectId` (the caller's project, as Nova's context) for `userId`.
   */
  async create(projectId: string, userId: string, name: string, type: KeypairType, publicKey: string | undefined): Promise<{ keypair: KeypairRecord; privateKey?: string }> {
    const maxKeypairs = (await this.quotas.limits(projectId, userId)).key_pairs;
    if (maxKeypairs >= 0 && (await this.repo.count(userId)) >= maxKeypairs) {
      throw quotaExceeded('Quota exceeded, too many key pairs.');
    }
    if (publicKey !== undefined) {
      const fingerprint = type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
      return { keypair: await this.repo.create({ user_id: userId, name, type, public_key: publicKey, fingerprint }, maxKeypairs) };
    }
    if (type === 'x509') {
      const x = await generateX509KeyPair(`${userId}-${new Date().toISOString()}`);
      const keypair = await this.repo.create({ user_id: userId, name, type, public_key: x.certificate, fingerprint: x.fingerprint }, maxKeypairs);
      return { keypair, privateKey: x.privateKey };
    }
    const generated = await generateSshKeyPair();
    const keypair = await this.repo.create({ user_id: userId, name, type, public_key: generated.publicKey, fingerprint: generated.fingerprint }, maxKeypairs);
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
