/**
 * A multer StorageEngine that stores nothing itself: it hands the file part's stream straight to
 * ImageUploads.upload, the same one-pass ingest `PUT /image/v2/images/{id}/file` uses (ingest.ts:
 * hash, store, load into the engine, in one read). No memoryStorage, no temp file: the bytes are
 * read once, from the socket, into the image store.
 *
 *   browser ──multipart──▶ busboy ──file stream──▶ ImageUploads.upload ──▶ ingest (store + engine)
 *
 * The form's `size` field, sent before the file, is the upload's declared size: over the cap it is
 * refused before a byte is read (413), and the data must be exactly that long (400 otherwise).
 * A size sent after the file is not read (the file has been taken by then).
 */
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { badRequest } from '../errors';
import { ctxOf } from '../http/auth';
import type { ImageUploads } from '../image/image-upload';

/** The form field naming the file's size in bytes; it must precede the file part. */
export const SIZE_FIELD = 'size';

function declaredSize(req: Request): number | undefined {
  const raw = (req.body as Record<string, unknown> | undefined)?.[SIZE_FIELD];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw.trim())) throw badRequest(`The form field '${SIZE_FIELD}' must be a non-negative integer, got '${String(raw)}'.`);
  return Number(raw.trim());
}

export class IngestStorage implements StorageEngine {
  /** Errors the upload itself gave (Glance's answers, or a real fault): anything else multer reports is the form's. */
  private readonly ours = new WeakSet<object>();

  constructor(private readonly uploads: ImageUploads) {}

  /** Whether multer's error came from the upload (keep it) rather than from parsing the form (a 400). */
  fromUpload(e: unknown): boolean {
    return typeof e === 'object' && e !== null && this.ours.has(e);
  }

  _handleFile(req: Request, file: Express.Multer.File, cb: (error?: unknown, info?: Partial<Express.Multer.File>) => void): void {
    let size: number | undefined;
    try {
      size = declaredSize(req);
    } catch (e) {
      this.fail(e, cb);
      return;
    }
    this.uploads.upload(ctxOf(req), req.params.id, file.stream, { declaredSize: size })
      .then((img) => cb(null, { size: img.size ?? undefined }), (e: unknown) => this.fail(e, cb));
  }

  private fail(e: unknown, cb: (error?: unknown) => void): void {
    if (typeof e === 'object' && e !== null) this.ours.add(e);
    cb(e);
  }

  /** Called by multer when the request fails after the file was taken: the image is active by then, and stays so. */
  _removeFile(_req: Request, _file: Express.Multer.File, cb: (error: Error | null) => void): void {
    cb(null);
  }
}
