/**
 * MemoryImageStore: image bytes in a Map, for tests. Same all-or-nothing contract as the file
 * store: a write's bytes are invisible until commit, and abort (or a failed write) leaves
 * nothing. `openWrites()` lets tests check that no write was left dangling.
 */
import { Readable, Writable } from 'node:stream';
import { checkRange, type ImageStore, type PendingWrite } from './image-store';

const READ_CHUNK = 64 * 1024;

export class MemoryImageStore implements ImageStore {
  private readonly data = new Map<string, Buffer>();
  private open = 0;

  async begin(imageId: string): Promise<PendingWrite> {
    const chunks: Buffer[] = [];
    let state: 'open' | 'committed' | 'aborted' = 'open';
    this.open += 1;
    const settle = (to: 'committed' | 'aborted') => {
      if (state === 'open') this.open -= 1;
      state = to;
    };
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(Buffer.from(chunk));
        cb();
      },
    });
    return {
      sink,
      commit: async () => {
        if (state !== 'open') throw new Error(`the write of image ${imageId} was already ${state}`);
        if (!sink.writableFinished) throw new Error(`the write of image ${imageId} is not finished`);
        this.data.set(imageId, Buffer.concat(chunks));
        settle('committed');
      },
      abort: async () => {
        if (state !== 'open') return;
        if (!sink.destroyed) sink.destroy();
        chunks.length = 0;
        settle('aborted');
      },
    };
  }

  async read(imageId: string): Promise<Readable> {
    return this.readRange(imageId, 0, this.data.get(imageId)?.length ?? 0);
  }

  async readRange(imageId: string, start: number, length: number): Promise<Readable> {
    const whole = this.data.get(imageId);
    if (!whole) throw Object.assign(new Error(`no data for image ${imageId}`), { code: 'ENOENT' });
    checkRange(imageId, start, length, whole.length);
    const buf = whole.subarray(start, start + length);
    // Chunked like a file read, so consumers see backpressure as they would in production.
    function* chunksOf(b: Buffer) {
      for (let i = 0; i < b.length; i += READ_CHUNK) yield b.subarray(i, i + READ_CHUNK);
    }
    return Readable.from(chunksOf(buf), { objectMode: false });
  }

  async has(imageId: string): Promise<boolean> {
    return this.data.has(imageId);
  }

  async size(imageId: string): Promise<number | undefined> {
    return this.data.get(imageId)?.length;
  }

  async delete(imageId: string): Promise<void> {
    this.data.delete(imageId);
  }

  async list(): Promise<string[]> {
    return [...this.data.keys()].sort();
  }

  async sweepPartials(_inUse?: () => Promise<Set<string>>): Promise<void> {
    /* nothing survives a restart of a Map */
  }

  /** Writes begun and neither committed nor aborted. */
  openWrites(): number {
    return this.open;
  }
}
