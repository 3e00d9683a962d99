/**
 * Keystone's directory reads beyond projects, the calls the OpenStack dashboard makes at login and
 * on its Identity pages (openstack_auth/plugin/base.py, openstack_dashboard/api/keystone.py):
 * a user's projects and the token's possible scopes (both with an unscoped token), domains,
 * users, roles and role assignments.
 *
 * Policies follow Keystone's defaults as a deployment without system scope sees them (the
 * deprecated admin rules still apply there): an admin reads everything; anyone reads their own
 * user, their own projects and the domain their project lives in; the rest is a 403 naming the
 * policy, and an unknown id a 404 (keystone/common/policies/{user,project,domain,role}.py).
 */
import { badRequest, forbidden, notFound, unauthorized } from '../errors';
import type { IdentityRepository, ProjectRow, RoleRow, UserRow } from '../db/identity-repo';
import type { Db } from '../db/knex';
import { AssignmentRow, IdentityDirectoryRepository } from '../db/identity-directory-repo';
import type { TokenService } from './token-service';
import { DEFAULT_DOMAIN } from './token-service';

/** Who calls, from a scoped or an unscoped token. */
export interface IdentityCaller {
  userId: string;
  userDomainId: string;
  /** Absent for an unscoped token. */
  projectId?: string;
  projectDomainId?: string;
  isAdmin: boolean;
}

export interface DomainRow { id: string; name: string; description: string; enabled: boolean }

/** One assignment as Keystone lists it: an implied one names the role that implied it. */
export interface Assignment extends AssignmentRow { priorRoleId?: string }

export interface AssignmentQuery {
  userId?: string;
  projectId?: string;
  roleId?: string;
  groupId?: string;
  domainId?: string;
  system?: string;
  effective: boolean;
  includeSubtree: boolean;
}

/** Keystone's implied-role chain as the seed sets it up (admin implies member, member implies reader). */
const PRIOR_ROLE: Record<string, string> = { member: 'admin', reader: 'member' };

const denied = (action: string) => forbidden(`You are not authorized to perform the requested action: identity:${action}.`);

/** A domain's name: Default for `default`, else its id (seeded domains are named by their lowercased name). */
export const domainName = (id: string) => (id === DEFAULT_DOMAIN.id ? DEFAULT_DOMAIN.name : id);

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class IdentityDirectory {
  constructor(
    private readonly tokens: TokenService,
    private readonly repo: IdentityRepository,
    private readonly dir: IdentityDirectoryRepository,
  ) {}

  /** The directory over the identity tables of `db`. */
  static over(tokens: TokenService, repo: IdentityRepository, db: Db): IdentityDirectory {
    return new IdentityDirectory(tokens, repo, new IdentityDirectoryRepository(db));
  }

  /** The caller of an identity request; an unscoped token is a caller too (Horizon's login uses one). */
  async caller(token: string | undefined, requestId: string): Promise<IdentityCaller> {
    if (!token) throw unauthorized();
    const claims = this.tokens.verify(token);
    if (claims.pid) {
      const ctx = await this.tokens.context(token, requestId);
      return { userId: ctx.userId, userDomainId: ctx.userDomainId, projectId: ctx.projectId, projectDomainId: ctx.projectDomainId, isAdmin: ctx.isAdmin };
    }
    const user = await this.repo.userById(claims.sub);
    if (!user || !user.enabled) throw unauthorized();
    return { userId: user.id, userDomainId: user.domain_id, isAdmin: false };
  }

  /** GET /v3/users/{id}/projects: the user's own, or any user's for an admin. */
  async userProjects(caller: IdentityCaller, userId: string): Promise<ProjectRow[]> {
    if (!caller.isAdmin && caller.userId !== userId) throw denied('list_user_projects');
    if (!(await this.repo.userById(userId))) throw notFound(`Could not find user: ${userId}.`);
    return (await this.dir.projectsOfUser(userId)).sort(byName);
  }

  /** GET /v3/auth/projects: the projects the token's user may scope to. */
  async authProjects(caller: IdentityCaller): Promise<ProjectRow[]> {
    return (await this.dir.projectsOfUser(caller.userId)).filter((p) => p.enabled).sort(byName);
  }

  /** GET /v3/domains/{id}: admins, and tokens scoped to a project of that domain. */
  async domain(caller: IdentityCaller, id: string): Promise<DomainRow> {
    if (!caller.isAdmin && caller.projectDomainId !== id) throw denied('get_domain');
    const found = (await this.domains()).find((d) => d.id === id);
    if (!found) throw notFound(`Could not find domain: ${id}.`);
    return found;
  }

  /** GET /v3/domains: admins only. */
  async listDomains(caller: IdentityCaller, filter: { name?: string; enabled?: boolean }): Promise<DomainRow[]> {
    if (!caller.isAdmin) throw denied('list_domains');
    return (await this.domains()).filter((d) => (filter.name === undefined || d.name === filter.name) && (filter.enabled === undefined || d.enabled === filter.enabled));
  }

  /** GET /v3/users/{id}: oneself, or anyone for an admin. */
  async user(caller: IdentityCaller, id: string): Promise<UserRow> {
    if (!caller.isAdmin && caller.userId !== id) throw denied('get_user');
    const u = await this.repo.userById(id);
    if (!u) throw notFound(`Could not find user: ${id}.`);
    return u;
  }

  /** GET /v3/users: admins only. */
  async listUsers(caller: IdentityCaller, filter: { name?: string; domainId?: string; enabled?: boolean; defaultProjectId?: string }): Promise<UserRow[]> {
    if (!caller.isAdmin) throw denied('list_users');
    return (await this.dir.listUsers())
      .filter((u) => (filter.name === undefined || u.name === filter.name) && (filter.domainId === undefined || u.domain_id === filter.domainId)
        && (filter.enabled === undefined || Boolean(u.enabled) === filter.enabled)
        && (filter.defaultProjectId === undefined || u.default_project_id === filter.defaultProjectId))
      .sort(byName);
  }

  /** GET /v3/groups: admins only, and always empty (no groups exist here). */
  async listGroups(caller: IdentityCaller): Promise<never[]> {
    if (!caller.isAdmin) throw denied('list_groups');
    return [];
  }

  /** GET /v3/roles/{id}: admins only. */
  async role(caller: IdentityCaller, id: string): Promise<RoleRow> {
    if (!caller.isAdmin) throw denied('get_role');
    const r = await this.dir.roleById(id);
    if (!r) throw notFound(`Could not find role: ${id}.`);
    return r;
  }

  /** GET /v3/roles: admins only. */
  async listRoles(caller: IdentityCaller, filter: { name?: string }): Promise<RoleRow[]> {
    if (!caller.isAdmin) throw denied('list_roles');
    return (await this.dir.listRoles()).filter((r) => filter.name === undefined || r.name === filter.name).sort(byName);
  }

  /**
   * GET /v3/role_assignments: admins only. Assignments are stored expanded (admin's row set holds
   * member and reader too); the direct listing shows only the roles no other held role implies,
   * the effective one all of them, each implied role naming its prior role.
   */
  async roleAssignments(caller: IdentityCaller, q: AssignmentQuery): Promise<Assignment[]> {
    if (!caller.isAdmin) throw denied(q.includeSubtree ? 'list_role_assignments_for_tree' : 'list_role_assignments');
    if (q.includeSubtree && !q.projectId) throw badRequest('scope.project.id must be specified if include_subtree is also specified');
    if (q.effective && q.groupId) throw badRequest('Combining effective and group filter will always result in an empty list.');
    if (q.projectId && q.domainId) throw badRequest('Specify a domain or project, not both');
    if (q.userId && q.groupId) throw badRequest('Specify a user or group, not both');
    // No group, domain or system assignments exist here.
    if (q.groupId || q.domainId || q.system) return [];
    const rows = await this.dir.assignments({ userId: q.userId, projectId: q.projectId });
    const held = new Map<string, AssignmentRow[]>();
    for (const r of rows) {
      const key = `${r.user_id}/${r.project_id}`;
      held.set(key, [...(held.get(key) ?? []), r]);
    }
    const out: Assignment[] = [];
    for (const group of held.values()) {
      for (const r of group) {
        const prior = group.find((p) => PRIOR_ROLE[r.role_name] === p.role_name);
        if (!prior) out.push(r);
        else if (q.effective) out.push({ ...r, priorRoleId: prior.role_id });
      }
    }
    return q.roleId === undefined ? out : out.filter((a) => a.role_id === q.roleId);
  }

  /** GET /v3/auth/catalog: a project-scoped token's (Keystone refuses an unscoped one). */
  catalogAllowed(caller: IdentityCaller): void {
    if (!caller.projectId) throw forbidden('A project-scoped token is required to produce a service catalog.');
  }

  /**
   * An identity write: the directory is the configuration's, so a 403 with the reason, after
   * Keystone's 404 for a target that does not exist (tempest's negative tests expect it).
   */
  async refuseWrite(reason: string, target?: { kind: 'project' | 'user' | 'domain' | 'role'; id: string }): Promise<never> {
    if (target) {
      const exists = {
        project: () => this.repo.projectById(target.id),
        user: () => this.repo.userById(target.id),
        domain: async () => (await this.domains()).find((d) => d.id === target.id),
        role: () => this.dir.roleById(target.id),
      }[target.kind];
      if (!(await exists())) throw notFound(`Could not find ${target.kind}: ${target.id}.`);
    }
    throw forbidden(reason);
  }

  /** Domains are implied by the domain ids projects and users carry (no domains table). */
  private async domains(): Promise<DomainRow[]> {
    const ids = await this.dir.domainIds();
    if (!ids.includes(DEFAULT_DOMAIN.id)) ids.push(DEFAULT_DOMAIN.id);
    return ids.sort().map((id) => ({ id, name: domainName(id), description: id === DEFAULT_DOMAIN.id ? 'The default domain' : '', enabled: true }));
  }
}
