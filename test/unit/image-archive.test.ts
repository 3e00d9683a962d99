/**
 * The docker-save inspector: which image an archive holds, or why it is not one.
 */
import { PassThrough, Readable } from 'node:stream';
import crypto from 'node:crypto';
import { ArchiveLayout, inspectImageArchive } from '../../src/virt/image-archive';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
import { InvalidImageArchive } from '../../src/virt/driver';
import { entryOf, gzip, gzipBomb, legacyArchive, ociArchive, tarOf } from '../helpers/synthetic-archive';

const MiB = 1024 * 1024;

/** Streams bytes in odd-sized chunks, the way a socket delivers them. */
function streamOf(bytes: Buffer, chunk = 7919): Readable {
  function* parts() {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  return Readable.from(parts(), { objectMode: false });
}

/** The config file's bytes, read back out of a synthetic archive. */
const configBytes = (img: { bytes: Buffer; configPath: string }) => entryOf(img.bytes, (name) => name === img.configPath);

async function inspect(bytes: Buffer, maxBytes = 64 * MiB) {
  return inspectImageArchive(streamOf(bytes), { maxBytes });
}

async function rejection(bytes: Buffer, maxBytes = 64 * MiB): Promise<InvalidImageArchive> {
  try {
    await inspect(bytes, maxBytes);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidImageArchive);
    return e as InvalidImageArchive;
  }
  throw new Error('the archive was accepted');
}

/** The layout names the config and layers as byte ranges of the archive, with their first bytes. */
function expectLayout(img: { bytes: Buffer; imageId: string }, layout: ArchiveLayout | undefined, oci: boolean): void {
  const at = (f: { offset: number; size: number }) => img.bytes.subarray(f.offset, f.offset + f.size);
  expect(layout?.oci).toBe(oci);
  expect(`sha256:${sha256(at(layout!.config))}`).toBe(img.imageId);
  expect(layout!.config.bytes).toEqual(at(layout!.config));
  for (const l of layout!.layers) {
    expect(l.sha256).toBe(sha256(at(l)));
    expect(l.head).toEqual(at(l).subarray(0, 4));
  }
}

describe('a valid docker save archive', () => {
  it('in the legacy layout resolves to sha256 of its config, with its tags and layer count', async () => {
    const img = await legacyArchive({ salt: 'legacy-ok', layers: 3, tag: 'busybox:latest' });
    const info = await inspect(img.bytes);
    expect(info).toMatchObject({ imageId: img.imageId, repoTags: ['busybox:latest'], layers: 3 });
    expectLayout(img, info.layout, false);
  });

  it('in the OCI layout of Docker 25 resolves to the same kind of id', async () => {
    const img = await ociArchive({ salt: 'oci-ok', layers: 2 });
    const info = await inspect(img.bytes);
    expect(info).toMatchObject({ imageId: img.imageId, repoTags: [], layers: 2 });
    expectLayout(img, info.layout, true);
  });

  it('gzipped is read through zlib and gives the same id', async () => {
    const img = await legacyArchive({ salt: 'gz-ok' });
    const info = await inspect(gzip(img.bytes));
    expect(info.imageId).toBe(img.imageId);
    // Offsets into the decompressed tar are no ranges of the bytes stored.
    expect(info.layout).toBeUndefined();
  });

  it('whose layers are symlinks to other layer directories (docker dedup) is accepted', async () => {
    const img = await legacyArchive({ salt: 'dedup', layers: 1 });
    const manifest = [{ Config: img.configPath, RepoTags: null, Layers: img.layerPaths }];
    const dir = img.layerPaths[0].split('/')[0];
    const config = await configBytes(img);
    const withLink = await tarOf([
      { name: 'shared/layer.tar', body: 'the layer' },
      { name: `${dir}/`, type: 'directory' },
      { name: `${dir}/layer.tar`, type: 'symlink', linkname: '../shared/layer.tar' },
      { name: img.configPath, body: config },
      { name: 'manifest.json', body: JSON.stringify(manifest) },
    ]);
    expect((await inspect(withLink)).imageId).toBe(img.imageId);
  });

  it('is consumed to the last byte', async () => {
    const img = await legacyArchive({ salt: 'consume' });
    const src = new PassThrough();
    const p = inspectImageArchive(src, { maxBytes: 64 * MiB });
    src.end(Buffer.concat([img.bytes, Buffer.alloc(10 * 512)]));
    await p;
    expect(src.readableEnded).toBe(true);
  });
});

describe('an archive is refused with the reason', () => {
  it('when it is empty', async () => {
    expect((await rejection(Buffer.alloc(0))).message).toMatch(/empty \(0 bytes\)/);
  });

  it('when it is not a tar at all', async () => {
    expect((await rejection(Buffer.from('this is not a tar archive, just text '.repeat(40)))).message).toMatch(/not a tar archive/);
  });

  it('when it is a few bytes of nothing', async () => {
    expect((await rejection(Buffer.from('abc'))).message).toMatch(/not a tar archive/);
  });

  it('when it is truncated inside an entry', async () => {
    const img = await legacyArchive({ salt: 'trunc', layerBytes: 40_000 });
    const cut = img.bytes.subarray(0, Math.floor(img.bytes.length / 2));
    expect((await rejection(cut)).message).toMatch(/truncated/);
  });

  it('when it is truncated at an entry boundary (no end-of-archive marker)', async () => {
    const img = await legacyArchive({ salt: 'trunc2' });
    expect((await rejection(img.bytes.subarray(0, img.bytes.length - 1024))).message).toMatch(/truncated.*end-of-archive/);
  });

  it('when an entry has a ../ path', async () => {
    const img = await legacyArchive({ salt: 'dotdot', extra: [{ name: '../../etc/cron.d/evil', body: '* * * * * root sh' }] });
    expect((await rejection(img.bytes)).message).toMatch(/'\.\.\/\.\.\/etc\/cron\.d\/evil' contains '\.\.'/);
  });

  it('when an entry has an absolute path', async () => {
    const img = await legacyArchive({ salt: 'abs', extra: [{ name: '/etc/passwd', body: 'root::0:0::/:/bin/sh' }] });
    expect((await rejection(img.bytes)).message).toMatch(/'\/etc\/passwd' is an absolute path/);
  });

  it('when a symlink points outside the archive', async () => {
    const img = await legacyArchive({ salt: 'symout', extra: [{ name: 'escape', type: 'symlink', linkname: '../../../etc/shadow' }] });
    expect((await rejection(img.bytes)).message).toMatch(/symlink 'escape' points outside the archive/);
  });

  it('when a symlink points at an absolute path', async () => {
    const img = await legacyArchive({ salt: 'symabs', extra: [{ name: 'abs-link', type: 'symlink', linkname: '/etc/shadow' }] });
    expect((await rejection(img.bytes)).message).toMatch(/symlink 'abs-link' points outside the archive/);
  });

  it('when a hard link points outside the archive', async () => {
    const img = await legacyArchive({ salt: 'hardout', extra: [{ name: 'hard', type: 'link', linkname: '../outside' }] });
    expect((await rejection(img.bytes)).message).toMatch(/hard link 'hard' points outside the archive/);
  });

  it('when it holds a device file', async () => {
    const img = await legacyArchive({ salt: 'dev', extra: [{ name: 'kmem', type: 'character-device' }] });
    expect((await rejection(img.bytes)).message).toMatch(/'kmem' is a character-device/);
  });

  it('when there is no manifest.json (a root file system tarball)', async () => {
    const img = await legacyArchive({ salt: 'nomanifest', noManifest: true });
    expect((await rejection(img.bytes)).message).toMatch(/no manifest\.json/);
  });

  it('when manifest.json is not JSON', async () => {
    const img = await legacyArchive({ salt: 'badjson', manifest: '{not json' });
    expect((await rejection(img.bytes)).message).toMatch(/manifest\.json is not valid JSON/);
  });

  it('when a layer named by the manifest is missing', async () => {
    const probe = await legacyArchive({ salt: 'missing-layer', layers: 2 });
    const img = await legacyArchive({ salt: 'missing-layer', layers: 2, omit: [probe.layerPaths[1]] });
    expect((await rejection(img.bytes)).message).toMatch(new RegExp(`layer '${probe.layerPaths[1]}', which is not in the archive`));
  });

  it('when the config named by the manifest is missing', async () => {
    const probe = await ociArchive({ salt: 'missing-config' });
    const img = await ociArchive({ salt: 'missing-config', omit: [probe.configPath] });
    expect((await rejection(img.bytes)).message).toMatch(/config '.*', which is not in the archive/);
  });

  it('when the config does not match the digest in its name', async () => {
    const probe = await legacyArchive({ salt: 'digest' });
    const forged = await tarOf([
      { name: probe.layerPaths[0], body: 'layer' },
      { name: probe.configPath, body: '{"tampered": true}' },
      { name: 'manifest.json', body: JSON.stringify([{ Config: probe.configPath, RepoTags: null, Layers: probe.layerPaths }]) },
    ]);
    expect((await rejection(forged)).message).toMatch(/does not match its digest/);
  });

  it('when the manifest names more than one image', async () => {
    const img = await legacyArchive({ salt: 'two' });
    const two = await legacyArchive({
      salt: 'two',
      manifest: [{ Config: img.configPath, RepoTags: null, Layers: img.layerPaths }, { Config: img.configPath, RepoTags: ['x:1'], Layers: img.layerPaths }],
    });
    expect((await rejection(two.bytes)).message).toMatch(/holds 2 images/);
  });

  it('when a gzip inflates beyond the limit (compression bomb)', async () => {
    const bomb = gzipBomb(32 * MiB);
    expect(bomb.length).toBeLessThan(MiB);
    expect((await rejection(bomb, 4 * MiB)).message).toMatch(/decompressed size exceeds the limit of 4\.0 MiB/);
  });

  it('when the plain archive is larger than the limit', async () => {
    const img = await legacyArchive({ salt: 'big', layerBytes: 2 * MiB });
    expect((await rejection(img.bytes, MiB)).message).toMatch(/exceeds the limit|more than the limit/);
  });

  it.each([
    ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3])],
    ['bzip2', Buffer.from('BZh91AY&SY some bzip2 data')],
    ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])],
  ])('when it is %s-compressed', async (kind, bytes) => {
    expect((await rejection(bytes)).message).toMatch(new RegExp(`${kind}-compressed, which is not supported`));
  });

  it('when the gzip stream is corrupt', async () => {
    const img = await legacyArchive({ salt: 'gzcorrupt' });
    const gz = gzip(img.bytes);
    expect((await rejection(gz.subarray(0, gz.length - 100))).message).toMatch(/gzip stream is corrupt or truncated|truncated/);
  });

  it('when the source stream breaks mid-way, and it never hangs', async () => {
    const img = await legacyArchive({ salt: 'broken', layerBytes: 100_000 });
    const src = new PassThrough();
    const p = inspectImageArchive(src, { maxBytes: 64 * MiB });
    src.write(img.bytes.subarray(0, 50_000));
    src.destroy(new Error('socket hang up'));
    await expect(p).rejects.toThrow(/stream broke|socket hang up/);
  });
});
