/**
 * The compute side of the network service (issue 17): a server's interfaces are its ports.
 *
 *   boot (API call)  networks: auto | none | [{uuid[, fixed_ip]} | {port}] → ServerNic[]
 *                    → ComputePorts.allocate per server (one port per nic, IPs, MAC, groups)
 *                    → Nova's 400/409/403 texts for what the network service refused
 *   spawn            ports → InstanceNic[] (network, subnet, gateway, DNS, IP, MAC) → the driver
 *   runs on a host   bind(host, ACTIVE|DOWN) → PortEvents.emit (security groups, floating IPs)
 *   delete           release (ports made for it deleted, the user's unbound) → emit
 *
 * The port service is net-core's (src/network/ports.ts); it is coded against here through the
 * shape the network service's notes fix, so this side stands without it (servers then keep
 * today's one project network).
 */
import type { RequestContext } from '../../http/context';
import { DomainError, badRequest, conflict, forbidden, msg } from '../../errors';
import type { InstanceNic } from '../../virt/driver';

/** The network service's port, as far as the compute side reads it. */
export interface PortWithIps {
  port: { id: string; network_id: string; mac_address: string; status: string; device_id: string };
  fixed_ips: { subnet_id: string; ip_address: string }[];
  network: { id: string; name: string; project_id: string; default_for: string | null };
  security_group_ids: string[];
}
export interface ServerNic { networkId?: string; portId?: string; fixedIp?: string }
export interface ComputePorts {
  allocate(ctx: RequestContext, serverId: string, zone: string, nics: ServerNic[] | 'auto' | 'none', securityGroups: string[]): Promise<PortWithIps[]>;
  bind(serverId: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<void>;
  portsOf(serverId: string): Promise<PortWithIps[]>;
  release(serverId: string): Promise<void>;
  /** The server's ports holding any of `addresses` get other ones on their subnets (the engine refused those). */
  readdress?(serverId: string, addresses: string[]): Promise<void>;
  /** The groups asked for (names or ids) as the names a server shows; absent: as asked. */
  securityGroupNames?(ctx: RequestContext, groups: string[]): Promise<string[]>;
  /** One interface detached (os-interface DELETE): the port made for the server is deleted, the user's unbound. */
  detach?(serverId: string, portId: string): Promise<void>;
}
/** src/network/port-events.ts PortEvents, as the compute side uses it. */
export interface PortEventsPort { emit(serverId: string): Promise<void> }
/** What a nic needs of its subnet. */
export interface SubnetLookup {
  getSubnet(id: string): Promise<{ cidr: string; gateway_ip: string | null; dns_nameservers: string[]; ip_version: number } | undefined>;
}

/** A boot's `networks`, as the router's schema validated it. */
export type NetworkRequest = 'auto' | 'none' | { uuid?: string; port?: string | null; fixed_ip?: string; tag?: string }[];

export interface ServerNetworkingDeps {
  ports: ComputePorts;
  subnets: SubnetLookup;
  events?: PortEventsPort;
}

export class ServerNetworking {
  constructor(private readonly d: ServerNetworkingDeps) {}

  /**
   * The request's nics, checked as Nova's API checks them before anything is made: a port or a
   * fixed IP names one interface, so it cannot be shared by several servers of one request.
   */
  nicsOf(req: NetworkRequest | undefined, maxCount: number): ServerNic[] | 'auto' | 'none' {
    if (req === undefined || req === 'auto') return 'auto';
    if (req === 'none') return 'none';
    const nics = req.map((n): ServerNic => (n.port ? { portId: n.port } : { networkId: n.uuid, ...(n.fixed_ip !== undefined && { fixedIp: n.fixed_ip }) }));
    if (maxCount > 1 && nics.some((n) => n.portId)) {
      throw badRequest('Unable to launch multiple instances with a single configured port ID. Please launch your instance one by one with different ports.');
    }
    if (maxCount > 1 && nics.some((n) => n.fixedIp)) {
      throw badRequest('Failed to launch instances: max_count cannot be greater than 1 if an fixed_ip is specified.');
    }
    return nics.length ? nics : 'auto';
  }

  /** The security groups of a boot (names or ids; `default` when none) as the server shows them, in Nova's words when one is missing. */
  async groupNames(ctx: RequestContext, groups: string[] | undefined): Promise<string[]> {
    const asked = groups?.length ? [...new Set(groups)] : ['default'];
    try {
      return this.d.ports.securityGroupNames ? await this.d.ports.securityGroupNames(ctx, asked) : asked;
    } catch (e) {
      throw novaErrorOf(e, '', ctx.projectId);
    }
  }

  /**
   * Ports for each server of a request, all or none: a refusal releases what was made for the
   * servers before it, and is told in Nova's words.
   */
  async allocate(ctx: RequestContext, serverIds: string[], zone: string, nics: ServerNic[] | 'auto' | 'none', securityGroups: string[]): Promise<void> {
    const done: string[] = [];
    try {
      for (const id of serverIds) {
        await this.d.ports.allocate(ctx, id, zone, nics, securityGroups);
        done.push(id);
      }
    } catch (e) {
      for (const id of done) await this.d.ports.release(id).catch(() => undefined);
      throw novaErrorOf(e, serverIds[done.length] ?? '', ctx.projectId);
    }
  }

  /**
   * The server's interfaces for the driver, in attach order; undefined when it has no ports (a
   * server made before the network service: the driver gives it the project network as before).
   */
  async interfacesOf(serverId: string): Promise<InstanceNic[] | undefined> {
    const ports = await this.d.ports.portsOf(serverId);
    if (ports.length === 0) return undefined;
    const nics: InstanceNic[] = [];
    for (const p of ports) {
      const nic = await this.nicOf(p);
      if (nic) nics.push(nic);
    }
    return nics;
  }

  /** A port as the driver's interface: its first IPv4 address (the engines' networks are IPv4). */
  async nicOf(p: PortWithIps): Promise<InstanceNic | undefined> {
    for (const ip of p.fixed_ips) {
      const subnet = await this.d.subnets.getSubnet(ip.subnet_id);
      if (!subnet || subnet.ip_version !== 4) continue;
      return {
        networkId: p.network.id, label: p.network.name, subnet: subnet.cidr, ip: ip.ip_address, mac: p.port.mac_address,
        ...(subnet.gateway_ip && { gateway: subnet.gateway_ip }),
        ...(subnet.dns_nameservers.length > 0 && { dns: subnet.dns_nameservers }),
        ...(p.network.default_for && { projectDefault: true }),
      };
    }
    return undefined;
  }

  /** The server's instance is on `host`, running or not: its ports follow, and the listeners re-apply. */
  async bind(serverId: string, host: string, running: boolean): Promise<void> {
    await this.d.ports.bind(serverId, host, running ? 'ACTIVE' : 'DOWN');
    await this.d.events?.emit(serverId);
  }

  /** The server's ports with their IPs, in attach order. */
  portsOf(serverId: string): Promise<PortWithIps[]> {
    return this.d.ports.portsOf(serverId);
  }

  /** One more port for an existing server (os-interface attach), in Nova's words when refused. */
  async attach(ctx: RequestContext, serverId: string, zone: string, nic: ServerNic | 'auto', securityGroups: string[]): Promise<PortWithIps> {
    const before = new Set((await this.d.ports.portsOf(serverId)).map((p) => p.port.id));
    let made: PortWithIps[];
    try {
      made = await this.d.ports.allocate(ctx, serverId, zone, nic === 'auto' ? 'auto' : [nic], securityGroups);
    } catch (e) {
      throw novaErrorOf(e, serverId, ctx.projectId);
    }
    return made.find((p) => !before.has(p.port.id)) ?? made[made.length - 1];
  }

  /** One port detached from the server (os-interface detach). */
  async detach(serverId: string, portId: string): Promise<void> {
    if (!this.d.ports.detach) throw new Error('The network service cannot detach one port yet.');
    await this.d.ports.detach(serverId, portId);
    await this.d.events?.emit(serverId);
  }

  /** The engine refused these addresses of the server's ports: they get others, and the listeners re-apply. */
  async readdress(serverId: string, addresses: string[]): Promise<void> {
    if (!this.d.ports.readdress) throw new Error('The network service cannot give a port another address.');
    await this.d.ports.readdress(serverId, addresses);
    await this.d.events?.emit(serverId);
  }

  /** The server is gone. */
  async release(serverId: string): Promise<void> {
    await this.d.ports.release(serverId);
    await this.d.events?.emit(serverId);
  }
}

const idIn = (message: string, word: string): string => new RegExp(`${word} (\\S+)`).exec(message)?.[1] ?? '';

/**
 * The network service's refusal in Nova's words (nova/api/openstack/compute/servers.py create and
 * nova/network/neutron.py): unknown network or port 400, a port in use 409, a fixed IP taken or
 * outside the network 400, no port quota 403.
 */
export function novaErrorOf(e: unknown, serverId: string, projectId: string): unknown {
  const type = (e as { type?: string }).type;
  if (!(e instanceof DomainError) || !type) return e;
  const m = e.message;
  switch (type) {
    case 'NetworkNotFound':
      return badRequest(msg.networkNotFound(idIn(m, 'Network')));
    case 'PortNotFound':
      return badRequest(msg.portNotFound(idIn(m, 'Port')));
    case 'PortInUse':
      return conflict(`Port ${idIn(m, 'port')} is still in use.`);
    case 'IpAddressAlreadyAllocated':
    case 'IpAddressInUse':
      return badRequest(`Fixed IP address ${idIn(m, 'address')} is already in use on instance ${serverId}.`);
    case 'InvalidIpForNetwork':
    case 'InvalidIpForSubnet':
      return badRequest(`Invalid input received: Fixed IP ${idIn(m, 'address')} is not a valid ip address for network.`);
    case 'IpAddressGenerationFailure':
      return badRequest(`No fixed IP addresses available for network: ${idIn(m, 'network')}`);
    case 'OverQuota':
      return forbidden('Maximum number of ports exceeded');
    case 'SecurityGroupNotFound':
      return badRequest(`Security group ${idIn(m, 'group')} not found for project ${projectId}.`);
    default:
      return e;
  }
}
