/**
 * ImageSnapshots: the image side of Nova's createImage and createBackup. Compute asks for a
 * queued record before it answers (beginSnapshot), commits the container, opens the engine
 * image's archive and hands it over (finishSnapshot), or gives up (abortSnapshot). The image
 * domain never calls a driver: it receives the archive as a stream.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { conflict, gone, invalidState } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository, NewImage } from '../db/image-repo';
import { now } from '../clock';
import type { ImageStore, PendingWrite } from '../store/image-store';
import type { ImageRecord } from './image-record';
import { DOCKER_IMAGE_ID_PROPERTY, newDockerImage } from './image-record';
import { dataColumns, ingest, IngestFailed, IngestResult } from './ingest';
import { sizeLimitExceeded } from './image-upload';
import { CORE_ATTRIBUTES, isReserved } from './schemas';
import type { Background } from '../background';
import { keepPassIndex, type ArchiveIndexSink } from '../registry/archive-indexes';

export interface ImageSnapshotsDeps {
  repo: ImageRepository;
  store: ImageStore;
  tasks: Background;
  /** Largest snapshot archive accepted, in bytes. */
  maxImageSize: number;
  log: Logger;
  /** Where the registry's index of the snapshot's archive, made by the pass, is kept (issue 14). */
  archiveIndexes?: ArchiveIndexSink;
}

/** What a snapshot is made from: its name, the request's metadata, its server and that server's image. */
export interface SnapshotRequest {
  name: string;
  metadata: Record<string, string>;
  serverId: string;
  baseImage: ImageRecord | undefined;
}

/**
 * Properties a snapshot does not inherit from its base image: Nova's own snapshot markers (set
 * afresh), novadock's engine id (the snapshot has its own), and the SDK's upload checksums,
 * which describe the base image's file, not the snapshot's.
 */
const NON_INHERITABLE = new Set([
  'image_type', 'instance_uuid', 'base_image_ref', 'user_id', 'owner_project_name', 'owner_user_name', 'image_location', 'image_state',
  'cache_in_nova', 'bittorrent', 'img_signature_hash_method', 'img_signature', 'img_signature_key_type', 'img_signature_certificate_uuid',
  'owner_specified.openstack.md5', 'owner_specified.openstack.sha256', 'owner_specified.openstack.object', DOCKER_IMAGE_ID_PROPERTY,
]);

export class ImageSnapshots {
  private readonly repo: ImageRepository;
  private readonly store: ImageStore;
  private readonly tasks: Background;
  private readonly maxImageSize: number;
  private readonly log: Logger;
  private readonly archiveIndexes?: ArchiveIndexSink;

  constructor(deps: ImageSnapshotsDeps) {
    this.archiveIndexes = deps.archiveIndexes;
    this.repo = deps.repo;
    this.store = deps.store;
    this.tasks = deps.tasks;
    this.maxImageSize = deps.maxImageSize;
    this.log = deps.log;
  }

  /**
   * createImage step 1, before compute accepts the request: a queued private snapshot record owned by
   * ctx's project, listed at once (contract §5.12). Properties: the base image's inheritable
   * ones, then Nova's snapshot markers, then the request metadata.
   */
  async beginSnapshot(ctx: RequestContext, req: SnapshotRequest): Promise<ImageRecord> {
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.baseImage?.properties ?? {})) if (!NON_INHERITABLE.has(k)) properties[k] = v;
    Object.assign(properties, {
      image_type: 'snapshot',
      instance_uuid: req.serverId,
      base_image_ref: req.baseImage?.id ?? '',
      user_id: ctx.userId,
      owner_project_name: ctx.projectName,
      owner_user_name: ctx.userName,
    });
    for (const [k, v] of Object.entries(req.metadata)) {
      // Metadata cannot overwrite core attributes or server-managed ones.
      if (CORE_ATTRIBUTES.has(k) || isReserved(k) || typeof v !== 'string') continue;
      properties[k] = v;
    }
    const rec: NewImage = newDockerImage({ name: req.name, owner: ctx.projectId, properties, min_ram: req.baseImage?.min_ram, min_disk: req.baseImage?.min_disk }, now());
    if (!(await this.repo.create(rec))) throw conflict(`Image with identifier ${rec.id} already exists!`);
    return (await this.repo.get(rec.id)) ?? { ...rec, status: 'queued' };
  }

  /**
   * createImage step 2 (compute's background task): queued → saving (compare-and-set), the
   * engine image's archive (the caller opens it: `driver.exportImage(engineImageId)`) streamed
   * into the store with size/md5/sha512 and checked to hold `engineImageId`, which is
   * recorded; then active. On failure the record and any bytes are removed and the error is
   * thrown (the engine image is the caller's). The archive is always consumed or destroyed.
   */
  async finishSnapshot(imageId: string, engineImageId: string, archive: Readable): Promise<ImageRecord> {
    if (!(await this.repo.transition(imageId, 'queued', 'saving'))) {
      archive.destroy();
      const current = await this.repo.get(imageId);
      throw current
        ? invalidState(`Snapshot image ${imageId} is ${current.status}, not queued: it cannot receive data.`)
        : gone(`Snapshot image ${imageId} was deleted before its data was uploaded.`);
    }
    return this.tasks.track((async () => {
      let pending: PendingWrite | undefined;
      let committed = false;
      try {
        pending = await this.store.begin(imageId);
        let result: IngestResult;
        try {
          result = await ingest(archive, { maxBytes: this.maxImageSize, tooLarge: () => sizeLimitExceeded(this.maxImageSize), sink: pending.sink, sinkFile: pending.file, inspect: true });
        } catch (e) {
          throw e instanceof IngestFailed ? e.cause : e;
        }
        if (result.archive?.imageId !== engineImageId) {
          throw new Error(`The exported archive holds ${result.archive?.imageId}, not the snapshot ${engineImageId}.`);
        }
        await pending.commit();
        committed = true;
        const done = await this.repo.transition(imageId, 'saving', 'active', dataColumns(result, engineImageId));
        if (!done) throw gone(`Snapshot image ${imageId} was deleted while its data was being uploaded.`);
        await keepPassIndex(this.archiveIndexes, imageId, result.archive, this.log);
        return (await this.repo.get(imageId))!;
      } catch (e) {
        archive.destroy();
        if (committed) await this.store.delete(imageId).catch(() => undefined);
        else await pending?.abort().catch(() => undefined);
        await this.repo.delete(imageId).catch((err) => this.log.error({ err, image_id: imageId }, 'could not remove a failed snapshot record'));
        this.log.warn({ err: e, image_id: imageId }, 'snapshot upload failed');
        throw e instanceof Error ? e : new Error(String(e));
      }
    })());
  }

  /** The snapshot failed before its data was taken: the queued record goes away. */
  async abortSnapshot(imageId: string): Promise<void> {
    const removed = await this.repo.delete(imageId, { status: 'queued' });
    if (removed) await this.store.delete(imageId).catch(() => undefined);
  }
}
