/**
 * The network service's core resources (issue 17, net-core), under /networking/v2.0:
 *
 *   GET    /networks             list (filters, fields, sort_key/sort_dir, limit/marker)
 *   POST   /networks             create                       GET/PUT/DELETE /networks/{id}
 *   GET    /subnets              list                         POST /subnets
 *   GET/PUT/DELETE /subnets/{id}
 *   GET    /ports                list                         POST /ports
 *   GET/PUT/DELETE /ports/{id}
 *   GET    /quotas               projects with limits set (admin)
 *   GET/PUT/DELETE /quotas/{project_id}   GET /quotas/{project_id}/default|details
 *
 * Neutron's clients may add `.json` to a path; it means nothing more.
 */
import { Router, Request } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { neutronCore } from '../errors';
import type { NetworkService } from '../networks';
import type { SubnetService } from '../subnets';
import type { PortService } from '../port-service';
import type { QuotaApi } from '../quota-api';
import { listPage, ListQuery, ListQueryError, pickFields } from '../views';

export interface CoreRouterDeps {
  networks: NetworkService;
  subnets: SubnetService;
  ports: PortService;
  quotas: QuotaApi;
}

type View = Record<string, unknown>;

export function coreRouter(deps: CoreRouterDeps, base: string): Router {
  const r = Router();
  // `.json` suffixes, as neutronclient and old SDKs send them.
  r.use((req, _res, next) => {
    if (req.url.includes('.json')) req.url = req.url.replace(/\.json(?=$|\?)/, '');
    next();
  });

  const list = (collection: string, load: (req: Request) => Promise<View[]>) => handle(async (req, res) => {
    const all = await load(req);
    try {
      const page = listPage(all, req.query as ListQuery, `${base}/v2.0/${collection}`);
      res.status(200).json({ [collection]: page.items, ...(page.links.length ? { [`${collection}_links`]: page.links } : {}) });
    } catch (e) {
      if (e instanceof ListQueryError) throw neutronCore.badRequest(e.message);
      throw e;
    }
  });
  const one = (key: string, load: (req: Request) => Promise<View>, status = 200) => handle(async (req, res) => {
    res.status(status).json({ [key]: pickFields(await load(req), req.query as ListQuery) });
  });
  const gone = (drop: (req: Request) => Promise<void>) => handle(async (req, res) => {
    await drop(req);
    res.status(204).end();
  });

  const { networks, subnets, ports, quotas } = deps;
  r.get('/networks', list('networks', (req) => networks.list(ctxOf(req))));
  r.post('/networks', one('network', (req) => networks.create(ctxOf(req), req.body), 201));
  r.get('/networks/:id', one('network', (req) => networks.show(ctxOf(req), req.params.id)));
  r.put('/networks/:id', one('network', (req) => networks.update(ctxOf(req), req.params.id, req.body)));
  r.delete('/networks/:id', gone((req) => networks.delete(ctxOf(req), req.params.id)));

  r.get('/subnets', list('subnets', (req) => subnets.list(ctxOf(req))));
  r.post('/subnets', one('subnet', (req) => subnets.create(ctxOf(req), req.body), 201));
  r.get('/subnets/:id', one('subnet', (req) => subnets.show(ctxOf(req), req.params.id)));
  r.put('/subnets/:id', one('subnet', (req) => subnets.update(ctxOf(req), req.params.id, req.body)));
  r.delete('/subnets/:id', gone((req) => subnets.delete(ctxOf(req), req.params.id)));

  r.get('/ports', list('ports', (req) => ports.list(ctxOf(req), req.query as { network_id?: string; device_id?: string })));
  r.post('/ports', one('port', (req) => ports.create(ctxOf(req), req.body), 201));
  r.get('/ports/:id', one('port', (req) => ports.show(ctxOf(req), req.params.id)));
  r.put('/ports/:id', one('port', (req) => ports.update(ctxOf(req), req.params.id, req.body)));
  r.delete('/ports/:id', gone((req) => ports.delete(ctxOf(req), req.params.id)));

  r.get('/quotas', handle(async (req, res) => {
    res.status(200).json({ quotas: await quotas.list(ctxOf(req)) });
  }));
  r.get('/quotas/:project/default', one('quota', (req) => quotas.defaults(ctxOf(req), req.params.project)));
  r.get('/quotas/:project/details', one('quota', (req) => quotas.details(ctxOf(req), req.params.project)));
  r.get('/quotas/:project', one('quota', (req) => quotas.show(ctxOf(req), req.params.project)));
  r.put('/quotas/:project', one('quota', (req) => quotas.update(ctxOf(req), req.params.project, req.body)));
  r.delete('/quotas/:project', gone((req) => quotas.reset(ctxOf(req), req.params.project)));

  r.all(['/networks', '/networks/:id', '/subnets', '/subnets/:id', '/ports', '/ports/:id', '/quotas', '/quotas/:project', '/quotas/:project/default', '/quotas/:project/details'], methodNotAllowed());
  return r;
}
