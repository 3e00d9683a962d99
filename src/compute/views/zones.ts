/**
 * Wire shapes of os-availability-zone (nova/api/openstack/compute/availability_zone.py): the
 * zones, and in detail each available zone's hosts with their enabled services.
 */
import { isoMicros } from '../../http/wire-time';
import type { ZoneInfo } from '../services/availability-zones';

/** GET /os-availability-zone. */
export function zonesView(zones: ZoneInfo[]) {
  return { availabilityZoneInfo: zones.map((z) => ({ zoneName: z.name, zoneState: { available: z.available }, hosts: null })) };
}

/** GET /os-availability-zone/detail: a service is available while up, active while enabled. */
export function zonesDetailView(zones: ZoneInfo[]) {
  return {
    availabilityZoneInfo: zones.map((z) => {
      let hosts: Record<string, Record<string, unknown>> | null = null;
      if (z.hosts) {
        hosts = {};
        for (const [host, services] of z.hosts) {
          hosts[host] = {};
          for (const s of services) hosts[host][s.binary] = { available: s.up, active: !s.disabled, updated_at: isoMicros(s.updatedAt) };
        }
      }
      return { zoneName: z.name, zoneState: { available: z.available }, hosts };
    }),
  };
}
