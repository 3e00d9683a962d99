/**
 * The built-in page (issue 18 part 2): plain HTML, CSS and ES modules from src/ui/public, no build
 * step. The page is a client of the public APIs (Keystone, Nova, Glance) like any other; the one
 * route of its own is the multipart upload, which a browser form can send with a progress bar and
 * which goes into the same ingest as `PUT /image/v2/images/{id}/file`.
 *
 *   GET  /                          the page, for a browser (Accept prefers text/html over JSON);
 *                                   anything else falls through to what / answered before
 *   GET  /ui/, /ui/*                the page and its files
 *   POST /ui/images/{id}/upload     multipart/form-data: `size` (optional), then `file` → 204
 *                                   (X-Auth-Token; Glance's errors: 413, 409, 400, 404, 401, 403)
 */
import express, { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import multer from 'multer';
import type { Logger } from 'pino';
import { badRequest, DomainError, tooLarge, unsupportedMediaType } from '../errors';
import { requireToken, requireWriter } from '../http/auth';
import { errorHandler, methodNotAllowed } from '../http/errors';
import type { TokenService } from '../identity/token-service';
import type { ImageUploads } from '../image/image-upload';
import { IngestStorage, SIZE_FIELD } from './ingest-storage';

export interface UiRouterDeps {
  publicUrl: string;
  tokens: TokenService;
  imageUploads: ImageUploads;
}

/**
 * The page's files: next to this module when run by ts-jest/ts-node (src/ui/public); from the build
 * (dist/src/ui), the source tree's copy, which the Docker image copies too: nothing to build.
 */
export function publicDir(): string {
  const candidates = [path.join(__dirname, 'public'), path.resolve(__dirname, '..', '..', '..', 'src', 'ui', 'public')];
  return candidates.find((d) => fs.existsSync(path.join(d, 'index.html'))) ?? candidates[0];
}

/**
 * An error of the upload as it is (Glance's answers, or a real fault); multer's own refusals (too
 * many parts, a field too long) and busboy's (no boundary, a body cut short) as the client's 400.
 */
function multipartError(storage: IngestStorage, e: unknown): unknown {
  if (storage.fromUpload(e) || e instanceof DomainError) return e;
  if (e instanceof multer.MulterError) {
    return e.code === 'LIMIT_FILE_SIZE' || e.code === 'LIMIT_FIELD_VALUE' ? tooLarge(`${e.message} (${e.field ?? 'form'}).`) : badRequest(`${e.message}${e.field ? ` (${e.field})` : ''}.`);
  }
  return badRequest(`Malformed multipart/form-data body: ${e instanceof Error ? e.message : String(e)}.`);
}

export function uiRouter(deps: UiRouterDeps, log: Logger): Router {
  const r = Router({ strict: false });
  const dir = publicDir();
  const index = path.join(dir, 'index.html');
  const page: RequestHandler = (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  };

  // NOTE(openstack): API clients at / (curl, keystoneauth discovery) send */* or JSON and get what
  // they got before; only a browser, which ranks text/html first, gets the page.
  r.get('/', (req, res, next) => {
    if (req.accepts(['application/json', 'text/html']) === 'text/html') page(req, res, next);
    else next();
  });
  r.get('/ui', page);
  r.get('/ui/', page);
  r.use('/ui', express.static(dir, { index: false, fallthrough: true, maxAge: 0 }));

  const storage = new IngestStorage(deps.imageUploads);
  const form = multer({
    storage,
    // One file and its size: nothing else is read. No fileSize limit here: the ingest enforces the
    // image size cap with Glance's 413 text.
    limits: { files: 1, fields: 1, parts: 2, fieldSize: 32, fieldNameSize: 32 },
  });
  const receive = (req: Request, res: Response, next: NextFunction) => {
    const type = (req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'multipart/form-data') {
      return next(unsupportedMediaType(`Content type ${req.header('content-type') ?? '(none)'} is not supported here; send multipart/form-data with the fields '${SIZE_FIELD}' and 'file'.`));
    }
    form.single('file')(req, res, (e?: unknown) => {
      if (e) return next(multipartError(storage, e));
      if (!req.file) return next(badRequest("The form has no part named 'file'."));
      res.status(204).end();
    });
  };
  r.post('/ui/images/:id/upload', requireToken(deps.tokens), requireWriter(), receive);
  r.all('/ui/images/:id/upload', methodNotAllowed());
  r.use('/ui', errorHandler('image', log, deps.publicUrl));
  return r;
}
