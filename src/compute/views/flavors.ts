/**
 * Wire shapes of flavors per microversion (nova/api/openstack/compute/views/flavors.py).
 *
 *   2.1   index {id, name, links}; detail adds ram, disk, swap ("" when none), vcpus,
 *         OS-FLV-EXT-DATA:ephemeral, OS-FLV-DISABLED:disabled, os-flavor-access:is_public, rxtx_factor
 *   2.55  + description (index and detail)
 *   2.61  + extra_specs (detail and show)
 *   2.75  swap is an integer (0 instead of "")
 */
import type { Request } from 'express';
import type { FlavorRecord } from '../../db/flavor-repo';
import { Mv, nextPageLinks, resourceLinks } from './common';

/** GET /flavors item. */
export function flavorSummary(mv: Mv, publicUrl: string, f: FlavorRecord): Record<string, unknown> {
  const v: Record<string, unknown> = { id: f.id, name: f.name, links: resourceLinks(publicUrl, 'flavors', f.id) };
  if (mv('2.55')) v.description = f.description;
  return v;
}

/** GET /flavors/detail item, GET /flavors/{id}, and the answer to create and update. */
export function flavorDetail(mv: Mv, publicUrl: string, f: FlavorRecord): Record<string, unknown> {
  const v: Record<string, unknown> = {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    // NOTE(openstack): below 2.75 Nova renders "no swap" as the empty string.
    swap: mv('2.75') ? f.swap : f.swap || '',
    'OS-FLV-EXT-DATA:ephemeral': f.ephemeral,
    'OS-FLV-DISABLED:disabled': f.disabled,
    vcpus: f.vcpus,
    'os-flavor-access:is_public': f.is_public,
    rxtx_factor: f.rxtx_factor,
    links: resourceLinks(publicUrl, 'flavors', f.id),
  };
  if (mv('2.55')) v.description = f.description;
  if (mv('2.61')) v.extra_specs = { ...f.extra_specs };
  return v;
}

/** GET /flavors[/detail]: one page, with `flavors_links` when it is full. */
export function flavorListView(mv: Mv, publicUrl: string, flavors: FlavorRecord[], detail: boolean, query: Request['query']) {
  const body: Record<string, unknown> = {
    flavors: flavors.map((f) => (detail ? flavorDetail(mv, publicUrl, f) : flavorSummary(mv, publicUrl, f))),
  };
  const links = nextPageLinks(publicUrl, detail ? 'flavors/detail' : 'flavors', query, flavors.length, flavors[flavors.length - 1]?.id);
  if (links.length) body.flavors_links = links;
  return body;
}

/** GET /flavors/{id}, and the answer to create and update. */
export function flavorView(mv: Mv, publicUrl: string, f: FlavorRecord) {
  return { flavor: flavorDetail(mv, publicUrl, f) };
}
