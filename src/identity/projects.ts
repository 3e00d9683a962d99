/**
 * Keystone's project reads (GET /v3/projects, /v3/projects/{id}), the slice clients need to turn
 * a project name into its id: `openstack quota set … <project>`, `openstack usage show --project`
 * (OSC's find_resource over identity_client.projects). Keystone's default policies: a project
 * is readable by admins and by tokens scoped to it; the list is admins' (others get an empty
 * list filtered to their own project rather than a 403, as Keystone's list for a project-scoped
 * reader would refuse: OSC then falls back to its error message).
 */
import { forbidden, notFound } from '../errors';
import type { IdentityRepository, ProjectRow } from '../db/identity-repo';
import type { RequestContext } from '../http/context';

export class ProjectDirectory {
  constructor(private readonly repo: IdentityRepository) {}

  /** A project by id: admins any, others their own; else Keystone's 404 (403 would reveal it). */
  async get(ctx: RequestContext, id: string): Promise<ProjectRow> {
    const p = await this.repo.projectById(id);
    if (!p || (!ctx.isAdmin && p.id !== ctx.projectId)) throw notFound(`Could not find project: ${id}.`);
    return p;
  }

  /** Projects, filtered by name (and domain): admins only (identity:list_projects). */
  async list(ctx: RequestContext, filter: { name?: string; domainId?: string; enabled?: boolean; isDomain?: boolean }): Promise<ProjectRow[]> {
    if (!ctx.isAdmin) throw forbidden('You are not authorized to perform the requested action: identity:list_projects.');
    // No project acts as a domain here (is_domain=true lists none).
    if (filter.isDomain === true) return [];
    return (await this.repo.listProjects())
      .filter((p) => (filter.name === undefined || p.name === filter.name) && (filter.domainId === undefined || p.domain_id === filter.domainId)
        && (filter.enabled === undefined || Boolean(p.enabled) === filter.enabled))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** Keystone's project body. */
export function projectView(base: string, p: ProjectRow) {
  return {
    id: p.id, name: p.name, domain_id: p.domain_id, description: p.description, enabled: Boolean(p.enabled),
    is_domain: false, parent_id: p.domain_id, tags: [], options: {}, links: { self: `${base}/v3/projects/${p.id}` },
  };
}
