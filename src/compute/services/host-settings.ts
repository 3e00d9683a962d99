/**
 * What os-services and os-aggregates set on each configured compute host, read together: whether
 * its nova-compute service is disabled or forced down, and its availability zone. The scheduler
 * reads it through HostSettingsPort; os-services, os-hypervisors and os-availability-zone through
 * the same object, so every API shows one answer.
 *
 * A host's zone is the `availability_zone` metadata of the aggregates it is in (os-aggregates
 * never lets one host be in two zones), else Nova's default_availability_zone, "nova"
 * (nova/availability_zones.py set_availability_zones).
 */
import type { AggregateRecord, AggregateRepository } from '../../db/aggregate-repo';
import type { ComputeServiceRepository } from '../../db/compute-service-repo';
import type { HostSettings, HostSettingsPort } from '../scheduler/types';
import { AVAILABILITY_ZONE } from './hosts';

/** Nova's default_availability_zone: the zone of a host in no zoned aggregate. */
export const DEFAULT_ZONE = AVAILABILITY_ZONE;
/** Nova's internal_service_availability_zone: the zone of services that are not nova-compute. */
export const INTERNAL_ZONE = 'internal';
/** The metadata key that makes an aggregate a zone. */
export const AZ_KEY = 'availability_zone';

/** Each host's zone as aggregates say (hosts in no zoned aggregate are absent). */
export function zonesByHost(aggregates: AggregateRecord[]): Map<string, string> {
  const zones = new Map<string, Set<string>>();
  for (const a of aggregates) {
    const az = a.metadata[AZ_KEY];
    if (az === undefined) continue;
    for (const h of a.hosts) {
      if (!zones.has(h)) zones.set(h, new Set());
      zones.get(h)!.add(az);
    }
  }
  // NOTE(openstack): Nova joins several zones with ',' (set_availability_zones); the rules of
  // os-aggregates keep it to one, this only shows a database edited by hand as Nova would.
  return new Map([...zones].map(([h, azs]) => [h, [...azs].sort().join(',')]));
}

export class HostSettingsService implements HostSettingsPort {
  constructor(
    /** The configured compute hosts' names, in configuration order. */
    private readonly hostNames: () => string[],
    private readonly services: ComputeServiceRepository,
    private readonly aggregates: AggregateRepository,
  ) {}

  /** Settings of every configured host, in configuration order. */
  async all(): Promise<HostSettings[]> {
    const [rows, aggregates] = await Promise.all([this.services.all(), this.aggregates.all()]);
    const byHost = new Map(rows.map((r) => [r.host, r]));
    const zones = zonesByHost(aggregates);
    return this.hostNames().map((host) => {
      const r = byHost.get(host);
      return {
        host,
        disabled: r?.disabled ?? false,
        disabledReason: r?.disabledReason ?? null,
        forcedDown: r?.forcedDown ?? false,
        zone: zones.get(host) ?? DEFAULT_ZONE,
      };
    });
  }

  /** Whether os-services forced `host`'s nova-compute down (one row read: a resize asks it on its request's path). */
  async forcedDown(host: string): Promise<boolean> {
    return (await this.services.get(host))?.forcedDown ?? false;
  }

  /**
   * Whether a boot may ask for `zone`: the default zone always; another zone when one of its
   * hosts is enabled (Nova lists only zones with an enabled nova-compute as available, and
   * refuses the others with "The requested availability zone is not available").
   */
  async zoneExists(zone: string): Promise<boolean> {
    if (zone === DEFAULT_ZONE) return true;
    return (await this.all()).some((h) => h.zone === zone && !h.disabled);
  }
}
