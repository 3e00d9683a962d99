/**
 * Availability zones (nova/api/openstack/compute/availability_zone.py): one zone, "nova";
 * its detail lists the compute hosts as the host cache last heard them.
 *
 *   GET  /os-availability-zone          zones                            everyone
 *   GET  /os-availability-zone/detail   zones with hosts and services    admin
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { zonesDetailView, zonesView } from '../views/zones';
import type { HostsPort } from './ports';

export interface ZonesRouterDeps {
  hosts: HostsPort;
}

export function availabilityZonesRouter({ hosts }: ZonesRouterDeps): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.status(200).json(zonesView());
  });
  router.get('/detail', handle(async (req, res) => {
    requireAdmin(ctxOf(req), 'os_compute_api:os-availability-zone:detail');
    res.status(200).json(zonesDetailView(await hosts.hosts()));
  }));
  router.all(['/', '/detail'], methodNotAllowed());
  return router;
}
