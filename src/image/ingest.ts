/**
 * One pass over an image upload: the bytes are counted and hashed (md5, sha512), written to
 * the store, and — for docker images — parsed by the archive inspector AND loaded into the
 * engine, all at the same time. Nothing is buffered whole and there is no temporary copy:
 * the tee hands each chunk to every consumer and takes the next only when all of them have
 * room (the slowest sets the pace), so memory stays flat for any size. Chunks are joined to
 * ~1 MiB first, which cuts the per-chunk cost of every branch (and of the engine's reads).
 *
 *   source ─► Meter (count, join) ─► Tee ─┬─► store sink ─ ─ (the file) ─ ─► FileHasher (md5, sha512)
 *                                         ├─► PassThrough ─► inspectImageArchive
 *                                         └─► HoldBack ─► engine loadImage
 *
 * The hashes are computed in a worker thread, off the event loop. With a store that writes a
 * file, the worker reads that file as it grows (file-hasher.ts): the hashing then never sets the
 * pace of the pass, and catches up in what CPU is left. A store without a file has the chunks
 * copied to the worker through shared memory instead (hash-ring.ts, a fourth branch of the tee).
 * A worker costs ~36 ms to start, more than hashing a small image: an upload announced at most
 * `inlineHashBytes` long is hashed inline by the Meter instead.
 *
 * HoldBack keeps the last 64 KiB from the engine until the inspector has named the image and
 * the caller has checked whether the engine already had it (`beforeRelease`). The end of a tar
 * is always in its last 10 KiB, so the engine cannot finish a load before that check: this is
 * what lets a failed upload remove exactly the engine image it created, never one that was
 * there before.
 *
 * With a store file, the engine's load is also given a replay: the archive read back from that
 * file once it is complete (and checked), for a driver whose faster way of loading failed.
 *
 * When a consumer fails, every branch is torn down (the engine load is aborted), and the rest
 * of the request is read and discarded so that the client receives the error instead of a
 * reset connection; the size cap still applies while discarding.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { finished, PassThrough, Readable, Transform, TransformCallback, Writable } from 'node:stream';
import { inspectImageArchive, ImageArchiveInfo } from '../virt/image-archive';
import { RingHasher } from './hash-ring';
import { FileHasher } from './file-hasher';
import type { StoreFile } from '../store/image-store';

export interface IngestResult {
  size: number;
  /** Hex md5 (Glance `checksum`). */
  md5: string;
  /** Hex sha512 (Glance `os_hash_value`). */
  sha512: string;
  /** Set when inspecting: what the archive holds. */
  archive?: ImageArchiveInfo;
}

/** The image's data columns once a pass is stored: size, Glance's two digests, the engine image id. */
export function dataColumns(result: IngestResult, engineImageId: string | null) {
  return { size: result.size, checksum: result.md5, os_hash_algo: 'sha512', os_hash_value: result.sha512, engine_image_id: engineImageId };
}

export interface IngestOptions {
  /** More bytes than this fail with `tooLarge()`; checked as they arrive. */
  maxBytes: number;
  tooLarge: () => Error;
  /** The store's write stream. */
  sink: Writable;
  /** The file the sink writes, when it writes one: the engine's replay reads it back. */
  sinkFile?: StoreFile;
  /** The size the upload announced (Content-Length), if it did. */
  expectedBytes?: number;
  /** An upload announced at most this long is hashed inline, not in a worker. Default 32 MiB. */
  inlineHashBytes?: number;
  /** Parse the bytes as a docker-save archive on the way (result.archive); a bad archive fails the pass. */
  inspect?: boolean;
  /** Also load the bytes into an engine (implies inspect), with the check to run before the engine may finish. */
  engine?: {
    /** `replay`, given when the store writes a file: the archive again, read back from the stored file once it is complete. */
    load(archive: Readable, replay?: () => Promise<Readable>): Promise<void>;
    beforeRelease(info: ImageArchiveInfo): Promise<void>;
  };
  /** How a broken source (client gone) is reported. */
  sourceBroken?: (err: Error) => Error;
  /**
   * After a failure, how long to wait for the consumers to stop (default 30 s). A driver that
   * honours its contract stops at once when its archive stream errors; one that does not must
   * not hold the request (and shutdown) forever.
   */
  stopGraceMs?: number;
}

/**
 * Carries the first failure; `released` says whether the engine may have seen the whole
 * archive, and `archive` what the inspector found (if it got that far).
 */
export class IngestFailed extends Error {
  constructor(
    override readonly cause: Error,
    readonly released: boolean,
    readonly archive: ImageArchiveInfo | undefined,
    /** A consumer (the engine load) had not stopped within the grace period. */
    readonly stuck = false,
  ) {
    super(cause.message);
    this.name = 'IngestFailed';
  }
}

/** Meter joins chunks up to this many bytes before passing them on. */
const JOIN_BYTES = 1 << 20;

/**
 * The first step of the pass, in one stream: counts the bytes, refuses more than `max`, hashes them
 * when `inline`, and joins the chunks a socket delivers (16-64 KiB) into ~1 MiB ones, so every
 * branch after it handles 16-64x fewer chunks. One step rather than a counter and a joiner: each
 * stream a 64-KiB chunk passes through costs the event loop as much as the copy that joins it.
 */
class Meter extends Transform {
  bytes = 0;
  private readonly md5: crypto.Hash | undefined;
  private readonly sha512: crypto.Hash | undefined;
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number, private readonly tooLarge: () => Error, inline: boolean) {
    super({ readableHighWaterMark: JOIN_BYTES });
    if (inline) {
      this.md5 = crypto.createHash('md5');
      this.sha512 = crypto.createHash('sha512');
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) return cb(this.tooLarge());
    this.md5?.update(chunk);
    this.sha512?.update(chunk);
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= JOIN_BYTES) this.release();
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.size > 0) this.release();
    cb();
  }

  /** The digests, when hashing inline. */
  digests(): { md5: string; sha512: string } | undefined {
    return this.md5 && this.sha512 ? { md5: this.md5.digest('hex'), sha512: this.sha512.digest('hex') } : undefined;
  }

  private release(): void {
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}

/**
 * Writes every chunk to every live branch and waits until all of them can take more.
 * A destroyed branch is skipped (its consumer reports why); with none left it discards.
 */
export class Tee extends Writable {
  constructor(private readonly branches: Writable[]) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const waits: Promise<void>[] = [];
    for (const b of this.branches) {
      if (b.destroyed || b.writableEnded) continue;
      if (!b.write(chunk)) waits.push(roomIn(b));
    }
    if (waits.length === 0) cb();
    else Promise.all(waits).then(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    for (const b of this.branches) if (!b.destroyed && !b.writableEnded) b.end();
    cb();
  }
}

/** Resolves when the branch drains, or once it is gone (a dead branch never holds the tee). */
function roomIn(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      w.off('error', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
    w.on('error', done);
  });
}

/**
 * Passes bytes through with a lag of `window` bytes; the last `window` bytes flow only once
 * `gate` resolves (and never if it rejects: the stream then errors).
 */
export class HoldBack extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;

  constructor(private readonly window: number, private readonly gate: Promise<void>) {
    super({ highWaterMark: 1 << 20 });
    gate.catch(() => undefined);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    while (this.held.length > 0 && this.heldBytes - this.held[0].length >= this.window) {
      const c = this.held.shift()!;
      this.heldBytes -= c.length;
      this.push(c);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.gate.then(() => {
      for (const c of this.held) this.push(c);
      this.held = [];
      cb();
    }, (err: Error) => cb(err));
  }
}

const HOLD_WINDOW = 64 * 1024;
/** Glance's two digests: md5 `checksum` and the sha512 `os_hash_value`. */
const ALGORITHMS = ['md5', 'sha512'];
/** Up to this, hashing inline is cheaper than starting a worker thread (~36 ms here). */
const INLINE_HASH_BYTES = 32 * 1024 * 1024;

/**
 * source → meter → tee, without ever destroying the source: destroying an unfinished HTTP
 * request destroys its socket, and the client would get a reset instead of the 413. Resolves
 * with the error that stopped the flow (size cap, broken source), or undefined at the end.
 */
function pump(source: Readable, meter: Meter, tee: Tee, sourceBroken?: (err: Error) => Error): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const stop = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) {
        source.unpipe(meter);
        if (!source.destroyed) source.pause();
        meter.unpipe(tee);
        meter.destroy();
        tee.destroy();
      }
      resolve(err);
    };
    finished(source, { writable: false }, (err) => {
      if (err) stop(sourceBroken?.(err) ?? err);
    });
    meter.on('error', (err) => stop(err));
    tee.on('finish', () => stop());
    source.pipe(meter).pipe(tee);
  });
}

/**
 * Runs the pass. Resolves once every consumer has finished (the store sink has flushed, the
 * inspector has concluded, the engine has loaded). Rejects with IngestFailed carrying the first
 * failure, after every consumer has settled (nothing is left running).
 */
export async function ingest(source: Readable, opts: IngestOptions): Promise<IngestResult> {
  const inline = opts.expectedBytes !== undefined && opts.expectedBytes <= (opts.inlineHashBytes ?? INLINE_HASH_BYTES);
  const sinkFile = opts.sinkFile;
  // With a store file the hashing follows the file and never holds the pass (file-hasher.ts);
  // without one it takes the chunks as they pass.
  const hasher = inline ? undefined : sinkFile ? new FileHasher(ALGORITHMS, sinkFile) : new RingHasher(ALGORITHMS);
  const meter = new Meter(opts.maxBytes, opts.tooLarge, inline);
  let digests: Record<string, string> | undefined;
  let first: Error | undefined;
  let released = false;
  let archive: ImageArchiveInfo | undefined;

  const branches: Writable[] = [opts.sink];
  const work: Promise<unknown>[] = [];
  let failed!: () => void;
  const failure = new Promise<void>((resolve) => { failed = resolve; });
  const fail = (e: unknown) => {
    if (!first) {
      first = e instanceof Error ? e : new Error(String(e));
      failed();
    }
    for (const b of branches) if (!b.destroyed) b.destroy(first);
    void hasher?.cancel();
  };

  const stored = new Promise<void>((resolve, reject) => {
    opts.sink.on('finish', resolve);
    opts.sink.on('error', reject);
    opts.sink.on('close', () => (opts.sink.writableFinished ? resolve() : reject(first ?? new Error('the store write was closed early'))));
  });
  stored.catch(() => undefined);
  work.push(stored.catch(fail));
  if (hasher instanceof FileHasher) {
    // Every byte is in the file once the store's write has finished.
    stored.then(() => hasher.ended(), () => undefined);
  } else if (hasher) {
    hasher.sink.on('error', () => undefined);
    branches.push(hasher.sink);
  }
  if (hasher) {
    work.push(hasher.finish().then((d) => { digests = d; }).catch(fail));
  }

  if (opts.inspect || opts.engine) {
    const engine = opts.engine;
    const toInspector = new PassThrough({ highWaterMark: 1 << 20 });
    // Torn-down branches carry the first failure to their consumers; nobody else need hear it.
    toInspector.on('error', () => undefined);
    branches.push(toInspector);
    let openGate = () => undefined as void;
    let shutGate = (_e: Error) => undefined as void;
    let toEngine: HoldBack | undefined;
    let gate: Promise<void> = Promise.resolve();
    if (engine) {
      gate = new Promise<void>((resolve, reject) => {
        openGate = resolve;
        shutGate = reject;
      });
      toEngine = new HoldBack(HOLD_WINDOW, gate);
      toEngine.on('error', () => undefined);
      branches.push(toEngine);
    }
    const inspected = inspectImageArchive(toInspector, { maxBytes: opts.maxBytes }).then(async (info) => {
      archive = info;
      if (engine) await engine.beforeRelease(info);
      released = true;
      openGate();
    });
    work.push(inspected.catch((e) => {
      shutGate(e);
      fail(e);
    }));
    if (engine && toEngine) {
      const input = toEngine;
      // Every byte stored and the engine's check done: the same bytes, read back from the file.
      const replay = sinkFile ? async () => {
        await stored;
        await gate;
        return fs.createReadStream(sinkFile.path, { highWaterMark: 1 << 20 });
      } : undefined;
      work.push(Promise.resolve().then(() => engine.load(input, replay)).catch((e) => {
        shutGate(e);
        fail(e);
      }));
    }
  }

  const tee = new Tee(branches);
  const pumped = await pump(source, meter, tee, opts.sourceBroken);
  if (pumped) fail(pumped);
  // Every consumer settles; once something has failed, a consumer that does not stop within
  // the grace period (a driver ignoring its aborted stream) is left behind and reported.
  let stuck = false;
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const grace = failure.then(() => new Promise<void>((resolve) => {
    if (settled) return resolve();
    timer = setTimeout(() => {
      stuck = true;
      resolve();
    }, opts.stopGraceMs ?? 30_000);
    timer.unref();
  }));
  await Promise.race([Promise.allSettled(work), grace]);
  settled = true;
  clearTimeout(timer);
  if (first) throw new IngestFailed(first, released, archive, stuck);
  const hashes = digests ?? meter.digests();
  if (!hashes) throw new IngestFailed(new Error('the image data was not hashed (the hashing thread never finished)'), released, archive);
  const { md5, sha512 } = hashes;
  return { size: meter.bytes, md5, sha512, archive };
}
