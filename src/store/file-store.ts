/**
 * FileImageStore: one file per image in a directory (glance_store's filesystem driver).
 *
 * Writes are atomic: bytes go to `<id>.<random>.partial` in the same directory (same file
 * system, so the rename is atomic), are fsynced (from the moment the last byte is written), and
 * only `commit()` renames them to `<id>`
 * (then fsyncs the directory so the rename survives a crash). An aborted or crashed write
 * leaves at most a `.partial` file, which `sweepPartials()` removes at start-up (or, with several
 * processes sharing the directory, once the process that was writing it is dead).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { ImageFileWriter, openImageFile } from './file-writer';
import { checkRange, type ImageStore, type PendingWrite } from './image-store';

const PARTIAL = '.partial';
/** Image ids are UUIDs; anything else must never become a path. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function checkId(id: string): void {
  if (!SAFE_ID.test(id)) throw new Error(`invalid image id for the store: ${JSON.stringify(id)}`);
}

export class FileImageStore implements ImageStore {
  private ready: Promise<void> | undefined;

  /**
   * `direct`: write image files past the page cache where the file system allows it (see
   * file-writer.ts); off, every write goes through the cache.
   */
  constructor(private readonly dir: string, private readonly direct = true) {}

  private async ensureDir(): Promise<void> {
    this.ready ??= fsp.mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.ready;
  }

  private file(id: string): string {
    checkId(id);
    return path.join(this.dir, id);
  }

  async begin(imageId: string): Promise<PendingWrite> {
    const final = this.file(imageId);
    await this.ensureDir();
    const temp = path.join(this.dir, `${imageId}.${crypto.randomBytes(6).toString('hex')}${PARTIAL}`);
    const { handle, direct } = await openImageFile(temp, this.direct);
    const sink = new ImageFileWriter(handle, direct);
    let state: 'open' | 'committed' | 'aborted' = 'open';
    let closed = false;
    // The flush to disk starts as soon as the last byte is written, so it overlaps whatever the
    // caller still waits for before it commits (for a docker image, the engine's load).
    let flushed: Promise<void> | undefined;
    sink.once('finish', () => {
      flushed = handle.sync();
      flushed.catch(() => undefined);
    });
    // The writer's writes return before the handle closes.
    const closeHandle = async () => {
      if (closed) return;
      closed = true;
      if (!sink.closed) {
        await new Promise<void>((resolve) => {
          sink.once('close', () => resolve());
          sink.destroy();
        });
      }
      await handle.close().catch(() => undefined);
    };
    const dirSync = async () => {
      const d = await fsp.open(this.dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    };
    return {
      sink,
      file: { path: temp, direct, onWritten: (fn) => sink.onWritten(fn) },
      commit: async () => {
        if (state !== 'open') throw new Error(`the write of image ${imageId} was already ${state}`);
        if (!sink.writableFinished) throw new Error(`the write of image ${imageId} is not finished`);
        try {
          await (flushed ?? handle.sync());
          await closeHandle();
          await fsp.rename(temp, final);
          state = 'committed';
          await dirSync();
        } catch (e) {
          if (state !== 'committed') {
            state = 'aborted';
            await fsp.unlink(temp).catch(() => undefined);
          }
          throw e;
        }
      },
      abort: async () => {
        if (state !== 'open') return;
        state = 'aborted';
        await closeHandle();
        await fsp.unlink(temp).catch(() => undefined);
      },
    };
  }

  async read(imageId: string): Promise<Readable> {
    // Opening first makes a missing file an error here, not later on the stream.
    const handle = await fsp.open(this.file(imageId), 'r');
    return handle.createReadStream({ autoClose: true, highWaterMark: 256 * 1024 });
  }

  async readRange(imageId: string, start: number, length: number): Promise<Readable> {
    const handle = await fsp.open(this.file(imageId), 'r');
    try {
      const { size } = await handle.stat();
      checkRange(imageId, start, length, size);
    } catch (e) {
      await handle.close();
      throw e;
    }
    if (length === 0) {
      await handle.close();
      return Readable.from([]);
    }
    return handle.createReadStream({ autoClose: true, start, end: start + length - 1, highWaterMark: 256 * 1024 });
  }

  async has(imageId: string): Promise<boolean> {
    return (await this.size(imageId)) !== undefined;
  }

  async size(imageId: string): Promise<number | undefined> {
    try {
      const st = await fsp.stat(this.file(imageId));
      return st.isFile() ? st.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async delete(imageId: string): Promise<void> {
    try {
      await fsp.unlink(this.file(imageId));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  async list(): Promise<string[]> {
    await this.ensureDir();
    const names = await fsp.readdir(this.dir);
    return names.filter((n) => !n.endsWith(PARTIAL) && SAFE_ID.test(n)).sort();
  }

  async sweepPartials(inUse?: () => Promise<Set<string>>): Promise<void> {
    await this.ensureDir();
    // Listed before asking what is in use: a write that begins afterwards is not in the list,
    // and one in the list that is still going is in the set (its image went `saving` first).
    const partials = (await fsp.readdir(this.dir)).filter((n) => n.endsWith(PARTIAL));
    const keep = partials.length > 0 && inUse ? await inUse() : new Set<string>();
    for (const n of partials) {
      if (!keep.has(n.slice(0, n.indexOf('.')))) await fsp.unlink(path.join(this.dir, n)).catch(() => undefined);
    }
  }

  /** Leftover partial files (for tests and start-up checks). */
  partials(): string[] {
    try {
      return fs.readdirSync(this.dir).filter((n) => n.endsWith(PARTIAL));
    } catch {
      return [];
    }
  }
}
