/**
 * Which layer the Docker driver's base-layer shortcut takes (src/virt/docker/base-layer.ts):
 * only a legacy `<id>/layer.tar` whose `<id>/json` came first and names no parent, from the
 * size set, and one per load. The engine side is tested in test/docker/layer-shortcut.test.ts.
 */
import { Readable } from 'node:stream';
import { BaseLayerShortcut, EntryHeader } from '../../src/virt/docker/base-layer';

const ID = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const file = (size: number): EntryHeader => ({ size, type: 'file' });

function shortcut(minBytes = 100, importLayer: (layer: Readable) => Promise<string> = async (layer) => { layer.resume(); return 'sha256:carrier'; }) {
  const imports: Readable[] = [];
  const s = new BaseLayerShortcut(minBytes, (layer) => { imports.push(layer); return importLayer(layer); });
  const meta = (id: string, v1: unknown) => {
    const name = `${id}/json`;
    expect(s.watches(name, file(100))).toBe(true);
    s.observe(name, Buffer.from(typeof v1 === 'string' ? v1 : JSON.stringify(v1)));
  };
  return { s, imports, meta };
}

test('takes a layer whose v1 metadata names no parent, once it is at least the size set', () => {
  const { s, imports, meta } = shortcut();
  meta(ID, { id: ID });
  expect(s.take(`${ID}/layer.tar`, file(99))).toBeUndefined();
  expect(s.take(`${ID}/layer.tar`, file(100))).toBeDefined();
  expect(s.taken).toBe(true);
  expect(imports).toHaveLength(1);
});

test('leaves a layer with a parent, one whose metadata it has not seen, and one whose metadata is not JSON', () => {
  const { s, meta } = shortcut();
  meta(ID, { id: ID, parent: OTHER });
  meta(OTHER, 'not json');
  expect(s.take(`${ID}/layer.tar`, file(1000))).toBeUndefined();
  expect(s.take(`${OTHER}/layer.tar`, file(1000))).toBeUndefined();
  const unseen = 'c'.repeat(64);
  expect(s.take(`${unseen}/layer.tar`, file(1000))).toBeUndefined();
  expect(s.taken).toBe(false);
});

test('takes one layer per load, and never anything but a legacy layer.tar file', () => {
  const { s, meta } = shortcut();
  meta(ID, {});
  meta(OTHER, {});
  expect(s.take(`blobs/sha256/${ID}`, file(1000))).toBeUndefined();
  expect(s.take(`${ID}/layer.tar`, { size: 1000, type: 'symlink' })).toBeUndefined();
  expect(s.take(`${ID}/layer.tar`, file(1000))).toBeDefined();
  expect(s.take(`${OTHER}/layer.tar`, file(1000))).toBeUndefined();
});

test('watches only small legacy layer metadata', () => {
  const { s } = shortcut();
  expect(s.watches(`${ID}/json`, file(200 * 1024))).toBe(false);
  expect(s.watches('manifest.json', file(100))).toBe(false);
  expect(s.watches(`${ID}/VERSION`, file(3))).toBe(false);
});

test('ready() waits for the import and carries its failure; the failure is kept for the caller', async () => {
  const { s, meta } = shortcut(1, async () => { throw new Error('engine said no'); });
  meta(ID, {});
  s.take(`${ID}/layer.tar`, file(10));
  await expect(s.ready()).rejects.toThrow('engine said no');
  expect(s.failure?.message).toBe('engine said no');
  expect(await s.carrierId()).toBeUndefined();
});

test('carrierId() is the imported carrier once the import is done; ready() is immediate when nothing was taken', async () => {
  const idle = shortcut();
  await expect(idle.s.ready()).resolves.toBeUndefined();
  const { s, meta } = shortcut(1);
  meta(ID, {});
  s.take(`${ID}/layer.tar`, file(10))!.end();
  await s.ready();
  expect(await s.carrierId()).toBe('sha256:carrier');
});
