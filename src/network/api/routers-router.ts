/**
 * /v2.0/routers (issue 17): Neutron's router resource, as far as novadock serves it.
 *
 *   GET    /routers                               list (filters, fields)
 *   POST   /routers                               create (optionally with a gateway)
 *   GET    /routers/{id}                          show
 *   PUT    /routers/{id}                          name, description, admin_state_up, external_gateway_info
 *   DELETE /routers/{id}                          delete (409 RouterInUse with interfaces)
 *   PUT    /routers/{id}/add_router_interface     {subnet_id} or {port_id}
 *   PUT    /routers/{id}/remove_router_interface  {subnet_id} | {port_id}
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { badRequest } from '../../errors';
import { methodNotAllowed } from '../../http/errors';
import { listQuery, parseBody, pickFields, validators } from '../attributes';
import type { RouterCreate, RouterService, RouterUpdate } from '../routers';
import { ROUTER_ATTRIBUTES, ROUTER_FILTERS, routerView } from '../router-views';

/** The body of add/remove_router_interface: subnet_id or port_id, UUIDs, nothing else. */
function interfaceBody(body: Record<string, unknown>): { subnet_id?: string; port_id?: string } {
  const extra = Object.keys(body).filter((k) => k !== 'subnet_id' && k !== 'port_id');
  if (extra.length > 0) throw badRequest(`Unrecognized attribute(s) '${extra.join(', ')}'`);
  for (const k of ['subnet_id', 'port_id'] as const) {
    if (body[k] === undefined) continue;
    const reason = validators.uuid(body[k]);
    if (reason) throw badRequest(`Invalid input for ${k}. Reason: ${reason}.`);
  }
  return body as { subnet_id?: string; port_id?: string };
}

export function routersRouter(routers: RouterService): Router {
  const r = Router();
  r.get('/routers', handle(async (req, res) => {
    const all = (await routers.list(ctxOf(req))).map(routerView);
    res.status(200).json({ routers: listQuery(all, req.query as Record<string, unknown>, ROUTER_FILTERS) });
  }));
  r.post('/routers', handle(async (req, res) => {
    const body = parseBody<RouterCreate>('router', req.body, ROUTER_ATTRIBUTES, true);
    res.status(201).json({ router: routerView(await routers.create(ctxOf(req), body)) });
  }));
  r.all('/routers', methodNotAllowed());
  r.get('/routers/:id', handle(async (req, res) => {
    res.status(200).json({ router: pickFields(routerView(await routers.show(ctxOf(req), req.params.id)), req.query.fields) });
  }));
  r.put('/routers/:id', handle(async (req, res) => {
    const body = parseBody<RouterUpdate>('router', req.body, ROUTER_ATTRIBUTES, false);
    res.status(200).json({ router: routerView(await routers.update(ctxOf(req), req.params.id, body)) });
  }));
  r.delete('/routers/:id', handle(async (req, res) => {
    await routers.remove(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/routers/:id', methodNotAllowed());
  r.put('/routers/:id/add_router_interface', handle(async (req, res) => {
    res.status(200).json(await routers.addInterface(ctxOf(req), req.params.id, interfaceBody(req.body)));
  }));
  r.put('/routers/:id/remove_router_interface', handle(async (req, res) => {
    res.status(200).json(await routers.removeInterface(ctxOf(req), req.params.id, interfaceBody(req.body)));
  }));
  r.all(['/routers/:id/add_router_interface', '/routers/:id/remove_router_interface'], methodNotAllowed());
  return r;
}
