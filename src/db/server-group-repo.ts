/**
 * Server groups and their members (Nova's API-database instance groups). A group's members are
 * read through a join on `servers`, so a deleted server is never a member, whatever is left in
 * `server_group_members`; the integer `id` is internal, the `uuid` is what the API shows.
 *
 * Quotas that count rows not yet written (groups per project, members per group and user) are
 * checked in the transaction that writes, serialized per project or per group, so concurrent
 * creates cannot both squeeze under a limit (Nova rechecks after the write; this never overshoots).
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from './knex';
import { isConstraintViolation, serialize } from './dialect';
import { now } from '../clock';
import { badRequest, conflict, quotaExceeded } from '../errors';
import type { GroupPolicy } from '../compute/scheduler/types';

/** 2.64 rules; only anti-affinity groups have any. */
export interface ServerGroupRules { max_server_per_host?: number }

export interface ServerGroupRecord {
  /** The id the API shows (Nova's uuid). */
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: GroupPolicy;
  rules: ServerGroupRules;
  created_at: string;
  /** Ids of the member servers that are not deleted, in boot order. */
  members: string[];
}

export type NewServerGroup = Pick<ServerGroupRecord, 'name' | 'project_id' | 'user_id' | 'policy' | 'rules'>;

interface GroupRow {
  id: number;
  uuid: string;
  name: string;
  project_id: string;
  user_id: string;
  policy: string;
  rules: string;
  created_at: string;
}

/** nova.exception.InstanceGroupNotFound */
export const groupNotFoundMessage = (uuid: string) => `Instance group ${uuid} could not be found.`;
/** What Nova's API says when a boot would exceed server_group_members. */
export const TOO_MANY_MEMBERS = 'Quota exceeded, too many servers in group';
/** What Nova's API says when a create would exceed server_groups. */
export const TOO_MANY_GROUPS = 'Quota exceeded, too many server groups.';

/** Which groups a read may see: one project's, or (undefined) every project's. */
export interface GroupScope { projectId?: string }

export class ServerGroupRepository {
  constructor(private readonly db: Db) {}

  private scoped(k: Knex | Knex.Transaction, scope: GroupScope) {
    const q = k<GroupRow>('server_groups');
    if (scope.projectId !== undefined) q.where({ project_id: scope.projectId });
    return q;
  }

  /** Rows → records, with their members (one query for all of them). */
  private async withMembers(k: Knex | Knex.Transaction, rows: GroupRow[]): Promise<ServerGroupRecord[]> {
    if (rows.length === 0) return [];
    const byId = new Map<number, string[]>(rows.map((r) => [Number(r.id), []]));
    const ids = [...byId.keys()];
    for (let i = 0; i < ids.length; i += 500) {
      const members: { group_id: number; server_id: string }[] = await k('server_group_members as m')
        .join('servers as s', 's.id', 'm.server_id')
        .whereIn('m.group_id', ids.slice(i, i + 500))
        .andWhere('s.deleted', 0)
        .orderBy('s.sequence')
        .select('m.group_id', 'm.server_id');
      for (const m of members) byId.get(Number(m.group_id))!.push(m.server_id);
    }
    return rows.map((r) => ({
      uuid: r.uuid,
      name: r.name,
      project_id: r.project_id,
      user_id: r.user_id,
      policy: r.policy as GroupPolicy,
      rules: JSON.parse(r.rules) as ServerGroupRules,
      created_at: r.created_at,
      members: byId.get(Number(r.id))!,
    }));
  }

  /**
   * Creates a group, unless the project already holds `maxGroups` of them (403, Nova's words);
   * `maxGroups` < 0 means unlimited.
   */
  async create(g: NewServerGroup, maxGroups: number): Promise<ServerGroupRecord> {
    const uuid = crypto.randomUUID();
    await this.db.transaction(async (tx) => {
      await serialize(tx, `novadock.server_groups:${g.project_id}`);
      if (maxGroups >= 0 && (await this.countIn(tx, g.project_id)) + 1 > maxGroups) throw quotaExceeded(TOO_MANY_GROUPS);
      await tx('server_groups').insert({ ...g, uuid, rules: JSON.stringify(g.rules), created_at: now() });
    });
    return (await this.get(uuid, {}))!;
  }

  /** The group with this uuid within `scope`, or undefined. */
  async get(uuid: string, scope: GroupScope): Promise<ServerGroupRecord | undefined> {
    const row = await this.scoped(this.db, scope).where({ uuid }).first();
    return row ? (await this.withMembers(this.db, [row as GroupRow]))[0] : undefined;
  }

  /** Groups within `scope` in creation order, `offset` skipped, at most `limit`. */
  async list(scope: GroupScope, page: { offset: number; limit: number }): Promise<ServerGroupRecord[]> {
    const rows = await this.scoped(this.db, scope).orderBy('id').offset(page.offset).limit(page.limit);
    return this.withMembers(this.db, rows as GroupRow[]);
  }

  /** Deletes the group within `scope` (its member rows go with it); false when there was none. */
  async delete(uuid: string, scope: GroupScope): Promise<boolean> {
    return (await this.scoped(this.db, scope).where({ uuid }).delete()) > 0;
  }

  /** How many groups a project holds (quota server_groups). */
  async countInProject(projectId: string): Promise<number> {
    return this.countIn(this.db, projectId);
  }

  private async countIn(k: Knex | Knex.Transaction, projectId: string): Promise<number> {
    const r = await k('server_groups').where({ project_id: projectId }).count<{ n: number }[]>({ n: '*' });
    return Number(r[0]?.n ?? 0);
  }

  /** Members of a group that are not deleted and belong to `userId` (quota server_group_members). */
  async countMembersOfUser(uuid: string, userId: string): Promise<number> {
    return this.countMembersIn(this.db, uuid, userId);
  }

  private async countMembersIn(k: Knex | Knex.Transaction, uuid: string, userId: string): Promise<number> {
    const r = await k('server_group_members as m')
      .join('server_groups as g', 'g.id', 'm.group_id')
      .join('servers as s', 's.id', 'm.server_id')
      .where({ 'g.uuid': uuid, 's.user_id': userId, 's.deleted': 0 })
      .count<{ n: number }[]>({ n: '*' });
    return Number(r[0]?.n ?? 0);
  }

  /**
   * Makes `serverIds` (existing servers of one user) members of the group. The member quota is
   * checked again in the same transaction as the write, the group's writers taking turns: a
   * concurrent boot into the same group cannot push it over `maxMembers` (< 0 = unlimited).
   * Throws invalid when the group is gone (Nova's boot answers InstanceGroupNotFound with a 400),
   * over-quota when the servers do not fit.
   */
  async addMembers(uuid: string, serverIds: string[], maxMembers: number): Promise<void> {
    if (serverIds.length === 0) return;
    await this.db.transaction(async (tx) => {
      await serialize(tx, `novadock.server_group_members:${uuid}`);
      const group = await tx('server_groups').where({ uuid }).forUpdate().first('id');
      if (!group) throw badRequest(groupNotFoundMessage(uuid));
      if (maxMembers >= 0) {
        const users: { user_id: string; n: number }[] = await tx('servers').whereIn('id', serverIds).groupBy('user_id')
          .select('user_id').count({ n: '*' });
        for (const u of users) {
          if ((await this.countMembersIn(tx, uuid, u.user_id)) + Number(u.n) > maxMembers) throw quotaExceeded(TOO_MANY_MEMBERS);
        }
      }
      try {
        await tx('server_group_members').insert(serverIds.map((server_id) => ({ server_id, group_id: group.id })));
      } catch (e) {
        // A server already in a group (the key), or no such server (the foreign key).
        if (isConstraintViolation(e)) throw conflict(`Servers ${serverIds.join(', ')} cannot join server group ${uuid}: each server can be in one group only.`);
        throw e;
      }
    });
  }

  /** The group a server belongs to (deleted or not), or undefined. */
  async groupOfServer(serverId: string): Promise<ServerGroupRecord | undefined> {
    const row = await this.db('server_groups as g').join('server_group_members as m', 'm.group_id', 'g.id')
      .where('m.server_id', serverId).first('g.*');
    return row ? (await this.withMembers(this.db, [row as GroupRow]))[0] : undefined;
  }

  /** Uuids of the groups a server belongs to (at most one). */
  async groupUuidsOfServer(serverId: string): Promise<string[]> {
    return this.db('server_groups as g').join('server_group_members as m', 'm.group_id', 'g.id')
      .where('m.server_id', serverId).pluck('g.uuid');
  }

  /** Hosts of a group's members that are placed and not deleted: one entry per member. */
  async memberHosts(uuid: string): Promise<string[]> {
    return this.db('server_group_members as m')
      .join('server_groups as g', 'g.id', 'm.group_id')
      .join('servers as s', 's.id', 'm.server_id')
      .where({ 'g.uuid': uuid, 's.deleted': 0 })
      .whereNotNull('s.host')
      .orderBy('s.sequence')
      .pluck('s.host');
  }

  /**
   * Drops a deleted server from whatever group it is in. A server that is not deleted (its
   * delete superseded, say) keeps its place.
   */
  async removeDeletedMember(serverId: string): Promise<void> {
    await this.db('server_group_members').where({ server_id: serverId })
      .whereIn('server_id', (q) => q.select('id').from('servers').where({ id: serverId, deleted: 1 })).delete();
  }
}
