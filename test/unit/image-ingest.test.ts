/**
 * The one-pass upload plumbing: the tee's backpressure (the slowest consumer sets the pace),
 * the engine's hold-back gate, and how ingest reports results and failures.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RingHasher } from '../../src/image/hash-ring';
import { FileHasher } from '../../src/image/file-hasher';
import { ImageFileWriter, openImageFile } from '../../src/store/file-writer';
import { HoldBack, ingest, IngestFailed, Tee } from '../../src/image/ingest';
import { legacyArchive } from '../helpers/synthetic-archive';

const KiB = 1024;

function collect(r: Readable): { bytes: () => number; done: Promise<Buffer> } {
  const parts: Buffer[] = [];
  let n = 0;
  r.on('data', (d: Buffer) => {
    parts.push(d);
    n += d.length;
  });
  return { bytes: () => n, done: new Promise((res, rej) => { r.on('end', () => res(Buffer.concat(parts))); r.on('error', rej); }) };
}

const digestsOf = (bytes: Buffer) => ({
  md5: crypto.createHash('md5').update(bytes).digest('hex'),
  sha512: crypto.createHash('sha512').update(bytes).digest('hex'),
});

function sinkOf(parts: Buffer[]): Writable {
  return new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } });
}

describe('the tee', () => {
  it('takes no more than the slowest branch can hold: a stalled branch stops the fast one too', async () => {
    const fast = new PassThrough();
    const stalled = new PassThrough({ highWaterMark: 16 * KiB });
    const got = collect(fast);
    const tee = new Tee([fast, stalled]);
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      if (!tee.write(Buffer.alloc(8 * KiB))) break;
      accepted += 1;
    }
    await new Promise((res) => setImmediate(res));
    // Bounded by the tee's and the stalled branch's buffers, far below the 800 KiB offered.
    expect(accepted).toBeLessThan(100);
    expect(got.bytes()).toBeLessThanOrEqual(16 * KiB + 8 * KiB * 2);
    // Once the stalled branch is read, everything flows.
    stalled.resume();
    await new Promise((res) => setImmediate(res));
    expect(got.bytes()).toBeGreaterThan(16 * KiB + 8 * KiB * 2);
  });

  it('skips a destroyed branch and keeps feeding the others', async () => {
    const a = new PassThrough();
    const b = new PassThrough();
    b.on('error', () => undefined);
    const got = collect(a);
    const tee = new Tee([a, b]);
    b.destroy(new Error('consumer failed'));
    tee.end(Buffer.alloc(100 * KiB));
    expect((await got.done).length).toBe(100 * KiB);
  });
});

describe('the hold-back gate', () => {
  it('passes all but the last window until the gate opens, then the rest and the end', async () => {
    let open!: () => void;
    const hb = new HoldBack(64 * KiB, new Promise<void>((res) => { open = res; }));
    const got = collect(hb);
    for (let i = 0; i < 10; i++) hb.write(Buffer.alloc(32 * KiB, i));
    hb.end();
    await new Promise((res) => setImmediate(res));
    expect(got.bytes()).toBeLessThanOrEqual(320 * KiB - 64 * KiB);
    expect(got.bytes()).toBeGreaterThan(0);
    open();
    expect((await got.done).length).toBe(320 * KiB);
  });

  it('never releases the tail when the gate is shut: the stream errors', async () => {
    let shut!: (e: Error) => void;
    const hb = new HoldBack(64 * KiB, new Promise<void>((_res, rej) => { shut = rej; }));
    const got = collect(hb);
    hb.end(Buffer.alloc(10 * KiB));
    shut(new Error('not an image'));
    await expect(got.done).rejects.toThrow('not an image');
    expect(got.bytes()).toBe(0);
  });
});

describe('ingest', () => {
  const tooLarge = () => new Error('too large');

  it('counts and hashes what it stores', async () => {
    const bytes = crypto.randomBytes(300 * KiB);
    const stored: Buffer[] = [];
    const r = await ingest(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), { maxBytes: 1e9, tooLarge, sink: sinkOf(stored) });
    expect(r).toEqual({ size: bytes.length, ...digestsOf(bytes), archive: undefined });
    expect(Buffer.concat(stored).equals(bytes)).toBe(true);
  });

  it('joins the chunks a socket delivers into ~1 MiB ones before any branch sees them', async () => {
    const bytes = crypto.randomBytes(2560 * KiB);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 64 * KiB) chunks.push(bytes.subarray(at, at + 64 * KiB));
    const stored: Buffer[] = [];
    const r = await ingest(Readable.from(chunks), { maxBytes: 1e9, tooLarge, sink: sinkOf(stored) });
    // 40 chunks of 64 KiB reach the store as two of 1 MiB and the 512-KiB rest.
    expect(stored.map((c) => c.length)).toEqual([1024 * KiB, 1024 * KiB, 512 * KiB]);
    expect(Buffer.concat(stored).equals(bytes)).toBe(true);
    expect(r).toEqual({ size: bytes.length, ...digestsOf(bytes), archive: undefined });
  });

  it('feeds inspector, engine and store from the same pass', async () => {
    const archive = await legacyArchive({ salt: 'ingest', layerBytes: 200 * KiB });
    const stored: Buffer[] = [];
    let loaded: Buffer | undefined;
    let checkedBeforeLoadEnded: boolean | undefined;
    const r = await ingest(Readable.from([archive.bytes]), {
      maxBytes: 1e9, tooLarge, sink: sinkOf(stored),
      engine: {
        load: async (s) => { loaded = await collect(s).done; },
        beforeRelease: async (info) => { checkedBeforeLoadEnded = loaded === undefined && info.imageId === archive.imageId; },
      },
    });
    expect(r.archive?.imageId).toBe(archive.imageId);
    expect(checkedBeforeLoadEnded).toBe(true);
    expect(loaded!.equals(archive.bytes)).toBe(true);
    expect(Buffer.concat(stored).equals(archive.bytes)).toBe(true);
  });

  it('on a bad archive: fails with the reason, aborts the engine load, and still reads the source to its end', async () => {
    const source = Readable.from([Buffer.from('not a tar '.repeat(10_000))]);
    let engineSaw: Error | undefined;
    const failure = await ingest(source, {
      maxBytes: 1e9, tooLarge, sink: sinkOf([]),
      engine: {
        load: (s) => collect(s).done.then(() => undefined, (e) => { engineSaw = e; throw e; }),
        beforeRelease: async () => undefined,
      },
    }).catch((e) => e);
    expect(failure).toBeInstanceOf(IngestFailed);
    expect(failure.message).toMatch(/not a tar archive/);
    expect((failure as IngestFailed).released).toBe(false);
    expect(engineSaw).toBeDefined();
    expect(source.readableEnded).toBe(true);
  });

  describe('with a sink that writes a file', () => {
    let dir: string;
    let file: string;
    let handles: FileHandle[];
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-'));
      file = path.join(dir, 'image.partial');
      handles = [];
    });
    afterEach(async () => {
      for (const h of handles) await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    /** The store's own writer on `file` (past the page cache), and the StoreFile that follows it. */
    const storeSink = async () => {
      const { handle, direct } = await openImageFile(file, true);
      handles.push(handle);
      const sink = new ImageFileWriter(handle, direct);
      return { sink, sinkFile: { path: file, direct, onWritten: (fn: (bytes: number) => void) => sink.onWritten(fn) } };
    };

    it('an upload of unannounced size is hashed in a thread, with the same digests', async () => {
      const bytes = crypto.randomBytes(3 * 1024 * KiB + 123);
      // Many small chunks, as a socket delivers them: the file grows while it is hashed.
      const chunks = Array.from({ length: Math.ceil(bytes.length / (16 * KiB)) }, (_, i) => bytes.subarray(i * 16 * KiB, (i + 1) * 16 * KiB));
      const r = await ingest(Readable.from(chunks), { maxBytes: 1e9, tooLarge, ...(await storeSink()), inlineHashBytes: 1024 * KiB });
      expect(r).toEqual({ size: bytes.length, ...digestsOf(bytes), archive: undefined });
      expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    });

    it('a small upload is hashed inline, with the same digests', async () => {
      const bytes = crypto.randomBytes(200 * KiB);
      const r = await ingest(Readable.from([bytes]), { maxBytes: 1e9, tooLarge, ...(await storeSink()), expectedBytes: bytes.length });
      expect(r).toEqual({ size: bytes.length, ...digestsOf(bytes), archive: undefined });
    });

    it('gives the engine a replay that reads the stored file back, whole, only once it is complete and checked', async () => {
      const archive = await legacyArchive({ salt: 'replay', layerBytes: 300 * KiB });
      let replayed: Buffer | undefined;
      let checked = false;
      let checkedBeforeReplay: boolean | undefined;
      const r = await ingest(Readable.from([archive.bytes]), {
        maxBytes: 1e9, tooLarge, ...(await storeSink()),
        engine: {
          // A driver whose quick way failed at once: it drops the pass and loads the replay.
          load: async (s, replay) => {
            s.destroy();
            const again = await replay!();
            checkedBeforeReplay = checked;
            replayed = await collect(again).done;
          },
          beforeRelease: async () => { checked = true; },
        },
      });
      expect(r.archive?.imageId).toBe(archive.imageId);
      expect(checkedBeforeReplay).toBe(true);
      expect(replayed!.equals(archive.bytes)).toBe(true);
      expect(r).toMatchObject({ size: archive.bytes.length, ...digestsOf(archive.bytes) });
    });

    it('a failure stops the hashing thread and reports the failure', async () => {
      const parts = [Buffer.alloc(10 * KiB), Buffer.alloc(10 * KiB), Buffer.alloc(10 * KiB)];
      const failure = await ingest(Readable.from(parts), { maxBytes: 25 * KiB, tooLarge, ...(await storeSink()), inlineHashBytes: 5 * KiB }).catch((e) => e);
      expect(failure).toBeInstanceOf(IngestFailed);
      expect(failure.message).toBe('too large');
    });
  });

  it('stops at the size cap with the cap error', async () => {
    const failure = await ingest(Readable.from([Buffer.alloc(10 * KiB), Buffer.alloc(10 * KiB)]), { maxBytes: 15 * KiB, tooLarge, sink: sinkOf([]) }).catch((e) => e);
    expect(failure).toBeInstanceOf(IngestFailed);
    expect(failure.message).toBe('too large');
  });
});

describe('the ring hasher', () => {
  it('hashes what is written to it, in chunks of any size and across the ring\'s end, and gives each digest once it ends', async () => {
    const h = new RingHasher(['md5', 'sha512']);
    const bytes = crypto.randomBytes(19 * 1024 * KiB + 777);
    const sizes = [1, 100 * KiB + 3, 3 * 1024 * KiB, 9 * 1024 * KiB];
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      chunks.push(bytes.subarray(at, at + sizes[i % sizes.length]));
      at += sizes[i % sizes.length];
    }
    await pipeline(Readable.from(chunks), h.sink);
    expect(await h.finish()).toEqual(digestsOf(bytes));
  });

  it('nothing written has the digests of nothing', async () => {
    const h = new RingHasher(['md5']);
    h.sink.end();
    expect(await h.finish()).toEqual({ md5: crypto.createHash('md5').digest('hex') });
  });

  it('cancel stops the thread: finish then rejects, and a write waiting for room fails', async () => {
    const h = new RingHasher(['md5']);
    await h.cancel();
    await expect(h.finish()).rejects.toThrow(/stopped/);
    await expect(pipeline(Readable.from([Buffer.alloc(20 * 1024 * KiB)]), h.sink)).rejects.toThrow(/cancelled|stopped/);
  });
});

describe('the file hasher', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-hasher-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes `chunks` with the store's writer, a hasher following the file; resolves to its digests. */
  async function hashWhileWriting(chunks: Buffer[], direct: boolean): Promise<{ digests: Record<string, string>; direct: boolean }> {
    const file = path.join(dir, 'image.partial');
    const opened = await openImageFile(file, direct);
    const sink = new ImageFileWriter(opened.handle, opened.direct);
    const h = new FileHasher(['md5', 'sha512'], { path: file, direct: opened.direct, onWritten: (fn) => sink.onWritten(fn) });
    try {
      await pipeline(Readable.from(chunks), sink);
      h.ended();
      return { digests: await h.finish(), direct: opened.direct };
    } finally {
      await opened.handle.close();
    }
  }

  it('hashes the file as it is written past the page cache, and not the padding of its last block', async () => {
    // 5 MiB and an odd tail, in chunks of odd sizes: reads cross the writer's blocks, the last one unaligned.
    const bytes = crypto.randomBytes(5 * 1024 * KiB + 4097);
    const chunks = Array.from({ length: Math.ceil(bytes.length / (300 * KiB + 1)) }, (_, i) => bytes.subarray(i * (300 * KiB + 1), (i + 1) * (300 * KiB + 1)));
    const r = await hashWhileWriting(chunks, true);
    // Whether the write was direct is the test file system's choice (tmpfs refuses O_DIRECT); the digests are the same.
    expect(r.digests).toEqual(digestsOf(bytes));
  });

  it('hashes a file written through the page cache alike', async () => {
    const bytes = crypto.randomBytes(2 * 1024 * KiB + 5);
    const r = await hashWhileWriting([bytes.subarray(0, 7), bytes.subarray(7)], false);
    expect(r).toEqual({ digests: digestsOf(bytes), direct: false });
  });

  it('an empty file has the digests of nothing', async () => {
    const r = await hashWhileWriting([], true);
    expect(r.digests).toEqual(digestsOf(Buffer.alloc(0)));
  });

  it('a file shorter than the write said fails the hashing with where it ended', async () => {
    const file = path.join(dir, 'short');
    fs.writeFileSync(file, Buffer.alloc(1000));
    let told: (bytes: number) => void = () => undefined;
    const h = new FileHasher(['md5'], { path: file, direct: false, onWritten: (fn) => { told = fn; } });
    told(5000);
    h.ended();
    await expect(h.finish()).rejects.toThrow(/ended at byte 1000 of 5000/);
  });

  it('cancel stops the thread: finish then rejects', async () => {
    const file = path.join(dir, 'never');
    fs.writeFileSync(file, '');
    const h = new FileHasher(['md5'], { path: file, direct: false, onWritten: () => undefined });
    await h.cancel();
    await expect(h.finish()).rejects.toThrow(/stopped/);
  });
});
