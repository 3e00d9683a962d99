/**
 * Hashes an upload in a worker thread, fed through a ring of shared memory, so that computing
 * Glance's md5 `checksum` and sha512 `os_hash_value` (about 2.3 s of CPU per GiB here) never runs
 * on the event loop.
 *
 *   tee ─► RingHasher.sink ──copy──► [ ring: SharedArrayBuffer, 4 MiB ] ──► worker: md5 + sha512
 *
 * The main thread copies each chunk into the ring (a memcpy, ~0.1 s per GiB) and the worker hashes
 * it from there; the sink takes the next chunk only when the ring has room, so the hashing sets
 * the pace like any other branch of the pass and memory stays at the ring's size.
 *
 * Used where the store writes no file (the in-memory store): a store on disk has the worker read
 * its file instead (file-hasher.ts), which never holds the pass back. An earlier thread read
 * that file through the page cache, which for a file written past it meant reading every byte
 * from the disk again, serial with the hashing; file-hasher.ts reads past the cache as well.
 *
 * One thread for both digests: a worker thread costs ~9-12 MiB of resident memory (its own V8
 * heap and Node environment), and with one per algorithm and an 8 MiB ring the upload's growth
 * was 74-92 MiB against issue 14's 64; one thread and a 4 MiB ring measured 53 MiB. Both digests
 * take ~2.7 s of CPU per GiB, well under the engine's load of the same GiB, so one thread still
 * keeps ahead of the pass.
 *
 * Positions are totals since the start (BigInt64, shared): ctrl[0] bytes written into the ring,
 * ctrl[1] the total once the upload has ended (-1 before), ctrl[2] 1 once cancelled, ctrl[3] the
 * bytes the worker has hashed; the ring has room for what it has hashed. Each side waits on the
 * other's counter (Atomics.wait in the worker, waitAsync on the loop) with a timeout, so no
 * wake-up can be lost.
 */
import { Worker } from 'node:worker_threads';
import { Writable } from 'node:stream';
import { byAlgorithm, WORKER_LOOP, workerDigests } from './hash-worker';

const WORKER_SOURCE = `${WORKER_LOOP}
const ring = Buffer.from(workerData.ring);
const mine = workerData.index;
follow((pos, available) => {
  const at = pos % ring.length;
  return ring.subarray(at, at + Math.min(available, ring.length - at));
}, (pos) => {
  Atomics.store(ctrl, mine, BigInt(pos));
  Atomics.notify(ctrl, mine);
});
`;

/** Enough to let the worker lag a few chunks behind; the memory it costs is fixed. */
const RING_BYTES = 4 * 1024 * 1024;
/**
 * Normal priority: the hashing paces the pass, so a thread starved by other work on the
 * machine would hold the whole upload.
 */
const NICE = 0;

/** Atomics.waitAsync (Node ≥ 16), which the compile target's libs do not declare. */
type WaitAsync = (a: BigInt64Array, index: number, value: bigint, timeout: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

const HASHED = 3;

export class RingHasher {
  private readonly workers: Worker[];
  private readonly ring = new SharedArrayBuffer(RING_BYTES);
  private readonly view = Buffer.from(this.ring);
  private readonly ctrl: BigInt64Array;
  private readonly digests: Promise<string[]>;
  private written = 0;
  private failure: Error | undefined;
  /** Every chunk written to it is copied to the workers; end it when the upload ends. */
  readonly sink: Writable;

  constructor(private readonly algorithms: string[]) {
    this.ctrl = new BigInt64Array(new SharedArrayBuffer((HASHED + 1) * 8));
    Atomics.store(this.ctrl, 1, -1n);
    this.workers = [new Worker(WORKER_SOURCE, {
      eval: true, workerData: { ring: this.ring, ctrl: this.ctrl.buffer, algorithms, index: HASHED, nice: NICE },
    })];
    const fail = (e: Error) => {
      this.failure ??= e;
      throw e;
    };
    this.digests = Promise.all(this.workers.map(workerDigests)).then((perThread) => perThread.flat()).catch(fail);
    this.digests.catch(() => undefined);
    this.sink = new Writable({
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _enc, cb) => {
        this.copy(chunk).then(() => cb(), cb);
      },
      final: (cb) => {
        Atomics.store(this.ctrl, 1, BigInt(this.written));
        Atomics.notify(this.ctrl, 0);
        cb();
      },
    });
  }

  /** The slowest worker: its index in ctrl and how far it has hashed. */
  private slowest(): { index: number; hashed: bigint } {
    let index = HASHED;
    for (let i = HASHED + 1; i < this.ctrl.length; i++) if (Atomics.load(this.ctrl, i) < Atomics.load(this.ctrl, index)) index = i;
    return { index, hashed: Atomics.load(this.ctrl, index) };
  }

  /** Copies the chunk into the ring, waiting for the workers to make room as needed. */
  private async copy(chunk: Buffer): Promise<void> {
    const size = this.view.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.failure) throw this.failure;
      const { index, hashed } = this.slowest();
      const room = size - (this.written - Number(hashed));
      if (room === 0) {
        const w = waitAsync(this.ctrl, index, hashed, 100);
        if (w.async) await w.value;
        continue;
      }
      const offset = this.written % size;
      const n = Math.min(room, size - offset, chunk.length - at);
      chunk.copy(this.view, offset, at, at + n);
      at += n;
      this.written += n;
      Atomics.store(this.ctrl, 0, BigInt(this.written));
      Atomics.notify(this.ctrl, 0);
    }
  }

  /** Resolves to the digests by algorithm once the sink has ended and every byte is hashed. */
  async finish(): Promise<Record<string, string>> {
    return byAlgorithm(this.algorithms, await this.digests);
  }

  /** Stops hashing (the upload failed); safe to call at any time. */
  async cancel(): Promise<void> {
    this.failure ??= new Error('hashing the image was cancelled');
    Atomics.store(this.ctrl, 2, 1n);
    Atomics.notify(this.ctrl, 0);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
