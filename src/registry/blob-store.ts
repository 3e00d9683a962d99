/**
 * Blob bytes on disk, once per digest: <root>/blobs/sha256/<hex>. An upload streams into
 * <root>/uploads/<id> while it is hashed (never held in memory); it becomes a blob only when its
 * digest matches, by rename. A chunk that fails part-way (the client went away, the size cap was
 * passed) is cut off again, so the upload is as it was before that chunk.
 *
 * The hash of an upload is kept in memory between its chunks; an upload continued in another
 * process (or after a restart) is hashed again from its file when it is finished.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from './errors';

export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** What an upload id can be (ours are UUIDs): anything else names no upload, and never reaches a path or the database. */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

interface HashState {
  hash: crypto.Hash;
  offset: number;
}

export class BlobStore {
  private readonly blobs: string;
  private readonly uploads: string;
  private readonly hashes = new Map<string, HashState>();

  constructor(root: string, private readonly maxBlobSize: number) {
    this.blobs = path.join(root, 'blobs', 'sha256');
    this.uploads = path.join(root, 'uploads');
    fs.mkdirSync(this.blobs, { recursive: true });
    fs.mkdirSync(this.uploads, { recursive: true });
  }

  private blobPath(digest: string): string {
    if (!DIGEST_PATTERN.test(digest)) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
    return path.join(this.blobs, digest.slice('sha256:'.length));
  }

  private uploadPath(id: string): string {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
    return path.join(this.uploads, id);
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fs.promises.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** The blob's bytes, whole or from `start` to `end` inclusive. */
  open(digest: string, range?: { start: number; end: number }): Readable {
    return fs.createReadStream(this.blobPath(digest), range ? { start: range.start, end: range.end } : {});
  }

  /** Starts an upload: an empty file. */
  async startUpload(id: string): Promise<void> {
    await fs.promises.writeFile(this.uploadPath(id), Buffer.alloc(0), { flag: 'wx' });
    this.hashes.set(id, { hash: crypto.createHash('sha256'), offset: 0 });
  }

  /**
   * Appends `data` at `offset` (the upload's recorded length) and resolves to the new length.
   * On any failure the file is cut back to `offset` and the error rethrown; passing the size cap
   * is SIZE_INVALID.
   */
  async append(id: string, offset: number, data: Readable): Promise<number> {
    const file = this.uploadPath(id);
    const state = this.hashes.get(id);
    const hash = state && state.offset === offset ? state.hash.copy() : undefined;
    this.hashes.delete(id);
    // The sink opens the file itself: the pipeline takes the request's errors from the start.
    const sink = new UploadSink(file, offset, this.maxBlobSize, hash);
    try {
      await pipeline(data, sink);
    } catch (e) {
      await sink.fileClosed;
      await fs.promises.truncate(file, offset).catch(() => undefined);
      throw e;
    }
    if (hash) this.hashes.set(id, { hash, offset: sink.position });
    return sink.position;
  }

  /**
   * Checks that the upload's first `length` bytes hash to `digest` (DIGEST_INVALID otherwise, the
   * upload kept).
   */
  async verify(id: string, length: number, digest: string): Promise<void> {
    const file = this.uploadPath(id);
    const state = this.hashes.get(id);
    let actual: string;
    if (state && state.offset === length) actual = `sha256:${state.hash.copy().digest('hex')}`;
    else {
      const h = crypto.createHash('sha256');
      if (length > 0) await pipeline(fs.createReadStream(file, { start: 0, end: length - 1 }), h);
      actual = `sha256:${h.digest('hex')}`;
    }
    if (actual !== digest) throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
  }

  /** Makes a verified upload of `length` bytes the blob `digest`'s file, by rename. */
  async place(id: string, length: number, digest: string): Promise<void> {
    const file = this.uploadPath(id);
    await fs.promises.truncate(file, length);
    await fs.promises.rename(file, this.blobPath(digest));
    this.hashes.delete(id);
  }

  /** verify, then place: the upload becomes blob `digest`. Resolves to its size. */
  async commit(id: string, length: number, digest: string): Promise<number> {
    await this.verify(id, length, digest);
    await this.place(id, length, digest);
    return length;
  }

  /** Cuts an upload back to `length` bytes (a chunk that did not match its Content-Range). */
  async cut(id: string, length: number): Promise<void> {
    this.hashes.delete(id);
    await fs.promises.truncate(this.uploadPath(id), length);
  }

  /** Throws an upload's bytes away (absent is fine). */
  async dropUpload(id: string): Promise<void> {
    this.hashes.delete(id);
    await fs.promises.rm(this.uploadPath(id), { force: true });
  }

  /** Removes a blob's file (absent is fine). */
  async remove(digest: string): Promise<void> {
    await fs.promises.rm(this.blobPath(digest), { force: true });
  }
}

/**
 * Where a chunk's bytes go: counted against the size cap, hashed, and written at the upload's
 * offset, in one pass with no copy. The socket's 64 KiB buffers queue up (to 4 MiB) while a write
 * is in flight, and each write takes all of them at once (writev): one system call and one trip
 * to the thread pool per few MiB instead of one per buffer, and the socket keeps being read
 * while the disk writes.
 */
class UploadSink extends Writable {
  private handle?: fs.promises.FileHandle;
  private closing?: Promise<void>;

  constructor(private readonly file: string, public position: number, private readonly max: number, private readonly hash?: crypto.Hash) {
    super({ highWaterMark: 4 * 1024 * 1024, decodeStrings: true });
  }

  /** Resolves once the file is closed again (after success or failure). */
  get fileClosed(): Promise<void> {
    return this.closing ?? Promise.resolve();
  }

  override _construct(cb: (err?: Error | null) => void): void {
    fs.promises.open(this.file, 'r+').then((h) => {
      this.handle = h;
      cb();
    }, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.close().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.close().then(() => cb(err), () => cb(err));
  }

  private close(): Promise<void> {
    this.closing ??= this.handle ? this.handle.close() : Promise.resolve();
    return this.closing;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.put([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.put(chunks.map((c) => c.chunk), cb);
  }

  private put(buffers: Buffer[], cb: (err?: Error | null) => void): void {
    let length = 0;
    for (const b of buffers) length += b.length;
    if (this.position + length > this.max) {
      cb(new RegistryError('SIZE_INVALID', `blob is larger than the registry's limit of ${this.max} bytes`, { limit: this.max }));
      return;
    }
    if (this.hash) for (const b of buffers) this.hash.update(b);
    this.writeAll(buffers, length).then(() => cb(), cb);
  }

  /** writev may write less than asked (large writes, full disks): the rest follows. */
  private async writeAll(buffers: Buffer[], length: number): Promise<void> {
    let left = buffers;
    let remaining = length;
    while (remaining > 0) {
      const { bytesWritten } = await this.handle!.writev(left, this.position);
      this.position += bytesWritten;
      remaining -= bytesWritten;
      if (remaining > 0) left = skip(left, bytesWritten);
    }
  }
}

/** The buffers after their first `n` bytes (views, no copy). */
function skip(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) {
      n -= b.length;
      continue;
    }
    out.push(n > 0 ? b.subarray(n) : b);
    n = 0;
  }
  return out;
}
