/**
 * The fake engine's images: engine id → the archive it was loaded from (or built at snapshot)
 * and the files its root file system starts with. Loading reads the archive the way the
 * engine does (the same inspector the upload uses), so a bad archive fails here as it would
 * on Docker.
 */
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { InvalidImageArchive } from '../driver';
import { inspectImageArchive } from '../image-archive';
import { contentsOfArchive } from './archive';

export interface FakeImage {
  imageId: string;
  repoTags: string[];
  /** The archive as loaded or as built at snapshot; undefined for images seeded by id. */
  archive?: Buffer;
  /** Files the image's root file system starts with (snapshots carry their instance's). */
  files: Map<string, Buffer>;
  /** The config's labels (a move's image names the server it carries). */
  labels?: Record<string, string>;
}

export class FakeImages {
  private readonly byId = new Map<string, FakeImage>();

  /** Images present from the start, by engine id only (no archive: they cannot be exported). */
  constructor(seeded: string[] = []) {
    for (const id of seeded) this.byId.set(id, { imageId: id, repoTags: [], files: new Map() });
  }

  has(imageRef: string): boolean {
    return this.byId.has(imageRef);
  }

  get(imageRef: string): FakeImage | undefined {
    return this.byId.get(imageRef);
  }

  add(image: FakeImage): void {
    this.byId.set(image.imageId, image);
  }

  delete(imageRef: string): void {
    this.byId.delete(imageRef);
  }

  /**
   * Reads an archive to its end and returns the image it holds (not yet added). A source that
   * errors is reported as itself, like the Docker driver; anything else unreadable is an
   * InvalidImageArchive.
   */
  async read(archive: Readable, maxBytes: number): Promise<FakeImage> {
    const chunks: Buffer[] = [];
    let sourceError: Error | undefined;
    archive.on('error', (e) => {
      sourceError ??= e;
    });
    const recorder = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb(null, chunk);
      },
    });
    // pipeline destroys the recorder when the source errors, so the parser sees the error.
    const piped = new Promise<void>((resolve, reject) => pipeline(archive, recorder, (err) => (err ? reject(err) : resolve())));
    piped.catch(() => undefined);
    let meta: { imageId: string; repoTags: string[] };
    try {
      meta = await inspectImageArchive(recorder, { maxBytes });
      // The parser may stop reading at the end of the tar; drain what is left so the
      // source is consumed fully, as the contract says.
      recorder.resume();
      await piped;
    } catch (e) {
      recorder.destroy();
      archive.destroy();
      if (sourceError) throw sourceError;
      if (e instanceof InvalidImageArchive) throw e;
      throw new InvalidImageArchive(`The image archive could not be read: ${(e as Error).message}`);
    }
    const bytes = Buffer.concat(chunks);
    return { imageId: meta.imageId, repoTags: meta.repoTags, archive: bytes, ...(await contentsOfArchive(bytes)) };
  }

  /** The image's archive as a stream (`docker save`); throws when absent or seeded without one. */
  export(imageRef: string, host: string): Readable {
    const img = this.byId.get(imageRef);
    if (!img) throw new Error(`Image ${imageRef} is not on compute host ${host}.`);
    if (!img.archive) throw new Error(`Image ${imageRef} was seeded without an archive; the fake cannot export it.`);
    const out = new PassThrough();
    out.end(img.archive);
    return out;
  }
}
