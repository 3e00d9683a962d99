/**
 * Neutron's list parameters (neutron/api/api_common.py), applied to a list's rendered items:
 * filters by any attribute (a repeated parameter matches any of its values), `fields`, `sort_key` /
 * `sort_dir` (repeatable), `limit` / `marker` with the collection's `<name>_links` `next` link.
 */
import { NeutronError, neutronSg } from '../errors';

const RESERVED = new Set(['fields', 'sort_key', 'sort_dir', 'limit', 'marker', 'page_reverse']);

type Item = Record<string, unknown>;
type Query = Record<string, unknown>;

const values = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

/** How a query value compares with an attribute: booleans as True/true/1, null as empty or None. */
function matches(actual: unknown, wanted: string): boolean {
  if (typeof actual === 'boolean') return ['true', '1'].includes(wanted.toLowerCase()) === actual;
  if (actual === null || actual === undefined) return wanted === '' || wanted === 'None';
  return String(actual) === wanted;
}

export interface ListPage {
  items: Item[];
  /** The next page's marker, when `limit` cut the list. */
  next?: string;
}

export function applyListQuery(all: Item[], query: Query): ListPage {
  let items = all.filter((item) => Object.entries(query).every(([k, v]) => RESERVED.has(k) || !(k in item) || values(v).some((w) => matches(item[k], w))));
  const keys = values(query.sort_key);
  const dirs = values(query.sort_dir);
  for (const d of dirs) if (d !== 'asc' && d !== 'desc') throw neutronSg.badRequest(`${d} is an invalid value for sort_dir, valid value is 'asc' or 'desc'`);
  if (keys.length) {
    items = [...items].sort((a, b) => {
      for (const [i, k] of keys.entries()) {
        const x = String(a[k] ?? ''); const y = String(b[k] ?? '');
        if (x !== y) return (x < y ? -1 : 1) * (dirs[i] === 'desc' ? -1 : 1);
      }
      return 0;
    });
  }
  const marker = values(query.marker)[0];
  if (marker !== undefined) {
    const at = items.findIndex((i) => i.id === marker);
    items = at >= 0 ? items.slice(at + 1) : items;
  }
  let next: string | undefined;
  const limitRaw = values(query.limit)[0];
  if (limitRaw !== undefined) {
    const limit = /^\d+$/.test(limitRaw) ? Number(limitRaw) : NaN;
    if (Number.isNaN(limit)) throw new NeutronError('invalid', 'BadRequest', `Bad limit request: Limit must be an integer 0 or greater and not '${limitRaw}'.`);
    if (limit > 0 && items.length > limit) {
      items = items.slice(0, limit);
      next = String(items[items.length - 1].id);
    }
  }
  const fields = values(query.fields);
  if (fields.length) items = items.map((i) => Object.fromEntries(fields.filter((f) => f in i).map((f) => [f, i[f]])));
  return { items, next };
}
