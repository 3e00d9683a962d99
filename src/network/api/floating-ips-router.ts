/**
 * /v2.0/floatingips (issue 17): Neutron's floating IP resource.
 *
 *   GET    /floatingips          list (filters, fields)
 *   POST   /floatingips          create (optionally associated)
 *   GET    /floatingips/{id}     show
 *   PUT    /floatingips/{id}     associate, disassociate (port_id: null), description
 *   DELETE /floatingips/{id}     release
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { listQuery, parseBody, pickFields } from '../attributes';
import type { FloatingIpCreate, FloatingIpService, FloatingIpUpdate } from '../floating-ips';
import { FLOATINGIP_ATTRIBUTES, FLOATINGIP_FILTERS, floatingIpView } from '../floating-ip-views';

export function floatingIpsRouter(fips: FloatingIpService): Router {
  const r = Router();

  r.get('/floatingips', handle(async (req, res) => {
    const all = (await fips.list(ctxOf(req))).map(floatingIpView);
    res.status(200).json({ floatingips: listQuery(all, req.query as Record<string, unknown>, FLOATINGIP_FILTERS) });
  }));
  r.post('/floatingips', handle(async (req, res) => {
    const body = parseBody<FloatingIpCreate>('floatingip', req.body, FLOATINGIP_ATTRIBUTES, true);
    res.status(201).json({ floatingip: floatingIpView(await fips.create(ctxOf(req), body)) });
  }));
  r.all('/floatingips', methodNotAllowed());
  r.get('/floatingips/:id', handle(async (req, res) => {
    res.status(200).json({ floatingip: pickFields(floatingIpView(await fips.show(ctxOf(req), req.params.id)), req.query.fields) });
  }));
  r.put('/floatingips/:id', handle(async (req, res) => {
    const body = parseBody<FloatingIpUpdate>('floatingip', req.body, FLOATINGIP_ATTRIBUTES, false);
    res.status(200).json({ floatingip: floatingIpView(await fips.update(ctxOf(req), req.params.id, body)) });
  }));
  r.delete('/floatingips/:id', handle(async (req, res) => {
    await fips.remove(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/floatingips/:id', methodNotAllowed());
  return r;
}
