/**
 * Routers (issue 17), as far as users need them to reach the external network: create, a gateway
 * on an external network (`router set --external-gateway`), interfaces on project subnets
 * (`router add subnet`), and their removal. What a router does happens on every compute host:
 * its subnets leave by the external interface with SNAT to the router's gateway address
 * (NatSync), and the subnets of one router reach one another through the host (FORWARD accepts
 * between their bridges ahead of Docker's isolation) or, on networks spanning hosts, through a
 * container of the router's own (CrossHostRouting). Rules and texts are Neutron's (neutron/db/l3_db.py).
 */
import type { RequestContext } from '../http/context';
import { AllocationError } from '../db/external-ports';
import type { NetworkRepository } from '../db/network-repo';
import { upRouterLegs, type RouterInterface, type RouterRepository, type RouterRow } from '../db/router-repo';
import type { SubnetSnat } from '../virt/nat';
import { neutron, neutronCore, NeutronError } from './errors';
import type { NatSync } from './nat-sync';
import { overlaps, spanOf } from './ip';

export interface GatewayInfo {
  network_id: string;
  enable_snat?: boolean | string;
  external_fixed_ips?: { subnet_id?: string; ip_address?: string }[];
}

export interface RouterCreate {
  name?: string;
  description?: string;
  admin_state_up?: boolean | string;
  external_gateway_info?: GatewayInfo | null;
  project_id?: string;
  tenant_id?: string;
}

export type RouterUpdate = Omit<RouterCreate, 'project_id' | 'tenant_id'>;

export interface InterfaceInfo {
  id: string;
  tenant_id: string;
  project_id: string;
  port_id: string;
  network_id: string;
  subnet_id: string;
  subnet_ids: string[];
}

export interface RouterServiceDeps {
  repo: RouterRepository;
  networks: NetworkRepository;
  sync: NatSync;
  /** Routers per project (Neutron's quota_router). */
  quota?: (projectId: string) => Promise<number>;
  /** Routers on networks spanning hosts (their containers, the servers' routes); absent: hosts route. */
  routing?: { syncAll(): Promise<void> };
}

const badRouter = (msg: string) => new NeutronError('invalid', 'BadRequest', `Bad router request: ${msg}.`);
const asBool = (v: boolean | string | undefined, d: boolean) => (v === undefined ? d : typeof v === 'boolean' ? v : v.toLowerCase() === 'true');

export class RouterService {
  constructor(private readonly deps: RouterServiceDeps) {}

  async list(ctx: RequestContext): Promise<RouterRow[]> {
    return this.deps.repo.list(ctx.isAdmin ? {} : { project_id: ctx.projectId });
  }

  async show(ctx: RequestContext, id: string): Promise<RouterRow> {
    return this.visible(ctx, id);
  }

  async create(ctx: RequestContext, body: RouterCreate): Promise<RouterRow> {
    const projectId = body.project_id ?? body.tenant_id ?? ctx.projectId;
    if (projectId !== ctx.projectId && !ctx.isAdmin) throw neutron.policy('create_router:project_id');
    // An empty external_gateway_info (Tempest sends {}) is no gateway, as on update.
    const gateway = body.external_gateway_info && Object.keys(body.external_gateway_info).length > 0 ? body.external_gateway_info : null;
    if (gateway) await this.checkGateway(ctx, 'create_router', gateway);
    const limit = (await this.deps.quota?.(projectId)) ?? 10;
    if (limit >= 0 && (await this.deps.repo.list({ project_id: projectId })).length >= limit) throw neutron.overQuota('router');
    const router = await this.deps.repo.create({ project_id: projectId, name: body.name ?? '', description: body.description ?? '', admin_state_up: asBool(body.admin_state_up, true) });
    if (gateway) {
      try {
        await this.setGateway(router.id, gateway);
      } catch (e) {
        await this.deps.repo.delete(router.id);
        throw e;
      }
    }
    return (await this.deps.repo.get(router.id))!;
  }

  async update(ctx: RequestContext, id: string, body: RouterUpdate): Promise<RouterRow> {
    const router = await this.visible(ctx, id);
    if (body.external_gateway_info) await this.checkGateway(ctx, 'update_router', body.external_gateway_info);
    const changes: Parameters<RouterRepository['update']>[1] = {};
    if (body.name !== undefined) changes.name = body.name;
    if (body.description !== undefined) changes.description = body.description;
    if (body.admin_state_up !== undefined) changes.admin_state_up = asBool(body.admin_state_up, true);
    if (Object.keys(changes).length > 0 && !(await this.deps.repo.update(id, changes))) throw neutron.routerNotFound(id);
    if (body.external_gateway_info !== undefined) {
      const info = body.external_gateway_info && Object.keys(body.external_gateway_info).length > 0 ? body.external_gateway_info : null;
      const same = info && info.network_id === router.external_network_id && !info.external_fixed_ips;
      if (same) {
        await this.deps.repo.setGateway(id, { networkId: info.network_id, enableSnat: asBool(info.enable_snat, router.enable_snat), ...router.external_fixed_ips[0] && { subnetId: router.external_fixed_ips[0].subnet_id, ipAddress: router.external_fixed_ips[0].ip_address } });
      } else {
        await this.setGateway(id, info);
      }
    }
    // The gateway and the administrative state decide the SNAT and the routes between subnets.
    if (body.external_gateway_info !== undefined || changes.admin_state_up !== undefined) await this.changed();
    return (await this.deps.repo.get(id)) ?? router;
  }

  async remove(ctx: RequestContext, id: string): Promise<void> {
    await this.visible(ctx, id);
    if ((await this.deps.repo.interfaces(id)).length > 0) throw new NeutronError('conflict', 'RouterInUse', `Router ${id} still has ports`);
    if (!(await this.deps.repo.delete(id))) throw neutron.routerNotFound(id);
    await this.changed();
  }

  async addInterface(ctx: RequestContext, id: string, body: { subnet_id?: string; port_id?: string }): Promise<InterfaceInfo> {
    const router = await this.visible(ctx, id);
    if (body.port_id !== undefined && body.subnet_id !== undefined) throw badRouter('Cannot specify both subnet-id and port-id');
    if (body.port_id !== undefined) return this.addPort(ctx, router, body.port_id);
    if (!body.subnet_id) throw badRouter('Either subnet_id or port_id must be specified');
    const subnet = await this.deps.networks.getSubnet(body.subnet_id);
    if (!subnet || (!ctx.isAdmin && subnet.project_id !== ctx.projectId && !(await this.deps.networks.getNetwork(subnet.network_id))?.shared)) throw neutron.subnetNotFound(body.subnet_id);
    if (!subnet.gateway_ip) throw badRouter('Subnet for router interface must have a gateway IP');
    checkNewSubnet(await this.deps.repo.interfaces(id), subnet);
    let portId: string;
    try {
      portId = await this.deps.repo.addInterface(id, router.project_id, { id: subnet.id, network_id: subnet.network_id, gateway_ip: subnet.gateway_ip });
    } catch (e) {
      if (e instanceof AllocationError) throw neutron.ipAddressInUse(subnet.gateway_ip, subnet.id);
      throw e;
    }
    await this.changed();
    return interfaceInfo(router, { port_id: portId, subnet_id: subnet.id, network_id: subnet.network_id });
  }

  /** `router add port`: the router takes a free port with one IPv4 address; its subnet is routed like an added subnet. */
  private async addPort(ctx: RequestContext, router: RouterRow, portId: string): Promise<InterfaceInfo> {
    const port = await this.deps.repo.port(portId);
    if (!port || (!ctx.isAdmin && port.project_id !== ctx.projectId)) throw neutron.portNotFound(portId);
    if (port.device_id) throw neutronCore.portInUse(port.id, port.network_id, port.device_id);
    const v4 = port.addresses.filter((a) => a.ip_version === 4);
    if (port.addresses.length === 0) throw badRouter('Router port must have at least one fixed IP');
    if (v4.length !== 1) throw badRouter(v4.length === 0 ? 'novadock routes IPv4 subnets only' : 'Cannot have multiple IPv4 subnets on router port');
    checkNewSubnet(await this.deps.repo.interfaces(router.id), { id: v4[0].subnet_id, cidr: v4[0].cidr });
    if (!(await this.deps.repo.takePort(router.id, port.id))) {
      const now = await this.deps.repo.port(port.id);
      if (!now) throw neutron.portNotFound(portId);
      throw neutronCore.portInUse(port.id, port.network_id, now.device_id);
    }
    await this.changed();
    return interfaceInfo(router, { port_id: port.id, subnet_id: v4[0].subnet_id, network_id: port.network_id });
  }

  async removeInterface(ctx: RequestContext, id: string, body: { subnet_id?: string; port_id?: string }): Promise<InterfaceInfo> {
    const router = await this.visible(ctx, id);
    if (!body.subnet_id && !body.port_id) throw badRouter('Either subnet_id or port_id must be specified');
    const found = (await this.deps.repo.interfaces(id)).find((i) => (body.port_id ? i.port_id === body.port_id : i.subnet_id === body.subnet_id));
    if (!found) {
      if (body.port_id) throw new NeutronError('notFound', 'RouterInterfaceNotFound', `Router ${id} does not have an interface with id ${body.port_id}`);
      throw new NeutronError('notFound', 'RouterInterfaceNotFoundForSubnet', `Router ${id} has no interface on subnet ${body.subnet_id}`);
    }
    await this.deps.repo.removeInterface(found.port_id);
    await this.changed();
    return interfaceInfo(router, found);
  }

  /** The router joining `subnetId` to external network `networkId` (a floating IP's router_id), if any. */
  async routerFor(subnetId: string, networkId: string): Promise<string | null> {
    for (const i of await this.deps.repo.interfaces()) {
      if (i.subnet_id !== subnetId) continue;
      const r = await this.deps.repo.get(i.router_id);
      if (r?.external_network_id === networkId) return r.id;
    }
    return null;
  }

  /** The subnets each router (administratively up) joins: they reach one another through the host. */
  async routed(): Promise<string[][]> {
    return [...upRouterLegs(await this.deps.repo.legs()).values()].map((legs) => [...new Set(legs.map((l) => l.cidr))].sort());
  }

  /** Every router's SNAT (administratively up, SNAT on): its IPv4 subnets leave as its gateway address. */
  async snat(): Promise<SubnetSnat[]> {
    return [...upRouterLegs(await this.deps.repo.legs())].flatMap(([routerId, legs]) =>
      legs.flatMap((l) => (l.external_ip ? [{ cidr: l.cidr, externalIp: l.external_ip, routerId }] : [])));
  }

  /** The hosts (and, across hosts, the routers' containers and servers' routes) made true to the rows, before the answer. */
  private async changed(): Promise<void> {
    await this.deps.sync.syncAll();
    await this.deps.routing?.syncAll();
  }

  private async setGateway(id: string, info: GatewayInfo | null): Promise<void> {
    const fixed = info?.external_fixed_ips?.[0];
    try {
      await this.deps.repo.setGateway(id, info ? { networkId: info.network_id, enableSnat: asBool(info.enable_snat, true), subnetId: fixed?.subnet_id, ipAddress: fixed?.ip_address } : null);
    } catch (e) {
      if (!(e instanceof AllocationError)) throw e;
      if (e.reason === 'in-use') throw neutron.ipAddressInUse(fixed!.ip_address!, e.subnetId);
      if (e.reason === 'outside') throw new NeutronError('invalid', 'InvalidIpForNetwork', `IP address ${fixed?.ip_address} is not a valid IP for any of the subnets on the specified network.`);
      throw new NeutronError('invalid', 'ExternalIpAddressExhausted', `Unable to find any IP address on external network ${info!.network_id}.`);
    }
  }

  private async checkGateway(ctx: RequestContext, action: string, info: GatewayInfo): Promise<void> {
    if (Object.keys(info).length === 0) return;
    if (info.enable_snat !== undefined && !ctx.isAdmin) throw neutron.policy(`${action}:external_gateway_info:enable_snat`);
    if (info.external_fixed_ips !== undefined && !ctx.isAdmin) throw neutron.policy(`${action}:external_gateway_info:external_fixed_ips`);
    const network = await this.deps.networks.getNetwork(info.network_id);
    if (!network || (!ctx.isAdmin && !network.external && !network.shared && network.project_id !== ctx.projectId)) throw neutron.networkNotFound(info.network_id);
    if (!network.external) throw badRouter(`Network ${info.network_id} is not an external network`);
  }

  private async visible(ctx: RequestContext, id: string): Promise<RouterRow> {
    const r = await this.deps.repo.get(id);
    if (!r || (!ctx.isAdmin && r.project_id !== ctx.projectId)) throw neutron.routerNotFound(id);
    return r;
  }
}

/** Neutron's _check_for_dup_router_subnets: one port per subnet, and no two subnets of a router overlap (routes would be ambiguous). */
function checkNewSubnet(existing: Pick<RouterInterface, 'subnet_id' | 'cidr'>[], subnet: { id: string; cidr: string }): void {
  if (existing.some((i) => i.subnet_id === subnet.id)) throw badRouter(`Router already has a port on subnet ${subnet.id}`);
  const v4 = (cidr: string) => !cidr.includes(':');
  const clash = v4(subnet.cidr) ? existing.find((i) => v4(i.cidr) && overlaps(spanOf(i.cidr), spanOf(subnet.cidr))) : undefined;
  if (clash) throw badRouter(`Cidr ${subnet.cidr} of subnet ${subnet.id} overlaps with cidr ${clash.cidr} of subnet ${clash.subnet_id}`);
}

function interfaceInfo(router: RouterRow, i: Pick<RouterInterface, 'port_id' | 'subnet_id' | 'network_id'>): InterfaceInfo {
  return { id: router.id, tenant_id: router.project_id, project_id: router.project_id, port_id: i.port_id, network_id: i.network_id, subnet_id: i.subnet_id, subnet_ids: [i.subnet_id] };
}
