/**
 * The registry's view of a `docker save` archive already in the image store: where its config
 * and layers lie inside the file, their digests, and a registry manifest naming them, so that
 * GET manifest and GET blob are answered from byte ranges of the stored archive (no second copy).
 *
 *   stored archive ─► tar-stream ─┬─ every file entry: data offset, size, sha256, first bytes
 *                                 └─ manifest.json (both layouts write it) ─► which are config and layers
 *                                    ─► config bytes, layer descriptors, diff_ids, manifest
 *
 * Both layouts Docker writes are read: the legacy one (`<config-hex>.json`, `<id>/layer.tar`,
 * `manifest.json`) and the OCI one of Docker ≥ 25 (`blobs/sha256/<hex>`, `index.json`,
 * `oci-layout`, and the same `manifest.json`). A layer's digest is that of its bytes exactly as
 * stored (a layer kept gzip-compressed is served compressed, with a gzip media type); its
 * diff_id is the config's, which is what the engine checks after decompressing. The manifest is
 * Docker schema 2 for a legacy archive and OCI for an OCI-layout one (or when a layer is zstd,
 * which schema 2 cannot name).
 *
 * Ranges work only on a plain tar: a gzip-compressed archive upload cannot be served this way
 * and is refused (ArchiveNotServable), as is anything the upload's inspector would refuse.
 * One pass, memory flat: entries are hashed as they pass; only manifest.json and the config
 * (a few KiB each) are kept.
 */
import crypto from 'node:crypto';
import { finished, Readable } from 'node:stream';
import tar from 'tar-stream';
import type { ArchiveLayout } from '../virt/image-archive';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** A blob that is a byte range of the stored archive. */
export interface ArchiveBlob {
  /** "sha256:<hex>" of the bytes as stored. */
  digest: string;
  size: number;
  /** Where the bytes start inside the archive file. */
  offset: number;
  mediaType: string;
}

export interface ArchiveLayer extends ArchiveBlob {
  compression: LayerCompression;
}

export interface ArchiveIndex {
  /** The layout the archive was written in. */
  layout: 'docker' | 'oci';
  /** The engine image id: the config's digest. */
  imageId: string;
  /** The config blob; its bytes are kept too (a few KiB). */
  config: ArchiveBlob & { bytes: Buffer };
  layers: ArchiveLayer[];
  /** The config's rootfs.diff_ids: the digests of the uncompressed layers, as the engine checks them. */
  diffIds: string[];
  /** The registry manifest naming config and layers; its digest is the image's digest in the registry. */
  manifest: { mediaType: string; digest: string; bytes: Buffer };
  /** manifest.json's RepoTags. */
  repoTags: string[];
}

/** The archive cannot be served by byte ranges (compressed as a whole, malformed, …): `reason` says why. */
export class ArchiveNotServable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ArchiveNotServable';
  }
}

interface FileEntry { kind: 'file'; offset: number; size: number; sha256: string; head: Buffer }
type Entry = FileEntry | { kind: 'link'; target: string } | { kind: 'dir' };

const MANIFEST_LIMIT = 1024 * 1024;
/** Image configs are KiB; a JSON file larger than this is not one. */
const CONFIG_LIMIT = 4 * 1024 * 1024;
const MAX_LINK_HOPS = 16;

const sha256hex = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** "./a//b/" → "a/b"; refuses absolute paths and "..". */
function normalise(raw: string): string {
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (raw.startsWith('/') || parts.includes('..')) throw new ArchiveNotServable(`the archive path '${raw}' leaves the archive`);
  return parts.join('/');
}

function compressionOf(head: Buffer): LayerCompression {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  return 'none';
}

function layerMediaType(oci: boolean, c: LayerCompression): string {
  if (c === 'zstd') return MEDIA.ociLayerZstd;
  if (oci) return c === 'gzip' ? MEDIA.ociLayerGzip : MEDIA.ociLayer;
  return c === 'gzip' ? MEDIA.dockerLayerGzip : MEDIA.dockerLayer;
}

/**
 * Reads a stored `docker save` archive (a plain tar) from its first byte to its end and
 * resolves to its index. Rejects with ArchiveNotServable when it is compressed as a whole or is
 * not a one-image docker archive.
 */
export async function indexImageArchive(source: Readable): Promise<ArchiveIndex> {
  const entries = new Map<string, Entry>();
  let manifestText: string | undefined;
  let configBytes: Map<string, Buffer> | undefined = new Map();
  let first = true;
  const extract = tar.extract();

  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const offset = (header as tar.Header & { byteOffset: number }).byteOffset;
      const size = header.size ?? 0;
      let name: string;
      try {
        name = normalise(header.name);
      } catch (e) {
        stream.resume();
        return reject(e);
      }
      if (header.type === 'directory') entries.set(name, { kind: 'dir' });
      else if (header.type === 'symlink' || header.type === 'link') {
        const raw = header.linkname ?? '';
        // A hard link names an archive path; a symlink, a path relative to its directory.
        const target = header.type === 'link' ? raw : [...name.split('/').slice(0, -1), raw].join('/');
        try {
          entries.set(name, { kind: 'link', target: normaliseLink(target) });
        } catch (e) {
          stream.resume();
          return reject(e);
        }
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        stream.resume();
        stream.on('end', () => next());
        return;
      }
      const hash = crypto.createHash('sha256');
      let head = Buffer.alloc(0);
      // manifest.json, and whatever may be a config (JSON of at most a few MiB), is kept until
      // manifest.json says which file is the config; layers are tars and are only hashed.
      let keep: Buffer[] | undefined;
      stream.on('data', (data: unknown) => {
        const d = data as Buffer;
        hash.update(d);
        if (head.length === 0 && d.length > 0) {
          keep = name === 'manifest.json' ? (size <= MANIFEST_LIMIT ? [] : undefined) : d[0] === 0x7b && size <= CONFIG_LIMIT ? [] : undefined;
        }
        if (head.length < 4) head = Buffer.concat([head, d.subarray(0, 4 - head.length)]);
        keep?.push(d);
      });
      stream.on('end', () => {
        entries.set(name, { kind: 'file', offset, size, sha256: hash.digest('hex'), head });
        if (keep) {
          const bytes = Buffer.concat(keep);
          if (name === 'manifest.json') manifestText = bytes.toString('utf8');
          // Small files may be the config: kept until manifest.json says which one (configs are KiB, few such files exist).
          else configBytes?.set(name, bytes);
        }
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', () => resolve());
    extract.on('error', (e: Error) => reject(new ArchiveNotServable(`the archive is not a readable tar: ${e.message}`)));
  });
  done.catch(() => undefined);

  const fed = new Promise<void>((resolve, reject) => {
    source.on('data', (chunk: Buffer) => {
      if (first) {
        first = false;
        if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
          source.destroy();
          return reject(new ArchiveNotServable('the archive is gzip-compressed as a whole, so its layers are not byte ranges of it'));
        }
      }
      if (!extract.write(chunk)) {
        source.pause();
        extract.once('drain', () => source.resume());
      }
    });
    finished(source, (err) => {
      if (err) return reject(err);
      extract.end(undefined);
      resolve();
    });
  });
  await fed;
  await done;

  if (manifestText === undefined) throw new ArchiveNotServable('the archive has no manifest.json');
  const index = conclude(manifestText, entries, configBytes);
  configBytes = undefined;
  return index;
}

function normaliseLink(target: string): string {
  const parts: string[] = [];
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new ArchiveNotServable(`a link points outside the archive (to '${target}')`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}

function resolveFile(entries: Map<string, Entry>, p: string): { path: string; file: FileEntry } | undefined {
  let at = p;
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    const e = entries.get(at);
    if (!e || e.kind === 'dir') return undefined;
    if (e.kind === 'file') return { path: at, file: e };
    at = e.target;
  }
  return undefined;
}

function conclude(manifestText: string, entries: Map<string, Entry>, small: Map<string, Buffer>): ArchiveIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(manifestText);
  } catch {
    throw new ArchiveNotServable('manifest.json is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length !== 1) throw new ArchiveNotServable('manifest.json does not name exactly one image');
  const m = parsed[0] as { Config?: unknown; Layers?: unknown; RepoTags?: unknown };
  if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers) || m.Layers.some((l) => typeof l !== 'string')) {
    throw new ArchiveNotServable('manifest.json does not name a Config and its Layers');
  }
  const cfg = resolveFile(entries, normalise(m.Config));
  const cfgBytes = cfg && small.get(cfg.path);
  if (!cfg || !cfgBytes) throw new ArchiveNotServable(`the config '${m.Config}' is not in the archive`);
  const diffIds = diffIdsOf(cfgBytes, m.Layers.length);
  if (!diffIds) throw new ArchiveNotServable(`the config '${m.Config}' does not list one rootfs.diff_id per layer of manifest.json`);
  const files = (m.Layers as string[]).map((l) => {
    const f = resolveFile(entries, normalise(l));
    if (!f) throw new ArchiveNotServable(`the layer '${l}' is not in the archive`);
    return f.file;
  });
  const compressions = files.map((f) => compressionOf(f.head));
  return buildIndex({
    oci: entries.has('oci-layout') || entries.has('index.json'),
    config: { digest: `sha256:${cfg.file.sha256}`, size: cfg.file.size, offset: cfg.file.offset, bytes: cfgBytes },
    layers: files.map((f, i) => ({ digest: `sha256:${f.sha256}`, size: f.size, offset: f.offset, compression: compressions[i] })),
    diffIds,
    repoTags: Array.isArray(m.RepoTags) ? (m.RepoTags as unknown[]).filter((t): t is string => typeof t === 'string') : [],
  });
}

/** The index, from where the blobs are and what they hash to: the manifest is made here. */
function buildIndex(a: {
  oci: boolean;
  config: { digest: string; size: number; offset: number; bytes: Buffer };
  layers: { digest: string; size: number; offset: number; compression: LayerCompression }[];
  diffIds: string[];
  repoTags: string[];
}): ArchiveIndex {
  const oci = a.oci || a.layers.some((l) => l.compression === 'zstd');
  const config = { ...a.config, mediaType: oci ? MEDIA.ociConfig : MEDIA.dockerConfig };
  const layers: ArchiveLayer[] = a.layers.map((l) => ({ ...l, mediaType: layerMediaType(oci, l.compression) }));
  const manifestMedia = oci ? MEDIA.ociManifest : MEDIA.dockerManifest;
  const bytes = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: manifestMedia,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  return {
    layout: oci ? 'oci' : 'docker',
    imageId: config.digest,
    config,
    layers,
    diffIds: a.diffIds,
    manifest: { mediaType: manifestMedia, digest: `sha256:${sha256hex(bytes)}`, bytes },
    repoTags: a.repoTags,
  };
}

/** The diff_ids a config lists, or undefined when it lists none that fit `layers` layers. */
function diffIdsOf(config: Buffer, layers: number): string[] | undefined {
  try {
    const ids = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
    return Array.isArray(ids) && ids.length === layers && ids.every((d) => typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d)) ? ids as string[] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The index from what the upload's one pass saw (src/virt/image-archive.ts `layout`), with no
 * second read: offsets and the config come from the pass, and an uncompressed layer's digest is
 * its diff_id, which the engine checked against the layer's bytes when it loaded them (moby
 * refuses a load whose layer hashes otherwise; a snapshot's archive is the engine's own save).
 * So this is for archives an engine loaded or wrote. A compressed layer too big to have been
 * hashed on the way leaves it undefined: the index is then made on first use.
 */
export function indexFromLayout(layout: ArchiveLayout, repoTags: string[]): ArchiveIndex | undefined {
  const diffIds = diffIdsOf(layout.config.bytes, layout.layers.length);
  if (!diffIds) return undefined;
  const layers: { digest: string; size: number; offset: number; compression: LayerCompression }[] = [];
  for (const [i, l] of layout.layers.entries()) {
    const compression = compressionOf(l.head);
    const digest = l.sha256 ? `sha256:${l.sha256}` : compression === 'none' ? diffIds[i] : undefined;
    if (!digest) return undefined;
    layers.push({ digest, size: l.size, offset: l.offset, compression });
  }
  const c = layout.config;
  return buildIndex({ oci: layout.oci, config: { digest: `sha256:${c.sha256}`, size: c.size, offset: c.offset, bytes: c.bytes }, layers, diffIds, repoTags });
}

/** The config or a layer of the index, by digest (undefined when it names neither). */
export function findBlob(index: ArchiveIndex, digest: string): ArchiveBlob | undefined {
  if (index.config.digest === digest) return index.config;
  return index.layers.find((l) => l.digest === digest);
}

/** The store's ranged read, as the archive's blobs need it (ImageStore.readRange). */
export interface RangeReader {
  readRange(imageId: string, start: number, length: number): Promise<Readable>;
}

/**
 * Opens a blob's bytes (all of them, or `range` [start, end] inclusive within it, as an HTTP
 * Range asks) from the stored archive of Glance image `storeId`. Throws RangeError for a range
 * outside the blob.
 */
export async function openArchiveBlob(store: RangeReader, storeId: string, blob: ArchiveBlob, range?: { start: number; end: number }): Promise<Readable> {
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size - 1;
  if (start < 0 || end < start - 1 || end >= blob.size) throw new RangeError(`bytes ${start}-${end} are outside the blob of ${blob.size} bytes`);
  return store.readRange(storeId, blob.offset + start, end - start + 1);
}

/** The index as JSON text, to persist (Buffers as base64). */
export function serializeIndex(index: ArchiveIndex): string {
  return JSON.stringify({
    ...index,
    config: { ...index.config, bytes: index.config.bytes.toString('base64') },
    manifest: { ...index.manifest, bytes: index.manifest.bytes.toString('base64') },
  });
}

/** The inverse of serializeIndex. */
export function parseIndex(text: string): ArchiveIndex {
  const o = JSON.parse(text) as Omit<ArchiveIndex, 'config' | 'manifest'> & { config: ArchiveBlob & { bytes: string }; manifest: { mediaType: string; digest: string; bytes: string } };
  return {
    ...o,
    config: { ...o.config, bytes: Buffer.from(o.config.bytes, 'base64') },
    manifest: { ...o.manifest, bytes: Buffer.from(o.manifest.bytes, 'base64') },
  };
}
