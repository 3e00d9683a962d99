/**
 * The image stores (file and memory) honour the same all-or-nothing contract: bytes become an
 * image's data only on commit; abort, a failed write or a crash leave nothing readable.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ImageStore } from '../../src/store/image-store';
import { FileImageStore } from '../../src/store/file-store';
import { MemoryImageStore } from '../../src/store/memory-store';

const ID = '5a31e102-1d94-479a-a680-5ae69a3c55fb';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** `direct`: past the page cache (the default), or through it. */
function fileStore(direct = true): FileImageStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-store-'));
  dirs.push(dir);
  return new FileImageStore(path.join(dir, 'images'), direct);
}

async function readAll(store: ImageStore, id: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of await store.read(id)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe.each([
  ['FileImageStore', (() => fileStore()) as () => ImageStore],
  ['FileImageStore through the page cache', (() => fileStore(false)) as () => ImageStore],
  ['MemoryImageStore', (() => new MemoryImageStore()) as () => ImageStore],
])('%s', (_name, make) => {
  it('makes the bytes readable only after commit', async () => {
    const store = make();
    const w = await store.begin(ID);
    await pipeline(Readable.from([Buffer.from('hello '), Buffer.from('world')]), w.sink);
    expect(await store.has(ID)).toBe(false);
    expect(await store.list()).toEqual([]);
    await w.commit();
    expect(await store.size(ID)).toBe(11);
    expect((await readAll(store, ID)).toString()).toBe('hello world');
    expect(await store.list()).toEqual([ID]);
  });

  it('abort leaves nothing, and may be called twice', async () => {
    const store = make();
    const w = await store.begin(ID);
    w.sink.write(Buffer.from('partial'));
    await w.abort();
    await w.abort();
    expect(await store.has(ID)).toBe(false);
    expect(await store.list()).toEqual([]);
    await expect(store.read(ID)).rejects.toThrow();
  });

  it('refuses to commit an unfinished write', async () => {
    const store = make();
    const w = await store.begin(ID);
    w.sink.write(Buffer.from('half'));
    await expect(w.commit()).rejects.toThrow(/not finished/);
    await w.abort();
  });

  it('delete removes the data; deleting absent data is fine', async () => {
    const store = make();
    const w = await store.begin(ID);
    await pipeline(Readable.from([Buffer.from('x')]), w.sink);
    await w.commit();
    await store.delete(ID);
    await store.delete(ID);
    expect(await store.has(ID)).toBe(false);
  });
});

describe('FileImageStore on disk', () => {
  it('writes under a .partial name in the same directory and renames on commit', async () => {
    const store = fileStore();
    const w = await store.begin(ID);
    w.sink.write(Buffer.from('abc'));
    expect(store.partials()).toHaveLength(1);
    await new Promise<void>((res) => w.sink.end(() => res()));
    await w.commit();
    expect(store.partials()).toEqual([]);
  });

  it('sweepPartials removes what a crash left behind, and nothing else', async () => {
    const store = fileStore();
    const keep = await store.begin(ID);
    await pipeline(Readable.from([Buffer.from('kept')]), keep.sink);
    await keep.commit();
    const crashed = await store.begin('0b8e3d1e-0000-4000-8000-000000000000');
    crashed.sink.write(Buffer.from('left over'));
    expect(store.partials()).toHaveLength(1);
    await store.sweepPartials();
    expect(store.partials()).toEqual([]);
    expect((await readAll(store, ID)).toString()).toBe('kept');
    await crashed.abort();
  });

  it('writes image files past the page cache where the file system allows it, byte for byte', async () => {
    const store = fileStore();
    const w = await store.begin(ID);
    expect(w.file).toMatchObject({ direct: true });
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 5, 'novadock');
    await pipeline(Readable.from([bytes.subarray(0, 70_000), bytes.subarray(70_000)]), w.sink);
    await w.commit();
    expect((await readAll(store, ID)).equals(bytes)).toBe(true);
  });

  it('refuses ids that could become paths', async () => {
    const store = fileStore();
    await expect(store.begin('../../etc/passwd')).rejects.toThrow(/invalid image id/);
    await expect(store.read('a/b')).rejects.toThrow(/invalid image id/);
  });
});
