/**
 * The Compute API (Nova v2.1 subset), mounted at /compute:
 *
 *   /                     version documents (no token)          computeVersionsRouter
 *   /v2.1                 version document (no token)
 *   /v2.1/servers…        servers, actions, metadata, ips, os-instance-actions    serversRouter
 *   /v2.1/flavors…        flavorsRouter      /v2.1/os-keypairs…   keypairsRouter
 *   /v2.1/…               /limits, /os-availability-zone, /os-networks, /os-security-groups,
 *                         /os-hypervisors, /images                  miscRouter
 *
 * Everything under /v2.1 needs a token, is rendered at the request's microversion (headers on
 * every response, errors too), takes JSON bodies, and answers errors in Nova's shape. Readers
 * may only read. The legacy `/v2.1/{project_id}/…` form is accepted as well.
 */
import express, { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import type { Services } from '../compose';
import { requireToken, requireWriter } from '../http/auth';
import { errorHandler, notFoundHandler } from '../http/errors';
import { badRequest } from '../errors';
import { computeVersionsRouter } from './versions';
import { apiVersionMiddleware, untilVersion } from './microversion';
import { flavorsRouter } from './api/flavors';
import { keypairsRouter } from './api/keypairs';
import { limitsRouter } from './api/limits';
import { availabilityZonesRouter } from './api/zones';
import { networksRouter } from './api/networks';
import { hypervisorsRouter } from './api/hypervisors';
import { imageProxyRouter } from './api/images';
import { hostInfoFor } from './host-info';
import { serversRouter } from './servers-router';

/** A project id in the legacy URL form: Keystone's 32 hex digits or a dashed UUID. */
const LEGACY_PREFIX = /^\/v2\.1\/([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=\/|\?|$)/;

export function computeRouter(services: Services, log: Logger): Router {
  const publicUrl = services.config.publicUrl;
  const r = Router();

  // novaclient reads only X-Compute-Request-Id for its "(Request-ID: …)" suffix.
  r.use((req, res, next) => {
    res.setHeader('X-Compute-Request-Id', req.id);
    next();
  });

  // `/v2.1/{project_id}/servers` → `/v2.1/servers` (the project id is checked against the token below).
  r.use((req: Request, res: Response, next: NextFunction) => {
    const m = LEGACY_PREFIX.exec(req.url);
    if (m) {
      res.locals.urlProjectId = m[1];
      req.url = req.url.replace(LEGACY_PREFIX, '/v2.1');
    }
    next();
  });

  r.use('/', computeVersionsRouter(publicUrl));

  const v21 = Router();
  // Bodies are read before anything can refuse the request, so that an early error never leaves
  // an unread body on a keep-alive connection. Any content type is read as JSON (Nova's default);
  // bodies that are not JSON are a 400.
  v21.use(express.json({ limit: '1mb', type: () => true, strict: true }));
  v21.use(requireToken(services.tokens));
  v21.use(apiVersionMiddleware());
  v21.use((req, res, next) => {
    const urlProject = res.locals.urlProjectId as string | undefined;
    if (urlProject && req.context && urlProject.replace(/-/g, '') !== req.context.projectId.replace(/-/g, '')) {
      return next(badRequest(`Malformed request URL: URL's project_id '${urlProject}' doesn't match Context's project_id '${req.context.projectId}'`));
    }
    next();
  });
  v21.use((req, _res, next) => {
    // Nova requires a JSON object body on POST and PUT (an empty body reads as {} and fails the schema).
    if ((req.method === 'POST' || req.method === 'PUT') && (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body))) {
      return next(badRequest('Malformed request body: the body must be a JSON object.'));
    }
    next();
  });
  v21.use(requireWriter());

  v21.use(serversRouter(services));
  v21.use('/flavors', flavorsRouter({ flavors: services.flavors, publicUrl }));
  v21.use('/os-keypairs', keypairsRouter({ keypairs: services.keypairs, publicUrl }));
  const hosts = hostInfoFor(services.drivers);
  const serversOnHost = (host: string) => services.compute.serversOnHost(host);
  v21.use(limitsRouter({ quotas: services.config.seed.quotas, usage: (projectId) => services.compute.usage(projectId) }));
  v21.use('/os-availability-zone', availabilityZonesRouter({ hosts }));
  v21.use(networksRouter());
  v21.use('/os-hypervisors', hypervisorsRouter({ hosts, serversOnHost, publicUrl }));
  v21.use('/images', untilVersion('2.35'), imageProxyRouter({ images: services.images, publicUrl }));

  r.use('/v2.1', v21);
  r.use(notFoundHandler());
  r.use(errorHandler('compute', log, publicUrl));
  return r;
}
