/**
 * Ports through the Networking API (issue 17): list, show, create, update, delete, as Neutron's
 * default policy and validators have them.
 *
 * - A member sees its project's ports and the ports on its networks; an admin sees all.
 * - Create on a network the caller sees: its own, a shared one (an admin: any). MAC generated
 *   `fa:16:3e:xx:xx:xx`, unique per network (the table's key decides; a MAC asked for that is
 *   taken → 409 MacAddressInUse). Fixed IPs as asked (ip-allocation.ts), else one from the
 *   network's first subnet with room. Security groups: the ids given (the caller's), else the
 *   project's `default`; none with `port_security_enabled: false`. Status DOWN until a server runs
 *   with it (the compute side binds it).
 * - Deleting a port of a server is allowed, as Neutron allows it: the compute side hears it
 *   through PortEvents and loses the interface.
 */
import crypto from 'node:crypto';
import type { NetworkRepository, NetworkRow } from '../db/network-repo';
import type { FixedIp, PortRepository, PortRow } from '../db/port-repo';
import type { SecurityGroupRepository } from '../db/security-group-repo';
import type { RequestContext } from '../http/context';
import { neutron, neutronCore } from './errors';
import type { IpAllocator, IpRequest } from './ip-allocation';
import type { NetworkService } from './networks';
import { checkAdminOnly, ownerOf } from './networks';
import type { PortEvents } from './port-events';
import type { NetworkQuotas } from './quotas';
import { BOOL, DESCRIPTION, NAME, resourceBody, ResourceSpec, toBool } from './validation';
import { portView } from './views';

const FIXED_IPS = { type: 'array', maxItems: 16, items: { type: 'object', additionalProperties: false, properties: { subnet_id: { type: 'string', maxLength: 36 }, ip_address: { type: 'string', maxLength: 64 } } } };
const EMPTY_LIST = { type: 'array', maxItems: 0 };

export const PORT_SPEC: ResourceSpec = {
  name: { schema: NAME, post: true, put: true },
  description: { schema: DESCRIPTION, post: true, put: true },
  network_id: { schema: { type: 'string', maxLength: 36 }, post: true },
  admin_state_up: { schema: BOOL, post: true, put: true },
  mac_address: { schema: { type: 'string', pattern: '^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$' }, post: true },
  fixed_ips: { schema: FIXED_IPS, post: true, put: true },
  device_id: { schema: { type: 'string', maxLength: 255 }, post: true, put: true },
  device_owner: { schema: { type: 'string', maxLength: 255 }, post: true, put: true },
  security_groups: { schema: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 36 } }, post: true, put: true },
  port_security_enabled: { schema: BOOL, post: true, put: true },
  tenant_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  project_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  'binding:host_id': { schema: { type: 'string', maxLength: 255 }, post: true, put: true, adminOnly: true },
  'binding:vnic_type': { schema: { enum: ['normal'] }, post: true, put: true },
  'binding:profile': { schema: { type: 'object', maxProperties: 0 }, post: true, put: true, adminOnly: true },
  allowed_address_pairs: { schema: EMPTY_LIST, post: true, put: true },
  extra_dhcp_opts: { schema: EMPTY_LIST, post: true, put: true },
  dns_name: { schema: { enum: [''] }, post: true, put: true },
  qos_policy_id: { schema: { type: 'null' }, post: true, put: true },
};

export interface PortServiceDeps {
  ports: PortRepository;
  networks: NetworkRepository;
  networkService: NetworkService;
  groups: SecurityGroupRepository;
  allocator: IpAllocator;
  quotas: NetworkQuotas;
  events: PortEvents;
}

/** What makes a port, from the API or from the compute side. */
export interface PortSpec {
  projectId: string;
  network: NetworkRow;
  name?: string;
  description?: string;
  mac?: string;
  fixedIps?: IpRequest[];
  groups?: string[];
  portSecurity?: boolean;
  adminStateUp?: boolean;
  deviceId?: string;
  deviceOwner?: string;
  host?: string;
  autoDelete?: boolean;
  attachSeq?: number;
}

export const randomMac = () => `fa:16:3e:${[...crypto.randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;

export class PortService {
  constructor(private readonly deps: PortServiceDeps) {}

  canSee(ctx: RequestContext, p: PortRow, network?: NetworkRow): boolean {
    return ctx.isAdmin || p.project_id === ctx.projectId || network?.project_id === ctx.projectId;
  }

  private async visible(ctx: RequestContext, id: string): Promise<PortRow> {
    const p = await this.deps.ports.get(id);
    if (!p || !this.canSee(ctx, p, await this.deps.networks.getNetwork(p.network_id))) throw neutron.portNotFound(id);
    return p;
  }

  async views(rows: PortRow[]): Promise<Record<string, unknown>[]> {
    const ids = rows.map((r) => r.id);
    const [ips, groups] = await Promise.all([this.deps.ports.fixedIpsOf(ids), this.deps.ports.securityGroupsOf(ids)]);
    return rows.map((r) => portView(r, ips.get(r.id) ?? [], groups.get(r.id) ?? []));
  }

  async list(ctx: RequestContext, query: { network_id?: string; device_id?: string }): Promise<Record<string, unknown>[]> {
    const one = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const rows = await this.deps.ports.list({ networkId: one(query.network_id), deviceId: one(query.device_id) });
    if (ctx.isAdmin) return this.views(rows);
    const own = new Set((await this.deps.networks.listNetworks(ctx.projectId)).filter((n) => n.project_id === ctx.projectId).map((n) => n.id));
    return this.views(rows.filter((p) => p.project_id === ctx.projectId || own.has(p.network_id)));
  }

  async show(ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
    return (await this.views([await this.visible(ctx, id)]))[0];
  }

  /** Security group ids the project may put on a port: its own (an admin: any). */
  async checkGroups(ctx: RequestContext, ids: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const id of ids) {
      const g = await this.deps.groups.get(id);
      if (!g || (!ctx.isAdmin && g.project_id !== ctx.projectId)) throw neutron.securityGroupNotFound(id);
      if (!out.includes(g.id)) out.push(g.id);
    }
    return out;
  }

  /** Makes a port with its addresses (quota counted); on any failure nothing of it stays. */
  async make(spec: PortSpec): Promise<PortRow> {
    const portSecurity = spec.portSecurity ?? true;
    let groups = spec.groups;
    if (groups === undefined) groups = portSecurity ? [(await this.deps.groups.ensureDefault(spec.projectId)).id] : [];
    if (!portSecurity && groups.length) throw neutronCore.securityGroupsNeedPortSecurity();
    const id = crypto.randomUUID();
    const row = {
      id, network_id: spec.network.id, project_id: spec.projectId, name: spec.name ?? '', description: spec.description ?? '',
      mac_address: (spec.mac ?? randomMac()).toLowerCase(), device_id: spec.deviceId ?? '', device_owner: spec.deviceOwner ?? '',
      admin_state_up: spec.adminStateUp ?? true, port_security_enabled: portSecurity, auto_delete: spec.autoDelete ?? false,
      host: spec.host ?? '', attach_seq: spec.attachSeq ?? 0,
    };
    for (let attempt = 0; ; attempt++) {
      const made = await this.deps.quotas.inserting(spec.projectId, 'port', (trx) => this.deps.ports.insert(trx, row, groups!));
      if (made) break;
      if (spec.mac !== undefined || attempt >= 8) throw neutronCore.macInUse(spec.network.id, row.mac_address);
      row.mac_address = randomMac();
    }
    try {
      await this.deps.allocator.allocate(id, spec.network.id, await this.deps.networks.subnetsOf(spec.network.id), spec.fixedIps);
    } catch (e) {
      await this.deps.ports.delete(id);
      throw e;
    }
    return (await this.deps.ports.get(id))!;
  }

  async create(ctx: RequestContext, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'port', PORT_SPEC, 'post', ['network_id']);
    checkAdminOnly(ctx, PORT_SPEC, a, 'create_port');
    const network = await this.deps.networkService.visible(ctx, a.network_id as string);
    const projectId = ownerOf(ctx, a, 'create_port:tenant_id');
    const ownsNetwork = ctx.isAdmin || network.project_id === ctx.projectId;
    if (!ownsNetwork && !network.shared) throw neutron.policy('create_port');
    if (a.mac_address !== undefined && !ownsNetwork) throw neutron.policy('create_port:mac_address');
    const groups = a.security_groups === undefined ? undefined : await this.checkGroups(ctx, a.security_groups as string[]);
    const port = await this.make({
      projectId, network, name: a.name as string | undefined, description: a.description as string | undefined, mac: a.mac_address as string | undefined,
      fixedIps: a.fixed_ips as IpRequest[] | undefined, groups, portSecurity: a.port_security_enabled === undefined ? undefined : toBool(a.port_security_enabled),
      adminStateUp: a.admin_state_up === undefined ? undefined : toBool(a.admin_state_up), deviceId: a.device_id as string | undefined,
      deviceOwner: a.device_owner as string | undefined, host: a['binding:host_id'] as string | undefined,
    });
    return (await this.views([port]))[0];
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'port', PORT_SPEC, 'put');
    checkAdminOnly(ctx, PORT_SPEC, a, 'update_port');
    const p = await this.visible(ctx, id);
    const changes: Partial<PortRow> = {};
    if (a.name !== undefined) changes.name = a.name as string;
    if (a.description !== undefined) changes.description = a.description as string;
    if (a.admin_state_up !== undefined) changes.admin_state_up = toBool(a.admin_state_up)!;
    if (a.device_id !== undefined) changes.device_id = a.device_id as string;
    if (a.device_owner !== undefined) changes.device_owner = a.device_owner as string;
    if (a['binding:host_id'] !== undefined) changes.host = a['binding:host_id'] as string;
    if (a.port_security_enabled !== undefined) changes.port_security_enabled = toBool(a.port_security_enabled)!;
    const portSecurity = changes.port_security_enabled ?? p.port_security_enabled;
    const groups = a.security_groups === undefined ? undefined : await this.checkGroups(ctx, a.security_groups as string[]);
    const current = (await this.deps.ports.securityGroupsOf([id])).get(id) ?? [];
    if (!portSecurity && (groups ?? current).length) throw neutronCore.securityGroupsNeedPortSecurity();
    if (a.fixed_ips !== undefined) await this.replaceIps(p, a.fixed_ips as IpRequest[]);
    if (groups !== undefined) await this.deps.ports.setGroups(id, groups);
    if (!(await this.deps.ports.update(id, changes))) throw neutron.portNotFound(id);
    if (p.device_id) await this.deps.events.emit(p.device_id);
    return this.show(ctx, id);
  }

  /** The port's fixed IPs become `wanted`: addresses it has and keeps stay, the others are freed, new ones allocated. */
  private async replaceIps(p: PortRow, wanted: IpRequest[]): Promise<void> {
    const subnets = await this.deps.networks.subnetsOf(p.network_id);
    const have = (await this.deps.ports.fixedIpsOf([p.id])).get(p.id) ?? [];
    const keep: FixedIp[] = [];
    const add: IpRequest[] = [];
    for (const w of wanted) {
      const { subnet, ip } = this.deps.allocator.resolve(p.network_id, subnets, w);
      const held = have.find((h) => h.subnet_id === subnet.id && (ip === undefined ? !keep.includes(h) : h.ip_address === ip));
      if (held && !keep.includes(held)) keep.push(held);
      else add.push(w);
    }
    const added = await this.deps.allocator.allocate(p.id, p.network_id, subnets, add);
    try {
      await this.deps.ports.freeIps(p.id, have.filter((h) => !keep.includes(h)));
    } catch (e) {
      await this.deps.ports.freeIps(p.id, added);
      throw e;
    }
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const p = await this.visible(ctx, id);
    if (!ctx.isAdmin && p.project_id !== ctx.projectId) throw neutron.policy('delete_port');
    if (!(await this.deps.ports.delete(id))) throw neutron.portNotFound(id);
    if (p.device_id) await this.deps.events.emit(p.device_id);
  }
}
