/**
 * Glance v2 subset (contract §4.2, §6), mounted at /image. Every route: validate → one
 * service call (records: ImageService, sharing: ImageMembers, data: ImageUploads) → view +
 * status. Version documents need no token; everything under /v2
 * does, and writes need member or admin (readers get 403).
 *
 * Strict routing: Tempest expects `GET /v2/images/` (an empty id) to be 404, not the list.
 */
import express, { Request, Response, Router } from 'express';
import { pipeline } from 'node:stream';
import type { Logger } from 'pino';
import type { TokenService } from '../identity/token-service';
import { badRequest, unsupportedMediaType } from '../errors';
import { handle } from '../http/async';
import { ctxOf, requireToken, requireWriter } from '../http/auth';
import { errorHandler, methodNotAllowed, notFoundHandler } from '../http/errors';
import { parseListQuery } from './list-query';
import { parseMemberCreate, parseMemberStatus, parsePatch, PATCH_MEDIA_TYPES } from './requests';
import {
  IMAGE_SCHEMA, IMAGES_SCHEMA, MEMBER_SCHEMA, MEMBERS_SCHEMA,
} from './schemas';
import { metadefsRouter } from './metadefs';
import type { ImageService } from './image-service';
import type { ImageMembers } from './image-members';
import type { ImageUploads } from './image-upload';
import { imagesPage, imageView, memberView, membersView, versionsView } from './views';

/** The media type of a request, without parameters, lower-case ('' when absent). */
function mediaType(req: Request): string {
  return (req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** The raw query string as URLSearchParams: repeated keys and literal names survive. */
function queryOf(req: Request): URLSearchParams {
  const at = req.originalUrl.indexOf('?');
  return new URLSearchParams(at >= 0 ? req.originalUrl.slice(at + 1) : '');
}

/** A non-negative integer header, or undefined; 400 when present but not a number. */
function sizeHeader(req: Request, name: string): number | undefined {
  const raw = req.header(name);
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw.trim())) throw badRequest(`${name} must be a non-negative integer, got '${raw}'.`);
  return Number(raw.trim());
}

const json = express.json({ limit: '1mb', type: () => true, strict: true });
const patchJson = express.json({ limit: '1mb', type: () => true, strict: false });

/** What the image API needs: its three services, the token check, the public URL. Never the database or a driver. */
export interface ImageRouterDeps {
  publicUrl: string;
  tokens: TokenService;
  images: ImageService;
  imageMembers: ImageMembers;
  imageUploads: ImageUploads;
}

export function imageRouter(deps: ImageRouterDeps, log: Logger): Router {
  const r = Router({ strict: true });
  const { publicUrl, tokens, images, imageMembers: members, imageUploads: uploads } = deps;

  // ---------------------------------------------------------------- version documents (no token)
  r.get('/', (_req, res) => {
    res.status(300).json(versionsView(publicUrl));
  });
  r.get(['/versions', '/versions/'], (_req, res) => {
    res.status(200).json(versionsView(publicUrl));
  });

  // ---------------------------------------------------------------- /v2 (token)
  const v2 = Router({ strict: true });
  v2.use(requireToken(tokens));
  v2.use(requireWriter());

  v2.get('/images', handle(async (req, res) => {
    const params = queryOf(req);
    const { images: page, nextMarker } = await images.list(ctxOf(req), parseListQuery(params));
    res.status(200).json(imagesPage(page, params, nextMarker));
  }));
  v2.post('/images', json, handle(async (req, res) => {
    const img = await images.create(ctxOf(req), req.body);
    res.setHeader('Location', `${publicUrl}/image/v2/images/${img.id}`);
    res.status(201).json(imageView(img));
  }));
  v2.all('/images', methodNotAllowed());

  v2.get('/images/:id', handle(async (req, res) => {
    res.status(200).json(imageView(await images.get(ctxOf(req), req.params.id)));
  }));
  v2.patch('/images/:id', (req, _res, next) => {
    // NOTE(openstack): only Glance's two JSON-patch media types (SDK/glanceclient v2.1, tempest v2.0).
    if (!(mediaType(req) in PATCH_MEDIA_TYPES)) {
      return next(unsupportedMediaType(`Content type ${req.header('content-type') ?? '(none)'} is not supported for PATCH; use application/openstack-images-v2.1-json-patch.`, {
        'Accept-Patch': Object.keys(PATCH_MEDIA_TYPES).sort().join(', '),
      }));
    }
    next();
  }, patchJson, handle(async (req, res) => {
    const changes = parsePatch(req.body);
    const img = await images.update(ctxOf(req), req.params.id, changes, PATCH_MEDIA_TYPES[mediaType(req)]);
    res.status(200).json(imageView(img));
  }));
  v2.delete('/images/:id', handle(async (req, res) => {
    await images.delete(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  v2.all('/images/:id', methodNotAllowed());

  v2.put('/images/:id/file', handle(async (req, res) => {
    if (mediaType(req) !== 'application/octet-stream') {
      throw unsupportedMediaType(`Content type ${req.header('content-type') ?? '(none)'} is not supported for image data; use application/octet-stream.`);
    }
    // The request itself is the stream: never buffered, never parsed.
    await uploads.upload(ctxOf(req), req.params.id, req, {
      contentLength: req.header('transfer-encoding') ? undefined : sizeHeader(req, 'content-length'),
      declaredSize: sizeHeader(req, 'x-openstack-image-size'),
    });
    res.status(204).end();
  }));
  v2.get('/images/:id/file', handle(async (req, res) => {
    const data = await uploads.download(ctxOf(req), req.params.id);
    if (!data) {
      res.status(204).end();
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'application/octet-stream');
    if (data.size !== undefined) res.setHeader('Content-Length', String(data.size));
    // NOTE(openstack): Glance sends the HEX md5 here, not RFC 1864 base64 (openstack/image/_download.py).
    if (data.checksum) res.setHeader('Content-MD5', data.checksum);
    if (req.method === 'HEAD') {
      // Express routes HEAD here too: the headers say it all, the data need not be read.
      data.stream.destroy();
      res.end();
      return;
    }
    pipeline(data.stream, res, (err) => {
      if (err && !res.writableFinished) {
        log.warn({ err, req_id: req.id, image_id: req.params.id }, 'image download interrupted');
        res.destroy();
      }
    });
  }));
  v2.all('/images/:id/file', methodNotAllowed());

  v2.put('/images/:id/tags/:tag', handle(async (req, res) => {
    await images.addTag(ctxOf(req), req.params.id, req.params.tag);
    res.status(204).end();
  }));
  v2.delete('/images/:id/tags/:tag', handle(async (req, res) => {
    await images.removeTag(ctxOf(req), req.params.id, req.params.tag);
    res.status(204).end();
  }));
  v2.all('/images/:id/tags/:tag', methodNotAllowed());

  v2.post('/images/:id/actions/deactivate', handle(async (req, res) => {
    await images.deactivate(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  v2.post('/images/:id/actions/reactivate', handle(async (req, res) => {
    await images.reactivate(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  v2.all(['/images/:id/actions/deactivate', '/images/:id/actions/reactivate'], methodNotAllowed());

  // Image sharing. NOTE(openstack): Glance answers a new member with 200, not 201.
  v2.get('/images/:id/members', handle(async (req, res) => {
    res.status(200).json(membersView(await members.members(ctxOf(req), req.params.id)));
  }));
  v2.post('/images/:id/members', json, handle(async (req, res) => {
    const m = await members.addMember(ctxOf(req), req.params.id, parseMemberCreate(req.body));
    res.status(200).json(memberView(m));
  }));
  v2.all('/images/:id/members', methodNotAllowed());

  v2.get('/images/:id/members/:member', handle(async (req, res) => {
    res.status(200).json(memberView(await members.member(ctxOf(req), req.params.id, req.params.member)));
  }));
  v2.put('/images/:id/members/:member', json, handle(async (req, res) => {
    const m = await members.setMemberStatus(ctxOf(req), req.params.id, req.params.member, parseMemberStatus(req.body));
    res.status(200).json(memberView(m));
  }));
  v2.delete('/images/:id/members/:member', handle(async (req, res) => {
    await members.removeMember(ctxOf(req), req.params.id, req.params.member);
    res.status(204).end();
  }));
  v2.all('/images/:id/members/:member', methodNotAllowed());

  const schema = (path: string, body: object) => {
    v2.get(path, (_req: Request, res: Response) => {
      res.status(200).json(body);
    });
    v2.all(path, methodNotAllowed());
  };
  schema('/schemas/image', IMAGE_SCHEMA);
  schema('/schemas/images', IMAGES_SCHEMA);
  schema('/schemas/member', MEMBER_SCHEMA);
  schema('/schemas/members', MEMBERS_SCHEMA);
  v2.use(metadefsRouter());  // /schemas/metadefs/…, /metadefs/namespaces (metadefs.ts)

  r.use('/v2', v2);
  r.use(notFoundHandler());
  r.use(errorHandler('image', log, publicUrl));
  return r;
}
