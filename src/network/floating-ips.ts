/**
 * Floating IPs (issue 17): an address of an external network that a project holds, and forwards
 * to one of its ports' fixed IPs on the host where the port's server runs. The rules are
 * Neutron's (neutron/db/l3_db.py: create_floatingip, _check_and_get_fip_assoc,
 * _internal_fip_assoc_data), with its error types and texts; forwards follow each change at once
 * (NatSync, before the answer) and the sweep keeps them true afterwards.
 *
 * NOTE(openstack): Neutron refuses an association when no router joins the port's subnet to the
 * external network (404 ExternalGatewayForFloatingIPNotFound). novadock's host forwards from any
 * project network, so it does not: a router that joins them is reported as `router_id`, and the
 * usual `router create; router set --external-gateway; router add subnet` changes nothing here.
 */
import type { RequestContext } from '../http/context';
import type { NetworkRepository, NetworkRow } from '../db/network-repo';
import { AllocationError } from '../db/external-ports';
import { FloatingIpAlreadyAssociated, type FloatingIpRepository, type FloatingIpRow, type InternalPort } from '../db/floating-ip-repo';
import { neutron, NeutronError } from './errors';
import type { NatSync } from './nat-sync';

/** Neutron's default quota_floatingip. */
export const DEFAULT_FLOATINGIP_QUOTA = 50;

export interface FloatingIpCreate {
  floating_network_id: string;
  floating_ip_address?: string;
  subnet_id?: string;
  port_id?: string | null;
  fixed_ip_address?: string | null;
  description?: string;
  project_id?: string;
  tenant_id?: string;
}

export interface FloatingIpUpdate {
  port_id?: string | null;
  fixed_ip_address?: string | null;
  description?: string;
}

/** A floating IP with the port it forwards to, if any (for port_details). */
export interface FloatingIp {
  fip: FloatingIpRow;
  port?: InternalPort;
}

export interface FloatingIpServiceDeps {
  repo: FloatingIpRepository;
  networks: NetworkRepository;
  sync: NatSync;
  /** The router that joins `subnetId` to external network `networkId`, if any (routers part). */
  routerFor?: (subnetId: string, networkId: string) => Promise<string | null>;
  /** Floating IPs per project (Neutron's quota_floatingip). */
  quota?: (projectId: string) => Promise<number>;
  /** Ports that gained or lost a floating IP (their servers' way out changes across hosts: CrossHostRouting). */
  portsChanged?: (portIds: string[]) => Promise<void>;
}

/** device_owners a floating IP may forward to (neutron_lib utils.is_fip_serviced: compute ports, and unowned ones). */
const fipServiced = (owner: string) => owner === '' || owner.startsWith('compute:');

export class FloatingIpService {
  constructor(private readonly deps: FloatingIpServiceDeps) {}

  async list(ctx: RequestContext): Promise<FloatingIp[]> {
    const rows = await this.deps.repo.list(ctx.isAdmin ? {} : { project_id: ctx.projectId });
    return Promise.all(rows.map((fip) => this.withPort(fip)));
  }

  async show(ctx: RequestContext, id: string): Promise<FloatingIp> {
    return this.withPort(await this.visible(ctx, id));
  }

  async create(ctx: RequestContext, body: FloatingIpCreate): Promise<FloatingIp> {
    const projectId = body.project_id ?? body.tenant_id ?? ctx.projectId;
    if (projectId !== ctx.projectId && !ctx.isAdmin) throw neutron.policy('create_floatingip:project_id');
    if (body.floating_ip_address !== undefined && !ctx.isAdmin) throw neutron.policy('create_floatingip:floating_ip_address');
    if (body.fixed_ip_address && !body.port_id) throw badFip('fixed_ip_address cannot be specified without a port_id');
    const network = await this.externalNetwork(ctx, body.floating_network_id);
    const limit = (await this.deps.quota?.(projectId)) ?? DEFAULT_FLOATINGIP_QUOTA;
    if (limit >= 0 && (await this.deps.repo.count(projectId)) >= limit) throw neutron.overQuota('floatingip');
    if (body.subnet_id !== undefined) {
      const subnet = await this.deps.networks.getSubnet(body.subnet_id);
      if (!subnet) throw neutron.subnetNotFound(body.subnet_id);
      if (subnet.network_id !== network.id) throw badFip(`Subnet ${subnet.id} does not belong to network ${network.id}`);
    }
    // The port is checked before an address is taken: a refused association takes none.
    const assoc = body.port_id ? await this.association(ctx, { project_id: projectId, floating_network_id: network.id, id: '', floating_ip_address: '' }, body.port_id, body.fixed_ip_address ?? undefined) : undefined;
    let fip: FloatingIpRow;
    try {
      fip = await this.deps.repo.create({ project_id: projectId, floating_network_id: network.id, subnet_id: body.subnet_id, floating_ip_address: body.floating_ip_address, description: body.description ?? '' });
    } catch (e) {
      throw allocationError(e, network.id, body.floating_ip_address);
    }
    if (assoc) {
      try {
        await this.deps.repo.associate(fip.id, null, assoc.to);
      } catch (e) {
        await this.deps.repo.delete(fip.id);
        throw this.alreadyAssociated(e, fip, assoc.to.port_id!, assoc.to.fixed_ip_address!);
      }
      await this.deps.sync.syncHosts([assoc.port.host]);
      await this.deps.portsChanged?.([assoc.to.port_id!]);
    }
    return this.withPort((await this.deps.repo.get(fip.id))!);
  }

  async update(ctx: RequestContext, id: string, body: FloatingIpUpdate): Promise<FloatingIp> {
    const fip = await this.visible(ctx, id);
    if (body.fixed_ip_address && !body.port_id) throw badFip('fixed_ip_address cannot be specified without a port_id');
    // Neutron re-associates with the current port when the body names none (bug #1610045).
    const portId = body.port_id === undefined ? fip.port_id : body.port_id;
    const assoc = portId ? await this.association(ctx, fip, portId, body.fixed_ip_address ?? undefined) : undefined;
    const to = assoc?.to ?? { port_id: null, fixed_ip_address: null, router_id: null };
    try {
      if (!(await this.deps.repo.associate(fip.id, fip.port_id, to, body.description))) {
        throw new NeutronError('conflict', 'Conflict', `Floating IP ${fip.id} was changed by another request; retry.`);
      }
    } catch (e) {
      throw this.alreadyAssociated(e, fip, to.port_id ?? '', to.fixed_ip_address ?? '');
    }
    await this.deps.sync.syncHosts([fip.host, assoc?.port.host ?? '']);
    await this.deps.portsChanged?.([fip.port_id, to.port_id].filter((p): p is string => !!p));
    return this.withPort((await this.deps.repo.get(fip.id)) ?? fip);
  }

  async remove(ctx: RequestContext, id: string): Promise<void> {
    const fip = await this.visible(ctx, id);
    if (!(await this.deps.repo.delete(fip.id))) throw neutron.floatingIpNotFound(id);
    await this.deps.sync.syncHosts([fip.host]);
    if (fip.port_id) await this.deps.portsChanged?.([fip.port_id]);
  }

  /** The floating IP if the caller may see it (its project's, or any for an admin). */
  private async visible(ctx: RequestContext, id: string): Promise<FloatingIpRow> {
    const fip = await this.deps.repo.get(id);
    if (!fip || (!ctx.isAdmin && fip.project_id !== ctx.projectId)) throw neutron.floatingIpNotFound(id);
    return fip;
  }

  private async externalNetwork(ctx: RequestContext, id: string): Promise<NetworkRow> {
    const network = await this.deps.networks.getNetwork(id);
    if (!network || (!ctx.isAdmin && !network.external && !network.shared && network.project_id !== ctx.projectId)) throw neutron.networkNotFound(id);
    if (!network.external) throw badFip(`Network ${id} is not a valid external network`);
    if ((await this.deps.networks.subnetsOf(id)).every((s) => s.ip_version !== 4)) throw badFip(`Network ${id} does not contain any IPv4 subnet`);
    return network;
  }

  /** Neutron's _internal_fip_assoc_data: which port and fixed IP the floating IP would forward to. */
  private async association(ctx: RequestContext, fip: Pick<FloatingIpRow, 'id' | 'project_id' | 'floating_network_id' | 'floating_ip_address'>, portId: string, fixedIp?: string) {
    const port = await this.deps.repo.port(portId);
    if (!port || (!ctx.isAdmin && port.project_id !== ctx.projectId)) throw neutron.portNotFound(portId);
    if (port.project_id !== fip.project_id && !ctx.isAdmin) {
      throw badFip(`Cannot process floating IP association with Port ${portId}, since that port is owned by a different project`);
    }
    if (!fipServiced(port.device_owner)) throw badFip(`Port ${portId} is unable to be assigned a floating IP`);
    const v4 = port.fixed_ips.filter((ip) => !ip.ip_address.includes(':'));
    let chosen: { subnet_id: string; ip_address: string } | undefined;
    if (fixedIp) {
      if (fixedIp.includes(':')) throw badFip(`Cannot process floating IP association with ${fixedIp}, since that is not an IPv4 address`);
      chosen = v4.find((ip) => ip.ip_address === fixedIp);
      if (!chosen) throw badFip(`Port ${portId} does not have fixed ip ${fixedIp}`);
    } else {
      if (v4.length === 0) throw badFip(`Cannot add floating IP to port ${portId} that has no fixed IPv4 addresses`);
      if (v4.length > 1) throw badFip(`Port ${portId} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP`);
      chosen = v4[0];
    }
    const routerId = (await this.deps.routerFor?.(chosen.subnet_id, fip.floating_network_id)) ?? null;
    return { port, to: { port_id: portId, fixed_ip_address: chosen.ip_address, router_id: routerId } };
  }

  private alreadyAssociated(e: unknown, fip: Pick<FloatingIpRow, 'id' | 'floating_ip_address' | 'floating_network_id'>, portId: string, fixedIp: string): unknown {
    if (!(e instanceof FloatingIpAlreadyAssociated)) return e;
    return new NeutronError('conflict', 'FloatingIPPortAlreadyAssociated',
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${portId} using fixed IP ${fixedIp}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`);
  }

  private async withPort(fip: FloatingIpRow): Promise<FloatingIp> {
    return { fip, port: fip.port_id ? await this.deps.repo.port(fip.port_id) : undefined };
  }
}

const badFip = (msg: string) => new NeutronError('invalid', 'BadRequest', `Bad floatingip request: ${msg}.`);

function allocationError(e: unknown, networkId: string, asked: string | undefined): unknown {
  if (!(e instanceof AllocationError)) return e;
  if (e.reason === 'in-use') return neutron.ipAddressInUse(asked!, e.subnetId);
  if (e.reason === 'outside') return new NeutronError('invalid', 'InvalidIpForNetwork', `IP address ${asked} is not a valid IP for any of the subnets on the specified network.`);
  return new NeutronError('invalid', 'ExternalIpAddressExhausted', `Unable to find any IP address on external network ${networkId}.`);
}
