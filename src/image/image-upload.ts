/**
 * ImageUploads: image data in and out — PUT and GET …/file — and the start-up recovery of
 * uploads a crash cut short.
 *
 * An upload is one pass over the request (see ingest.ts) that hashes, stores and, for docker
 * images, loads into the primary engine at once (through the EngineImages port). Every status
 * move is a compare-and-set, so two concurrent uploads give one success and one conflict. A
 * failed upload leaves nothing: no stored bytes, no engine image it created, and the image
 * back in `queued`.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DomainError, badRequest, forbidden, gone, invalidState, msg, notFound, tooLarge, unavailable } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository } from '../db/image-repo';
import type { ImageStore, PendingWrite } from '../store/image-store';
import { HypervisorUnavailable, InvalidImageArchive } from '../virt/driver';
import type { ImageArchiveInfo } from '../virt/image-archive';
import type { EngineImages, UploadEngine } from './engine-images';
import type { ImageAccess } from './image-access';
import type { ImageRecord } from './image-record';
import { canTransition } from './image-status';
import { dataColumns, ingest, IngestFailed, IngestResult } from './ingest';
import type { Background } from '../background';
import { keepPassIndex, type ArchiveIndexSink } from '../registry/archive-indexes';

export interface ImageUploadsDeps {
  repo: ImageRepository;
  store: ImageStore;
  /** The compute hosts' engine images (HostImages): docker uploads load into the primary one. */
  engines: EngineImages;
  access: ImageAccess;
  tasks: Background;
  /** Largest upload accepted, in bytes (tooLarge above). */
  maxImageSize: number;
  log: Logger;
  /** Told of each upload's outcome (metrics). */
  uploads?: UploadObserver;
  /** Where the registry's index of a docker archive, made by the pass, is kept (issue 14). */
  archiveIndexes?: ArchiveIndexSink;
}

/** What an upload reports when it ends: stored bytes (success only) and its duration. */
export interface UploadObserver {
  uploadFinished(u: { result: 'success' | 'error'; bytes: number; seconds: number }): void;
}

export interface UploadOptions {
  /** The request's Content-Length, if it had one (tooLarge before reading when above the cap). */
  contentLength?: number;
  /** x-openstack-image-size, if sent: the upload must be exactly this long (invalid otherwise). */
  declaredSize?: number;
}

export interface ImageData {
  stream: Readable;
  /** Undefined when the data is made as it streams (a pushed image's archive): sent chunked. */
  size?: number;
  /** Hex md5, for Content-MD5. */
  checksum: string | null;
}

const fmtBytes = (n: number) => `${n} bytes`;

/** Glance's refusal of data over the size cap (`n`: the announced size, when known). */
export function sizeLimitExceeded(max: number, n?: number): DomainError {
  return tooLarge(n === undefined
    ? `Image exceeds the size limit of ${fmtBytes(max)}.`
    : `Image of ${fmtBytes(n)} exceeds the size limit of ${fmtBytes(max)}.`);
}

export class ImageUploads {
  private readonly repo: ImageRepository;
  private readonly store: ImageStore;
  private readonly engines: EngineImages;
  private readonly access: ImageAccess;
  private readonly tasks: Background;
  private readonly maxImageSize: number;
  private readonly log: Logger;
  private readonly observer?: UploadObserver;
  private readonly archiveIndexes?: ArchiveIndexSink;
  private archiveOf?: (img: ImageRecord) => Promise<Readable | undefined>;

  constructor(deps: ImageUploadsDeps) {
    this.archiveIndexes = deps.archiveIndexes;
    this.repo = deps.repo;
    this.store = deps.store;
    this.engines = deps.engines;
    this.access = deps.access;
    this.tasks = deps.tasks;
    this.maxImageSize = deps.maxImageSize;
    this.log = deps.log;
    this.observer = deps.uploads;
  }

  /**
   * PUT …/file. Checks (not found, forbidden, invalidState unless the image may move to
   * `saving`, invalid without formats, tooLarge when the announced length is over the cap) come
   * before a byte is read; then → saving by compare-and-set, and the one pass of ingest.ts.
   * Resolves when the image is active.
   */
  async upload(ctx: RequestContext, id: string, source: Readable, opts: UploadOptions = {}): Promise<ImageRecord> {
    const img = await this.access.getForWrite(ctx, id, 'upload_image');
    if (!canTransition(img.status, 'saving')) throw invalidState(msg.imageStatusTransition(img.status, 'saving'));
    const missing = (['container_format', 'disk_format'] as const).filter((k) => !img[k]);
    if (missing.length === 1) throw badRequest(`Property ${missing[0]} must be set prior to saving data.`);
    if (missing.length > 1) throw badRequest(`Properties ${missing.join(', ')} must be set prior to saving data.`);
    for (const n of [opts.contentLength, opts.declaredSize]) {
      if (n !== undefined && n > this.maxImageSize) throw this.overCap(n);
    }
    if (opts.declaredSize !== undefined && opts.contentLength !== undefined && opts.declaredSize !== opts.contentLength) {
      throw badRequest(`x-openstack-image-size (${opts.declaredSize}) does not match the Content-Length of the upload (${opts.contentLength}).`);
    }
    if (!(await this.repo.transition(id, img.status, 'saving'))) {
      const current = await this.repo.get(id);
      if (!current) throw notFound(msg.imageNotFound(id));
      throw invalidState(msg.imageStatusTransition(current.status, 'saving'));
    }
    return this.tasks.track(this.receive(img, source, opts));
  }

  private overCap(n?: number): DomainError {
    return sizeLimitExceeded(this.maxImageSize, n);
  }

  /** The image is `saving` and ours: take the bytes, or put everything back as it was. */
  private async receive(img: ImageRecord, source: Readable, opts: UploadOptions): Promise<ImageRecord> {
    const id = img.id;
    const engine = this.engines.uploadEngine();
    const docker = img.container_format === 'docker';
    let pending: PendingWrite | undefined;
    let committed = false;
    let wasPresent: boolean | undefined;
    let archive: ImageArchiveInfo | undefined;
    let released = false;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      pending = await this.store.begin(id);
      let result: IngestResult;
      try {
        result = await ingest(source, {
          maxBytes: this.maxImageSize,
          tooLarge: () => this.overCap(),
          sink: pending.sink,
          sinkFile: pending.file,
          expectedBytes: opts.contentLength ?? opts.declaredSize,
          engine: docker ? {
            load: (archiveStream, replay) => engine.load(archiveStream, replay).catch((e) => {
              throw engineError(engine, e);
            }),
            beforeRelease: async (info) => {
              wasPresent = await engine.has(info.imageId);
            },
          } : undefined,
          sourceBroken: () => badRequest('The upload was interrupted: the client closed the connection before all the data arrived.'),
        });
      } catch (e) {
        if (e instanceof IngestFailed) {
          released = e.released;
          archive = e.archive;
          if (e.stuck) this.log.error({ image_id: id, host: engine.host }, 'the engine load did not stop after the upload failed (driver bug?)');
        }
        throw e;
      }
      released = true;
      archive = result.archive;
      if (opts.declaredSize !== undefined && result.size !== opts.declaredSize) {
        throw badRequest(`x-openstack-image-size (${opts.declaredSize}) does not match the size of the uploaded data (${result.size}).`);
      }
      if (archive && !(await engine.has(archive.imageId))) {
        throw badRequest(`Compute host ${engine.host} accepted the archive but does not have image ${archive.imageId} afterwards.`);
      }
      await pending.commit();
      committed = true;
      const done = await this.repo.transition(id, 'saving', 'active', dataColumns(result, archive?.imageId ?? null));
      if (!done) {
        const current = await this.repo.get(id);
        if (!current) throw gone(`Image ${id} could not be found after upload. The image may have been deleted during the upload.`);
        throw invalidState(msg.imageStatusTransition(current.status, 'active'));
      }
      await keepPassIndex(this.archiveIndexes, id, archive, this.log);
      this.log.info({ image_id: id, size: result.size, engine_image_id: archive?.imageId }, 'image uploaded');
      this.observer?.uploadFinished({ result: 'success', bytes: result.size, seconds: seconds() });
      return (await this.repo.get(id))!;
    } catch (e) {
      const err = uploadError(e);
      await this.undoUpload(id, { pending, committed, engine, archive: released ? archive : undefined, wasPresent });
      this.observer?.uploadFinished({ result: 'error', bytes: 0, seconds: seconds() });
      if (err.kind === 'internal' || err.kind === 'unavailable') this.log.error({ err: e, image_id: id }, 'image upload failed');
      else this.log.info({ image_id: id, reason: err.message, kind: err.kind }, 'image upload refused');
      throw err;
    }
  }

  /** Puts everything back after a failed upload: no bytes, no engine image we created, queued. */
  private async undoUpload(id: string, s: {
    pending?: PendingWrite; committed: boolean; engine: UploadEngine; archive?: ImageArchiveInfo; wasPresent?: boolean;
  }): Promise<void> {
    try {
      if (s.committed) await this.store.delete(id);
      else await s.pending?.abort();
    } catch (e) {
      this.log.error({ err: e, image_id: id }, 'could not discard the data of a failed upload');
    }
    // Only an image this upload brought into the engine is ours to remove.
    if (s.archive && s.wasPresent === false) {
      try {
        if (!(await this.repo.dockerImageInUse(s.archive.imageId, id))) await s.engine.remove(s.archive.imageId);
      } catch (e) {
        this.log.error({ err: e, image_id: id, engine_image_id: s.archive.imageId }, 'could not remove the engine image of a failed upload');
      }
    }
    await this.repo.transition(id, 'saving', 'queued').catch((e) => this.log.error({ err: e, image_id: id }, 'could not return the image to queued'));
  }

  /**
   * GET …/file: the stored bytes, or undefined when there are none yet (the router answers with no content).
   * A deactivated image's data is forbidden to non-admins.
   */
  async download(ctx: RequestContext, id: string): Promise<ImageData | undefined> {
    const img = await this.access.get(ctx, id);
    if (img.status === 'deactivated' && !ctx.isAdmin) {
      throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    if (img.status !== 'active' && img.status !== 'deactivated') return undefined;
    const size = await this.store.size(id);
    if (size === undefined) {
      // A docker image pushed through /v2/ has no archive in the store: the registry writes one.
      const stream = await this.archiveOf?.(img);
      return stream ? { stream, checksum: null } : undefined;
    }
    const stream = await this.store.read(id);
    return { stream, size, checksum: img.checksum };
  }

  /** How an image with no stored data may still be downloaded (the registry's pushed images). */
  useArchiveSource(archiveOf: (img: ImageRecord) => Promise<Readable | undefined>): void {
    this.archiveOf = archiveOf;
  }

  /**
   * Recovery: no upload survives the process doing it, so images left `saving` by a process that
   * is gone (a crash; `isAlive` says which workers still run: with several processes, only their
   * uploads are left alone) go back to `queued`, and their partial bytes are removed from the
   * store. Called before serving, and whenever another process is found dead.
   */
  async recoverInterruptedUploads(isAlive: (owner: string) => boolean = () => false): Promise<number> {
    let n = 0;
    for (const img of await this.repo.saving()) {
      if (img.owner && isAlive(img.owner)) continue;
      if (await this.repo.transition(img.id, 'saving', 'queued')) n++;
    }
    if (n > 0) this.log.warn({ images: n }, 'uploads interrupted by a process that stopped: images back to queued');
    await this.store.sweepPartials(async () => new Set((await this.repo.saving()).filter((i) => i.owner && isAlive(i.owner)).map((i) => i.id)));
    return n;
  }
}

/** What the engine said, as a domain error: refused → invalid, unreachable → unavailable. */
function engineError(engine: UploadEngine, e: unknown): Error {
  if (e instanceof DomainError) return e;
  if (e instanceof InvalidImageArchive) return invalidArchive(e.reason);
  if (e instanceof HypervisorUnavailable) return unavailable(e.message);
  return unavailable(`Compute host ${engine.host} failed to load the image: ${e instanceof Error ? e.message : String(e)}`);
}

/** Invalid: bytes that are not a loadable image, whether the inspector or the engine said so. */
function invalidArchive(reason: string): DomainError {
  return badRequest(`Invalid docker image archive: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`);
}

/** Any failure of an upload, as the API error to answer with. */
function uploadError(e: unknown): DomainError {
  const cause = e instanceof IngestFailed ? e.cause : e;
  if (cause instanceof DomainError) return cause;
  if (cause instanceof InvalidImageArchive) return invalidArchive(cause.reason);
  if (cause instanceof HypervisorUnavailable) return unavailable(cause.message);
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return tooLarge(`Image storage media is full: ${(cause as Error).message}`);
  return unavailable(`The image could not be stored: ${cause instanceof Error ? cause.message : String(cause)}`);
}
