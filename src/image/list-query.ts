/**
 * GET /v2/images query parameters → a plain ImageListQuery (glance/api/v2/images.py
 * `RequestDeserializer.index` and `_get_filters`), and the one comparator that both sorts a
 * listing and finds where a marker sits in it.
 *
 * Parsed from the raw query string (URLSearchParams), not Express' parser: repeated `tag`s must
 * stay a list and custom property names with brackets or dots must stay literal.
 */
import { badRequest } from '../errors';
import { parseBool } from '../http/validation';
import type { ImageColumn, ImageCondition, Scalar } from '../db/image-repo';
import { DOCKER_IMAGE_ID_PROPERTY, type ImageRecord, type MemberStatus, type Visibility } from './image-record';
import { STATUSES, VISIBILITIES } from './schemas';

/** Glance's limit_param_default and api_limit_max. */
export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 1000;

/** glance/api/v2/images.py SUPPORTED_SORT_KEYS, plus a few columns that sort naturally. */
export const SORT_KEYS = ['name', 'status', 'container_format', 'disk_format', 'size', 'id', 'created_at', 'updated_at', 'visibility', 'owner', 'min_ram', 'min_disk', 'virtual_size'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortDir = 'asc' | 'desc';
export interface Sort { key: SortKey; dir: SortDir }

/** A listing request, as the image service takes it (also usable by the compute /images proxy). */
export interface ImageListQuery {
  /** Glance's visibility filter; undefined = the default listing. */
  visibility?: Visibility | 'all';
  /** Which memberships show others' shared images (Glance's member_status); undefined = accepted. */
  memberStatus?: MemberStatus | 'all';
  /** All must hold; os_hidden=false is included unless the caller asked about hidden images. */
  conditions: ImageCondition[];
  /** Most significant first; always ends with created_at and id as tie-breakers. */
  sort: Sort[];
  limit: number;
  /** Id of the last image of the previous page. */
  marker?: string;
}

/** The default listing: newest first, page of 25, hidden images excluded. */
export function defaultListQuery(overrides: Partial<ImageListQuery> = {}): ImageListQuery {
  return {
    conditions: [{ column: 'os_hidden', op: 'eq', value: false }],
    sort: withTieBreakers([{ key: 'created_at', dir: 'desc' }]),
    limit: DEFAULT_PAGE_SIZE,
    ...overrides,
  };
}

/** Parameters that are not filters on a property. */
const RESERVED_PARAMS = new Set(['limit', 'marker', 'sort_key', 'sort_dir', 'sort', 'visibility', 'member_status', 'os_hidden', 'tag', 'size_min', 'size_max']);

/** Filters that take Glance's `in:a,b` operator. */
const IN_COLUMNS = new Set<ImageColumn>(['id', 'name', 'status', 'container_format', 'disk_format']);
/** Other columns a parameter filters by exact match. */
const STRING_COLUMNS = new Set<ImageColumn>(['owner', 'checksum', 'os_hash_algo', 'os_hash_value', 'engine_image_id']);
const INTEGER_COLUMNS = new Set<ImageColumn>(['size', 'virtual_size', 'min_ram', 'min_disk']);
const TIME_COLUMNS = new Set<ImageColumn>(['created_at', 'updated_at']);

const TIME_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte'] as const;
type TimeOp = (typeof TIME_OPS)[number];

function last(params: URLSearchParams, key: string): string | undefined {
  const all = params.getAll(key);
  return all.length ? all[all.length - 1] : undefined;
}

function parseInteger(raw: string, name: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw badRequest(`${name} param must be an integer`);
  const n = Number(raw);
  if (n < 0) throw badRequest(`${name} param must be positive`);
  if (!Number.isSafeInteger(n)) throw badRequest(`${name} param is too large`);
  return n;
}

/** `in:a,"b,c",d` → ['a', 'b,c', 'd'] (glance/common/utils.py split_filter_value_for_quotes). */
export function splitInValues(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '"') {
      if (quoted) {
        quoted = false;
        wasQuoted = true;
      } else if (cur === '') quoted = true;
      else cur += ch;
    } else if (ch === ',' && !quoted) {
      out.push(wasQuoted ? cur : cur.trim());
      cur = '';
      wasQuoted = false;
    } else cur += ch;
  }
  if (quoted) throw badRequest(`Invalid filter value ${raw}. There is no comma before opening quotation mark.`);
  out.push(wasQuoted ? cur : cur.trim());
  return out;
}

/** A timestamp filter (`gte:2026-01-01T00:00:00Z`); comparisons happen at Glance's one-second precision. */
function timeConditions(column: ImageColumn, raw: string): ImageCondition[] {
  let op: TimeOp = 'eq';
  let value = raw;
  const m = /^([a-z]+):(.*)$/.exec(raw);
  if (m && (TIME_OPS as readonly string[]).includes(m[1])) {
    op = m[1] as TimeOp;
    value = m[2];
  } else if (m && !/^\d/.test(raw)) {
    throw badRequest(`Unable to filter by unknown operator '${m[1]}'.`);
  }
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw badRequest(`Unable to filter by ${column}: '${value}' is not an ISO 8601 date and time.`);
  const start = new Date(Math.floor(t / 1000) * 1000).toISOString();
  const next = new Date(Math.floor(t / 1000) * 1000 + 1000).toISOString();
  switch (op) {
    case 'eq': return [{ column, op: 'gte', value: start }, { column, op: 'lt', value: next }];
    case 'neq': return [{ column, op: 'outside', from: start, to: next }];
    case 'gt': return [{ column, op: 'gte', value: next }];
    case 'gte': return [{ column, op: 'gte', value: start }];
    case 'lt': return [{ column, op: 'lt', value: start }];
    case 'lte': return [{ column, op: 'lt', value: next }];
  }
}

/** Turns the query string of GET /v2/images into a query; 400 for anything Glance refuses. */
export function parseListQuery(params: URLSearchParams): ImageListQuery {
  const conditions: ImageCondition[] = [];

  // --- paging
  let limit = DEFAULT_PAGE_SIZE;
  const rawLimit = last(params, 'limit');
  if (rawLimit !== undefined) limit = Math.min(parseInteger(rawLimit, 'limit'), MAX_PAGE_SIZE);
  const marker = last(params, 'marker');

  // --- visibility / membership / hidden
  let visibility: ImageListQuery['visibility'];
  const rawVis = last(params, 'visibility');
  if (rawVis !== undefined) {
    if (rawVis !== 'all' && !(VISIBILITIES as readonly string[]).includes(rawVis)) throw badRequest(`Invalid visibility value: ${rawVis}`);
    visibility = rawVis as ImageListQuery['visibility'];
  }
  const memberStatus = last(params, 'member_status');
  if (memberStatus !== undefined && !['accepted', 'pending', 'rejected', 'all'].includes(memberStatus)) {
    throw badRequest(`Invalid status value: ${memberStatus}`);
  }
  const rawHidden = last(params, 'os_hidden');
  // NOTE(openstack): the SDK sends os_hidden=True (capitalised); Glance's default hides hidden images.
  conditions.push({ column: 'os_hidden', op: 'eq', value: rawHidden === undefined ? false : parseBool(rawHidden, 'os_hidden') });

  for (const tag of params.getAll('tag')) conditions.push({ tag });
  const sizeMin = last(params, 'size_min');
  if (sizeMin !== undefined) conditions.push({ column: 'size', op: 'gte', value: parseInteger(sizeMin, 'size_min') });
  const sizeMax = last(params, 'size_max');
  if (sizeMax !== undefined) conditions.push({ column: 'size', op: 'lte', value: parseInteger(sizeMax, 'size_max') });

  // --- every other parameter filters a column or a custom property
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (RESERVED_PARAMS.has(key) || seen.has(key)) continue;
    seen.add(key);
    const raw = last(params, key)!;
    // The API calls the engine image id by the name users know from `docker images`.
    const column = (key === DOCKER_IMAGE_ID_PROPERTY ? 'engine_image_id' : key) as ImageColumn;
    if (IN_COLUMNS.has(column)) {
      const values = raw.startsWith('in:') ? splitInValues(raw.slice(3)) : [raw];
      if (column === 'status') {
        for (const v of values) if (!(STATUSES as readonly string[]).includes(v)) throw badRequest(`Invalid status value: ${v}`);
      }
      conditions.push({ column, op: 'in', values });
    } else if (STRING_COLUMNS.has(column)) {
      conditions.push({ column, op: 'eq', value: raw });
    } else if (INTEGER_COLUMNS.has(column)) {
      conditions.push({ column, op: 'eq', value: parseInteger(raw, key) });
    } else if (TIME_COLUMNS.has(column)) {
      conditions.push(...timeConditions(column, raw));
    } else if (key === 'protected') {
      conditions.push({ column: 'protected', op: 'eq', value: parseBool(raw, 'protected') });
    } else if (key === 'is_public' && raw === 'None') {
      // NOTE(openstack): OSC may send is_public=None; Glance v2 has no such filter.
      continue;
    } else {
      conditions.push({ property: key, value: raw });
    }
  }

  return { visibility, memberStatus: memberStatus as ImageListQuery['memberStatus'], conditions, sort: parseSort(params), limit, marker };
}

function sortKey(raw: string): SortKey {
  if (!(SORT_KEYS as readonly string[]).includes(raw)) {
    throw badRequest(`Invalid sort key: ${raw}. It must be one of the following: ${SORT_KEYS.join(', ')}.`);
  }
  return raw as SortKey;
}

function sortDir(raw: string): SortDir {
  if (raw !== 'asc' && raw !== 'desc') throw badRequest(`Invalid sort direction: ${raw}`);
  return raw;
}

/** Appends Glance's tie-breakers (created_at, then id, newest first) unless already present. */
function withTieBreakers(sort: Sort[]): Sort[] {
  const out = [...sort];
  if (!out.some((s) => s.key === 'created_at')) out.push({ key: 'created_at', dir: 'desc' });
  if (!out.some((s) => s.key === 'id')) out.push({ key: 'id', dir: 'desc' });
  return out;
}

/** `sort_key`/`sort_dir` (repeatable, glanceclient) or `sort=k1:asc,k2` (SDK); not both. */
export function parseSort(params: URLSearchParams): Sort[] {
  const keys = params.getAll('sort_key');
  const dirs = params.getAll('sort_dir');
  const sortParam = params.getAll('sort');
  let sort: Sort[];
  if (sortParam.length > 0) {
    if (keys.length > 0 || dirs.length > 0) throw badRequest('The sort parameter cannot be combined with sort_key or sort_dir.');
    sort = sortParam.join(',').split(',').map((part) => {
      const [k, d, ...rest] = part.trim().split(':');
      if (rest.length > 0 || !k) throw badRequest(`Invalid sort parameter: '${part}'. Use key[:asc|desc],…`);
      return { key: sortKey(k), dir: d === undefined ? 'desc' : sortDir(d) };
    });
  } else if (keys.length > 0) {
    if (dirs.length > 1 && dirs.length !== keys.length) throw badRequest('Number of sort dirs does not match the number of sort keys');
    sort = keys.map((k, i) => ({ key: sortKey(k), dir: sortDir(dirs.length === 0 ? 'desc' : dirs.length === 1 ? dirs[0] : dirs[i]) }));
  } else {
    if (dirs.length > 1) throw badRequest('Number of sort dirs does not match the number of sort keys');
    sort = [{ key: 'created_at', dir: dirs.length === 1 ? sortDir(dirs[0]) : 'desc' }];
  }
  const dup = sort.find((s, i) => sort.findIndex((t) => t.key === s.key) !== i);
  if (dup) throw badRequest(`Sort key '${dup.key}' is given more than once.`);
  return withTieBreakers(sort);
}

function compareValues(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  // NULLs sort first ascending, as in SQLite and MySQL.
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : 1;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  // Byte order of UTF-8, like SQLite's BINARY collation.
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

/** Orders images by `sort`; the same function places a marker in a listing. */
export function compareImages(a: ImageRecord, b: ImageRecord, sort: Sort[]): number {
  for (const s of sort) {
    const c = compareValues(a[s.key] as Scalar, b[s.key] as Scalar);
    if (c !== 0) return s.dir === 'asc' ? c : -c;
  }
  return 0;
}
