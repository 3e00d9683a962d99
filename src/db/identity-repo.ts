/** Users, projects, roles and revoked tokens. */
import type { Db } from './knex';
import { now } from '../clock';

export interface UserRow { id: string; name: string; domain_id: string; password_hash: string; default_project_id: string | null; enabled: number | boolean }
export interface ProjectRow { id: string; name: string; domain_id: string; description: string; enabled: number | boolean }
export interface RoleRow { id: string; name: string }

/**
 * No stored name or id holds a NUL, and PostgreSQL refuses one in a text parameter (an error, not
 * an empty answer): what a caller sends with one (a registry login's Basic user, found by the
 * registry's fuzz property) is looked up as the nothing it is.
 */
const none = (...values: string[]) => values.some((v) => v.includes('\0'));

export class IdentityRepository {
  constructor(private readonly db: Db) {}

  async userByName(domainId: string, name: string): Promise<UserRow | undefined> {
    return none(domainId, name) ? undefined : this.db<UserRow>('users').where({ domain_id: domainId, name }).first();
  }
  async userById(id: string): Promise<UserRow | undefined> {
    return none(id) ? undefined : this.db<UserRow>('users').where({ id }).first();
  }
  async projectByName(domainId: string, name: string): Promise<ProjectRow | undefined> {
    return none(domainId, name) ? undefined : this.db<ProjectRow>('projects').where({ domain_id: domainId, name }).first();
  }
  async projectById(id: string): Promise<ProjectRow | undefined> {
    return none(id) ? undefined : this.db<ProjectRow>('projects').where({ id }).first();
  }
  listProjects(): Promise<ProjectRow[]> {
    return this.db<ProjectRow>('projects').select();
  }
  rolesOf(userId: string, projectId: string): Promise<RoleRow[]> {
    return this.db('role_assignments as a')
      .join('roles as r', 'r.id', 'a.role_id')
      .where({ 'a.user_id': userId, 'a.project_id': projectId })
      .select('r.id', 'r.name');
  }
  /** Whether the user holds role `roleName` on any project (the registry's admins: issue 14). */
  async hasRoleAnywhere(userId: string, roleName: string): Promise<boolean> {
    const row = await this.db('role_assignments as a').join('roles as r', 'r.id', 'a.role_id').where({ 'a.user_id': userId, 'r.name': roleName }).first('a.user_id');
    return row !== undefined;
  }
  roleByName(name: string): Promise<RoleRow | undefined> {
    return this.db<RoleRow>('roles').where({ name }).first();
  }

  async upsertRole(id: string, name: string): Promise<RoleRow> {
    const existing = await this.roleByName(name);
    if (existing) return existing;
    await this.db('roles').insert({ id, name });
    return { id, name };
  }
  async upsertProject(p: { id: string; name: string; domain_id: string; description?: string }): Promise<ProjectRow> {
    const existing = await this.projectByName(p.domain_id, p.name);
    if (existing) return existing;
    const row = { id: p.id, name: p.name, domain_id: p.domain_id, description: p.description ?? '', enabled: true };
    await this.db('projects').insert(row);
    return row;
  }
  async upsertUser(u: { id: string; name: string; domain_id: string; password_hash?: string; default_project_id: string }): Promise<UserRow> {
    const existing = await this.userByName(u.domain_id, u.name);
    if (existing) {
      const patch: Partial<UserRow> = { default_project_id: u.default_project_id };
      if (u.password_hash) patch.password_hash = u.password_hash;
      await this.db('users').where({ id: existing.id }).update(patch);
      return { ...existing, ...patch };
    }
    if (!u.password_hash) throw new Error(`user ${u.name} needs a password`);
    const row = { id: u.id, name: u.name, domain_id: u.domain_id, password_hash: u.password_hash, default_project_id: u.default_project_id, enabled: true };
    await this.db('users').insert(row);
    return row;
  }
  async assignRole(userId: string, projectId: string, roleId: string): Promise<void> {
    await this.db('role_assignments').insert({ user_id: userId, project_id: projectId, role_id: roleId }).onConflict(['user_id', 'project_id', 'role_id']).ignore();
  }

  async revoke(auditId: string, expiresAt: string): Promise<void> {
    await this.db('revoked_tokens').insert({ audit_id: auditId, expires_at: expiresAt }).onConflict('audit_id').ignore();
  }
  /** Revocations of tokens that have not expired yet; older ones are pruned. */
  async liveRevocations(): Promise<string[]> {
    const t = now();
    await this.db('revoked_tokens').where('expires_at', '<', t).delete();
    return (await this.db('revoked_tokens').select('audit_id')).map((r: { audit_id: string }) => r.audit_id);
  }
}
