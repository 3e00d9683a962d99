/**
 * Hashes an upload in a worker thread that reads the store's file as it is written, so the
 * hashing never holds the pass back: the upload goes on at the pace of the store and the
 * engine, and the hashes catch up in whatever CPU the machine has left (for a docker image,
 * while the engine still unpacks the layers it was sent).
 *
 *   tee ─► store file ─(written so far)─► worker: read (O_DIRECT) ─► md5 + sha512
 *
 * Why not feed the worker the chunks themselves (hash-ring.ts, which stays for stores with no
 * file): then the slowest branch sets the pace, and on two cores the 2.6 s of CPU per GiB both
 * digests cost was on the critical path of every upload, beside the engine's own unpacking.
 * Reading the bytes back costs little when it bypasses the page cache, as the store's writes
 * do: ~0.05 s of CPU per GiB at 1.6-2.3 GB/s here, from a buffer the disk fills itself.
 *
 * The shared positions are WORKER_LOOP's (hash-worker.ts), with ctrl[0] the bytes the file holds
 * in order (the store's `onWritten`). The worker reads at most up to there and hashes nothing
 * past it (a direct write pads its last block until the file is cut to size).
 */
import { Worker } from 'node:worker_threads';
import type { StoreFile } from '../store/image-store';
import { DIRECT_ALIGN } from '../store/file-writer';
import { byAlgorithm, WORKER_LOOP, workerDigests } from './hash-worker';

const WORKER_SOURCE = `${WORKER_LOOP}
const fs = require('node:fs');
const { block, align, direct } = workerData;
// Page-aligned, as a direct read wants it: a WebAssembly memory is mapped whole.
const buf = Buffer.from(new WebAssembly.Memory({ initial: block / 65536, maximum: block / 65536 }).buffer);
const fd = fs.openSync(workerData.path, fs.constants.O_RDONLY | (direct ? fs.constants.O_DIRECT : 0));
follow((pos, available) => {
  const want = Math.min(block, available);
  const got = fs.readSync(fd, buf, 0, direct ? Math.ceil(want / align) * align : want, pos);
  if (got <= 0) throw new Error('the image file ended at byte ' + pos + ' of ' + (pos + available));
  return buf.subarray(0, Math.min(got, want));
}, () => undefined);
fs.closeSync(fd);
`;

/** One read: enough to hash in long runs, small beside the upload's memory budget. */
const READ_BLOCK = 4 * 1024 * 1024;
/**
 * Below the threads the pass waits on (the event loop, the engine's load): when the CPU is
 * short, they go first and the hashing catches up after, instead of slowing every branch. Not
 * the lowest: on a host busy with its servers' work the hashing must still finish in time.
 */
const NICE = 10;

export class FileHasher {
  private readonly worker: Worker;
  private readonly ctrl = new BigInt64Array(new SharedArrayBuffer(3 * 8));
  private readonly digests: Promise<string[]>;
  private written = 0;

  constructor(private readonly algorithms: string[], file: StoreFile) {
    Atomics.store(this.ctrl, 1, -1n);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path: file.path, direct: file.direct, ctrl: this.ctrl.buffer, algorithms, block: READ_BLOCK, align: DIRECT_ALIGN, nice: NICE },
    });
    file.onWritten((bytes) => {
      this.written = bytes;
      Atomics.store(this.ctrl, 0, BigInt(bytes));
      Atomics.notify(this.ctrl, 0);
    });
    this.digests = workerDigests(this.worker);
  }

  /** The store's write has finished: every byte of the upload is in the file. */
  ended(): void {
    Atomics.store(this.ctrl, 1, BigInt(this.written));
    Atomics.notify(this.ctrl, 0);
  }

  /** Resolves to the digests by algorithm once every byte is hashed. */
  async finish(): Promise<Record<string, string>> {
    return byAlgorithm(this.algorithms, await this.digests);
  }

  /** Stops hashing (the upload failed); safe to call at any time. */
  async cancel(): Promise<void> {
    Atomics.store(this.ctrl, 2, 1n);
    Atomics.notify(this.ctrl, 0);
    await this.worker.terminate();
  }
}
