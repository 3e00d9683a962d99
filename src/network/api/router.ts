/**
 * The Networking API (Neutron v2.0 subset, issue 17), mounted at /networking; the catalog's
 * `network` endpoint points here. See docs/networking-design.md for how its parts fit.
 *
 *   GET /, /v2.0                  version document, resource list (no token)
 *   GET /v2.0/extensions[/{alias}]  what is served (src/network/extensions.ts)
 *   /v2.0/…                       each part's resources, mounted below in its block
 *
 * Under /v2.0 everything needs a token, bodies are JSON, readers may only read, and errors are
 * Neutron's `{"NeutronError": {type, message, detail}}`.
 */
import express, { Router } from 'express';
import type { Logger } from 'pino';
import { badRequest, notFound } from '../../errors';
import { requireToken, requireWriter } from '../../http/auth';
import { errorHandler, methodNotAllowed, notFoundHandler } from '../../http/errors';
import type { TokenService } from '../../identity/token-service';
import { EXTENSIONS } from '../extensions';
// security groups and rules
import type { SecurityGroupService } from '../security-groups';
import { securityGroupsRouter } from './security-groups-router';
// core: networks, subnets, ports, quotas
import { coreRouter, CoreRouterDeps } from './core-router';
// floating IPs and routers
import type { FloatingIpService } from '../floating-ips';
import { floatingIpsRouter } from './floating-ips-router';
import type { RouterService } from '../routers';
import { routersRouter } from './routers-router';

export interface NetworkRouterDeps {
  publicUrl: string;
  tokens: TokenService;
  // Each part adds what its routers need, in a block of its own.
  // security groups and rules
  securityGroups?: SecurityGroupService;
  // core: networks, subnets, ports, quotas
  core: CoreRouterDeps;
  // floating IPs and routers
  floatingIps: FloatingIpService;
  routers: RouterService;
}

export function networkRouter(deps: NetworkRouterDeps, log: Logger): Router {
  const { publicUrl } = deps;
  const base = `${publicUrl}/networking`;
  const r = Router();

  r.get('/', (_req, res) => {
    res.status(200).json({ versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ href: `${base}/v2.0/`, rel: 'self' }] }] });
  });
  r.all('/', methodNotAllowed());

  const v2 = Router();
  // Bodies are read before anything can refuse the request (an early error must not leave an unread
  // body on a keep-alive connection); Neutron reads any content type as JSON.
  v2.use(express.json({ limit: '1mb', type: () => true, strict: true }));
  v2.use(requireToken(deps.tokens));
  v2.use((req, _res, next) => {
    if ((req.method === 'POST' || req.method === 'PUT') && (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body))) {
      return next(badRequest('Malformed request body: the body must be a JSON object.'));
    }
    next();
  });
  v2.use(requireWriter());

  v2.get('/extensions', (_req, res) => {
    res.status(200).json({ extensions: EXTENSIONS.map(view) });
  });
  v2.get('/extensions/:alias', (req, res) => {
    const found = EXTENSIONS.find((e) => e.alias === req.params.alias);
    if (!found) throw notFound(`Extension with alias ${req.params.alias} does not exist`);
    res.status(200).json({ extension: view(found) });
  });
  v2.all(['/extensions', '/extensions/:alias'], methodNotAllowed());

  // core: networks, subnets, ports, quotas
  v2.use(coreRouter(deps.core, base));
  // security groups and rules
  if (deps.securityGroups) v2.use(securityGroupsRouter(deps.securityGroups, base));
  // floating IPs and routers
  v2.use(floatingIpsRouter(deps.floatingIps));
  v2.use(routersRouter(deps.routers));

  r.get(['/v2.0', '/v2.0/'], requireToken(deps.tokens), (_req, res) => {
    const collections = ['networks', 'subnets', 'ports', 'security-groups', 'security-group-rules', 'floatingips', 'routers'];
    res.status(200).json({
      resources: collections.map((c) => ({ name: c.replace(/s$/, '').replace(/-/g, '_'), collection: c, links: [{ href: `${base}/v2.0/${c}`, rel: 'self' }] })),
    });
  });
  r.use('/v2.0', v2);
  r.use(notFoundHandler());
  r.use(errorHandler('network', log, publicUrl));
  return r;
}

const view = (e: { alias: string; name: string; description: string }) => ({
  alias: e.alias, name: e.name, description: e.description, updated: '2013-01-20T00:00:00-00:00', links: [],
});
