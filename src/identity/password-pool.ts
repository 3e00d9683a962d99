/**
 * Password checks on threads of their own, so that guessing cannot stall the cloud.
 *
 *   POST /v3/auth/tokens ─► verify() ─► bounded queue ─► worker thread(s): scryptSync ─► compare
 *                                     (full: 503)        (one per two cores)              (here, constant time)
 *
 * Why not libuv's pool (async crypto.scrypt): it has four threads shared with file I/O, DNS and
 * zlib. Four 16 MiB scrypt runs at once take every one of them (an image upload's file writes
 * wait behind the hashes) and, on a two-core host, both cores from the event loop. Here hashing
 * has `threads` workers of its own (default: one per two cores), so that however many guesses
 * arrive, hashing takes at most half the cores and the event loop keeps one; a bounded queue
 * answers 503 rather than queueing guesses without end. The workers' CPU priority can be lowered
 * (`nice`, Linux: the thread's own nice value, not the process's); it is not by default, because
 * on a host already busy with other work a niced thread gets almost no CPU at all (nice 10 under
 * a load of 20 on two cores: under one login a second), and every login would wait on it. The stored format stays `scrypt$<salt hex>$<hash hex>` with
 * Node's default scrypt cost: hashes made before this pool existed verify unchanged.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { DomainError } from '../errors';
import { formatHash, KEYLEN, parseHash } from './passwords';

/** The worker: derive, answer, one job at a time. Plain JS (eval'd), so ts-jest and dist alike run it. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
if (workerData.nice > 0) try { require('node:os').setPriority(workerData.nice); } catch { /* not permitted or not Linux: run as is */ }
parentPort.on('message', ({ id, password, salt, keylen }) => {
  try {
    const key = crypto.scryptSync(password, Buffer.from(salt), keylen);
    parentPort.postMessage({ id, key }, [key.buffer]);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e && e.message || e) });
  }
});
`;

export interface PasswordPoolOptions {
  /** Worker threads (default: one per two cores, at least one). */
  threads?: number;
  /** Checks waiting beyond those running before new ones are refused with 503 (default 64). */
  maxQueue?: number;
  /** CPU priority decrease of the workers (Linux nice, 0-19; default 0). */
  nice?: number;
}

interface Job { id: number; password: string; salt: Uint8Array; keylen: number; resolve(key: Buffer): void; reject(e: Error): void }

export class PasswordPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly running = new Map<number, { job: Job; worker: Worker }>();
  private readonly maxQueue: number;
  private nextId = 0;
  private closed = false;
  /** A hash of no one's password: unknown users cost what known ones cost. */
  private decoy?: Promise<string>;

  constructor(opts: PasswordPoolOptions = {}) {
    const threads = opts.threads ?? Math.max(1, Math.floor(os.availableParallelism() / 2));
    this.maxQueue = opts.maxQueue ?? 64;
    for (let i = 0; i < threads; i++) this.spawn(opts.nice ?? 0);
    void this.decoyHash();
  }

  private spawn(nice: number): void {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { nice }, name: 'password-check' });
    w.unref();
    w.on('message', (m: { id: number; key?: Uint8Array; error?: string }) => {
      const run = this.running.get(m.id);
      if (!run) return;
      this.running.delete(m.id);
      if (m.key) run.job.resolve(Buffer.from(m.key));
      else run.job.reject(new Error(`password check failed: ${m.error}`));
      this.idle.push(w);
      this.pump();
    });
    w.on('error', (e) => {
      // A worker that died takes its job with it; the others carry on.
      for (const [id, run] of this.running) if (run.worker === w) { this.running.delete(id); run.job.reject(e); }
      this.all.splice(this.all.indexOf(w), 1);
      if (!this.closed) this.spawn(nice);
    });
    this.all.push(w);
    this.idle.push(w);
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const worker = this.idle.pop()!;
      this.running.set(job.id, { job, worker });
      worker.postMessage({ id: job.id, password: job.password, salt: job.salt, keylen: job.keylen });
    }
  }

  private derive(password: string, salt: Uint8Array, keylen: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('password pool closed'));
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new DomainError('unavailable', 'Too many authentication requests are in progress. Try again shortly.', { 'Retry-After': '1' }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, password, salt, keylen, resolve, reject });
      this.pump();
    });
  }

  async hash(password: string): Promise<string> {
    const salt = crypto.randomBytes(16);
    return formatHash(salt, await this.derive(password, salt, KEYLEN));
  }

  /** Whether `password` matches `stored`; a malformed stored hash matches nothing. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parseHash(stored);
    if (!parsed) return false;
    const actual = await this.derive(password, parsed.salt, parsed.hash.length);
    return crypto.timingSafeEqual(parsed.hash, actual);
  }

  /** A check that costs what verify() costs and never matches: for users that do not exist. */
  async decoyVerify(password: string): Promise<false> {
    await this.verify(password, await this.decoyHash());
    return false;
  }

  private decoyHash(): Promise<string> {
    const d = (this.decoy ??= this.hash(crypto.randomBytes(16).toString('hex')));
    d.catch(() => {
      if (this.decoy === d) this.decoy = undefined; // made again next time
    });
    return d;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('password pool closed'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
