/**
 * Wire shapes of os-availability-zone (nova/api/openstack/compute/availability_zone.py): one
 * zone, and in detail each compute host with its nova-compute service.
 */
import { isoMicros } from '../../http/wire-time';
import type { HostState } from '../services/hosts';

/** The only availability zone (Nova's default_availability_zone). */
export const AVAILABILITY_ZONE = 'nova';

/** GET /os-availability-zone. */
export function zonesView() {
  return { availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true }, hosts: null }] };
}

/** GET /os-availability-zone/detail: a host is available while its engine answers. */
export function zonesDetailView(hostStates: HostState[]) {
  const hosts: Record<string, unknown> = {};
  for (const h of hostStates) {
    hosts[h.host] = { 'nova-compute': { available: h.state === 'up', active: true, updated_at: h.updatedAt ? isoMicros(h.updatedAt) : null } };
  }
  return { availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true }, hosts }] };
}
