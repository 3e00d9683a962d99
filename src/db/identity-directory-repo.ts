/**
 * The identity directory's reads (users, roles, role assignments, a user's projects) for the
 * Keystone listing calls the dashboard makes. Read-only: the seed (src/identity/seed.ts) is what
 * writes these tables.
 */
import type { Db } from './knex';
import type { ProjectRow, RoleRow, UserRow } from './identity-repo';

/** One row of role_assignments with the names the listing may show. */
export interface AssignmentRow {
  user_id: string;
  user_name: string;
  user_domain_id: string;
  project_id: string;
  project_name: string;
  project_domain_id: string;
  role_id: string;
  role_name: string;
}

export interface AssignmentFilter { userId?: string; projectId?: string; roleId?: string }

export class IdentityDirectoryRepository {
  constructor(private readonly db: Db) {}

  listUsers(): Promise<UserRow[]> {
    return this.db<UserRow>('users').select();
  }
  listRoles(): Promise<RoleRow[]> {
    return this.db<RoleRow>('roles').select('id', 'name');
  }
  roleById(id: string): Promise<RoleRow | undefined> {
    return this.db<RoleRow>('roles').where({ id }).first('id', 'name');
  }
  /** The projects a user holds any role on. */
  projectsOfUser(userId: string): Promise<ProjectRow[]> {
    return this.db('projects as p')
      .whereIn('p.id', this.db('role_assignments').where({ user_id: userId }).select('project_id'))
      .select('p.*');
  }
  /** The distinct domain ids projects and users live in. */
  async domainIds(): Promise<string[]> {
    const [projects, users]: { domain_id: string }[][] = await Promise.all([this.db('projects').distinct('domain_id'), this.db('users').distinct('domain_id')]);
    return [...new Set([...projects, ...users].map((r) => r.domain_id))];
  }
  assignments(f: AssignmentFilter): Promise<AssignmentRow[]> {
    const q = this.db('role_assignments as a')
      .join('users as u', 'u.id', 'a.user_id')
      .join('projects as p', 'p.id', 'a.project_id')
      .join('roles as r', 'r.id', 'a.role_id')
      .select('a.user_id', 'u.name as user_name', 'u.domain_id as user_domain_id', 'a.project_id', 'p.name as project_name',
        'p.domain_id as project_domain_id', 'a.role_id', 'r.name as role_name')
      .orderBy(['a.user_id', 'a.project_id', 'r.name']);
    if (f.userId !== undefined) q.where('a.user_id', f.userId);
    if (f.projectId !== undefined) q.where('a.project_id', f.projectId);
    if (f.roleId !== undefined) q.where('a.role_id', f.roleId);
    return q;
  }
}
