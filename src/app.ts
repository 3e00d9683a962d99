/**
 * createApp(deps) builds the HTTP app without listening: tests drive it with supertest,
 * main.ts listens. One process serves the devstack layout: /identity, /compute, /image.
 */
import express, { Express } from 'express';
import type { Logger } from 'pino';
import { requestId, requestLog } from './http/request-log';
import { errorHandler, notFoundHandler } from './http/errors';
import { ProjectDirectory } from './identity/projects';
import { identityRouter } from './identity/router';
import { IdentityDirectory } from './identity/directory';
import { imageRouter } from './image/router';
import { computeRouter } from './compute/api/router';
import type { Services } from './compose';
// issue 18 part 4: logins that cannot stall the cloud
import { loginGuardRouter } from './identity/login-guard-router';
import { DEFAULT_AUTH_FAILURE_DELAY_MS, DEFAULT_LOGIN, DEFAULT_METRICS_ALLOW } from './config';
import { metricsEndpoint, requestMetrics } from './http/metrics';
import { registryRouter } from './registry/router';
// issue 17: the Networking API
import { networkRouter } from './network/api/router';
// issue 18 part 2: the built-in page at / and /ui
import { uiRouter } from './ui/router';

export function createApp(services: Services, log: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'extended');
  app.use(requestId());
  app.use(requestLog(log));
  // Metrics (issue 18): every request timed by route template; GET /metrics for Prometheus (no token: see src/http/metrics.ts).
  app.use(requestMetrics(services.metrics, ['/identity', '/compute', '/image', '/networking']));
  app.get('/metrics', metricsEndpoint(services.metrics, services.config.metrics ?? { allow: DEFAULT_METRICS_ALLOW }));

  const { publicUrl } = services.config;

  /** Without a token: does the database answer, does each Docker engine answer. */
  app.get('/healthcheck', (_req, res, next) => {
    services.health().then((h) => res.status(h.ok ? 200 : 503).json(h), next);
  });

  // issue 18 part 4: the failed-login limit and unlocking, ahead of the Keystone router.
  const login = services.config.login ?? DEFAULT_LOGIN;
  app.use('/identity', loginGuardRouter({
    publicUrl, tokens: services.tokens, logins: services.logins, failureLimit: { failures: login.authFailureLimit, windowSeconds: login.authFailureWindow, delayMs: login.authFailureDelayMs ?? DEFAULT_AUTH_FAILURE_DELAY_MS },
  }, log));
  app.use('/identity', identityRouter(services.tokens, publicUrl, log, new ProjectDirectory(services.identity),
    IdentityDirectory.over(services.tokens, services.identity, services.db)));
  app.use('/compute', computeRouter({
    publicUrl,
    tokens: services.tokens,
    compute: services.compute,
    flavors: services.flavors,
    keypairs: services.keypairs,
    quotas: services.compute.quotas,
    usage: (projectId) => services.compute.queries.quotaUsage(projectId),
    hosts: services.compute.hosts,
    serversOnHost: (host) => services.compute.queries.serversOnHost(host),
    hostFigures: () => services.compute.placement.figures(),
    images: services.images,
    // issue 17 (net-secgroups)
    securityGroups: services.novaSecurityGroups,
    floatingIps: services.novaFloatingIps, // issue 17 (net-router): os-floating-ips
    networks: { list: (ctx) => services.networkCore.networks.novaNetworks(ctx) }, // issue 17 (net-core): os-networks
  }, log));
  app.use('/image', imageRouter({
    publicUrl, tokens: services.tokens, images: services.images, imageMembers: services.imageMembers, imageUploads: services.imageUploads,
  }, log));

  // issue 14: the Docker Registry HTTP API v2 at the root's /v2/ (Glance is /image/v2).
  // issue 17: the Networking API (Neutron v2.0 subset)
  app.use('/networking', networkRouter({
    publicUrl, tokens: services.tokens,
    // security groups and rules
    securityGroups: services.securityGroups,
    // net-core: networks, subnets, ports, quotas
    core: { networks: services.networkCore.networks, subnets: services.networkCore.subnets, ports: services.networkCore.ports, quotas: services.networkCore.quotaApi },
    floatingIps: services.floatingIps.service, routers: services.floatingIps.routers, // issue 17: floating IPs and routers
  }, log));
  app.use('/v2', registryRouter({ registry: services.registry.service, auth: services.registry.auth }, log));

  // issue 18 part 2: the built-in page (a browser at /, and /ui/…), a client of the APIs above.
  app.use(uiRouter({ publicUrl, tokens: services.tokens, imageUploads: services.imageUploads }, log));

  app.use(notFoundHandler());
  app.use(errorHandler('identity', log, publicUrl));
  return app;
}
