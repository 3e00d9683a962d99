/** Keystone's bodies for the directory reads (keystone/api/{users,roles,domains,role_assignments}.py). */
import type { RoleRow, UserRow } from '../db/identity-repo';
import type { Assignment, DomainRow } from './directory';
import { domainName } from './directory';

/** A collection's links: nothing here pages (Keystone's list_limit is unset by default). */
export const collectionLinks = (self: string) => ({ self, previous: null, next: null });

export function userView(base: string, u: UserRow) {
  const body: Record<string, unknown> = {
    id: u.id, name: u.name, domain_id: u.domain_id, enabled: Boolean(u.enabled), password_expires_at: null, options: {},
    links: { self: `${base}/v3/users/${u.id}` },
  };
  if (u.default_project_id) body.default_project_id = u.default_project_id;
  return body;
}

export function roleView(base: string, r: RoleRow) {
  return { id: r.id, name: r.name, domain_id: null, description: null, options: {}, links: { self: `${base}/v3/roles/${r.id}` } };
}

export function domainView(base: string, d: DomainRow) {
  return { id: d.id, name: d.name, description: d.description, enabled: d.enabled, tags: [], options: {}, links: { self: `${base}/v3/domains/${d.id}` } };
}

/** One role assignment; with include_names the user, project and role carry their names and domains. */
export function assignmentView(base: string, a: Assignment, includeNames: boolean) {
  const named = <T extends object>(ref: T, extra: object) => (includeNames ? { ...ref, ...extra } : ref);
  const links: Record<string, string> = { assignment: `${base}/v3/projects/${a.project_id}/users/${a.user_id}/roles/${a.priorRoleId ?? a.role_id}` };
  if (a.priorRoleId) links.prior_role = `${base}/v3/roles/${a.priorRoleId}`;
  return {
    role: named({ id: a.role_id }, { name: a.role_name }),
    user: named({ id: a.user_id }, { name: a.user_name, domain: { id: a.user_domain_id, name: domainName(a.user_domain_id) } }),
    scope: { project: named({ id: a.project_id }, { name: a.project_name, domain: { id: a.project_domain_id, name: domainName(a.project_domain_id) } }) },
    links,
  };
}
