/**
 * os-hypervisors, admin only (nova/api/openstack/compute/hypervisors.py): one hypervisor per
 * compute host (a Docker engine), as the host cache last heard it, with what its servers use.
 *
 *   GET  /os-hypervisors[/detail]           list (2.33 limit/marker, 2.53 hostname pattern, with_servers)
 *   GET  /os-hypervisors/{id}               show (2.88: + uptime null)
 *   GET  /os-hypervisors/statistics         sums (< 2.88)
 *   GET  /os-hypervisors/{id}/uptime        501: engines report none (< 2.88)
 *   GET  /os-hypervisors/{pattern}/search   by hostname substring (< 2.53)
 *   GET  /os-hypervisors/{pattern}/servers  the servers of matching hosts (< 2.53)
 */
import { Router, Request } from 'express';
import { badRequest, msg, notFound, notImplemented } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { boolParam, limitParam, queryParam } from '../../http/query';
import { UUID_RE } from '../../http/validation';
import type { HostState } from '../services/hosts';
import { MAX_LIMIT } from '../max-limit';
import { atLeast, mvOf } from '../microversion';
import type { ServerRecord } from '../server-record';
import { Link, nextPageLinks } from '../views/common';
import {
  HostUsage, hostUsage, hypervisorDetail, hypervisorHostname, hypervisorId, hypervisorListView, hypervisorStatisticsView, hypervisorSummary,
} from '../views/hypervisors';
import type { HostsPort } from './ports';
import type { HostFigures } from '../scheduler/placement';

export interface HypervisorsRouterDeps {
  hosts: HostsPort;
  /** Servers (not deleted) recorded on a host (ServerQueries.serversOnHost). */
  serversOnHost(host: string): Promise<ServerRecord[]>;
  /** Every host's allocated figures and service status (PlacementService.figures). */
  figures(): Promise<Map<string, HostFigures>>;
  /** Base of the absolute links (paging). */
  publicUrl: string;
}

/** Nova's 501 for a virt driver without uptime (the engines do not report theirs). */
const uptimeNotImplemented = () => notImplemented('Virt driver does not implement uptime function.');

/** Nova removed /statistics and /{id}/uptime at 2.88, /search and /servers at 2.53: 404 there. */
const gone = () => notFound(msg.resourceNotFound());

const noMatch = (pattern: string) => notFound(`No hypervisor matching '${pattern}' could be found.`);

export function hypervisorsRouter({ hosts, serversOnHost, figures, publicUrl }: HypervisorsRouterDeps): Router {
  const router = Router();
  const admin = (req: Request, action: string) => requireAdmin(ctxOf(req), `os_compute_api:os-hypervisors:${action}`);
  const usageOf = async (host: string, figs: Map<string, HostFigures>): Promise<HostUsage> => hostUsage(await serversOnHost(host), figs.get(host));
  const matching = async (pattern: string) => (await hosts.hosts()).filter((h) => hypervisorHostname(h).includes(pattern));

  /** Hosts after 2.53's hypervisor_hostname_pattern and 2.33's limit/marker. */
  const selected = async (req: Request): Promise<{ hosts: HostState[]; links: Link[] }> => {
    let all = await hosts.hosts();
    if (atLeast(req, '2.53')) {
      const pattern = queryParam(req, 'hypervisor_hostname_pattern');
      if (pattern !== undefined) {
        all = all.filter((h) => hypervisorHostname(h).includes(pattern));
        // NOTE(openstack): Nova answers an empty match with 404, not an empty list.
        if (all.length === 0) throw noMatch(pattern);
        return { hosts: all, links: [] };
      }
    }
    if (!atLeast(req, '2.33')) return { hosts: all, links: [] };
    const limit = limitParam(req, MAX_LIMIT) ?? MAX_LIMIT;
    const marker = queryParam(req, 'marker');
    let start = 0;
    if (marker !== undefined) {
      const at = all.findIndex((h) => String(hypervisorId(mvOf(req), h)) === marker);
      if (at < 0) throw badRequest(`marker [${marker}] not found`);
      start = at + 1;
    }
    const page = all.slice(start, start + limit);
    const last = page[page.length - 1];
    const path = req.path.endsWith('/detail') ? 'os-hypervisors/detail' : 'os-hypervisors';
    return { hosts: page, links: nextPageLinks(publicUrl, path, req.query, page.length, last ? String(hypervisorId(mvOf(req), last)) : undefined) };
  };

  /** The host named by a path id: an integer below 2.53, a UUID from 2.53. */
  const byId = async (req: Request, id: string): Promise<HostState> => {
    const all = await hosts.hosts();
    if (atLeast(req, '2.53')) {
      if (!UUID_RE.test(id)) throw badRequest(`Invalid uuid ${id}`);
      const h = all.find((x) => x.uuid === id.toLowerCase());
      if (h) return h;
    } else {
      const h = /^[0-9]+$/.test(id) ? all.find((x) => x.index === Number(id)) : undefined;
      if (h) return h;
    }
    throw notFound(msg.hypervisorNotFound(id));
  };

  const withServersParam = (req: Request) => (atLeast(req, '2.53') ? boolParam(req, 'with_servers') ?? false : false);

  router.get('/', handle(async (req, res) => {
    admin(req, 'list');
    const page = await selected(req);
    const withServers = withServersParam(req);
    const figs = await figures();
    const items = await Promise.all(page.hosts.map(async (h) => hypervisorSummary(mvOf(req), h, figs.get(h.host), withServers ? await serversOnHost(h.host) : undefined)));
    res.status(200).json(hypervisorListView(items, page.links));
  }));

  router.get('/detail', handle(async (req, res) => {
    admin(req, 'list-detail');
    const page = await selected(req);
    const withServers = withServersParam(req);
    const figs = await figures();
    const items = await Promise.all(page.hosts.map(async (h) => hypervisorDetail(mvOf(req), h, await usageOf(h.host, figs), withServers)));
    res.status(200).json(hypervisorListView(items, page.links));
  }));

  router.get('/statistics', handle(async (req, res) => {
    if (atLeast(req, '2.88')) throw gone();
    admin(req, 'statistics');
    const all = await hosts.hosts();
    const figs = await figures();
    const entries = [];
    for (const host of all) entries.push({ host, usage: await usageOf(host.host, figs) });
    res.status(200).json(hypervisorStatisticsView(mvOf(req), entries));
  }));

  router.get('/:pattern/search', handle(async (req, res) => {
    if (atLeast(req, '2.53')) throw gone();
    admin(req, 'search');
    const found = await matching(req.params.pattern);
    if (found.length === 0) throw noMatch(req.params.pattern);
    const figs = await figures();
    res.status(200).json({ hypervisors: found.map((h) => hypervisorSummary(mvOf(req), h, figs.get(h.host))) });
  }));
  router.get('/:pattern/servers', handle(async (req, res) => {
    if (atLeast(req, '2.53')) throw gone();
    admin(req, 'servers');
    const found = await matching(req.params.pattern);
    if (found.length === 0) throw noMatch(req.params.pattern);
    const figs = await figures();
    const items = await Promise.all(found.map(async (h) => hypervisorSummary(mvOf(req), h, figs.get(h.host), await serversOnHost(h.host))));
    res.status(200).json({ hypervisors: items });
  }));

  router.get('/:id/uptime', handle(async (req) => {
    if (atLeast(req, '2.88')) throw gone();
    admin(req, 'uptime');
    await byId(req, req.params.id);
    throw uptimeNotImplemented();
  }));

  router.get('/:id', handle(async (req, res) => {
    admin(req, 'show');
    const h = await byId(req, req.params.id);
    res.status(200).json({ hypervisor: hypervisorDetail(mvOf(req), h, await usageOf(h.host, await figures()), withServersParam(req)) });
  }));

  router.all(['/', '/detail', '/statistics', '/:id', '/:id/uptime', '/:pattern/search', '/:pattern/servers'], methodNotAllowed());
  return router;
}
