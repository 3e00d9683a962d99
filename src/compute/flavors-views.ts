/**
 * Wire shapes of flavors per microversion (nova/api/openstack/compute/views/flavors.py), and the
 * link helpers the compute views share: absolute `self` (versioned) and `bookmark` (unversioned)
 * links, Nova's `<collection>_links` "next" link for paged lists, and Nova's naive timestamps
 * (the key pair and misc routers use these too).
 *
 *   2.1   index {id, name, links}; detail adds ram, disk, swap ("" when none), vcpus,
 *         OS-FLV-EXT-DATA:ephemeral, OS-FLV-DISABLED:disabled, os-flavor-access:is_public, rxtx_factor
 *   2.55  + description (index and detail)
 *   2.61  + extra_specs (detail and show)
 *   2.75  swap is an integer (0 instead of "")
 */
import type { Request } from 'express';
import type { FlavorRecord } from '../db/flavor-repo';
import { atLeast } from './microversion';

export interface Link { rel: string; href: string; type?: string }

/** Nova's datetimes in key pairs and services: naive UTC with microseconds ("2012-12-26T14:45:25.000000"). */
export function novaTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19)}.${String(d.getUTCMilliseconds()).padStart(3, '0')}000`;
}

/** Nova's CONF.api.max_limit: no page is larger, whatever `limit` asks. */
export const MAX_LIMIT = 1000;

/** `self` under /compute/v2.1 and `bookmark` under /compute, as Nova's ViewBuilder._get_links. */
export function resourceLinks(publicUrl: string, collection: string, id: string): Link[] {
  const enc = encodeURIComponent(id);
  return [
    { rel: 'self', href: `${publicUrl}/compute/v2.1/${collection}/${enc}` },
    { rel: 'bookmark', href: `${publicUrl}/compute/${collection}/${enc}` },
  ];
}

/**
 * Nova's `_get_collection_links`: a single "next" link when the page is full (as many items as
 * the effective limit), carrying the request's query with `marker` set to the last item's id.
 * Query keys are sorted, as Nova sorts them.
 */
export function nextPageLinks(publicUrl: string, path: string, query: Request['query'], count: number, lastId: string | undefined): Link[] {
  const raw = query.limit;
  const asked = raw === undefined ? MAX_LIMIT : Number(Array.isArray(raw) ? raw[raw.length - 1] : raw);
  const max = Math.min(Number.isFinite(asked) ? asked : MAX_LIMIT, MAX_LIMIT);
  if (!max || count !== max || lastId === undefined) return [];
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    if (key === 'marker') continue;
    const v = query[key];
    for (const one of Array.isArray(v) ? v : [v]) if (typeof one === 'string') params.append(key, one);
  }
  params.append('marker', lastId);
  return [{ rel: 'next', href: `${publicUrl}/compute/v2.1/${path}?${params.toString()}` }];
}

/** GET /flavors item. */
export function flavorSummary(req: Request, publicUrl: string, f: FlavorRecord): Record<string, unknown> {
  const v: Record<string, unknown> = { id: f.id, name: f.name, links: resourceLinks(publicUrl, 'flavors', f.id) };
  if (atLeast(req, '2.55')) v.description = f.description;
  return v;
}

/** GET /flavors/detail item, GET /flavors/{id}, and the answer to create and update. */
export function flavorDetail(req: Request, publicUrl: string, f: FlavorRecord): Record<string, unknown> {
  const v: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    // NOTE(openstack): below 2.75 Nova renders "no swap" as the empty string.
    swap: atLeast(req, '2.75') ? f.swap : f.swap || '',
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': f.disabled,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.is_public,
    rxtx_factor: f.rxtx_factor,
    links: resourceLinks(publicUrl, 'flavors', f.id),
  };
  if (atLeast(req, '2.55')) v.description = f.description;
  if (atLeast(req, '2.61')) v.extra_specs = { ...f.extra_specs };
  return v;
}

export function flavorListView(req: Request, publicUrl: string, flavors: FlavorRecord[], detail: boolean) {
  const body: Record<string, unknown> = {
    flavors: flavors.map((f) => (detail ? flavorDetail(req, publicUrl, f) : flavorSummary(req, publicUrl, f))),
  };
  const links = nextPageLinks(publicUrl, detail ? 'flavors/detail' : 'flavors', req.query, flavors.length, flavors[flavors.length - 1]?.id);
  if (links.length) body.flavors_links = links;
  return body;
}

export function flavorView(req: Request, publicUrl: string, f: FlavorRecord) {
  return { flavor: flavorDetail(req, publicUrl, f) };
}
