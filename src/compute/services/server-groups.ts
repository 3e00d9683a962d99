/**
 * Server groups (nova/api/openstack/compute/server_groups.py, nova/objects/instance_group.py and
 * the group part of nova/compute/api.py create): the os-server-groups rules, and the
 * ServerGroupsPort through which boot and the moves learn a group's policy and where its
 * members are.
 *
 * Who sees what, as Nova: a group is its project's (admins see every project's); another
 * project's group is not found (404 on the API, 400 "Instance group … could not be found." when a
 * boot names it). Quotas, as Nova counts them: `server_groups` per project, `server_group_members`
 * per group and user (members of that user's that are not deleted).
 */
import type { RequestContext } from '../../http/context';
import type { QuotaLimitsPort } from './quotas';
import { badRequest, notFound, quotaExceeded } from '../../errors';
import {
  GroupScope, ServerGroupRecord, ServerGroupRepository, ServerGroupRules, TOO_MANY_GROUPS, TOO_MANY_MEMBERS, groupNotFoundMessage,
} from '../../db/server-group-repo';
import { UUID_RE } from '../refs';
import type { GroupPolicy, GroupSpec, ServerGroupsPort } from '../scheduler/types';

export type { ServerGroupRecord, ServerGroupRules };

export interface CreateServerGroupRequest {
  name: string;
  policy: GroupPolicy;
  rules: ServerGroupRules;
}

export interface ListServerGroupsQuery {
  /** Every project's groups (admins only; others get their own, as Nova answers them). */
  allProjects: boolean;
  offset: number;
  limit: number;
}

/** The group as the scheduler sees it. */
function specOf(g: ServerGroupRecord, memberHosts: string[]): GroupSpec {
  const spec: GroupSpec = { uuid: g.uuid, policy: g.policy, memberHosts };
  if (g.policy === 'anti-affinity' && g.rules.max_server_per_host !== undefined) spec.maxServerPerHost = g.rules.max_server_per_host;
  return spec;
}

export class ServerGroups implements ServerGroupsPort {
  constructor(
    private readonly repo: ServerGroupRepository,
    private readonly quotas: QuotaLimitsPort,
  ) {}

  /** Nova's _instance_group_get_query: non-admins see their project's groups only. */
  private scope(ctx: RequestContext): GroupScope {
    return ctx.isAdmin ? {} : { projectId: ctx.projectId };
  }

  /** The caller's project's groups, or every project's for an admin asking for all_projects. */
  async list(ctx: RequestContext, q: ListServerGroupsQuery): Promise<ServerGroupRecord[]> {
    const scope = ctx.isAdmin && q.allProjects ? {} : { projectId: ctx.projectId };
    return this.repo.list(scope, { offset: q.offset, limit: q.limit });
  }

  /** Checks in Nova's order: quota (403) before the rules (400). */
  async create(ctx: RequestContext, req: CreateServerGroupRequest): Promise<ServerGroupRecord> {
    const max = (await this.quotas.limits(ctx.projectId)).server_groups;
    if (max >= 0 && (await this.repo.countInProject(ctx.projectId)) >= max) throw quotaExceeded(TOO_MANY_GROUPS);
    if (req.policy !== 'anti-affinity' && Object.keys(req.rules).length > 0) throw badRequest('Only anti-affinity policy supports rules.');
    return this.repo.create({ name: req.name, project_id: ctx.projectId, user_id: ctx.userId, policy: req.policy, rules: req.rules }, max);
  }

  async get(ctx: RequestContext, uuid: string): Promise<ServerGroupRecord> {
    const g = await this.repo.get(uuid, this.scope(ctx));
    if (!g) throw notFound(groupNotFoundMessage(uuid));
    return g;
  }

  /** Deletes a group; its members stay as they are, in no group. */
  async delete(ctx: RequestContext, uuid: string): Promise<void> {
    if (!(await this.repo.delete(uuid, this.scope(ctx)))) throw notFound(groupNotFoundMessage(uuid));
  }

  /** Groups a project holds (quota usage of server_groups). */
  async countInProject(projectId: string): Promise<number> {
    return this.repo.countInProject(projectId);
  }

  // ------------------------------------------------------------------ ServerGroupsPort

  /**
   * The group of a boot's `group` hint (nova/compute/api.py _get_requested_instance_group and
   * the server_group_members check of _provision_instances): a group `ctx` cannot see is a 400
   * naming it, `count` more members of the caller's than the quota allows a 403.
   */
  async forBoot(ctx: RequestContext, groupId: string | undefined, count: number): Promise<GroupSpec | undefined> {
    if (groupId === undefined) return undefined;
    const g = UUID_RE.test(groupId) ? await this.repo.get(groupId, this.scope(ctx)) : undefined;
    if (!g) throw badRequest(groupNotFoundMessage(groupId));
    const max = (await this.quotas.limits(ctx.projectId)).server_group_members;
    if (max >= 0 && (await this.repo.countMembersOfUser(g.uuid, ctx.userId)) + count > max) throw quotaExceeded(TOO_MANY_MEMBERS);
    return specOf(g, await this.repo.memberHosts(g.uuid));
  }

  /**
   * Records new servers as members. The member quota is checked again with the write (a
   * concurrent boot into the same group may have got there first): over quota → 403, the group
   * deleted meanwhile → 400 (as forBoot); nothing is recorded then, and the caller undoes its boot.
   */
  async addMembers(groupUuid: string, serverIds: string[]): Promise<void> {
    // The limit of the group's project (a group gone meanwhile: the repository's 400).
    const g = await this.repo.get(groupUuid, {});
    const max = g ? (await this.quotas.limits(g.project_id)).server_group_members : -1;
    await this.repo.addMembers(groupUuid, serverIds, max);
  }

  async groupOf(serverId: string): Promise<GroupSpec | undefined> {
    const g = await this.repo.groupOfServer(serverId);
    return g ? specOf(g, await this.repo.memberHosts(g.uuid)) : undefined;
  }

  async groupsOf(serverId: string): Promise<string[]> {
    return this.repo.groupUuidsOfServer(serverId);
  }

  /** Only once the server is marked deleted: a delete that did not happen leaves the group as it was. */
  async removeMember(serverId: string): Promise<void> {
    await this.repo.removeDeletedMember(serverId);
  }
}
