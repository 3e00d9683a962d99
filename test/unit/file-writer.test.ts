/**
 * ImageFileWriter, past the page cache (O_DIRECT, through page-aligned blocks) and through it:
 * the file holds exactly the bytes written, whatever the chunk sizes; `written` only ever
 * counts bytes that are in the file; a failed write fails the stream.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DIRECT_BLOCK, DIRECT_BLOCKS, ImageFileWriter, openImageFile } from '../../src/store/file-writer';

const KiB = 1024;
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-writer-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Cuts `bytes` into chunks of the given sizes, round robin. */
function chunked(bytes: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    out.push(bytes.subarray(at, at + sizes[i % sizes.length]));
    at += sizes[i % sizes.length];
  }
  return out;
}

async function writeFile(file: string, direct: boolean, chunks: Buffer[]): Promise<{ writer: ImageFileWriter; progress: number[]; prefixesHeld: boolean }> {
  const opened = await openImageFile(file, direct);
  const writer = new ImageFileWriter(opened.handle, opened.direct);
  const expected = Buffer.concat(chunks);
  const progress: number[] = [];
  let prefixesHeld = true;
  writer.onWritten((bytes) => {
    progress.push(bytes);
    // What is said written is in the file, byte for byte.
    const got = Buffer.alloc(bytes);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, got, 0, bytes, 0);
    fs.closeSync(fd);
    if (!got.equals(expected.subarray(0, bytes))) prefixesHeld = false;
  });
  try {
    await pipeline(Readable.from(chunks), writer);
  } finally {
    await opened.handle.close();
  }
  return { writer, progress, prefixesHeld };
}

describe.each([
  ['past the page cache', true],
  ['through the page cache', false],
])('ImageFileWriter %s', (_name, direct) => {
  it.each([
    ['socket-sized chunks, a size off every alignment', 3 * DIRECT_BLOCK + 12_345, [16 * KiB, 64 * KiB - 7, 1]],
    ['chunks larger than a block', 5 * DIRECT_BLOCK + 4097, [DIRECT_BLOCK + 1, 3 * DIRECT_BLOCK]],
    ['a whole number of blocks', 2 * DIRECT_BLOCK, [DIRECT_BLOCK]],
    ['less than one alignment unit', 100, [100]],
  ])('writes exactly the bytes given: %s', async (_what, size, sizes) => {
    const bytes = crypto.randomBytes(size);
    const file = path.join(dir, 'image.partial');
    const { writer, progress, prefixesHeld } = await writeFile(file, direct, chunked(bytes, sizes));
    expect(writer.direct).toBe(direct);
    expect(fs.statSync(file).size).toBe(size);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(writer.written).toBe(size);
    expect(progress[progress.length - 1]).toBe(size);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(prefixesHeld).toBe(true);
  });

  it('an empty image is an empty file', async () => {
    const file = path.join(dir, 'empty.partial');
    const { writer } = await writeFile(file, direct, []);
    expect(fs.statSync(file).size).toBe(0);
    expect(writer.written).toBe(0);
  });

  it('a write the file refuses fails the stream with that error', async () => {
    const file = path.join(dir, 'closed.partial');
    const opened = await openImageFile(file, direct);
    const writer = new ImageFileWriter(opened.handle, opened.direct);
    await opened.handle.close();
    await expect(pipeline(Readable.from([crypto.randomBytes(DIRECT_BLOCK + 1)]), writer)).rejects.toThrow(/closed|EBADF/);
  });
});

describe('ImageFileWriter destroyed mid-write', () => {
  it('starts no write once destroyed, and closes only after the started ones return', async () => {
    const calls: number[] = [];
    let inFlight = 0;
    let maxAfterClose = 0;
    let closed = false;
    // A slow disk: each write takes 30 ms.
    const handle = {
      write: async (_buf: Buffer, _off: number, len: number, position: number) => {
        calls.push(position);
        inFlight++;
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        return { bytesWritten: len };
      },
      truncate: async () => undefined,
    } as unknown as FileHandle;
    const writer = new ImageFileWriter(handle, true);
    writer.on('error', () => undefined);
    writer.write(crypto.randomBytes((DIRECT_BLOCKS + 2) * DIRECT_BLOCK));
    await new Promise((r) => setImmediate(r));
    // Every block is on its way; the writer waits for the first before refilling it.
    const sent = Array.from({ length: DIRECT_BLOCKS }, (_, i) => i * DIRECT_BLOCK);
    expect(calls).toEqual(sent);
    writer.destroy();
    await new Promise<void>((r) => writer.once('close', () => {
      closed = true;
      maxAfterClose = inFlight;
      r();
    }));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
    expect(maxAfterClose).toBe(0);
    expect(calls).toEqual(sent);
  });
});

describe('openImageFile', () => {
  it('opens past the page cache, each write durable when it returns, on a file system that allows it (the tests run on one)', async () => {
    const opened = await openImageFile(path.join(dir, 'd.partial'), true);
    // What the kernel holds for the descriptor: its open flags, in octal.
    const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${opened.handle.fd}`, 'utf8'))![1], 8);
    await opened.handle.close();
    expect(opened.direct).toBe(true);
    expect(flags & fs.constants.O_DIRECT).toBe(fs.constants.O_DIRECT);
    expect(flags & fs.constants.O_DSYNC).toBe(fs.constants.O_DSYNC);
  });

  it('never opens a file that already exists', async () => {
    const file = path.join(dir, 'taken.partial');
    fs.writeFileSync(file, 'mine');
    await expect(openImageFile(file, true)).rejects.toThrow(/EEXIST/);
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
  });
});
