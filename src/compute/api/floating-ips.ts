/**
 * The compute API's floating IP proxy over the Networking API's records (issue 17), Nova's shapes
 * (nova/api/openstack/compute/floating_ips.py, floating_ip_pools.py), < 2.36 like Nova:
 *
 *   GET    /os-floating-ips            the project's floating IPs
 *   POST   /os-floating-ips            allocate one {pool} (optional body)
 *   GET    /os-floating-ips/{id}       one
 *   DELETE /os-floating-ips/{id}       disassociate and release (202)
 *   GET    /os-floating-ip-pools       the external networks, by name
 *
 * addFloatingIp/removeFloatingIp are server actions (server-actions.ts).
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { NovaFloatingIps } from '../../network/nova-floating-ips';
import { untilVersion } from '../microversion';

const createBody = {
  type: 'object',
  properties: { pool: { type: ['string', 'null'], minLength: 1, maxLength: 255 } },
  additionalProperties: false,
};

export function novaFloatingIpsRouter(fips: NovaFloatingIps): Router {
  const r = Router();
  const until = untilVersion('2.35');
  r.get('/os-floating-ips', until, handle(async (req, res) => {
    res.status(200).json({ floating_ips: await fips.list(ctxOf(req)) });
  }));
  r.post('/os-floating-ips', until, handle(async (req, res) => {
    const b = validate<{ pool?: string | null }>(createBody, req.body ?? {});
    res.status(200).json({ floating_ip: await fips.create(ctxOf(req), b.pool ?? undefined) });
  }));
  r.get('/os-floating-ips/:id', until, handle(async (req, res) => {
    res.status(200).json({ floating_ip: await fips.show(ctxOf(req), req.params.id) });
  }));
  r.delete('/os-floating-ips/:id', until, handle(async (req, res) => {
    await fips.delete(ctxOf(req), req.params.id);
    res.status(202).end();
  }));
  r.all(['/os-floating-ips', '/os-floating-ips/:id'], until, methodNotAllowed());
  r.get('/os-floating-ip-pools', until, handle(async (req, res) => {
    res.status(200).json({ floating_ip_pools: await fips.pools(ctxOf(req)) });
  }));
  r.all('/os-floating-ip-pools', until, methodNotAllowed());
  return r;
}
