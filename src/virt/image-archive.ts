/**
 * Reads a `docker save` archive as it streams past and says which engine image it holds,
 * or why it is not a loadable image archive — without writing anything anywhere.
 *
 * Both layouts Docker writes are understood: the legacy one (`<config-hex>.json`,
 * `<layer-id>/layer.tar`, `manifest.json`) and the OCI one of Docker ≥ 25 (`blobs/sha256/<hex>`,
 * `index.json`, `oci-layout`, and the same `manifest.json`). `manifest.json` is the index both
 * share, and it usually comes LAST, so every small file is hashed on the way (sha256, never
 * kept) and the check happens at the end.
 *
 * The engine id of an image is the sha256 of its config JSON (the file manifest.json's
 * `Config` names), which is what `docker image inspect` reports as `Id`.
 *
 * Memory stays flat: one entry is in flight at a time, only manifest.json (≤ 1 MiB) is
 * buffered, and the rest is hashed or skipped as it passes.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { finished, Readable, Writable } from 'node:stream';
import tar from 'tar-stream';
import { InvalidImageArchive } from './driver';

export interface ImageArchiveInfo {
  /** Engine id: "sha256:" + sha256 of the config JSON. */
  imageId: string;
  /** Names the archive carries (manifest.json RepoTags); often empty for images saved by id. */
  repoTags: string[];
  /** Number of layers manifest.json lists. */
  layers: number;
  /**
   * Where config and layers lie in the bytes as they came, when those are a plain tar (not
   * compressed as a whole): what a registry needs to serve them as ranges (src/registry).
   */
  layout?: ArchiveLayout;
}

/** A file of the archive: where its data starts in the archive, its size, and its first bytes. */
export interface ArchiveFile {
  offset: number;
  size: number;
  /** Hex sha256, for the files small enough to be hashed on the way (≤ 8 MiB). */
  sha256?: string;
  /** Up to its first 4 bytes (to tell a compressed layer). */
  head: Buffer;
}

export interface ArchiveLayout {
  /** The archive holds the OCI image layout (index.json or oci-layout). */
  oci: boolean;
  config: ArchiveFile & { sha256: string; bytes: Buffer };
  /** In manifest.json's order. */
  layers: ArchiveFile[];
}

/** Files up to this size are hashed as they pass (configs are a few KiB). */
const HASH_LIMIT = 8 * 1024 * 1024;
/** JSON files up to this size are kept until manifest.json says which one is the config. */
const CONFIG_LIMIT = 4 * 1024 * 1024;
const MANIFEST_LIMIT = 1024 * 1024;
const MAX_ENTRIES = 100_000;
const MAX_LINK_HOPS = 16;
/** Every tar writer Docker or a user would use ends with two 512-byte zero blocks. */
const END_OF_ARCHIVE = 1024;

type Entry =
  | { kind: 'file'; size: number; sha256?: string; offset: number; head: Buffer; body?: Buffer }
  | { kind: 'dir' }
  | { kind: 'link'; target: string };

const fmtBytes = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${n} bytes`);

/**
 * Normalises a path inside the archive ("./a//b/" → "a/b"); refuses absolute paths and "..".
 * Returns "" for the archive root.
 */
export function archivePath(raw: string, what: string): string {
  if (raw.startsWith('/')) throw new InvalidImageArchive(`${what} '${raw}' is an absolute path; image archives hold relative paths only.`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new InvalidImageArchive(`${what} '${raw}' contains '..'; image archives may not refer outside themselves.`);
  return parts.join('/');
}

/** Resolves a symlink target relative to the link's directory; refuses targets outside the archive. */
function symlinkTarget(linkPath: string, target: string): string {
  if (target.startsWith('/')) throw new InvalidImageArchive(`symlink '${linkPath}' points outside the archive (to the absolute path '${target}').`);
  const parts = linkPath.split('/').slice(0, -1);
  for (const p of target.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) throw new InvalidImageArchive(`symlink '${linkPath}' points outside the archive (to '${target}').`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.join('/');
}

function sniffCompression(head: Buffer): 'gzip' | 'plain' {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new InvalidImageArchive('The archive is xz-compressed, which is not supported: upload the uncompressed `docker save` output (or gzip it).');
  }
  if (head.subarray(0, 3).toString('latin1') === 'BZh') {
    throw new InvalidImageArchive('The archive is bzip2-compressed, which is not supported: upload the uncompressed `docker save` output (or gzip it).');
  }
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    throw new InvalidImageArchive('The archive is zstd-compressed, which is not supported: upload the uncompressed `docker save` output (or gzip it).');
  }
  return 'plain';
}

/**
 * Parses a `docker save` tar stream (optionally gzipped), consuming it fully, and resolves
 * to the image it holds. Rejects with InvalidImageArchive saying why otherwise: not a tar,
 * empty, truncated, paths or links leaving the archive, special files, no manifest.json,
 * a manifest naming a missing config or layer or more than one image, a config whose content
 * does not match its digest name, or more than `maxBytes` of (decompressed) tar data.
 *
 * On rejection the rest of `source` is drained (never destroyed: it belongs to the caller).
 */
export async function inspectImageArchive(source: Readable, opts: { maxBytes: number }): Promise<ImageArchiveInfo> {
  const entries = new Map<string, Entry>();
  let manifestText: string | undefined;
  let entryCount = 0;
  let firstEntryName: string | undefined;
  let lastEntryName: string | undefined;
  /** Tar bytes (after decompression) fed to the parser, and where the last entry's data ends. */
  let tarBytes = 0;
  let lastEntryEnd = 0;
  let rawBytes = 0;
  let compression: 'gzip' | 'plain' | undefined;

  const extract = tar.extract();
  let gunzip: zlib.Gunzip | undefined;
  let settled = false;
  let rejectWith: (e: Error) => void = () => undefined;

  const fail = (e: unknown) => {
    if (settled) return;
    settled = true;
    const err = e instanceof InvalidImageArchive ? e : new InvalidImageArchive(describeError(e));
    source.unpipe(intake);
    source.on('error', () => undefined);
    if (!source.destroyed) source.resume();
    gunzip?.destroy();
    extract.destroy();
    rejectWith(err);
  };

  const describeError = (e: unknown): string => {
    const msg = e instanceof Error ? e.message : String(e);
    if (/Invalid tar header|Unknown format|Invalid header/i.test(msg)) {
      return entryCount === 0
        ? 'The data is not a tar archive: upload the output of `docker save`.'
        : `The tar archive is corrupt: an invalid header follows '${lastEntryName}'.`;
    }
    if (/Unexpected end of data/i.test(msg)) {
      return entryCount === 0 ? 'The data is not a tar archive (it is too short): upload the output of `docker save`.' : `The archive is truncated: it ends inside '${lastEntryName}'.`;
    }
    if (/Header exceeds max size/i.test(msg)) return 'The tar archive is corrupt: an extended header is larger than 4 MiB.';
    return `The image archive could not be read: ${msg}`;
  };

  const countTar = (n: number) => {
    tarBytes += n;
    if (tarBytes > opts.maxBytes) {
      throw new InvalidImageArchive(compression === 'gzip'
        ? `The archive's decompressed size exceeds the limit of ${fmtBytes(opts.maxBytes)}.`
        : `The archive exceeds the limit of ${fmtBytes(opts.maxBytes)}.`);
    }
  };

  /** Writes tar bytes into the parser, resolving when it can take more. */
  const feedTar = (chunk: Buffer, cb: (err?: Error | null) => void) => {
    try {
      countTar(chunk.length);
    } catch (e) {
      fail(e);
      return cb();
    }
    if (extract.write(chunk)) cb();
    else extract.once('drain', () => cb());
  };

  extract.on('entry', (header, stream, next) => {
    const proceed = () => {
      if (!settled) next();
    };
    try {
      entryCount += 1;
      if (entryCount > MAX_ENTRIES) throw new InvalidImageArchive(`The archive holds more than ${MAX_ENTRIES} entries; that is not a docker image.`);
      const name = archivePath(header.name, 'entry');
      firstEntryName ??= name;
      lastEntryName = name || header.name;
      const size = header.size ?? 0;
      const dataStart = (header as tar.Header & { byteOffset?: number }).byteOffset ?? tarBytes;
      lastEntryEnd = dataStart + Math.ceil(size / 512) * 512;
      if (size > opts.maxBytes) throw new InvalidImageArchive(`entry '${name}' declares ${fmtBytes(size)}, more than the limit of ${fmtBytes(opts.maxBytes)}.`);

      switch (header.type) {
        case 'directory':
          entries.set(name, { kind: 'dir' });
          stream.resume();
          stream.on('end', proceed);
          return;
        case 'symlink':
          entries.set(name, { kind: 'link', target: symlinkTarget(name, header.linkname ?? '') });
          stream.resume();
          stream.on('end', proceed);
          return;
        case 'link': {
          // Hard link targets are archive paths (relative to the archive root, not to the link).
          const raw = header.linkname ?? '';
          const parts = raw.split('/')
            .filter((x: string) => x !== '' && x !== '.');
          if (raw.startsWith('/') || parts.includes('..') || parts.length === 0) {
            throw new InvalidImageArchive(`hard link '${name}' points outside the archive (to '${raw}').`);
          }
          entries.set(name, { kind: 'link', target: parts.join('/') });
          stream.resume();
          stream.on('end', proceed);
          return;
        }
        case 'file':
        case 'contiguous-file':
          break;
        default:
          throw new InvalidImageArchive(`entry '${name}' is a ${header.type}; image archives hold only files, directories and links.`);
      }

      // The first bytes (to tell a compressed layer) and, for what may be the config (JSON of a
      // few MiB at most), the whole body, which the registry serves from the database.
      let head = Buffer.alloc(0);
      let kept: Buffer[] | undefined;
      stream.on('data', (d: unknown) => {
        const b = d as Buffer;
        if (head.length < 4) {
          if (head.length === 0 && b.length > 0 && b[0] === 0x7b && size <= CONFIG_LIMIT && name !== 'manifest.json') kept = [];
          head = Buffer.concat([head, b.subarray(0, 4 - head.length)]);
        }
        kept?.push(b);
      });
      const file = (sha256?: string) => ({ kind: 'file' as const, size, sha256, offset: dataStart, head, body: kept && Buffer.concat(kept) });
      if (name === 'manifest.json') {
        if (size > MANIFEST_LIMIT) throw new InvalidImageArchive(`manifest.json is ${fmtBytes(size)}; a docker manifest is a few KiB.`);
        const parts: Buffer[] = [];
        stream.on('data', (d: unknown) => { parts.push(d as Buffer); });
        stream.on('end', () => {
          manifestText = Buffer.concat(parts).toString('utf8');
          entries.set(name, file());
          proceed();
        });
      } else if (size <= HASH_LIMIT) {
        const hash = crypto.createHash('sha256');
        stream.on('data', (d: unknown) => { hash.update(d as Buffer); });
        stream.on('end', () => {
          entries.set(name, file(hash.digest('hex')));
          proceed();
        });
      } else {
        stream.on('end', () => {
          entries.set(name, file());
          proceed();
        });
        stream.resume();
      }
      stream.on('error', (e: Error) => fail(e));
    } catch (e) {
      stream.on('error', () => undefined);
      stream.resume();
      fail(e);
    }
  });
  extract.on('error', (e: Error) => fail(e));

  const extractDone = new Promise<void>((resolve) => {
    extract.on('finish', () => resolve());
    extract.on('close', () => resolve());
  });

  let head = Buffer.alloc(0);
  const intake: Writable = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _enc, cb) {
      if (settled) return cb();
      rawBytes += chunk.length;
      if (compression === undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 6) return cb();
        try {
          compression = sniffCompression(head);
        } catch (e) {
          fail(e);
          return cb();
        }
        chunk = head;
        head = Buffer.alloc(0);
        if (compression === 'gzip') startGunzip();
      }
      if (gunzip) {
        if (gunzip.write(chunk)) cb();
        else gunzip.once('drain', () => cb());
      } else feedTar(chunk, cb);
    },
    final(cb) {
      if (settled) return cb();
      const endTar = () => {
        extract.end(undefined);
        extractDone.then(() => cb());
      };
      if (compression === undefined) {
        if (rawBytes === 0) {
          fail(new InvalidImageArchive('The archive is empty (0 bytes): upload the output of `docker save`.'));
          return cb();
        }
        // Fewer than 6 bytes: certainly not a tar, but let the parser say so.
        compression = 'plain';
        feedTar(head, () => endTar());
        return;
      }
      if (gunzip) {
        gunzip.once('end', endTar);
        gunzip.end();
      } else endTar();
    },
  });

  function startGunzip() {
    gunzip = zlib.createGunzip();
    gunzip.on('data', (d: Buffer) => {
      try {
        countTar(d.length);
      } catch (e) {
        fail(e);
        return;
      }
      if (!extract.write(d)) {
        gunzip!.pause();
        extract.once('drain', () => gunzip!.resume());
      }
    });
    gunzip.on('error', (e: Error) => fail(new InvalidImageArchive(`The gzip stream is corrupt or truncated: ${e.message}.`)));
  }

  const result = new Promise<ImageArchiveInfo>((resolve, reject) => {
    rejectWith = reject;
    intake.on('finish', () => {
      if (settled) return;
      try {
        const info = conclude();
        settled = true;
        resolve(info);
      } catch (e) {
        fail(e);
      }
    });
  });

  finished(source, { writable: false }, (err) => {
    if (err) fail(new InvalidImageArchive(`The upload stream broke before the archive was complete: ${err.message}.`));
  });
  source.pipe(intake);

  function conclude(): ImageArchiveInfo {
    if (entryCount === 0) throw new InvalidImageArchive('The data is not a tar archive (it holds no entries): upload the output of `docker save`.');
    if (tarBytes < lastEntryEnd + END_OF_ARCHIVE) {
      throw new InvalidImageArchive(`The archive is truncated: it ends after '${lastEntryName}' without the end-of-archive marker.`);
    }
    if (manifestText === undefined) {
      throw new InvalidImageArchive('The archive has no manifest.json, so it is not `docker save` output (a root file system tarball needs `docker import`, not an image upload).');
    }
    let manifest: unknown;
    try {
      manifest = JSON.parse(manifestText);
    } catch {
      throw new InvalidImageArchive('manifest.json is not valid JSON.');
    }
    if (!Array.isArray(manifest)) throw new InvalidImageArchive('manifest.json must be a JSON list of images.');
    if (manifest.length === 0) throw new InvalidImageArchive('manifest.json names no image.');
    if (manifest.length > 1) {
      throw new InvalidImageArchive(`The archive holds ${manifest.length} images; a Glance image holds exactly one (save one image per archive).`);
    }
    const m = manifest[0] as { Config?: unknown; Layers?: unknown; RepoTags?: unknown };
    if (!m || typeof m !== 'object' || typeof m.Config !== 'string') throw new InvalidImageArchive('manifest.json does not name a Config.');
    if (!Array.isArray(m.Layers) || m.Layers.some((l) => typeof l !== 'string')) throw new InvalidImageArchive('manifest.json does not list the Layers as paths.');
    if (m.RepoTags !== null && m.RepoTags !== undefined && (!Array.isArray(m.RepoTags) || m.RepoTags.some((t) => typeof t !== 'string'))) {
      throw new InvalidImageArchive('manifest.json has RepoTags that are not a list of names.');
    }

    const configPath = archivePath(m.Config, 'manifest.json Config');
    const config = resolveFile(configPath);
    if (!config) throw new InvalidImageArchive(`manifest.json names the config '${m.Config}', which is not in the archive.`);
    if (!config.sha256) throw new InvalidImageArchive(`The config '${m.Config}' is ${fmtBytes(config.size)}; an image config is a few KiB.`);
    const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(configPath);
    if (named && named[1] !== config.sha256) {
      throw new InvalidImageArchive(`The config '${m.Config}' does not match its digest (its content hashes to sha256:${config.sha256}).`);
    }
    const layers = (m.Layers as string[]).map((l) => {
      const p = archivePath(l, 'manifest.json layer');
      const layer = resolveFile(p);
      if (!layer) throw new InvalidImageArchive(`manifest.json names the layer '${l}', which is not in the archive.`);
      return layer;
    });
    const fileOf = (e: Extract<Entry, { kind: 'file' }>): ArchiveFile => ({ offset: e.offset, size: e.size, sha256: e.sha256, head: e.head });
    const layout: ArchiveLayout | undefined = compression === 'plain' && config.body
      ? { oci: entries.has('index.json') || entries.has('oci-layout'), config: { ...fileOf(config), sha256: config.sha256, bytes: config.body }, layers: layers.map(fileOf) }
      : undefined;
    return { imageId: `sha256:${config.sha256}`, repoTags: (m.RepoTags as string[] | null | undefined) ?? [], layers: layers.length, layout };
  }

  /** Follows links to a regular file; undefined if it is missing (or a link loop). */
  function resolveFile(p: string): Extract<Entry, { kind: 'file' }> | undefined {
    let at = p;
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const e = entries.get(at);
      if (!e) return undefined;
      if (e.kind === 'file') return e;
      if (e.kind === 'dir') return undefined;
      at = e.target;
    }
    return undefined;
  }

  return result;
}
