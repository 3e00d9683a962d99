/**
 * Wire shapes of networks, subnets and ports (Neutron v2.0, neutron-lib's api definitions), and
 * the list conventions every Networking API collection shares: filters by attribute, `fields`,
 * `sort_key`/`sort_dir`, `limit`/`marker` with `<collection>_links`.
 */
import type { NetworkRow, SubnetRow } from '../db/network-repo';
import type { FixedIp, PortRow } from '../db/port-repo';

type View = Record<string, unknown>;

const common = (r: { id: string; project_id: string; name: string; description: string; revision_number: number; created_at: string; updated_at: string }) => ({
  id: r.id, name: r.name, tenant_id: r.project_id, project_id: r.project_id, description: r.description,
  tags: [] as string[], created_at: r.created_at.replace(/\.\d+Z$/, 'Z'), updated_at: r.updated_at.replace(/\.\d+Z$/, 'Z'), revision_number: Number(r.revision_number),
});

export function networkView(n: NetworkRow, subnetIds: string[]): View {
  return {
    ...common(n),
    admin_state_up: n.admin_state_up, mtu: Number(n.mtu), status: n.status, subnets: subnetIds, shared: n.shared,
    'router:external': n.external, port_security_enabled: true, availability_zone_hints: [], availability_zones: ['nova'],
    ipv4_address_scope: null, ipv6_address_scope: null, l2_adjacency: true, is_default: n.default_for !== null,
  };
}

export function subnetView(s: SubnetRow): View {
  return {
    ...common(s),
    network_id: s.network_id, ip_version: Number(s.ip_version), cidr: s.cidr, gateway_ip: s.gateway_ip,
    allocation_pools: s.allocation_pools, dns_nameservers: s.dns_nameservers, host_routes: s.host_routes, enable_dhcp: s.enable_dhcp,
    subnetpool_id: null, ipv6_ra_mode: null, ipv6_address_mode: null, service_types: [],
  };
}

export function portView(p: PortRow, fixedIps: FixedIp[], groups: string[]): View {
  return {
    ...common(p),
    network_id: p.network_id, admin_state_up: p.admin_state_up, mac_address: p.mac_address, status: p.status,
    device_id: p.device_id, device_owner: p.device_owner, fixed_ips: fixedIps, security_groups: groups,
    port_security_enabled: p.port_security_enabled, allowed_address_pairs: [], extra_dhcp_opts: [],
    'binding:host_id': p.host, 'binding:vif_type': p.host ? 'other' : 'unbound', 'binding:vnic_type': 'normal',
    'binding:vif_details': {}, 'binding:profile': {}, dns_name: '', dns_assignment: [],
  };
}

/** A list request's query: repeated keys are arrays (express's extended parser). */
export type ListQuery = Record<string, unknown>;

const CONTROL = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse']);

const values = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

function matches(actual: unknown, wanted: string): boolean {
  if (typeof actual === 'boolean') return ['true', '1', 't', 'yes'].includes(wanted.toLowerCase()) === actual;
  if (actual === null) return wanted === '' || wanted.toLowerCase() === 'none' || wanted.toLowerCase() === 'null';
  if (Array.isArray(actual)) {
    // fixed_ips=ip_address=10.0.0.3 / fixed_ips=subnet_id=…; lists of strings: any member.
    const eq = wanted.indexOf('=');
    if (eq > 0) {
      const [k, v] = [wanted.slice(0, eq), wanted.slice(eq + 1)];
      return actual.some((a) => a !== null && typeof a === 'object' && String((a as View)[k]) === v);
    }
    return actual.map(String).includes(wanted);
  }
  return String(actual) === wanted;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const [x, y] = [a === null || a === undefined ? '' : String(a), b === null || b === undefined ? '' : String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Neutron's bad-query answers. */
export class ListQueryError extends Error {}

export interface Page { items: View[]; links: { rel: string; href: string }[] }

/**
 * Applies a list query to the views the caller may see: filters (any attribute; a repeated key
 * matches any of its values), sort, marker and limit (with next/previous links), then `fields`.
 */
export function listPage(all: View[], q: ListQuery, selfUrl: string): Page {
  let items = all.filter((v) => Object.entries(q).every(([k, raw]) => CONTROL.has(k) || !(k in v) || values(raw).some((w) => matches(v[k], w))));
  const keys = values(q.sort_key);
  const dirs = values(q.sort_dir);
  if (keys.length !== dirs.length && dirs.length > 0) throw new ListQueryError('The number of sort_keys and sort_dirs must be same');
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw new ListQueryError(`${d} is invalid attribute for sort_dir`);
  for (const k of keys) if (all.length > 0 && !(k in all[0])) throw new ListQueryError(`${k} is invalid attribute for sort_key`);
  const order = [...keys.map((k, i) => ({ k, desc: dirs[i] === 'desc' })), { k: 'id', desc: false }];
  items = [...items].sort((a, b) => {
    for (const { k, desc } of order) {
      const c = compare(a[k], b[k]);
      if (c !== 0) return desc ? -c : c;
    }
    return 0;
  });
  const links: Page['links'] = [];
  const limitRaw = values(q.limit)[0];
  const marker = values(q.marker)[0];
  if (marker !== undefined) {
    const at = items.findIndex((v) => v.id === marker);
    if (at < 0) throw new ListQueryError(`marker ${marker} not found`);
    items = items.slice(at + 1);
  }
  if (limitRaw !== undefined) {
    const limit = Number(limitRaw);
    if (!/^\d+$/.test(limitRaw)) throw new ListQueryError(`Limit must be an integer 0 or greater and not '${limitRaw}'`);
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      links.push({ rel: 'next', href: withQuery(selfUrl, q, { limit: String(limit), marker: String(items[items.length - 1].id) }) });
    }
    if (marker !== undefined && items.length) links.push({ rel: 'previous', href: withQuery(selfUrl, q, { limit: String(limit), marker: String(items[0].id), page_reverse: 'True' }) });
  }
  const fields = values(q.fields).filter((f) => f !== '');
  if (fields.length) items = items.map((v) => Object.fromEntries(fields.filter((f) => f in v).map((f) => [f, v[f]])));
  return { items, links };
}

/** Only the asked-for fields of one resource (`GET …/{id}?fields=…`). */
export function pickFields(v: View, q: ListQuery): View {
  const fields = values(q.fields).filter((f) => f !== '');
  return fields.length ? Object.fromEntries(fields.filter((f) => f in v).map((f) => [f, v[f]])) : v;
}

function withQuery(url: string, q: ListQuery, set: Record<string, string>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (!(k in set) && k !== 'page_reverse') for (const x of values(v)) p.append(k, x);
  for (const [k, v] of Object.entries(set)) p.append(k, v);
  return `${url}?${p.toString()}`;
}
