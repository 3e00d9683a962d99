/**
 * Synthetic `docker save` archives, good and hostile, built in memory with tar-stream — no
 * engine needed. The good ones are shaped exactly like Docker's (legacy layout of Docker ≤ 24,
 * OCI layout of Docker ≥ 25) with ids computed the way the engine computes them; the hostile
 * ones each break one rule the inspector must enforce.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import tar from 'tar-stream';

export interface TarEntry {
  name: string;
  body?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  linkname?: string;
  mode?: number;
}

export interface SyntheticImage {
  bytes: Buffer;
  /** The engine id it loads as: sha256 of its config. */
  imageId: string;
  configPath: string;
  layerPaths: string[];
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

/** Packs entries into a tar (with the 1024-byte end-of-archive marker tar-stream writes). */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  const mtime = new Date(0);
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') {
      const body = Buffer.isBuffer(e.body) ? e.body : Buffer.from(e.body ?? '');
      pack.entry({ name: e.name, mode: e.mode ?? 0o644, mtime, size: body.length }, body);
    } else {
      pack.entry({ name: e.name, type, linkname: e.linkname, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o777), mtime });
    }
  }
  pack.finalize();
  return done;
}

/** A layer tarball holding `files`. */
export async function layerOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  return tarOf(Object.entries(files).map(([name, body]) => ({ name, body })));
}

function configFor(layers: Buffer[], salt: string): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], Labels: { salt } },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
    history: layers.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'synthetic' })),
  }));
}

export interface ArchiveOptions {
  /** Distinguishes images (and so their ids). */
  salt?: string;
  /** Number of layers (default 1). */
  layers?: number;
  /** Bytes of filler per layer, to make big archives (default small). */
  layerBytes?: number;
  tag?: string;
  /** Replaces manifest.json's content (a value to JSON-encode, or raw text). */
  manifest?: unknown;
  /** Leaves manifest.json out. */
  noManifest?: boolean;
  /** Leaves out the entry at this path (e.g. a layer or the config). */
  omit?: string[];
  /** Entries added before manifest.json. */
  extra?: TarEntry[];
}

async function layersFor(opts: ArchiveOptions): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < (opts.layers ?? 1); i++) {
    const files: Record<string, Buffer | string> = { [`etc/layer-${i}`]: `${opts.salt ?? 'synthetic'} layer ${i}\n` };
    if (opts.layerBytes) files[`data/filler-${i}`] = Buffer.alloc(opts.layerBytes, i + 1);
    out.push(await layerOf(files));
  }
  return out;
}

function manifestEntry(opts: ArchiveOptions, value: unknown): TarEntry[] {
  if (opts.noManifest) return [];
  const m = opts.manifest !== undefined ? opts.manifest : value;
  return [{ name: 'manifest.json', body: typeof m === 'string' ? m : JSON.stringify(m) }];
}

/** `docker save` as Docker ≤ 24 writes it: `<layer-id>/layer.tar`, `<config-hex>.json`, manifest.json last. */
export async function legacyArchive(opts: ArchiveOptions = {}): Promise<SyntheticImage> {
  const layers = await layersFor(opts);
  const config = configFor(layers, opts.salt ?? 'legacy');
  const configHex = sha256(config);
  const configPath = `${configHex}.json`;
  const layerPaths: string[] = [];
  const entries: TarEntry[] = [];
  layers.forEach((layer, i) => {
    const dir = sha256(`${configHex}/${i}`);
    layerPaths.push(`${dir}/layer.tar`);
    entries.push(
      { name: `${dir}/`, type: 'directory' },
      { name: `${dir}/VERSION`, body: '1.0' },
      { name: `${dir}/json`, body: JSON.stringify({ id: dir }) },
      { name: `${dir}/layer.tar`, body: layer },
    );
  });
  entries.push({ name: configPath, body: config });
  entries.push(...(opts.extra ?? []));
  entries.push(...manifestEntry(opts, [{ Config: configPath, RepoTags: opts.tag ? [opts.tag] : null, Layers: layerPaths }]));
  if (opts.tag) entries.push({ name: 'repositories', body: JSON.stringify({ [opts.tag.split(':')[0]]: { [opts.tag.split(':')[1] ?? 'latest']: configHex } }) });
  const bytes = await tarOf(entries.filter((e) => !(opts.omit ?? []).includes(e.name)));
  return { bytes, imageId: `sha256:${configHex}`, configPath, layerPaths };
}

/** `docker save` as Docker ≥ 25 writes it: the OCI image layout plus manifest.json. */
export async function ociArchive(opts: ArchiveOptions = {}): Promise<SyntheticImage> {
  const layers = await layersFor(opts);
  const config = configFor(layers, opts.salt ?? 'oci');
  const configHex = sha256(config);
  const ociManifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configHex}`, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${sha256(l)}`, size: l.length })),
  }));
  const manifestHex = sha256(ociManifest);
  const configPath = `blobs/sha256/${configHex}`;
  const layerPaths = layers.map((l) => `blobs/sha256/${sha256(l)}`);
  const entries: TarEntry[] = [
    { name: 'blobs/', type: 'directory' },
    { name: 'blobs/sha256/', type: 'directory' },
    ...layers.map((l, i) => ({ name: layerPaths[i], body: l })),
    { name: configPath, body: config },
    { name: `blobs/sha256/${manifestHex}`, body: ociManifest },
    { name: 'index.json', body: JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestHex}`, size: ociManifest.length }] }) },
    ...(opts.extra ?? []),
    ...manifestEntry(opts, [{ Config: configPath, RepoTags: opts.tag ? [opts.tag] : null, Layers: layerPaths }]),
    { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
  ];
  const bytes = await tarOf(entries.filter((e) => !(opts.omit ?? []).includes(e.name)));
  return { bytes, imageId: `sha256:${configHex}`, configPath, layerPaths };
}

/** The bytes of the first entry of a tar whose name `matches`; throws when there is none. */
export async function entryOf(archive: Buffer, matches: (name: string) => boolean): Promise<Buffer> {
  const extract = tar.extract();
  let found: Buffer | undefined;
  extract.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: unknown) => { parts.push(d as Buffer); });
    stream.on('end', () => {
      if (!found && matches(header.name)) found = Buffer.concat(parts);
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    extract.on('finish', () => resolve());
    extract.on('error', reject);
    extract.end(archive);
  });
  if (!found) throw new Error('no such entry in the archive');
  return found;
}

export const gzip = (b: Buffer) => zlib.gzipSync(b);

/**
 * A gzip that inflates to a tar of `decompressedBytes` of zeros spread over files of
 * `fileBytes` each (ratio ≈ 1000:1): a compression bomb when `decompressedBytes` is far above
 * the inspector's limit while every single entry looks modest.
 */
export function gzipBomb(decompressedBytes: number, fileBytes = 1024 * 1024): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0, left = decompressedBytes; left > 0; i++, left -= fileBytes) {
    const size = Math.min(fileBytes, left);
    parts.push(ustarHeader(`zeros-${i}`, size), Buffer.alloc(Math.ceil(size / 512) * 512));
  }
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts), { level: 9 });
}

/** A raw ustar header, for archives a tar library would refuse to write (hostile names, bombs). */
export function ustarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 99), 0, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
