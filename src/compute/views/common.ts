/**
 * What the compute views share (nova/api/openstack/common.py ViewBuilder): absolute `self`
 * (versioned) and `bookmark` (unversioned) links, Nova's `<collection>_links` "next" link for
 * paged lists, and Nova's naive timestamps.
 */
import type { Request } from 'express';
import { MAX_LIMIT } from '../max-limit';

/** True when the request's microversion is at least `version` (microversion.ts atLeast, bound to a request). */
export type Mv = (version: string) => boolean;

export interface Link { rel: string; href: string; type?: string }


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
