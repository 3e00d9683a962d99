/**
 * The Docker Registry HTTP API v2 (OCI distribution spec) at /v2/, and its token endpoint
 * /v2/token (registry-auth.ts). Repository names may hold slashes, so routes are patterns.
 * Every answer carries Docker-Distribution-API-Version; errors are the spec's
 * `{"errors":[{code,message,detail}]}`.
 */
import express, { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { handle } from '../http/async';
import { RegistryError } from './errors';
import type { RegistryService, Pusher } from './registry-service';
import { Action, RegistryAuth, validRepositoryName } from './registry-auth';
import { MAX_MANIFEST_BYTES } from './manifests';
import { DomainError } from '../errors';

export interface RegistryRouterDeps {
  registry: RegistryService;
  auth: RegistryAuth;
}

const NAME = '([a-z0-9][a-z0-9._/-]*)';
const rx = (tail: string) => new RegExp(`^/${NAME}/${tail}$`);

export function registryRouter(deps: RegistryRouterDeps, log: Logger): Router {
  const { registry, auth } = deps;
  const r = express.Router();
  r.use((_req, res, next) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    next();
  });

  /** Checks the request may do `action` on the repository; resolves to who pushes there. */
  const authorize = async (req: Request, res: Response, repository: string, action: Action): Promise<Pusher> => {
    if (!validRepositoryName(repository)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: repository });
    const grant = await grantOf(req);
    const decision = await auth.decide(grant, repository, action);
    const scope = `repository:${repository}:${action === 'pull' ? 'pull' : 'pull,push'}`;
    if (decision === 'ask') {
      res.setHeader('WWW-Authenticate', auth.challenge(scope, grant ? 'insufficient_scope' : undefined));
      throw new RegistryError('UNAUTHORIZED', 'authentication required', [{ Type: 'repository', Name: repository, Action: action }]);
    }
    // Another project's private repository: not found to a puller, denied to a pusher; never its contents.
    if (decision === 'no') {
      if (action === 'pull') throw new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name: repository });
      // NOTE(docker): with no detail, the engine's client (distribution's errcode.Errors
      // UnmarshalJSON) reads the error back as a bare code that its push does not recognise as
      // final, and retries the layer for a minute: the detail makes it an Error it gives up on.
      throw new RegistryError('DENIED', 'requested access to the resource is denied', { name: repository, action });
    }
    const project = await auth.projectOf(repository);
    return { projectId: project?.id ?? '', userId: grant?.userId ?? '' };
  };
  const grantOf = (req: Request) => {
    const h = req.header('authorization');
    const bearer = h && /^bearer /i.test(h) ? h.slice(7).trim() : undefined;
    return auth.grantOf(bearer, req.header('x-auth-token') ?? undefined, req.id);
  };

  // ---------------------------------------------------------------- base, token, catalog
  r.get('/', handle(async (req, res) => {
    const grant = await grantOf(req);
    if (!grant && !auth.anonymousPull) {
      res.setHeader('WWW-Authenticate', auth.challenge());
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
    res.status(200).json({});
  }));

  r.get('/token', handle(async (req, res) => {
    const basic = parseBasic(req.header('authorization'));
    const scopes = ([] as unknown[]).concat(req.query.scope ?? []).filter((s): s is string => typeof s === 'string');
    const t = await auth.issue(basic, scopes);
    res.status(200).json({ token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt });
  }));

  r.get('/_catalog', handle(async (req, res) => {
    const grant = await grantOf(req);
    if (!grant) {
      res.setHeader('WWW-Authenticate', auth.challenge('registry:catalog:*'));
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
    const { n, last } = paging(req);
    const visible: string[] = [];
    for (const repo of await registry.repositories()) if ((await auth.allowed(grant.userId || undefined, repo)).has('pull')) visible.push(repo);
    const after = last === undefined ? visible : visible.filter((x) => x > last);
    const page = after.slice(0, n);
    if (after.length > page.length) res.setHeader('Link', `</v2/_catalog?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`);
    res.json({ repositories: page });
  }));

  // ---------------------------------------------------------------- tags
  r.get(rx('tags/list'), handle(async (req, res) => {
    const name = req.params[0];
    await authorize(req, res, name, 'pull');
    const { n, last } = paging(req);
    const page = await registry.tags(name, last, n);
    if (page.more) res.setHeader('Link', `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page.tags[page.tags.length - 1])}>; rel="next"`);
    res.json({ name, tags: page.tags });
  }));

  // ---------------------------------------------------------------- manifests
  r.get(rx('manifests/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    await authorize(req, res, name, 'pull');
    const m = await registry.manifest(name, req.params[1]);
    res.status(200).set({ 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"` }).send(m.body);
  }));
  r.head(rx('manifests/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    await authorize(req, res, name, 'pull');
    const m = await registry.manifest(name, req.params[1]);
    res.status(200).set({ 'Content-Type': m.mediaType, 'Docker-Content-Digest': m.digest, 'Content-Length': String(m.body.length) }).end();
  }));
  r.put(rx('manifests/([^/]+)'), express.raw({ type: () => true, limit: MAX_MANIFEST_BYTES }), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const digest = await registry.putManifest(who, name, req.params[1], body, req.header('content-type'));
    res.status(201).set({ Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' }).end();
  }));
  r.delete(rx('manifests/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    await authorize(req, res, name, 'delete');
    await registry.deleteManifest(name, req.params[1]);
    res.status(202).set('Content-Length', '0').end();
  }));

  // ---------------------------------------------------------------- uploads
  const uploadAnswer = (res: Response, name: string, id: string, offset: number, status: number) => {
    res.status(status).set({
      Location: `/v2/${name}/blobs/uploads/${id}`, Range: `0-${Math.max(0, offset - 1)}`, 'Docker-Upload-UUID': id, 'Content-Length': '0',
    }).end();
  };
  r.post(rx('blobs/uploads/?'), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    const { mount, from, digest } = req.query;
    if (typeof mount === 'string' && typeof from === 'string' && validRepositoryName(from)) {
      // A mount within the project only: the source must be the same project's and readable.
      const sameProject = (await auth.projectOf(from))?.id === who.projectId;
      if (sameProject && (await registry.mount(name, mount, from))) {
        res.status(201).set({ Location: `/v2/${name}/blobs/${mount}`, 'Docker-Content-Digest': mount, 'Content-Length': '0' }).end();
        return;
      }
    }
    if (typeof digest === 'string') {
      await registry.putBlob(who, name, digest, req);
      res.status(201).set({ Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' }).end();
      return;
    }
    const up = await registry.startUpload(who, name);
    uploadAnswer(res, name, up.id, 0, 202);
  }));
  r.get(rx('blobs/uploads/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    const up = await registry.upload(who, name, req.params[1]);
    uploadAnswer(res, name, up.id, up.offset, 204);
  }));
  r.patch(rx('blobs/uploads/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    const range = parseContentRange(req.header('content-range'));
    const up = await registry.append(who, name, req.params[1], req, range);
    uploadAnswer(res, name, up.id, up.offset, 202);
  }));
  r.put(rx('blobs/uploads/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    const digest = req.query.digest;
    if (typeof digest !== 'string') throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { reason: 'digest parameter missing' });
    const hasBody = Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
    await registry.finish(who, name, req.params[1], digest, hasBody ? req : undefined);
    res.status(201).set({ Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest, 'Content-Length': '0' }).end();
  }));
  r.delete(rx('blobs/uploads/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    const who = await authorize(req, res, name, 'push');
    await registry.cancel(who, name, req.params[1]);
    res.status(204).end();
  }));

  // ---------------------------------------------------------------- blobs
  const blobRoute = (head: boolean) => handle(async (req: Request, res: Response) => {
    const name = req.params[0];
    await authorize(req, res, name, 'pull');
    // A HEAD is how a push learns it may skip a layer: the blob is kept for it (RegistryService.blob).
    const b = await registry.blob(name, req.params[1], head);
    const headers: Record<string, string> = { 'Docker-Content-Digest': b.digest, ETag: `"${b.digest}"`, 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    const ranges = req.header('range') ? req.range(b.size) : undefined;
    if (ranges === -1 || (Array.isArray(ranges) && ranges.length !== 1)) {
      res.setHeader('Content-Range', `bytes */${b.size}`);
      throw new RegistryError('RANGE_INVALID', 'requested range not satisfiable', { size: b.size });
    }
    const range = Array.isArray(ranges) && ranges.type === 'bytes' ? ranges[0] : undefined;
    if (range) {
      res.status(206).set({ ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${b.size}`, 'Content-Length': String(range.end - range.start + 1) });
    } else res.status(200).set({ ...headers, 'Content-Length': String(b.size) });
    if (head) return void res.end();
    const stream = b.open(range);
    stream.on('error', (err) => {
      log.warn({ err, digest: b.digest }, 'registry blob read failed');
      res.destroy(err);
    });
    res.on('close', () => stream.destroy());
    stream.pipe(res);
  });
  // HEAD first: express would give a HEAD to the GET route registered before it.
  r.head(rx('blobs/([^/]+)'), blobRoute(true));
  r.get(rx('blobs/([^/]+)'), blobRoute(false));
  r.delete(rx('blobs/([^/]+)'), handle(async (req, res) => {
    const name = req.params[0];
    await authorize(req, res, name, 'delete');
    await registry.deleteBlob(name, req.params[1]);
    res.status(202).set('Content-Length', '0').end();
  }));

  r.use((_req: Request, _res: Response, next: NextFunction) => next(new RegistryError('UNSUPPORTED', 'The operation is unsupported.')));
  r.use(registryErrors(log));
  return r;
}

/** Renders errors in the spec's shape; a request whose client is gone gets nothing. */
function registryErrors(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let e: RegistryError;
    if (err instanceof RegistryError) e = err;
    else if (err instanceof DomainError && err.kind === 'unauthorized') e = new RegistryError('UNAUTHORIZED', 'authentication required');
    else if ((err as { type?: string })?.type === 'entity.too.large') e = new RegistryError('SIZE_INVALID', 'manifest too large', { limit: MAX_MANIFEST_BYTES });
    else if (req.destroyed || (err as NodeJS.ErrnoException)?.code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET') {
      if (!res.headersSent) res.destroy();
      return;
    } else {
      log.error({ err, method: req.method, url: req.originalUrl }, 'registry request failed');
      if (res.headersSent) return void res.destroy();
      res.status(500).json({ errors: [{ code: 'UNKNOWN', message: 'unknown error', detail: null }] });
      return;
    }
    if (res.headersSent) return void res.destroy();
    if (e.code === 'UNAUTHORIZED' && !res.getHeader('WWW-Authenticate')) res.setHeader('WWW-Authenticate', `Bearer realm="${req.protocol}://${req.get('host')}/v2/token",service="novadock"`);
    res.status(e.status).json({ errors: [{ code: e.code === 'RANGE_INVALID' ? 'BLOB_UPLOAD_INVALID' : e.code, message: e.message, detail: e.detail ?? null }] });
  };
}

function paging(req: Request): { n: number; last: string | undefined } {
  const raw = req.query.n;
  let n = 1000;
  if (typeof raw === 'string' && raw !== '') {
    if (!/^\d+$/.test(raw)) throw new RegistryError('UNSUPPORTED', 'The operation is unsupported.', { reason: 'n must be a non-negative integer' });
    n = Math.min(Number(raw), 10_000);
  }
  const last = typeof req.query.last === 'string' ? req.query.last : undefined;
  return { n, last };
}

function parseBasic(h: string | undefined): { user: string; password: string } | undefined {
  if (!h || !/^basic /i.test(h)) return undefined;
  const text = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const at = text.indexOf(':');
  if (at < 0) throw new RegistryError('UNAUTHORIZED', 'authentication required', { reason: 'malformed Basic credentials' });
  return { user: text.slice(0, at), password: text.slice(at + 1) };
}

/** PATCH Content-Range: `<start>-<end>` (Docker's form; `bytes ` tolerated). */
function parseContentRange(h: string | undefined): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(h.trim());
  if (!m || Number(m[2]) < Number(m[1])) throw new RegistryError('RANGE_INVALID', 'invalid content range', { range: h });
  return { start: Number(m[1]), end: Number(m[2]) };
}
