/**
 * Keystone's directory routes the dashboard needs (mounted under /identity by router.ts):
 *
 *   GET /v3/users/{id}/projects      a user's projects (an unscoped token may ask for its own)
 *   GET /v3/users/{id}/groups        always empty: there are no groups
 *   GET /v3/auth/projects, /v3/auth/domains, /v3/auth/system   the token's possible scopes
 *   GET /v3/domains, /v3/domains/{id}
 *   GET /v3/users, /v3/users/{id}
 *   GET /v3/roles, /v3/roles/{id}
 *   GET /v3/groups                   always empty
 *   GET /v3/role_assignments         user.id, scope.project.id, role.id, effective, include_names, include_subtree
 *   GET /v3/auth/catalog             the catalog of a project-scoped token
 *
 * and a 403 with a reason for the identity writes (projects, users, domains, roles, grants,
 * groups, password changes): the directory is the configuration's seed, and a write through the
 * API would be lost or contradicted at the next start.
 */
import { Request, Router } from 'express';
import { buildCatalog } from './catalog';
import { handle } from '../http/async';
import { queryParam } from '../http/query';
import type { IdentityDirectory } from './directory';
import { assignmentView, collectionLinks, domainView, roleView, userView } from './directory-views';
import { projectView } from './projects';

/** Keystone's boolean query filters: '0' and 'false' (any case) are false, anything else true. */
export function boolParam(req: Request, name: string): boolean | undefined {
  const v = queryParam(req, name);
  return v === undefined ? undefined : !['0', 'false'].includes(v.toLowerCase());
}

/** Keystone's "flag" filters (effective, include_names, include_subtree): present and not '0'/'false'. */
const flag = (req: Request, name: string) => boolParam(req, name) === true;

export const READ_ONLY_IDENTITY = "This cloud's identity directory is read-only: projects, users, role assignments and domains come from novadock's configuration (NOVADOCK_CONFIG), and change there.";

export function identityDirectoryRouter(directory: IdentityDirectory, publicUrl: string): Router {
  const base = `${publicUrl}/identity`;
  const r = Router();
  const caller = (req: Request) => directory.caller(req.header('x-auth-token'), req.id);
  const self = (req: Request) => `${base}${req.path}`;

  r.get('/v3/users/:id/projects', handle(async (req, res) => {
    const list = await directory.userProjects(await caller(req), String(req.params.id));
    res.json({ projects: list.map((p) => projectView(base, p)), links: collectionLinks(self(req)) });
  }));
  r.get('/v3/users/:id/groups', handle(async (req, res) => {
    await directory.user(await caller(req), String(req.params.id));
    res.json({ groups: [], links: collectionLinks(self(req)) });
  }));
  r.get('/v3/auth/projects', handle(async (req, res) => {
    const list = await directory.authProjects(await caller(req));
    res.json({ projects: list.map((p) => projectView(base, p)), links: collectionLinks(self(req)) });
  }));
  r.get('/v3/auth/domains', handle(async (req, res) => {
    await caller(req);
    // No one holds a role on a domain here.
    res.json({ domains: [], links: collectionLinks(self(req)) });
  }));
  r.get('/v3/auth/system', handle(async (req, res) => {
    await caller(req);
    // Nor on the system: admins are project admins (Keystone's deprecated admin rules).
    res.json({ system: [], links: collectionLinks(self(req)) });
  }));

  r.get('/v3/domains', handle(async (req, res) => {
    const list = await directory.listDomains(await caller(req), { name: queryParam(req, 'name'), enabled: boolParam(req, 'enabled') });
    res.json({ domains: list.map((d) => domainView(base, d)), links: collectionLinks(self(req)) });
  }));
  r.get('/v3/domains/:id', handle(async (req, res) => {
    res.json({ domain: domainView(base, await directory.domain(await caller(req), String(req.params.id))) });
  }));

  r.get('/v3/users', handle(async (req, res) => {
    const list = await directory.listUsers(await caller(req), {
      name: queryParam(req, 'name'), domainId: queryParam(req, 'domain_id'), enabled: boolParam(req, 'enabled'), defaultProjectId: queryParam(req, 'default_project_id'),
    });
    res.json({ users: list.map((u) => userView(base, u)), links: collectionLinks(self(req)) });
  }));
  r.get('/v3/users/:id', handle(async (req, res) => {
    res.json({ user: userView(base, await directory.user(await caller(req), String(req.params.id))) });
  }));

  r.get('/v3/roles', handle(async (req, res) => {
    const list = await directory.listRoles(await caller(req), { name: queryParam(req, 'name') });
    res.json({ roles: list.map((x) => roleView(base, x)), links: collectionLinks(self(req)) });
  }));
  r.get('/v3/roles/:id', handle(async (req, res) => {
    res.json({ role: roleView(base, await directory.role(await caller(req), String(req.params.id))) });
  }));

  r.get('/v3/groups', handle(async (req, res) => {
    res.json({ groups: await directory.listGroups(await caller(req)), links: collectionLinks(self(req)) });
  }));

  r.get('/v3/role_assignments', handle(async (req, res) => {
    const list = await directory.roleAssignments(await caller(req), {
      userId: queryParam(req, 'user.id'),
      projectId: queryParam(req, 'scope.project.id'),
      roleId: queryParam(req, 'role.id'),
      groupId: queryParam(req, 'group.id'),
      domainId: queryParam(req, 'scope.domain.id'),
      system: queryParam(req, 'scope.system'),
      effective: flag(req, 'effective'),
      includeSubtree: flag(req, 'include_subtree'),
    });
    const names = flag(req, 'include_names');
    res.json({ role_assignments: list.map((a) => assignmentView(base, a, names)), links: collectionLinks(self(req)) });
  }));

  r.get('/v3/auth/catalog', handle(async (req, res) => {
    directory.catalogAllowed(await caller(req));
    res.json({ catalog: buildCatalog(publicUrl), links: collectionLinks(self(req)) });
  }));

  // The writes: a token is still required (401 before 403, as Keystone checks), a missing target
  // is Keystone's 404, and then the reason.
  const refuse = (kind?: 'project' | 'user' | 'domain' | 'role') => handle(async (req) => {
    await caller(req);
    await directory.refuseWrite(READ_ONLY_IDENTITY, kind && { kind, id: String(req.params.id) });
  });
  r.post(['/v3/projects', '/v3/users', '/v3/domains', '/v3/roles', '/v3/groups', '/v3/users/:uid/password'], refuse());
  for (const kind of ['project', 'user', 'domain', 'role'] as const) {
    r.patch(`/v3/${kind}s/:id`, refuse(kind));
    r.delete(`/v3/${kind}s/:id`, refuse(kind));
  }
  const grants = ['/v3/projects/:p/users/:u/roles/:r', '/v3/domains/:d/users/:u/roles/:r', '/v3/projects/:p/groups/:g/roles/:r', '/v3/groups/:g/users/:u'];
  r.put(grants, refuse());
  r.delete(grants, refuse());
  r.patch('/v3/groups/:id', refuse());
  r.delete('/v3/groups/:id', refuse());
  return r;
}
