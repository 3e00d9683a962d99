/**
 * The Compute API (Nova v2.1 subset), mounted at /compute:
 *
 *   /, /v2, /v2.1                   version documents (no token)                      versions.ts
 *   /v2.1/servers…                  servers, metadata, ips, instance actions, groups   servers.ts
 *   /v2.1/servers/{id}/action       the action table                                   server-actions.ts
 *   /v2.1/flavors…                  flavors, extra specs, flavor access                flavors.ts
 *   /v2.1/os-keypairs…              key pairs                                          keypairs.ts
 *   /v2.1/os-server-groups…         server groups                                      server-groups.ts
 *   /v2.1/limits                    limits                                             limits.ts
 *   /v2.1/os-quota-(class-)sets…    quota sets and classes                             quotas.ts
 *   /v2.1/os-simple-tenant-usage…   usage per project in a window                      tenant-usage.ts
 *   /v2.1/os-availability-zone…     availability zones                                 zones.ts
 *   /v2.1/os-networks…, /os-security-groups…   the pseudo network and default group    networks.ts
 *   /v2.1/os-hypervisors…           hypervisors (admin)                                hypervisors.ts
 *   /v2.1/os-services…              compute and internal services (admin)              os-services.ts
 *   /v2.1/os-aggregates…            host aggregates (admin)                            aggregates.ts
 *   /v2.1/os-migrations, /servers/{id}/migrations…   moves (admin)                     migrations.ts
 *   /v2.1/images…                   the compute image proxy (< 2.36)                   images.ts
 *   /v2.1/images/{id}/metadata…     image properties through compute (< 2.39)          image-metadata.ts
 *   /v2.1/servers/{id}/tags…        server tags (2.26+)                                server-tags.ts
 *   /v2.1/servers/{id}/diagnostics, /os-server-password   (admin) live figures; no password   server-extras.ts
 *   /v2.1/servers/{id}/remote-consoles   serial console URLs (2.6)                     remote-consoles.ts
 *   /v2.1/servers/{id}/os-volume_attachments   none: no block storage here             volume-attachments.ts
 *
 * Everything under /v2.1 needs a token, is rendered at the request's microversion (headers on
 * every response, errors too), takes JSON bodies, and answers errors in Nova's shape. Readers
 * may only read. The legacy `/v2.1/{project_id}/…` form is accepted as well.
 */
import express, { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { badRequest } from '../../errors';
import { requireToken, requireWriter } from '../../http/auth';
import { errorHandler, notFoundHandler } from '../../http/errors';
import type { TokenService } from '../../identity/token-service';
import type { ComputeServices } from '../services';
import { apiVersionMiddleware, untilVersion } from '../microversion';
import type { ServerRecord } from '../server-record';
import type { FlavorService } from '../services/flavors';
import type { KeypairService } from '../services/keypairs';
import type { QuotaUsage } from '../views/limits';
import type { HostFigures } from '../scheduler/placement';
import { flavorsRouter } from './flavors';
import { hypervisorsRouter } from './hypervisors';
import { imageProxyRouter } from './images';
import { keypairsRouter } from './keypairs';
import { limitsRouter } from './limits';
import { quotasRouter } from './quotas';
import { tenantUsageRouter } from './tenant-usage';
import type { QuotaService } from '../services/quotas';
import { migrationsRouter } from './migrations';
import { networksRouter, NovaNetworksPort } from './networks';
import type { HostsPort, ImageProxyPort } from './ports';
import { serverActionsRouter } from './server-actions';
import { serverGroupsRouter } from './server-groups';
import { serversRouter } from './servers';
import { computeVersionsRouter } from './versions';
import { availabilityZonesRouter } from './zones';
import { osServicesRouter } from './os-services';
import { aggregatesRouter } from './aggregates';
import { serverTagsRouter } from './server-tags';
import { serverExtrasRouter } from './server-extras';
import { imageMetadataRouter } from './image-metadata';
import { ImageMetadata } from '../services/image-metadata';
import { remoteConsolesRouter } from './remote-consoles';
import { volumeAttachmentsRouter } from './volume-attachments';
import { interfacesRouter } from './interfaces';
// issue 17 (net-secgroups)
import type { NovaSecurityGroups } from '../../network/nova-security-groups';
import { novaSecurityGroupsRouter } from './security-groups';
import { novaFloatingIpsRouter } from './floating-ips';
import type { NovaFloatingIps } from '../../network/nova-floating-ips';

/** What the compute API is given (createApp builds it from the Services bag); each router takes its part. */
export interface ComputeApiDeps {
  /** Base URL every link advertises. */
  publicUrl: string;
  /** Turns X-Auth-Token into the request context. */
  tokens: TokenService;
  compute: Pick<ComputeServices, 'queries' | 'boot' | 'actions' | 'updates' | 'deleter' | 'snapshots' | 'hosts' | 'osServices' | 'aggregates' | 'zones' | 'serverGroups' | 'migrations'
    | 'shelve' | 'tenantUsage' | 'tags' | 'diagnostics' | 'resize' | 'consoles'
    | 'interfaces'>; // net-compute (issue 17)
  flavors: FlavorService;
  keypairs: KeypairService;
  /** Quota sets and classes (the database). */
  quotas: QuotaService;
  /** What a project's servers use. */
  usage(projectId: string): Promise<QuotaUsage>;
  /** The compute hosts as last heard. */
  hosts: HostsPort;
  /** Servers (not deleted) recorded on a host. */
  serversOnHost(host: string): Promise<ServerRecord[]>;
  /** Every host's allocated figures and service status (os-hypervisors). */
  hostFigures(): Promise<Map<string, HostFigures>>;
  /** The image service, for the compute image proxy. */
  images: ImageProxyPort;
  // issue 17 (net-secgroups): os-security-groups and a server's groups from the network service
  securityGroups?: NovaSecurityGroups;
  /** issue 17 (net-router): os-floating-ips, os-floating-ip-pools, addFloatingIp/removeFloatingIp from the network service. */
  floatingIps?: NovaFloatingIps;
  /** issue 17 (net-core): the network service's networks, for os-networks (absent: the pseudo network only). */
  networks?: NovaNetworksPort;
}

/** A project id in the legacy URL form: Keystone's 32 hex digits or a dashed UUID. */
const LEGACY_PREFIX = /^\/v2\.1\/([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=\/|\?|$)/;

export function computeRouter(deps: ComputeApiDeps, log: Logger): Router {
  const { publicUrl, compute, flavors, keypairs, quotas, usage, hosts, serversOnHost, hostFigures, images } = deps;
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
  v21.use(requireToken(deps.tokens));
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

  // The route table: one router per resource, each given only what it uses.
  // issue 17 (net-secgroups): ahead of the servers' routes and the pseudo group of os-security-groups
  if (deps.securityGroups) v21.use(novaSecurityGroupsRouter({ groups: deps.securityGroups, compute }));
  v21.use(serversRouter({ compute, publicUrl }));                                     // /servers…
  if (deps.floatingIps) v21.use(novaFloatingIpsRouter(deps.floatingIps));            // /os-floating-ips, /os-floating-ip-pools
  v21.use(serverActionsRouter({ compute, publicUrl, securityGroups: deps.securityGroups, floatingIps: deps.floatingIps })); // /servers/{id}/action
  v21.use(migrationsRouter({ compute, publicUrl }));                                  // /os-migrations, /servers/{id}/migrations…
  v21.use(serverTagsRouter({ tags: compute.tags, publicUrl }));                       // /servers/{id}/tags… (2.26)
  v21.use(serverExtrasRouter({ compute }));                                           // /servers/{id}/diagnostics, /os-server-password
  v21.use('/flavors', flavorsRouter({ flavors, publicUrl }));
  v21.use('/os-keypairs', keypairsRouter({ keypairs, publicUrl }));
  v21.use('/os-server-groups', serverGroupsRouter({ serverGroups: compute.serverGroups }));
  v21.use(limitsRouter({ quotas, usage }));                                           // /limits
  v21.use(quotasRouter({ quotas }));                                                  // /os-quota-sets, /os-quota-class-sets
  v21.use(tenantUsageRouter({ usage: compute.tenantUsage, publicUrl }));              // /os-simple-tenant-usage
  v21.use('/os-availability-zone', availabilityZonesRouter({ zones: compute.zones }));
  v21.use(networksRouter(deps.networks));                                                          // /os-networks, /os-security-groups
  v21.use('/os-hypervisors', hypervisorsRouter({ hosts, serversOnHost, figures: hostFigures, publicUrl }));
  v21.use('/os-services', osServicesRouter({ services: compute.osServices }));
  v21.use('/os-aggregates', aggregatesRouter({ aggregates: compute.aggregates }));
  v21.use('/images', untilVersion('2.38'), imageMetadataRouter({ metadata: new ImageMetadata(images, async (projectId) => (await quotas.limits(projectId)).metadata_items) })); // removed at 2.39
  v21.use('/images', untilVersion('2.35'), imageProxyRouter({ images, publicUrl }));  // removed at 2.36
  v21.use(remoteConsolesRouter({ compute }));                                         // /servers/{id}/remote-consoles
  v21.use(volumeAttachmentsRouter({ compute }));                                      // /servers/{id}/os-volume_attachments
  // --- net-compute (issue 17)
  v21.use(interfacesRouter({ interfaces: compute.interfaces }));                      // /servers/{id}/os-interface

  r.use('/v2.1', v21);
  r.use(notFoundHandler());
  r.use(errorHandler('compute', log, publicUrl));
  return r;
}
