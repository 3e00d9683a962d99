/**
 * ImageFileWriter: the store's write of one image file, at the pace of its source.
 *
 * Image bytes are written once and read rarely (a download, a boot on another engine), so
 * where the file system allows it the file is written past the page cache (O_DIRECT). Going
 * through the cache would make the kernel find, and the CPU fill, a fresh page for every 4 KiB
 * of the image; on a virtual machine whose free memory has been handed back to the host, that
 * is ~1.5 s of CPU per GiB, taken from the engine loading the same bytes. Past the cache the
 * disk takes the bytes from our own memory: ~0.3 s per GiB.
 *
 * O_DIRECT wants the memory, the file offset and the length aligned to the disk's block.
 * Node has no aligned allocation, but a WebAssembly.Memory is mapped whole, so it starts on a
 * page: DIRECT_BLOCKS 1 MiB blocks of one are the staging area. Chunks are copied into the
 * current block; a full block goes to the disk while the next fills, and a block is refilled
 * only once its write has returned. The last block is padded to the alignment, and the file then
 * cut to its size.
 *
 * Direct writes are also O_DSYNC: each returns once its bytes are durable, while the next blocks
 * fill (up to three writes in flight, so that a disk slow to make a write durable is still kept
 * busy). Without it they sat in the disk's write cache (a virtual disk's host cache here) until
 * the commit's fsync, which then flushed the whole image at once, ~0.6 s per GiB after the last
 * byte; and the engine loading the same image waited behind that flush for its own small fsyncs.
 * Written durably as it goes, the image costs its commit nothing (dd here: 1 MiB direct writes
 * at ~1 GB/s, ~610 MB/s with O_DSYNC, both far above an upload's pace).
 *
 * Where the file system refuses O_DIRECT (tmpfs, some network and FUSE file systems) the
 * chunks are written as they come, through the page cache.
 *
 * `written` counts the bytes in the file, in order (every write up to there has returned),
 * and `onWritten` is told each time it grows, so a reader can follow the write.
 */
import fs from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Offsets and lengths of direct writes are multiples of this (every Linux block size divides it). */
export const DIRECT_ALIGN = 4096;
/** One staging block; every direct write but the last is one whole block. */
export const DIRECT_BLOCK = 1 << 20;
/** Staging blocks: one filling, the others' writes in flight. */
export const DIRECT_BLOCKS = 4;
const WASM_PAGE = 64 * 1024;
/** The one part of the WebAssembly API used here (Node has it; the compile target's libs do not declare it). */
declare const WebAssembly: { Memory: new (size: { initial: number; maximum: number }) => { buffer: ArrayBuffer } };

/** `count` blocks of `size` bytes, page-aligned (see above). */
export function alignedBlocks(count: number, size: number): Buffer[] {
  const pages = Math.ceil((count * size) / WASM_PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return Array.from({ length: count }, (_, i) => Buffer.from(memory.buffer, i * size, size));
}

/** Writes all of buf[0, len) at `position`; a short write continues where it stopped. */
async function writeFully(handle: FileHandle, buf: Buffer, len: number, position: number): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesWritten } = await handle.write(buf, done, len - done, position + done);
    if (bytesWritten <= 0) throw new Error(`the image file took no bytes at offset ${position + done}`);
    done += bytesWritten;
  }
}

export class ImageFileWriter extends Writable {
  /** Bytes in the file, in order. */
  written = 0;
  private readonly watchers: ((bytes: number) => void)[] = [];
  /** Direct mode: the staging blocks, the one filling, how full it is, and where it goes. */
  private readonly blocks: Buffer[] | undefined;
  private current = 0;
  private fill = 0;
  private offset = 0;
  /** The last write started on each block. */
  private readonly blockWrites: Promise<void>[] = Array.from({ length: DIRECT_BLOCKS }, () => Promise.resolve());
  /** Every write started so far, settled in file order (carries the first failure). */
  private ordered: Promise<void> = Promise.resolve();

  /**
   * `direct`: the handle was opened with O_DIRECT. The handle stays the caller's to sync and
   * close; destroying the writer waits for its writes to return first.
   */
  constructor(private readonly handle: FileHandle, readonly direct: boolean) {
    super({ highWaterMark: DIRECT_BLOCK });
    if (direct) this.blocks = alignedBlocks(DIRECT_BLOCKS, DIRECT_BLOCK);
  }

  /** `fn` is called with `written` each time it grows. */
  onWritten(fn: (bytes: number) => void): void {
    this.watchers.push(fn);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    (this.blocks ? this.stage(chunk, this.blocks) : this.start(chunk, chunk.length, chunk.length).then(() => this.ordered)).then(() => cb(), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.finishFile().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The caller closes the handle next: no write may still be running on it.
    this.ordered.then(() => cb(err), () => cb(err));
  }

  /** Direct mode: copies the chunk into the blocks, sending each one that fills. */
  private async stage(chunk: Buffer, blocks: Buffer[]): Promise<void> {
    let at = 0;
    // Destroyed while waiting for a block (the upload failed): no write may start after that.
    while (at < chunk.length && !this.destroyed) {
      const copied = chunk.copy(blocks[this.current], this.fill, at);
      at += copied;
      this.fill += copied;
      if (this.fill === DIRECT_BLOCK) await this.sendBlock(DIRECT_BLOCK);
    }
  }

  /** Sends the current block (`length` bytes of it, `this.fill` of them data) and waits until the next one is free. */
  private async sendBlock(length: number): Promise<void> {
    const i = this.current;
    this.blockWrites[i] = this.start(this.blocks![i], length, this.fill);
    this.current = (i + 1) % DIRECT_BLOCKS;
    this.fill = 0;
    await this.blockWrites[this.current];
  }

  /** Starts writing buf[0, length) at the end of what was sent so far; `data` of those bytes are the image's. */
  private start(buf: Buffer, length: number, data: number): Promise<void> {
    const position = this.offset;
    this.offset += data;
    const write = writeFully(this.handle, buf, length, position);
    this.ordered = Promise.all([this.ordered, write]).then(() => {
      this.written += data;
      for (const fn of this.watchers) fn(this.written);
    });
    this.ordered.catch(() => undefined);
    return write;
  }

  private async finishFile(): Promise<void> {
    if (this.blocks && this.fill > 0) {
      const padded = Math.ceil(this.fill / DIRECT_ALIGN) * DIRECT_ALIGN;
      this.blocks[this.current].fill(0, this.fill, padded);
      await this.sendBlock(padded);
    }
    await this.ordered;
    // The padding of the last block is not the image's.
    if (this.blocks && this.offset % DIRECT_ALIGN !== 0) await this.handle.truncate(this.offset);
  }
}

/**
 * Opens a new file (which must not exist) for an ImageFileWriter: past the page cache when
 * `direct` is asked for and the file system allows it. Resolves to the handle and whether it
 * is direct.
 */
export async function openImageFile(path: string, direct: boolean): Promise<{ handle: FileHandle; direct: boolean }> {
  // Created first without O_DIRECT: a file system that refuses it may do so only after creating the file.
  const created = await fsp.open(path, 'wx', 0o600);
  if (!direct) return { handle: created, direct: false };
  try {
    const handle = await fsp.open(path, fs.constants.O_WRONLY | fs.constants.O_DIRECT | fs.constants.O_DSYNC);
    await created.close();
    return { handle, direct: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') {
      await created.close();
      throw e;
    }
    return { handle: created, direct: false };
  }
}
