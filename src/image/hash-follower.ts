/**
 * Hashes a file while the upload is still writing it, in worker threads, so that computing
 * Glance's md5 `checksum` and sha512 `os_hash_value` (about 2.3 s of CPU per GiB here) never
 * sets the pace of the upload's one pass. One thread reads the bytes back from the file the
 * store is writing (the way the store writes it: from the disk past the page cache, where the
 * store writes past it, else from the cache; no copy is kept in memory, so the hashes may lag
 * the upload by any amount at no memory cost) and runs at a lower priority, so that the engine's
 * load of the same bytes gets the CPU first and the hashes catch up while it unpacks the layers.
 * One thread, not one per algorithm: each worker costs ~15 MiB of memory, and the engine's
 * unpacking, which follows the upload, leaves time enough for both hashes in one.
 *
 * The digests are of the bytes as stored, which the pass wrote unchanged from the request.
 */
import { Worker } from 'node:worker_threads';
import { DIRECT_ALIGN } from '../store/file-writer';

/**
 * The thread's code, plain JavaScript given as source: a worker cannot load TypeScript, and
 * this way there is no second build output to find. It reads [pos, avail) whenever `avail`
 * grows, and posts the digests once `end` bytes are hashed.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const crypto = require('node:crypto');
const os = require('node:os');
// Linux keeps the nice value per thread: this lowers this thread only.
try { os.setPriority(workerData.nice); } catch { /* not permitted: run at normal priority */ }
const hashes = workerData.algorithms.map((a) => crypto.createHash(a));
const ALIGN = ${DIRECT_ALIGN};
// A file written past the page cache is read past it too (O_DIRECT), into page-aligned memory
// (a WebAssembly.Memory is mapped whole); where that is refused, through the cache.
let direct = workerData.direct;
let fd;
try {
  fd = fs.openSync(workerData.path, direct ? fs.constants.O_RDONLY | fs.constants.O_DIRECT : 'r');
} catch (e) {
  if (!direct || e.code !== 'EINVAL') throw e;
  direct = false;
  fd = fs.openSync(workerData.path, 'r');
}
const buf = Buffer.from(new WebAssembly.Memory({ initial: 16, maximum: 16 }).buffer);
let pos = 0;
let avail = 0;
let end = -1;
parentPort.on('message', (m) => {
  try {
    if (typeof m.avail === 'number') avail = Math.max(avail, m.avail);
    if (typeof m.end === 'number') { end = m.end; avail = m.end; }
    while (pos < avail) {
      if (direct && pos % ALIGN !== 0) {
        // Only the last write of a direct file ends off the alignment; should data ever follow
        // it, read on through the cache.
        fs.closeSync(fd);
        fd = fs.openSync(workerData.path, 'r');
        direct = false;
      }
      const want = Math.min(buf.length, avail - pos);
      // Direct reads take whole blocks: past the end of the data they come back short.
      const n = Math.min(want, fs.readSync(fd, buf, 0, direct ? Math.ceil(want / ALIGN) * ALIGN : want, pos));
      if (n <= 0) throw new Error('the file ended at byte ' + pos + ', before the ' + avail + ' bytes written to it');
      for (const h of hashes) h.update(buf.subarray(0, n));
      pos += n;
    }
    if (end >= 0 && pos >= end) {
      fs.closeSync(fd);
      parentPort.postMessage({ digests: hashes.map((h) => h.digest('hex')) });
    }
  } catch (e) {
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
});
`;

/** The lowest priority: the thread runs on what CPU the engine and the server leave over. */
const NICE = 19;

export class FileHashFollower {
  private readonly worker: Worker;
  private readonly digests: Promise<string[]>;
  private stopped = false;

  /** `direct`: the file is written past the page cache (O_DIRECT), so read it that way too. */
  constructor(path: string, private readonly algorithms: string[], opts: { direct?: boolean } = {}) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, algorithms, nice: NICE, direct: opts.direct ?? false } });
    this.digests = new Promise<string[]>((resolve, reject) => {
      this.worker.on('message', (m: { digests?: string[]; error?: string }) => {
        if (m.digests) resolve(m.digests);
        else reject(new Error(`hashing the stored image failed: ${m.error}`));
        void this.worker.terminate();
      });
      this.worker.on('error', reject);
      this.worker.on('exit', () => reject(new Error('hashing the stored image stopped')));
    });
    this.digests.catch(() => undefined);
  }

  /** The first `bytes` bytes of the file are written: hash up to there. */
  advance(bytes: number): void {
    if (!this.stopped) this.worker.postMessage({ avail: bytes });
  }

  /** The file is complete at `bytes`; resolves to the digests by algorithm. */
  async finish(bytes: number): Promise<Record<string, string>> {
    this.worker.postMessage({ end: bytes });
    const digests = await this.digests;
    return Object.fromEntries(this.algorithms.map((a, i) => [a, digests[i]]));
  }

  /** Stops hashing (the upload failed); safe to call at any time. */
  async cancel(): Promise<void> {
    this.stopped = true;
    await this.worker.terminate();
  }
}
