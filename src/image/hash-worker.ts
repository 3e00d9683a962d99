/**
 * What the two hashing threads (hash-ring.ts, file-hasher.ts) share: the worker's loop and how
 * its digests come back. The worker posts them once and is then terminated; an error or an exit
 * before that rejects.
 */
import { Worker } from 'node:worker_threads';

/**
 * The start of a hashing worker's source: its hashes, and `follow(take, onHashed)`, which hashes
 * the upload as it grows and posts the digests at its end. Shared positions (BigInt64, totals
 * since the start): ctrl[0] how far the bytes are available, ctrl[1] the total once the upload
 * has ended (-1 before), ctrl[2] 1 once cancelled. `take(pos, available)` returns the next bytes
 * from `pos` (at least one, at most `available`); `onHashed(pos)` is told after each.
 */
export const WORKER_LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
// A thread's own priority on Linux; elsewhere it would be the whole process's, so it is left alone.
if (process.platform === 'linux') try { require('node:os').setPriority(workerData.nice); } catch { /* not permitted: run at normal priority */ }
const ctrl = new BigInt64Array(workerData.ctrl);
const hashes = workerData.algorithms.map((a) => crypto.createHash(a));
function follow(take, onHashed) {
  let pos = 0;
  for (;;) {
    if (Atomics.load(ctrl, 2) === 1n) process.exit(0);
    const written = Number(Atomics.load(ctrl, 0));
    if (written > pos) {
      const part = take(pos, written - pos);
      for (const h of hashes) h.update(part);
      pos += part.length;
      onHashed(pos);
      continue;
    }
    const end = Number(Atomics.load(ctrl, 1));
    if (end >= 0 && pos >= end) break;
    Atomics.wait(ctrl, 0, BigInt(written), 100);
  }
  parentPort.postMessage({ digests: hashes.map((h) => h.digest('hex')) });
}
`;

export function workerDigests(worker: Worker): Promise<string[]> {
  const digests = new Promise<string[]>((resolve, reject) => {
    worker.on('message', (m: { digests: string[] }) => {
      resolve(m.digests);
      void worker.terminate();
    });
    worker.on('error', (e) => reject(new Error(`hashing the image failed: ${e.message}`)));
    worker.on('exit', () => reject(new Error('hashing the image stopped')));
  });
  digests.catch(() => undefined);
  return digests;
}

/** The digests by algorithm, in the order the worker was given them. */
export function byAlgorithm(algorithms: string[], digests: string[]): Record<string, string> {
  return Object.fromEntries(algorithms.map((a, i) => [a, digests[i]]));
}
