/**
 * Images and their tags in the database. Rows become ImageRecords here and nowhere else.
 *
 * The status is written in one place, `transition`: a move the table in
 * src/image/image-status.ts does not allow is refused (Glance's status setter does the same),
 * and an allowed one is a compare-and-set (`UPDATE … WHERE id = ? AND status = ?`): zero rows
 * means somebody else moved the image first (glance/db/sqlalchemy/api.py `image_update(from_state=…)`).
 * New images are always inserted `queued`. Attribute edits (PATCH) run read-modify-write inside
 * one transaction, so two edits never interleave; they never touch the status or data columns
 * that uploads own.
 */
import type { Knex } from 'knex';
import { invalidState, msg } from '../errors';
import type { Db } from './knex';
import { dialect, isConstraintViolation, orderBytes } from './dialect';
import { now } from '../clock';
import type { ImageMember, ImageRecord, ImageStatus, MemberStatus, Visibility } from '../image/image-record';
import { canTransition } from '../image/image-status';

/** A row of `images`: the record's columns as stored (booleans as 0/1 in SQLite, bigints as strings from PostgreSQL, properties as JSON text, tags apart). */
type ImageRow = Omit<ImageRecord, 'status' | 'visibility' | 'protected' | 'os_hidden' | 'properties' | 'tags'> & {
  status: string;
  visibility: string;
  protected: number | boolean;
  os_hidden: number | boolean;
  properties: string;
};

/** Columns a filter or a sort may name directly. */
export type ImageColumn =
  | 'id' | 'name' | 'status' | 'visibility' | 'protected' | 'os_hidden' | 'checksum' | 'os_hash_algo' | 'os_hash_value'
  | 'owner' | 'size' | 'virtual_size' | 'container_format' | 'disk_format' | 'min_ram' | 'min_disk'
  | 'engine_image_id' | 'created_at' | 'updated_at';

export type Scalar = string | number | boolean | null;

/** One condition of a listing; all conditions must hold (AND). */
export type ImageCondition =
  | { column: ImageColumn; op: 'in'; values: Scalar[] }
  | { column: ImageColumn; op: 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte'; value: Scalar }
  /** Value below `from` or at/after `to` (a timestamp not within one second). */
  | { column: ImageColumn; op: 'outside'; from: string; to: string }
  /** Custom property equals a string. */
  | { property: string; value: string }
  /** Has this tag. */
  | { tag: string };

/** Who is listing: decides which images are visible at all. */
export interface ImageScope {
  projectId: string;
  isAdmin: boolean;
  /**
   * Which visibilities to show (Glance's `visibility` filter); undefined = Glance's default
   * listing: the project's own images, public ones, and others' shared images the project is a
   * member of (with memberStatus); community images of other projects are excluded.
   */
  visibility?: Visibility | 'all';
  /**
   * Which memberships bring another project's shared image into the listing (Glance's
   * `member_status`); undefined = 'accepted'. Admins see every image and ignore it.
   */
  memberStatus?: MemberStatus | 'all';
}

/** Columns an edit may change; status and data columns belong to uploads and transitions. */
export type ImageEdit = Partial<Pick<ImageRecord,
  'name' | 'visibility' | 'protected' | 'os_hidden' | 'owner' | 'container_format' | 'disk_format' | 'min_ram' | 'min_disk' | 'properties' | 'tags'>>;

/** A new image: every column but the status, which starts as `queued`. */
export type NewImage = Omit<ImageRecord, 'status'>;

/** Columns a status transition may set along with the status. */
export type TransitionFields = Partial<Pick<ImageRecord,
  'checksum' | 'os_hash_algo' | 'os_hash_value' | 'size' | 'virtual_size' | 'engine_image_id'>>;

function toRecord(row: ImageRow, tags: string[] = []): ImageRecord {
  let properties: Record<string, string> = {};
  try {
    const parsed = JSON.parse(row.properties);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) properties = parsed;
  } catch {
    /* a corrupt column shows as no properties rather than failing every listing */
  }
  return {
    id: row.id,
    name: row.name,
    status: row.status as ImageStatus,
    visibility: row.visibility as Visibility,
    protected: Boolean(row.protected),
    os_hidden: Boolean(row.os_hidden),
    checksum: row.checksum,
    os_hash_algo: row.os_hash_algo,
    os_hash_value: row.os_hash_value,
    owner: row.owner,
    size: row.size === null ? null : Number(row.size),
    virtual_size: row.virtual_size === null ? null : Number(row.virtual_size),
    container_format: row.container_format,
    disk_format: row.disk_format,
    min_ram: row.min_ram,
    min_disk: row.min_disk,
    engine_image_id: row.engine_image_id,
    properties,
    tags,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function toRow(rec: NewImage): ImageRow {
  return {
    id: rec.id,
    name: rec.name,
    status: 'queued',
    visibility: rec.visibility,
    protected: rec.protected,
    os_hidden: rec.os_hidden,
    checksum: rec.checksum,
    os_hash_algo: rec.os_hash_algo,
    os_hash_value: rec.os_hash_value,
    owner: rec.owner,
    size: rec.size,
    virtual_size: rec.virtual_size,
    container_format: rec.container_format,
    disk_format: rec.disk_format,
    min_ram: rec.min_ram,
    min_disk: rec.min_disk,
    engine_image_id: rec.engine_image_id,
    properties: JSON.stringify(rec.properties),
    created_at: rec.created_at,
    updated_at: rec.updated_at,
  };
}

const SQL_OPS = { eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** Booleans are stored as 0/1. */
function sqlValue(v: Scalar): string | number | null {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

export class ImageRepository {
  /** `owner`: this process's worker id, recorded as `upload_owner` when an image goes `saving`. */
  constructor(private readonly db: Db, private readonly owner: string | null = null) {}

  /** Inserts a new image, `queued`, with its tags; false when the id is taken. */
  async create(rec: NewImage): Promise<boolean> {
    try {
      await this.db.transaction(async (trx) => {
        await trx('images').insert(toRow(rec));
        if (rec.tags.length > 0) await trx('image_tags').insert(rec.tags.map((tag) => ({ image_id: rec.id, tag })));
      });
      return true;
    } catch (e) {
      if (isConstraintViolation(e)) return false;
      throw e;
    }
  }

  async get(id: string): Promise<ImageRecord | undefined> {
    const row = await this.db<ImageRow>('images').where({ id }).first();
    if (!row) return undefined;
    const tags = await orderBytes(this.db('image_tags').where({ image_id: id }), 'tag').pluck('tag');
    return toRecord(row, tags);
  }

  /**
   * Every image the scope may see that meets all conditions, tags not loaded (see withTags);
   * the caller sorts and pages.
   */
  async list(scope: ImageScope, conditions: ImageCondition[]): Promise<ImageRecord[]> {
    const q = this.db<ImageRow>('images').select('*');
    applyScope(q, scope);
    // PostgreSQL's jsonb refuses some JSON that JSON.stringify writes (\u0000, lone surrogates):
    // there, property conditions are checked on the parsed records instead of in SQL.
    const inSql = dialect(this.db) === 'sqlite';
    const byProperty: PropertyCondition[] = [];
    for (const c of conditions) {
      if ('property' in c && !inSql) byProperty.push(c);
      else applyCondition(q, c);
    }
    const records = (await q).map((r) => toRecord(r));
    return byProperty.length === 0 ? records : records.filter((r) => byProperty.every((c) => hasStringProperty(r, c)));
  }

  /** The records with their tags loaded (one query). */
  async withTags(records: ImageRecord[]): Promise<ImageRecord[]> {
    if (records.length === 0) return records;
    const tags = new Map<string, string[]>();
    const ids = records.map((r) => r.id);
    // SQLite caps bound parameters; page sizes are ≤ 1000 but stay safe in slices.
    for (let i = 0; i < ids.length; i += 500) {
      const rows: Array<{ image_id: string; tag: string }> = await orderBytes(this.db('image_tags').whereIn('image_id', ids.slice(i, i + 500)), 'tag');
      for (const r of rows) {
        const list = tags.get(r.image_id) ?? [];
        list.push(r.tag);
        tags.set(r.image_id, list);
      }
    }
    return records.map((r) => ({ ...r, tags: tags.get(r.id) ?? [] }));
  }

  /**
   * The one way a status changes. Throws invalidState (Glance's InvalidImageStatusTransition)
   * when the table (image-status.ts VALID_STATE_TARGETS) does not allow `from` → `to`;
   * otherwise a compare-and-set: moves the image (setting `fields` too) only if it is in
   * `from` now. False = it was not, or is gone: someone else moved first.
   */
  async transition(id: string, from: ImageStatus, to: ImageStatus, fields: TransitionFields = {}): Promise<boolean> {
    if (!canTransition(from, to)) throw invalidState(msg.imageStatusTransition(from, to));
    const owner = to === 'saving' ? { upload_owner: this.owner } : {};
    const n = await this.db('images').where({ id, status: from }).update({ ...fields, ...owner, status: to, updated_at: now() });
    return n === 1;
  }

  /** Images `saving`, with the worker whose upload or snapshot is writing their data. */
  async saving(): Promise<{ id: string; owner: string | null }[]> {
    const rows: { id: string; upload_owner: string | null }[] = await this.db('images').where({ status: 'saving' }).orderBy('id').select('id', 'upload_owner');
    return rows.map((r) => ({ id: r.id, owner: r.upload_owner }));
  }

  /**
   * Read-modify-write of editable attributes in one transaction, the row locked: `decide` sees
   * the current record and returns the edit (or throws to refuse it). Returns the updated
   * record, or undefined if the image is gone.
   */
  async edit(id: string, decide: (current: ImageRecord) => ImageEdit): Promise<ImageRecord | undefined> {
    return this.db.transaction(async (trx) => {
      const row = await trx<ImageRow>('images').where({ id }).forUpdate().first();
      if (!row) return undefined;
      const tags = await orderBytes(trx('image_tags').where({ image_id: id }), 'tag').pluck('tag');
      const current = toRecord(row, tags);
      const change = decide(current);
      const { tags: newTags, properties, ...columns } = change;
      const update: Record<string, unknown> = { ...columns, updated_at: now() };
      if (properties !== undefined) update.properties = JSON.stringify(properties);
      if (Object.keys(change).length > 0) await trx('images').where({ id }).update(update);
      if (newTags !== undefined) await replaceTags(trx, id, newTags);
      const after = await trx<ImageRow>('images').where({ id }).first();
      const afterTags = await orderBytes(trx('image_tags').where({ image_id: id }), 'tag').pluck('tag');
      return toRecord(after!, afterTags);
    });
  }

  /** Adds a tag (idempotent); false if the image is gone. */
  async addTag(id: string, tag: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      // Locked, so a concurrent delete waits instead of breaking the tag's foreign key.
      const exists = await trx('images').where({ id }).forUpdate().first('id');
      if (!exists) return false;
      await trx('image_tags').insert({ image_id: id, tag }).onConflict(['image_id', 'tag']).ignore();
      await trx('images').where({ id }).update({ updated_at: now() });
      return true;
    });
  }

  /** Removes a tag; false if the image did not have it. */
  async removeTag(id: string, tag: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const n = await trx('image_tags').where({ image_id: id, tag }).delete();
      if (n === 0) return false;
      await trx('images').where({ id }).update({ updated_at: now() });
      return true;
    });
  }

  async tagCount(id: string): Promise<number> {
    const row = await this.db('image_tags').where({ image_id: id }).count<{ n: number }[]>({ n: '*' });
    return Number(row[0]?.n ?? 0);
  }

  /**
   * Deletes the row (tags cascade) if it still meets `guard`; returns what was deleted, or
   * undefined if it was gone (or no longer met the guard: a compare-and-set, like transition).
   */
  async delete(id: string, guard: { status?: ImageStatus; protected?: boolean } = {}): Promise<ImageRecord | undefined> {
    return this.db.transaction(async (trx) => {
      // Locked: a transition between the guard's check and the delete waits (PostgreSQL).
      const row = await trx<ImageRow>('images').where({ id }).forUpdate().first();
      if (!row) return undefined;
      if (guard.status !== undefined && row.status !== guard.status) return undefined;
      if (guard.protected !== undefined && Boolean(row.protected) !== guard.protected) return undefined;
      await trx('image_tags').where({ image_id: id }).delete();
      await trx('image_members').where({ image_id: id }).delete();
      await trx('images').where({ id }).delete();
      return toRecord(row);
    });
  }

  // ---------------------------------------------------------------- members

  /** Adds a pending member; false when the project is already a member (or the image is gone). */
  async addMember(imageId: string, memberId: string): Promise<ImageMember | undefined> {
    const at = now();
    const row: ImageMember = { image_id: imageId, member_id: memberId, status: 'pending', created_at: at, updated_at: at };
    try {
      await this.db('image_members').insert(row);
      return row;
    } catch (e) {
      // Primary key (duplicate) or foreign key (image deleted meanwhile).
      if (isConstraintViolation(e)) return undefined;
      throw e;
    }
  }

  async getMember(imageId: string, memberId: string): Promise<ImageMember | undefined> {
    const row = await this.db<ImageMember>('image_members').where({ image_id: imageId, member_id: memberId }).first();
    return row ? toMember(row) : undefined;
  }

  /** The image's members, oldest first; `onlyMember` narrows to that one project's membership. */
  async listMembers(imageId: string, onlyMember?: string): Promise<ImageMember[]> {
    const q = this.db<ImageMember>('image_members').where({ image_id: imageId });
    if (onlyMember !== undefined) q.andWhere({ member_id: onlyMember });
    const rows = await orderBytes(q.orderBy('created_at'), 'member_id');
    return rows.map(toMember);
  }

  /** Sets a member's status; undefined when there is no such membership. */
  async setMemberStatus(imageId: string, memberId: string, status: MemberStatus): Promise<ImageMember | undefined> {
    const n = await this.db('image_members').where({ image_id: imageId, member_id: memberId }).update({ status, updated_at: now() });
    return n === 1 ? this.getMember(imageId, memberId) : undefined;
  }

  /** Removes a membership; false when there was none. */
  async deleteMember(imageId: string, memberId: string): Promise<boolean> {
    return (await this.db('image_members').where({ image_id: imageId, member_id: memberId }).delete()) === 1;
  }

  /** True when an image record other than `exceptId` records this engine id. */
  async dockerImageInUse(engineImageId: string, exceptId?: string): Promise<boolean> {
    const q = this.db('images').where({ engine_image_id: engineImageId });
    if (exceptId) q.whereNot({ id: exceptId });
    return (await q.first('id')) !== undefined;
  }
}

function toMember(row: ImageMember): ImageMember {
  return {
    image_id: row.image_id,
    member_id: row.member_id,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

async function replaceTags(trx: Knex.Transaction, id: string, tags: string[]): Promise<void> {
  await trx('image_tags').where({ image_id: id }).delete();
  const unique = [...new Set(tags)];
  if (unique.length > 0) await trx('image_tags').insert(unique.map((tag) => ({ image_id: id, tag })));
}

/**
 * Glance's visibility rules (glance/db/sqlalchemy/api.py `_select_images_query`): the union of
 * the project's own images, the public (and, when asked for, community) ones, and the shared
 * images of which the project is a member in `memberStatus` (default accepted). Admins see
 * every image, narrowed only by an explicit visibility.
 */
function applyScope(q: Knex.QueryBuilder, scope: ImageScope): void {
  const v = scope.visibility;
  if (scope.isAdmin) {
    if (v && v !== 'all') q.where('visibility', v);
    return;
  }
  const own = scope.projectId;
  const status = scope.memberStatus ?? 'accepted';
  const memberOf = (w: Knex.QueryBuilder) => w.where('images.visibility', 'shared').whereExists((sub) => {
    sub.select(1).from('image_members').whereRaw('image_members.image_id = images.id').andWhere('image_members.member_id', own);
    if (status !== 'all') sub.andWhere('image_members.status', status);
  });
  switch (v) {
    case undefined:
      q.where((w) => w.where('owner', own).orWhere('visibility', 'public').orWhere(memberOf));
      break;
    case 'all':
      q.where((w) => w.where('owner', own).orWhereIn('visibility', ['public', 'community']).orWhere(memberOf));
      break;
    case 'public':
    case 'community':
      q.where('visibility', v);
      break;
    case 'private':
      q.where({ visibility: v, owner: own });
      break;
    case 'shared':
      q.where((w) => w.where({ visibility: 'shared', owner: own }).orWhere(memberOf));
      break;
  }
}

type PropertyCondition = Extract<ImageCondition, { property: string }>;

/** What SQLite's json_each condition below asks: the key (literally) holds this string. */
function hasStringProperty(r: ImageRecord, c: PropertyCondition): boolean {
  return Object.prototype.hasOwnProperty.call(r.properties, c.property) && r.properties[c.property] === c.value;
}

function applyCondition(q: Knex.QueryBuilder, c: ImageCondition): void {
  if ('tag' in c) {
    q.whereExists((sub) => sub.select(1).from('image_tags').whereRaw('image_tags.image_id = images.id').andWhere('image_tags.tag', c.tag));
    return;
  }
  if ('property' in c) {
    // json_each compares the key as a plain string: dots, quotes and spaces in property names are literal.
    q.whereRaw("EXISTS (SELECT 1 FROM json_each(images.properties) AS p WHERE p.key = ? AND p.type = 'text' AND p.value = ?)", [c.property, c.value]);
    return;
  }
  const col = `images.${c.column}`;
  if (c.op === 'in') {
    const nonNull = c.values.filter((v) => v !== null).map(sqlValue);
    const wantsNull = c.values.some((v) => v === null);
    q.where((w) => {
      if (nonNull.length > 0) w.whereIn(col, nonNull as Array<string | number>);
      else w.whereRaw('1 = 0');
      if (wantsNull) w.orWhereNull(col);
    });
    return;
  }
  if (c.op === 'outside') {
    q.where((w) => w.where(col, '<', c.from).orWhere(col, '>=', c.to));
    return;
  }
  if (c.value === null) {
    if (c.op === 'eq') q.whereNull(col);
    else if (c.op === 'neq') q.whereNotNull(col);
    else q.whereRaw('1 = 0');
    return;
  }
  q.where(col, SQL_OPS[c.op], sqlValue(c.value) as string | number);
}
