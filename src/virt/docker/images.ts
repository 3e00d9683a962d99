/**
 * Images in one Docker engine, by engine id only (`sha256:…`), never by name.
 *
 * Loading rewrites the archive on its way in: `RepoTags` in manifest.json (and image-name
 * annotations in an OCI index.json) are dropped and the legacy `repositories` file is skipped,
 * so an uploaded archive can never (re)tag a name on a shared engine (say `busybox:latest`,
 * which other workloads on the host may run). Layers and config pass through untouched, so the
 * image id is the one the archive declares.
 */
import { Readable, Transform, TransformCallback, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type Docker from 'dockerode';
import tar from 'tar-stream';
import { HypervisorUnavailable, InvalidImageArchive } from '../driver';
import { call, engineMessage, isUnreachable, statusOf, translate } from './client';
import { JsonObjectSplitter } from './json-stream';

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const MAX_MANIFEST_BYTES = 1 << 20;

export class DockerImages {
  constructor(private readonly docker: Docker, private readonly host: string) {}

  async hasImage(imageRef: string): Promise<boolean> {
    if (!IMAGE_ID.test(imageRef)) return false;
    try {
      const info = await this.docker.getImage(imageRef).inspect();
      // The engine also resolves names and short ids; only the exact id counts.
      return info.Id === imageRef;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      throw translate(this.host, e);
    }
  }

  async loadImage(archive: Readable): Promise<void> {
    let sourceError: Error | undefined;
    let tarError: Error | undefined;
    // A source that fails (a refused archive, a client gone) must end the engine request too:
    // otherwise the engine waits for the rest of a body that never comes.
    const abort = new AbortController();
    let ended = false;
    archive.on('end', () => { ended = true; });
    archive.on('close', () => { if (!ended) abort.abort(); });
    archive.on('error', (e) => {
      sourceError ??= e;
      abort.abort();
    });
    const body = withoutRepoTags(archive, (e) => {
      tarError ??= e;
      abort.abort();
    });

    let messages: unknown[];
    try {
      const res = (await this.docker.loadImage(body, { quiet: true, abortSignal: abort.signal })) as unknown as Readable;
      messages = await readJsonStream(res);
    } catch (e) {
      body.destroy();
      if (tarError) throw new InvalidImageArchive(`The image data is not a docker-save archive: ${tarError.message}`);
      if (sourceError) throw sourceError;
      if (isUnreachable(e)) throw new HypervisorUnavailable(this.host, e);
      if (statusOf(e) !== undefined && statusOf(e)! < 500) throw new InvalidImageArchive(`The compute host refused the image archive: ${engineMessage(e)}`);
      throw translate(this.host, e);
    }
    if (tarError) throw new InvalidImageArchive(`The image data is not a docker-save archive: ${tarError.message}`);
    if (sourceError) throw sourceError;
    for (const m of messages) {
      const msg = m as { error?: string; errorDetail?: { message?: string } };
      const text = msg.errorDetail?.message ?? msg.error;
      if (text) throw new InvalidImageArchive(`The compute host refused the image archive: ${cleanLoadError(text)}`);
    }
  }

  async removeImage(imageRef: string): Promise<void> {
    if (!IMAGE_ID.test(imageRef)) return;
    try {
      await this.docker.getImage(imageRef).remove({ force: false, noprune: false });
    } catch (e) {
      // 404: already gone; 409: an instance (or another tag) still uses it — by contract, a no-op.
      if (statusOf(e) === 404 || statusOf(e) === 409) return;
      throw translate(this.host, e);
    }
  }

  async exportImage(imageRef: string): Promise<Readable> {
    if (!IMAGE_ID.test(imageRef)) throw new Error(`Image ${imageRef} is not on compute host ${this.host}.`);
    return call(this.host, async () => {
      try {
        return (await this.docker.getImage(imageRef).get()) as unknown as Readable;
      } catch (e) {
        if (statusOf(e) === 404) throw new Error(`Image ${imageRef} is not on compute host ${this.host}.`);
        throw e;
      }
    });
  }
}

/** Reads a whole JSON-message response (small: image load answers with a line or two). */
export async function readJsonStream(res: Readable): Promise<unknown[]> {
  const splitter = new JsonObjectSplitter();
  const out: unknown[] = [];
  for await (const chunk of res) out.push(...splitter.push(chunk as Buffer));
  return out;
}

/** Engine text names its own temporary paths; keep the part a user can act on. */
function cleanLoadError(text: string): string {
  return text.replace(/\/var\/lib\/docker\/tmp\/[^\s:]*\/?/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * Streams `archive` through a tar rewriter that drops RepoTags and `repositories`.
 * A malformed tar ends the returned stream with an error (reported through `onTarError`),
 * which aborts the upload to the engine, so the engine loads nothing.
 */
function withoutRepoTags(archive: Readable, onTarError: (e: Error) => void): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  // Until docker-modem attaches its own listener, an early failure would be an uncaught error.
  pack.on('error', () => undefined);
  extract.on('entry', (header, entry, next) => {
    const name = header.name.replace(/^\.\//, '');
    if (name === 'repositories') {
      entry.on('end', () => next());
      entry.resume();
      return;
    }
    if ((name === 'manifest.json' || name === 'index.json') && header.type === 'file') {
      const chunks: Buffer[] = [];
      let size = 0;
      entry.on('data', (c: unknown) => {
        const b = c as Buffer;
        size += b.length;
        if (size <= MAX_MANIFEST_BYTES) chunks.push(b);
      });
      entry.on('end', () => {
        if (size > MAX_MANIFEST_BYTES) return next(new Error('manifest.json is too large'));
        const body = name === 'index.json' ? unnameIndex(Buffer.concat(chunks)) : untag(Buffer.concat(chunks));
        pack.entry({ ...header, size: body.length }, body, (err) => next(err ?? undefined));
      });
      return;
    }
    const sink = pack.entry(header, (err) => next(err ?? undefined));
    // A torn-down pack destroys the entry in progress: its error reaches next() above.
    sink.on('error', () => undefined);
    entry.on('error', () => undefined);
    entry.pipe(sink);
  });
  extract.on('finish', () => pack.finalize());
  pipeline(archive, new MaybeGunzip(), extract, (err) => {
    if (!err) return;
    onTarError(err);
    pack.destroy(err);
  });
  return pack as unknown as Readable;
}

/**
 * index.json (the OCI layout of Docker >= 25) names images through annotations, which newer
 * engines apply on load like RepoTags: drop them too.
 */
function unnameIndex(index: Buffer): Buffer {
  try {
    const parsed = JSON.parse(index.toString('utf8')) as { manifests?: Array<{ annotations?: Record<string, string> }> };
    if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.manifests)) return index;
    for (const m of parsed.manifests) {
      if (m?.annotations) {
        delete m.annotations['io.containerd.image.name'];
        delete m.annotations['org.opencontainers.image.ref.name'];
      }
    }
    return Buffer.from(JSON.stringify(parsed));
  } catch {
    return index;
  }
}

/** manifest.json with every RepoTags emptied; unparseable input passes unchanged (the engine rejects it). */
function untag(manifest: Buffer): Buffer {
  try {
    const parsed = JSON.parse(manifest.toString('utf8')) as unknown;
    if (!Array.isArray(parsed)) return manifest;
    for (const m of parsed) if (m && typeof m === 'object') (m as Record<string, unknown>).RepoTags = null;
    return Buffer.from(JSON.stringify(parsed));
  } catch {
    return manifest;
  }
}

class MaybeGunzip extends Transform {
  private gz?: zlib.Gunzip;
  private decided = false;
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (!this.decided) {
      this.decided = true;
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        this.gz = zlib.createGunzip();
        this.gz.on('data', (d: Buffer) => { this.push(d); });
        this.gz.on('error', (e) => this.destroy(e));
      }
    }
    if (!this.gz) return cb(null, chunk);
    if (this.gz.write(chunk)) cb(); else this.gz.once('drain', () => cb());
  }
  override _flush(cb: TransformCallback): void {
    if (!this.gz) return cb();
    this.gz.once('end', () => cb());
    this.gz.end();
  }
}
