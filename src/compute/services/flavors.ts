/**
 * Flavors, their extra specs and access (nova/compute/flavors.py, nova/objects/flavor.py): who
 * sees which flavor, what a new flavor may hold, and the error of each miss. The API's policy
 * checks (admin only for writes) stay with the router, as Nova's controllers make them.
 */
import { badRequest, conflict, msg, notFound } from '../../errors';
import { validateRestartPolicySpecs } from '../restart-policy';
import type { RequestContext } from '../../http/context';
import { FlavorMarkerNotFound, FlavorRecord, FlavorRepository } from '../../db/flavor-repo';
import { MAX_INT } from '../schemas/flavors';

/** One grant of flavor access, as Nova lists it. */
export interface FlavorAccess { flavor_id: string; tenant_id: string }

/** A list request. `isPublic` is an admin's choice (true: public, false: private, null: both). */
export interface FlavorListQuery {
  isPublic: boolean | null;
  minRam?: number;
  minDisk?: number;
  sortKey: string;
  sortDir: 'asc' | 'desc';
  limit: number;
  marker?: string;
}

/** A new flavor as the API received it: sizes may still be digit strings (validated here). */
export interface FlavorCreateRequest {
  id?: string;
  name: string;
  ram: number | string;
  vcpus: number | string;
  disk: number | string;
  ephemeral?: number | string;
  swap?: number | string;
  rxtxFactor?: number | string;
  isPublic: boolean;
  description: string | null;
}

/** Nova's utils.validate_integer, with the DB column names Nova reports. */
function sizeValue(v: unknown, field: string, min: number): number {
  const n = typeof v === 'number' ? v : /^[0-9]+$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badRequest(`Invalid input received: ${field} must be an integer`);
  if (n < min) throw badRequest(`Invalid input received: ${field} must be >= ${min}`);
  if (n > MAX_INT) throw badRequest(`Invalid input received: ${field} must be <= ${MAX_INT}`);
  return n;
}

function stringify(specs: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(specs)) out[k] = String(v);
  return out;
}

/**
 * Flavor rules over the repository. A private flavor is seen by admins and by the projects it was
 * given to (addTenantAccess), as Nova's flavor_projects.
 */
export class FlavorService {
  constructor(private readonly repo: FlavorRepository) {}

  /**
   * Non-admins see enabled public flavors and those given to their project, whatever they ask; a
   * marker they cannot see is a 400.
   */
  async list(ctx: RequestContext, q: FlavorListQuery): Promise<FlavorRecord[]> {
    try {
      return await this.repo.list({
        ...q,
        isPublic: ctx.isAdmin ? q.isPublic : true,
        includeDisabled: ctx.isAdmin,
        projectId: ctx.projectId,
      });
    } catch (e) {
      if (e instanceof FlavorMarkerNotFound) throw badRequest(e.message);
      throw e;
    }
  }

  /** The flavor as the caller may see it: a private one not given to the caller's project is a 404 (as Nova). */
  async get(ctx: RequestContext, id: string): Promise<FlavorRecord> {
    const f = await this.repo.get(id);
    if (!f || (!f.is_public && !ctx.isAdmin && !(await this.repo.hasAccess(id, ctx.projectId)))) throw notFound(msg.flavorNotFound(id));
    return f;
  }

  /** Creates a flavor; sizes and rxtx_factor are checked in Nova's order, a taken id or name is a conflict. */
  async create(f: FlavorCreateRequest): Promise<FlavorRecord> {
    const rxtx = f.rxtxFactor === undefined ? 1.0 : Number(f.rxtxFactor);
    if (!(rxtx > 0) || !Number.isFinite(rxtx)) throw badRequest("Invalid input received: 'rxtx_factor' argument must be a positive float");
    return this.repo.create({
      id: f.id,
      name: f.name,
      ram: sizeValue(f.ram, 'memory_mb', 1),
      vcpus: sizeValue(f.vcpus, 'vcpus', 1),
      disk: sizeValue(f.disk, 'root_gb', 0),
      ephemeral: f.ephemeral === undefined ? 0 : sizeValue(f.ephemeral, 'ephemeral_gb', 0),
      swap: f.swap === undefined ? 0 : sizeValue(f.swap, 'swap', 0),
      rxtx_factor: rxtx,
      is_public: f.isPublic,
      description: f.description,
    });
  }

  /** Sets the description (2.55). */
  async updateDescription(id: string, description: string | null): Promise<FlavorRecord> {
    const updated = await this.repo.updateDescription(id, description);
    if (!updated) throw notFound(msg.flavorNotFound(id));
    return updated;
  }

  /** Deletes the flavor; servers keep their embedded copy. */
  async delete(id: string): Promise<void> {
    if (!(await this.repo.delete(id))) throw notFound(msg.flavorNotFound(id));
  }

  /** Every extra spec of a flavor the caller sees. */
  async extraSpecs(ctx: RequestContext, id: string): Promise<Record<string, string>> {
    return (await this.get(ctx, id)).extra_specs;
  }

  /** One extra spec of a flavor the caller sees; 404 naming the key when absent. */
  async extraSpec(ctx: RequestContext, id: string, key: string): Promise<string> {
    const f = await this.get(ctx, id);
    if (!Object.prototype.hasOwnProperty.call(f.extra_specs, key)) {
      throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
    }
    return f.extra_specs[key];
  }

  /** Adds or replaces keys (values stored as strings) on a flavor the caller sees. */
  async setExtraSpecs(ctx: RequestContext, id: string, specs: Record<string, string | number>): Promise<void> {
    await this.get(ctx, id);
    validateRestartPolicySpecs(stringify(specs));
    await this.repo.setExtraSpecs(id, stringify(specs));
  }

  /** Removes one key; 404 when the flavor or the key does not exist. */
  async deleteExtraSpec(id: string, key: string): Promise<void> {
    await this.repo.deleteExtraSpec(id, key);
  }

  /** Projects given a private flavor; a public flavor has no access list. */
  async access(ctx: RequestContext, id: string): Promise<FlavorAccess[]> {
    const f = await this.get(ctx, id);
    if (f.is_public) throw notFound('Access list not available for public flavors.');
    return this.accessOf(id);
  }

  /** addTenantAccess: gives a project a private flavor; the access list after it. */
  async addAccess(ctx: RequestContext, id: string, projectId: string): Promise<FlavorAccess[]> {
    const f = await this.get(ctx, id);
    if (f.is_public) throw conflict('Can not add access to a public flavor.');
    if (!(await this.repo.addAccess(id, projectId))) throw conflict(`Flavor access already exists for flavor ${id} and project ${projectId} combination.`);
    return this.accessOf(id);
  }

  /** removeTenantAccess: withdraws it; 404 when the project did not have it. */
  async removeAccess(ctx: RequestContext, id: string, projectId: string): Promise<FlavorAccess[]> {
    await this.get(ctx, id);
    if (!(await this.repo.removeAccess(id, projectId))) throw notFound(`Flavor access not found for ${id} / ${projectId} combination.`);
    return this.accessOf(id);
  }

  private async accessOf(id: string): Promise<FlavorAccess[]> {
    return (await this.repo.accessList(id)).map((p) => ({ flavor_id: id, tenant_id: p }));
  }
}
