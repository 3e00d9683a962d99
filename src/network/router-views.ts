/** Routers on the wire, as Neutron shows them (neutron_lib/api/definitions/l3.py, ext-gw-mode's enable_snat), and what a request may carry. */
import type { RouterRow } from '../db/router-repo';
import { AttributeMap, PROJECT_ATTRIBUTES, validators } from './attributes';

export const ROUTER_ATTRIBUTES: AttributeMap = {
  id: { allowPost: false, allowPut: false },
  name: { allowPost: true, allowPut: true, validate: validators.string(255) },
  description: { allowPost: true, allowPut: true, validate: validators.string(255) },
  admin_state_up: { allowPost: true, allowPut: true, validate: validators.boolean },
  status: { allowPost: false, allowPut: false },
  external_gateway_info: { allowPost: true, allowPut: true, validate: gatewayInfo },
  ...PROJECT_ATTRIBUTES,
};

export const ROUTER_FILTERS = ['id', 'name', 'description', 'status', 'project_id', 'tenant_id'] as const;

/** neutron-lib's validate_external_gw_info: a dict of network_id (UUID), enable_snat, external_fixed_ips. */
function gatewayInfo(v: unknown): string | undefined {
  if (v === null) return undefined;
  const bad = validators.dict(v);
  if (bad) return bad;
  const d = v as Record<string, unknown>;
  if (Object.keys(d).length === 0) return undefined;
  const extra = Object.keys(d).filter((k) => !['network_id', 'enable_snat', 'external_fixed_ips'].includes(k));
  if (extra.length > 0) return `Unexpected keys supplied: ${extra.join(', ')}`;
  if (d.network_id === undefined) return "Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {" + Object.keys(d).map((k) => `'${k}'`).join(', ') + '}';
  const id = validators.uuid(d.network_id);
  if (id) return id;
  if (d.enable_snat !== undefined) { const b = validators.boolean(d.enable_snat); if (b) return b; }
  if (d.external_fixed_ips !== undefined) {
    if (!Array.isArray(d.external_fixed_ips)) return `Invalid data format for fixed IP: '${JSON.stringify(d.external_fixed_ips)}'`;
    for (const f of d.external_fixed_ips) {
      if (validators.dict(f)) return `Invalid data format for fixed IP: '${JSON.stringify(f)}'`;
      const ip = (f as Record<string, unknown>).ip_address;
      if (ip !== undefined) { const e = validators.ip(ip); if (e) return e; }
      const sub = (f as Record<string, unknown>).subnet_id;
      if (sub !== undefined) { const e = validators.uuid(sub); if (e) return e; }
    }
  }
  return undefined;
}

export function routerView(r: RouterRow): Record<string, unknown> {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    tenant_id: r.project_id,
    project_id: r.project_id,
    admin_state_up: r.admin_state_up,
    status: r.status,
    external_gateway_info: r.external_network_id ? { network_id: r.external_network_id, enable_snat: r.enable_snat, external_fixed_ips: r.external_fixed_ips } : null,
    tags: [],
    created_at: r.created_at.replace(/\.\d+Z$/, 'Z'),
    updated_at: r.updated_at.replace(/\.\d+Z$/, 'Z'),
    revision_number: r.revision_number,
  };
}
