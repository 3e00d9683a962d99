/**
 * Availability zones (nova/api/openstack/compute/availability_zone.py): the zones that have
 * services, available when one of them is enabled; the detail adds each zone's hosts and their
 * services, and the internal zone.
 *
 *   GET  /os-availability-zone          zones                            everyone
 *   GET  /os-availability-zone/detail   zones with hosts and services    admin
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import type { AvailabilityZones } from '../services/availability-zones';
import { zonesDetailView, zonesView } from '../views/zones';

export interface ZonesRouterDeps {
  zones: Pick<AvailabilityZones, 'list' | 'detail'>;
}

export function availabilityZonesRouter({ zones }: ZonesRouterDeps): Router {
  const router = Router();
  router.get('/', handle(async (_req, res) => {
    res.status(200).json(zonesView(await zones.list()));
  }));
  router.get('/detail', handle(async (req, res) => {
    requireAdmin(ctxOf(req), 'os_compute_api:os-availability-zone:detail');
    res.status(200).json(zonesDetailView(await zones.detail()));
  }));
  router.all(['/', '/detail'], methodNotAllowed());
  return router;
}
