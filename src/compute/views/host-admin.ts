/**
 * Wire shapes of os-services and os-aggregates (nova/api/openstack/compute/services.py
 * _get_service_detail, aggregates.py _marshall_aggregate) per microversion:
 *
 *   os-services     2.11 adds forced_down; 2.53 shows the UUID as `id`
 *   os-aggregates   2.41 adds uuid; create answers without hosts and metadata
 *
 * Timestamps are Nova's naive datetimes (`2026-01-01T10:00:00.000000`).
 */
import { isoMicros } from '../../http/wire-time';
import type { AggregateRecord } from '../../db/aggregate-repo';
import type { ServiceRecord } from '../services/os-services';
import { AZ_KEY } from '../services/host-settings';
import type { Mv } from './common';

/** One service of GET /os-services (and the 2.53 PUT answer). */
export function serviceView(mv: Mv, s: ServiceRecord): Record<string, unknown> {
  const v: Record<string, unknown> = {
    binary: s.binary,
    host: s.host,
    id: mv('2.53') ? s.uuid : s.id,
    zone: s.zone,
    status: s.disabled ? 'disabled' : 'enabled',
    state: s.up ? 'up' : 'down',
    updated_at: isoMicros(s.updatedAt),
    disabled_reason: s.disabledReason,
  };
  if (mv('2.11')) v.forced_down = s.forcedDown;
  return v;
}

export function serviceListView(mv: Mv, services: ServiceRecord[]) {
  return { services: services.map((s) => serviceView(mv, s)) };
}

/** The answer of PUT /os-services/enable|disable|disable-log-reason below 2.53. */
export function serviceStatusView(host: string, binary: string, disabled: boolean, reason?: string) {
  const service: Record<string, unknown> = { host, binary, status: disabled ? 'disabled' : 'enabled' };
  if (reason) service.disabled_reason = reason;
  return { service };
}

/** The answer of PUT /os-services/force-down (2.11–2.52). */
export function serviceForcedDownView(host: string, binary: string, forcedDown: boolean) {
  return { service: { host, binary, forced_down: forcedDown } };
}

/** An aggregate; `created` leaves out hosts and metadata, as Nova's create answer does. */
export function aggregateView(mv: Mv, a: AggregateRecord, created = false): Record<string, unknown> {
  const v: Record<string, unknown> = {
    availability_zone: a.metadata[AZ_KEY] ?? null,
    created_at: isoMicros(a.createdAt),
    deleted: false,
    deleted_at: null,
    id: a.id,
    name: a.name,
    updated_at: isoMicros(a.updatedAt),
  };
  if (!created) {
    v.hosts = a.hosts;
    v.metadata = a.metadata;
  }
  if (mv('2.41')) v.uuid = a.uuid;
  return v;
}

export function aggregateListView(mv: Mv, list: AggregateRecord[]) {
  return { aggregates: list.map((a) => aggregateView(mv, a)) };
}
