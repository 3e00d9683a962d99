/**
 * Networks (issue 17): who sees and changes what, as Neutron's default policy says.
 *
 * - A member sees its project's networks, shared ones and external ones; an admin sees all. A
 *   network the caller may not see is a 404 (NetworkNotFound), never a 403.
 * - `shared`, `router:external` and `provider:*` are the admin's to set (403 PolicyNotAuthorized
 *   naming the rule, e.g. `create_network:shared`).
 * - The project's default network (`private`, today's per-project Docker network) is made on the
 *   project's first list or show (DefaultNetworks.ensure).
 * - A network with ports (other than those of its own DHCP-like owners, `network:dhcp`) cannot be
 *   deleted (409 NetworkInUse); neither can the default network while the project has servers.
 *   Deleting removes its subnets, then tells the backend (the engine networks behind it).
 */
import crypto from 'node:crypto';
import type { NetworkRepository, NetworkRow } from '../db/network-repo';
import type { RequestContext } from '../http/context';
import type { DefaultNetworks } from './default-network';
import { neutron } from './errors';
import { BOOL, DESCRIPTION, NAME, resourceBody, ResourceSpec, toBool } from './validation';
import { networkView } from './views';
import type { NetworkQuotas } from './quotas';

/** What a network's Docker backing needs to hear: net-compute removes the engine networks. */
export interface NetworkBackend {
  /** The network is gone from the database: remove what stands for it on the engines. */
  removed(network: NetworkRow): Promise<void>;
}

export const NO_BACKEND: NetworkBackend = { removed: async () => undefined };

const PROVIDER = { anyOf: [{ type: 'string', maxLength: 255 }, { type: 'null' }, { type: 'integer' }] };

export const NETWORK_SPEC: ResourceSpec = {
  name: { schema: NAME, post: true, put: true },
  description: { schema: DESCRIPTION, post: true, put: true },
  admin_state_up: { schema: BOOL, post: true, put: true },
  shared: { schema: BOOL, post: true, put: true, adminOnly: true },
  'router:external': { schema: BOOL, post: true, put: true, adminOnly: true },
  'provider:network_type': { schema: PROVIDER, post: true, adminOnly: true },
  'provider:physical_network': { schema: PROVIDER, post: true, adminOnly: true },
  'provider:segmentation_id': { schema: PROVIDER, post: true, adminOnly: true },
  mtu: { schema: { type: 'integer', minimum: 68, maximum: 9000 }, post: true, put: true },
  tenant_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  project_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  port_security_enabled: { schema: { enum: [true, 'true', 'True'] }, post: true, put: true },
  availability_zone_hints: { schema: { type: 'array', maxItems: 0 }, post: true },
  is_default: { schema: BOOL, post: true, put: true, adminOnly: true },
};

export interface NetworkServiceDeps {
  repo: NetworkRepository;
  defaults: DefaultNetworks;
  backend: NetworkBackend;
  quotas: NetworkQuotas;
  /** Whether the project has servers (they use the default network until they have ports). */
  projectHasServers(projectId: string): Promise<boolean>;
}

/** Admin-only attributes given by a non-admin: 403 naming Neutron's rule. */
export function checkAdminOnly(ctx: RequestContext, spec: ResourceSpec, attrs: Record<string, unknown>, rule: string): void {
  if (ctx.isAdmin) return;
  for (const k of Object.keys(attrs)) if (spec[k]?.adminOnly) throw neutron.policy(`${rule}:${k}`);
}

/** The project a create is for: the caller's, or (admins only) the one named in the body. */
export function ownerOf(ctx: RequestContext, attrs: Record<string, unknown>, rule: string): string {
  const asked = (attrs.project_id ?? attrs.tenant_id) as string | undefined;
  if (attrs.project_id !== undefined && attrs.tenant_id !== undefined && attrs.project_id !== attrs.tenant_id) {
    throw neutron.invalidInput("'project_id' and 'tenant_id' do not match");
  }
  if (asked === undefined || asked === ctx.projectId) return ctx.projectId;
  if (!ctx.isAdmin) throw neutron.policy(rule);
  return asked;
}

export class NetworkService {
  constructor(private readonly deps: NetworkServiceDeps) {}

  canSee(ctx: RequestContext, n: NetworkRow): boolean {
    return ctx.isAdmin || n.project_id === ctx.projectId || n.shared || n.external;
  }

  /** The network if the caller may see it, else NetworkNotFound. */
  async visible(ctx: RequestContext, id: string): Promise<NetworkRow> {
    await this.deps.defaults.ensure(ctx.projectId);
    const n = await this.deps.repo.getNetwork(id);
    if (!n || !this.canSee(ctx, n)) throw neutron.networkNotFound(id);
    return n;
  }

  /** The network if the caller owns it (or is an admin); a visible one of someone else's is a 403. */
  private async owned(ctx: RequestContext, id: string, rule: string): Promise<NetworkRow> {
    const n = await this.visible(ctx, id);
    if (!ctx.isAdmin && n.project_id !== ctx.projectId) throw neutron.policy(rule);
    return n;
  }

  async list(ctx: RequestContext): Promise<Record<string, unknown>[]> {
    await this.deps.defaults.ensure(ctx.projectId);
    const rows = await this.deps.repo.listNetworks(ctx.isAdmin ? undefined : ctx.projectId);
    return this.views(rows);
  }

  /** The caller's networks as os-networks lists them (the compute API's proxy). */
  async novaNetworks(ctx: RequestContext): Promise<{ id: string; name: string; isDefault: boolean }[]> {
    await this.deps.defaults.ensure(ctx.projectId);
    return (await this.deps.repo.listNetworks(ctx.projectId)).map((n) => ({ id: n.id, name: n.name, isDefault: n.default_for === ctx.projectId }));
  }

  async show(ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
    return (await this.views([await this.visible(ctx, id)]))[0];
  }

  async create(ctx: RequestContext, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'network', NETWORK_SPEC, 'post');
    checkAdminOnly(ctx, NETWORK_SPEC, a, 'create_network');
    const projectId = ownerOf(ctx, a, 'create_network:tenant_id');
    const type = a['provider:network_type'];
    if (type !== undefined && type !== null && type !== 'local') {
      throw neutron.invalidInput(`network type ${String(type)} is not served: networks here are Docker networks ('local')`);
    }
    const id = crypto.randomUUID();
    await this.deps.quotas.inserting(projectId, 'network', async (trx) => {
      await this.deps.repo.insertNetwork(trx, {
        id, project_id: projectId, name: (a.name as string | undefined) ?? '', description: (a.description as string | undefined) ?? '',
        admin_state_up: toBool(a.admin_state_up ?? true)!, shared: toBool(a.shared ?? false)!, external: toBool(a['router:external'] ?? false)!,
        mtu: (a.mtu as number | undefined) ?? 1500, status: 'ACTIVE', default_for: null, docker_name: null,
      });
    });
    return this.show(ctx, id);
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'network', NETWORK_SPEC, 'put');
    checkAdminOnly(ctx, NETWORK_SPEC, a, 'update_network');
    await this.owned(ctx, id, 'update_network');
    const changes: Partial<NetworkRow> = {};
    if (a.name !== undefined) changes.name = a.name as string;
    if (a.description !== undefined) changes.description = a.description as string;
    if (a.admin_state_up !== undefined) changes.admin_state_up = toBool(a.admin_state_up)!;
    if (a.shared !== undefined) changes.shared = toBool(a.shared)!;
    if (a['router:external'] !== undefined) changes.external = toBool(a['router:external'])!;
    if (a.mtu !== undefined) changes.mtu = a.mtu as number;
    if (Object.keys(changes).length && !(await this.deps.repo.updateNetwork(id, changes))) throw neutron.networkNotFound(id);
    return this.show(ctx, id);
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const n = await this.owned(ctx, id, 'delete_network');
    if (n.default_for !== null && (await this.deps.projectHasServers(n.default_for))) throw neutron.networkInUse(id);
    const outcome = await this.deps.repo.deleteNetwork(id, (owner) => owner === 'network:dhcp');
    if (outcome === 'gone') throw neutron.networkNotFound(id);
    if (outcome === 'inUse') throw neutron.networkInUse(id);
    await this.deps.backend.removed(n);
  }

  private async views(rows: NetworkRow[]): Promise<Record<string, unknown>[]> {
    const subnets = await this.deps.repo.subnetIdsByNetwork(rows.map((r) => r.id));
    return rows.map((r) => networkView(r, subnets.get(r.id) ?? []));
  }
}
