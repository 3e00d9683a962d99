/**
 * Images in one Docker engine, by engine id only (`sha256:…`), never by name.
 *
 * Loading rewrites the archive on its way in: `RepoTags` in manifest.json (and image-name
 * annotations in an OCI index.json) are dropped and the legacy `repositories` file is skipped,
 * so an uploaded archive can never (re)tag a name on a shared engine (say `busybox:latest`,
 * which other workloads on the host may run). Layers and config pass through untouched, so the
 * image id is the one the archive declares.
 *
 * Given a replay, a big base layer is imported into the engine while it streams instead of
 * being unpacked to the engine's temporary copy first (base-layer.ts): for an image that is
 * mostly one layer, the load then ends about when its last byte arrives.
 */
import { Readable, Transform, TransformCallback, Writable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import type Docker from 'dockerode';
import tar from 'tar-stream';
import { HypervisorUnavailable, InvalidImageArchive, LoadOptions, RegistryPull } from '../driver';
import { BaseLayerShortcut, CARRIER_LABEL } from './base-layer';
import { call, engineMessage, isUnreachable, statusOf, translate } from './client';
import { JsonObjectSplitter } from './json-stream';

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const MAX_MANIFEST_BYTES = 1 << 20;
/** Base layers from this size are imported as they stream (see base-layer.ts). */
export const LAYER_SHORTCUT_MIN_BYTES = 32 * 1024 * 1024;

/** How a load ended when it failed: `replayable` when the shortcut, not the archive, may be at fault. */
interface LoadFailure {
  error: Error;
  replayable: boolean;
}

export class DockerImages {
  /** Whether this engine's image store takes the base-layer shortcut (decided once, on first use). */
  private shortcutCheck: Promise<boolean> | undefined;

  constructor(private readonly docker: Docker, private readonly host: string, private readonly layerShortcutMinBytes = LAYER_SHORTCUT_MIN_BYTES) {}

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

  /**
   * With a replay, a big base layer is imported as it streams (base-layer.ts) on engines whose
   * image store allows it; should that fail for any reason but the archive itself, the archive
   * is loaded again from the replay, the ordinary way.
   */
  async loadImage(archive: Readable, opts: LoadOptions = {}): Promise<void> {
    if (!opts.replay || !(await this.shortcutUsable())) return throwIf(await this.load(archive));
    const shortcut = new BaseLayerShortcut(this.layerShortcutMinBytes, (layer) => this.importCarrier(layer));
    let failure: LoadFailure | undefined;
    try {
      failure = await this.load(archive, shortcut);
    } finally {
      const carrier = await shortcut.carrierId();
      if (carrier) await this.removeCarrier(carrier);
    }
    if (!failure) return;
    if (!failure.replayable) throw failure.error;
    // Stop reading what is left of this pass (its other consumers go on without us).
    if (!archive.readableEnded) archive.destroy();
    return throwIf(await this.load(await opts.replay()));
  }

  private async load(archive: Readable, shortcut?: BaseLayerShortcut): Promise<LoadFailure | undefined> {
    let sourceError: Error | undefined;
    let tarError: Error | undefined;
    // A source that fails (a refused archive, a client gone) must end the engine request too.
    const abort = abortIfCutShort(archive);
    archive.on('error', (e) => {
      sourceError ??= e;
      abort.abort();
    });
    const body = withoutRepoTags(archive, (e) => {
      tarError ??= e;
      abort.abort();
    }, shortcut);
    // Failures of the shortcut's own making (its import failed, or the engine refused the
    // archive without the layer) are worth a replay; a broken source or tar is not.
    const engineSide = (error: Error): LoadFailure => ({ error, replayable: shortcut?.taken === true });
    // What went wrong on our side of the request, if anything did.
    const inputFailure = (): LoadFailure | undefined => {
      if (shortcut?.failure) return { error: shortcut.failure, replayable: true };
      if (tarError) return { error: new InvalidImageArchive(`The image data is not a docker-save archive: ${tarError.message}`), replayable: false };
      if (sourceError) return { error: sourceError, replayable: false };
      return undefined;
    };

    let messages: unknown[];
    try {
      const res = (await this.docker.loadImage(body, { quiet: true, abortSignal: abort.signal })) as unknown as Readable;
      messages = await readJsonStream(res);
    } catch (e) {
      body.destroy();
      const input = inputFailure();
      if (input) return input;
      if (isUnreachable(e)) return { error: new HypervisorUnavailable(this.host, e), replayable: false };
      if (statusOf(e) !== undefined && statusOf(e)! < 500) return engineSide(new InvalidImageArchive(`The compute host refused the image archive: ${engineMessage(e)}`));
      return engineSide(translate(this.host, e));
    }
    const input = inputFailure();
    if (input) return input;
    for (const m of messages) {
      const text = engineErrorText(m);
      if (text) return engineSide(new InvalidImageArchive(`The compute host refused the image archive: ${cleanLoadError(text)}`));
    }
    return undefined;
  }

  /**
   * The shortcut needs the classic image store (its load looks layers up by chain id); with the
   * containerd store, or when the engine cannot say, loads take the ordinary way. The first time
   * it is usable, carriers a crash left behind on this host are removed.
   */
  private shortcutUsable(): Promise<boolean> {
    if (!Number.isFinite(this.layerShortcutMinBytes)) return Promise.resolve(false);
    this.shortcutCheck ??= (async () => {
      const info = (await this.docker.info()) as { OSType?: string; Driver?: string; DriverStatus?: unknown };
      const status = Array.isArray(info.DriverStatus) ? (info.DriverStatus as unknown[]).map(String) : [];
      const containerdStore = status.some((s) => s.includes('io.containerd.snapshotter')) || /snapshotter/.test(info.Driver ?? '');
      if (info.OSType !== 'linux' || containerdStore) return false;
      const leftovers = await this.docker.listImages({ filters: JSON.stringify({ label: [`${CARRIER_LABEL}=${this.host}`] }) });
      for (const img of leftovers) await this.removeCarrier(img.Id);
      return true;
    })();
    return this.shortcutCheck.catch(() => {
      this.shortcutCheck = undefined; // ask again next time
      return false;
    });
  }

  /** `docker import` of one layer tar, as a labelled carrier image; resolves to its id. */
  private async importCarrier(layer: Readable): Promise<string> {
    const abort = abortIfCutShort(layer);
    const res = (await this.docker.importImage(layer, { changes: [`LABEL ${CARRIER_LABEL}=${this.host}`], abortSignal: abort.signal })) as unknown as Readable;
    let id: string | undefined;
    for (const m of await readJsonStream(res)) {
      const text = engineErrorText(m);
      if (text) throw new Error(`the engine refused the layer import: ${cleanLoadError(text)}`);
      const msg = m as { status?: string };
      if (msg.status && IMAGE_ID.test(msg.status.trim())) id = msg.status.trim();
    }
    if (!id) throw new Error('the engine did not say which image the layer import made');
    return id;
  }

  /** Removes a carrier; the layer stays with the image that loaded it. Best effort: a failure leaves it for the next prune. */
  private async removeCarrier(id: string): Promise<void> {
    await this.docker.getImage(id).remove({ noprune: false }).catch(() => undefined);
  }

  /**
   * `prune`: the engine also removes the untagged parents the image leaves unused (a committed
   * image's parent is the image its container ran from), whatever names them.
   */
  async removeImage(imageRef: string, prune = true): Promise<void> {
    if (!IMAGE_ID.test(imageRef)) return;
    try {
      // A tag is never novadock's (loading drops RepoTags): an image someone named on this engine,
      // such as the one a user `docker save`d to upload it, stays theirs. Removed by id, the
      // engine would drop a lone tag with it.
      const image = this.docker.getImage(imageRef);
      if (((await image.inspect()).RepoTags ?? []).length > 0) return;
      await image.remove({ force: false, noprune: !prune });
    } catch (e) {
      // 404: already gone; 409: an instance (or another tag) still uses it — by contract, a no-op.
      if (statusOf(e) === 404 || statusOf(e) === 409) return;
      throw translate(this.host, e);
    }
  }

  /** The image a committed image was made from (an image loaded from an archive has none); undefined when absent. */
  async parentOf(imageRef: string): Promise<string | undefined> {
    if (!IMAGE_ID.test(imageRef)) return undefined;
    try {
      const parent = (await this.docker.getImage(imageRef).inspect()).Parent;
      return parent && IMAGE_ID.test(parent) ? parent : undefined;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw translate(this.host, e);
    }
  }

  /**
   * Pulls by digest from novadock's registry with a registry token (X-Registry-Auth
   * `registrytoken`, which the engine sends as a Bearer token). The engine reports failures as
   * `error` messages in its progress stream, not as a status.
   */
  async pullImage(pull: RegistryPull): Promise<void> {
    const stream = await call(this.host, async () => (await this.docker.pull(pull.reference, { authconfig: { registrytoken: pull.token } })) as unknown as Readable);
    const splitter = new JsonObjectSplitter();
    let failure: string | undefined;
    for await (const chunk of stream) {
      for (const m of splitter.push(chunk as Buffer) as { error?: string }[]) if (m.error && !failure) failure = m.error;
    }
    if (failure) throw new Error(`Compute host ${this.host} could not pull ${pull.reference}: ${failure}`);
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

function throwIf(failure: LoadFailure | undefined): void {
  if (failure) throw failure.error;
}

/**
 * An engine request whose body stream closes before its end must be aborted: otherwise the
 * engine waits for the rest of a body that never comes.
 */
function abortIfCutShort(body: Readable): AbortController {
  const abort = new AbortController();
  let ended = false;
  body.on('end', () => { ended = true; });
  body.on('close', () => { if (!ended) abort.abort(); });
  return abort;
}

/** The error an engine's JSON message stream reports, if this message is one. */
function engineErrorText(message: unknown): string | undefined {
  const msg = message as { error?: string; errorDetail?: { message?: string } } | null;
  return msg?.errorDetail?.message ?? msg?.error;
}

/** Reads an entry whole, up to `limit` bytes; `done` gets undefined when it was larger. */
function readEntry(entry: { on(event: 'data' | 'end', listener: (chunk?: unknown) => void): unknown }, limit: number, done: (body: Buffer | undefined) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  entry.on('data', (c: unknown) => {
    const b = c as Buffer;
    size += b.length;
    if (size <= limit) chunks.push(b);
  });
  entry.on('end', () => done(size <= limit ? Buffer.concat(chunks) : undefined));
}

/** Engine text names its own temporary paths; keep the part a user can act on. */
function cleanLoadError(text: string): string {
  return text.replace(/\/var\/lib\/docker\/tmp\/[^\s:]*\/?/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * Streams `archive` through a tar rewriter that drops RepoTags and `repositories` and, with a
 * shortcut, hands the layer it takes to the import (leaving an empty file in its place).
 * A malformed tar ends the returned stream with an error (reported through `onTarError`),
 * which aborts the upload to the engine, so the engine loads nothing.
 */
function withoutRepoTags(archive: Readable, onTarError: (e: Error) => void, shortcut?: BaseLayerShortcut): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  let diverted: Writable | undefined;
  let aborted = false;
  // Until docker-modem attaches its own listener, an early failure would be an uncaught error.
  pack.on('error', () => undefined);
  extract.on('entry', (header, entry, next) => {
    const name = header.name.replace(/^\.\//, '');
    if (shortcut?.watches(name, header)) {
      // watches() takes only small entries: the whole body is within the limit.
      readEntry(entry, Infinity, (body) => {
        shortcut.observe(name, body!);
        pack.entry(header, body!, (err) => next(err ?? undefined));
      });
      return;
    }
    const layer = shortcut?.take(name, header);
    if (layer) {
      // The layer goes to the import; the archive keeps an empty file in its place.
      diverted = layer;
      layer.on('error', () => undefined);
      entry.on('error', () => undefined);
      pack.entry({ ...header, size: 0 }, Buffer.alloc(0));
      entry.on('end', () => next());
      entry.pipe(layer);
      // An import that fails stops this load at once; the caller replays.
      shortcut!.ready().catch((e: Error) => {
        aborted = true;
        extract.destroy(e);
        pack.destroy(e);
      });
      return;
    }
    if (name === 'repositories') {
      entry.on('end', () => next());
      entry.resume();
      return;
    }
    if ((name === 'manifest.json' || name === 'index.json') && header.type === 'file') {
      readEntry(entry, MAX_MANIFEST_BYTES, (raw) => {
        if (!raw) return next(new Error('manifest.json is too large'));
        const body = name === 'index.json' ? unnameIndex(raw) : untag(raw);
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
  // The archive may end only once a diverted layer is in the engine: its load looks it up.
  extract.on('finish', () => {
    if (!shortcut) return pack.finalize();
    shortcut.ready().then(() => pack.finalize(), () => undefined);
  });
  pipeline(archive, new MaybeGunzip(), extract, (err) => {
    if (!err) return;
    diverted?.destroy(err);
    if (!aborted) onTarError(err);
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
