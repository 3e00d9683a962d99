/**
 * Availability zones as Nova derives them from services (nova/availability_zones.py
 * get_availability_zones, api/openstack/compute/availability_zone.py): a zone exists while a
 * service is in it. It is available when one of its services is enabled; a zone whose services
 * are all disabled is listed as not available. The internal zone (nova-scheduler,
 * nova-conductor) is shown only in the detail.
 */
import { INTERNAL_ZONE } from './host-settings';
import type { OsServices, ServiceRecord } from './os-services';

export interface ZoneInfo {
  name: string;
  available: boolean;
  /** Detail only, available zones only: each host's enabled services. */
  hosts?: Map<string, ServiceRecord[]>;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class AvailabilityZones {
  constructor(private readonly services: Pick<OsServices, 'list'>) {}

  /** GET /os-availability-zone: available zones then the others, each sorted, without the internal zone. */
  async list(): Promise<ZoneInfo[]> {
    return (await this.zones(false)).filter((z) => z.name !== INTERNAL_ZONE);
  }

  /** GET /os-availability-zone/detail: every zone, the available ones with their hosts' enabled services. */
  detail(): Promise<ZoneInfo[]> {
    return this.zones(true);
  }

  private async zones(withHosts: boolean): Promise<ZoneInfo[]> {
    const services = await this.services.list();
    const enabled = services.filter((s) => !s.disabled);
    const available = [...new Set(enabled.map((s) => s.zone))].sort(byName);
    const unavailable = [...new Set(services.filter((s) => s.disabled && !available.includes(s.zone)).map((s) => s.zone))].sort(byName);
    const zones: ZoneInfo[] = available.map((name) => {
      if (!withHosts) return { name, available: true };
      const hosts = new Map<string, ServiceRecord[]>();
      for (const s of enabled.filter((x) => x.zone === name)) {
        if (!hosts.has(s.host)) hosts.set(s.host, []);
        hosts.get(s.host)!.push(s);
      }
      return { name, available: true, hosts };
    });
    return zones.concat(unavailable.map((name) => ({ name, available: false })));
  }
}
