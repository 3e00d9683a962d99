/**
 * An in-memory stand-in for the network service's port service (src/network/ports.ts, issue 17),
 * with the shape the compute side codes against: networks with one IPv4 subnet each, ports with
 * a fixed IP (the one asked for, or the next free one) and a MAC, Neutron's refusals by type.
 * For unit tests of the compute side's rules; the real one is tested with its own service.
 */
import crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { NeutronError } from '../../src/network/errors';
import type { RequestContext } from '../../src/http/context';
import type { ComputePorts, PortWithIps, ServerNic, ServerNetworkingDeps } from '../../src/compute/services/server-ports';

interface FakeNet { id: string; name: string; project_id: string; default_for: string | null; subnetId: string; cidr: string; gateway: string; dns: string[] }

const hostOf = (cidr: string, n: number) => {
  const [addr] = ipaddr.IPv4.parseCIDR(cidr);
  const base = addr.octets.reduce((a, o) => a * 256 + o, 0);
  return [24, 16, 8, 0].map((s) => Math.floor((base + n) / 2 ** s) % 256).join('.');
};

export class FakePorts implements ComputePorts {
  readonly nets = new Map<string, FakeNet>();
  readonly ports = new Map<string, PortWithIps & { order: number; madeFor?: string; host: string }>();
  private order = 0;

  /** A network with one subnet; `defaultFor` makes it that project's `private`. */
  network(name: string, cidr: string, opts: { projectId?: string; defaultFor?: string; dns?: string[] } = {}): string {
    const id = crypto.randomUUID();
    this.nets.set(id, { id, name, project_id: opts.projectId ?? opts.defaultFor ?? '', default_for: opts.defaultFor ?? null, subnetId: crypto.randomUUID(), cidr, gateway: hostOf(cidr, 1), dns: opts.dns ?? [] });
    return id;
  }

  /** A port the user made first (unbound). */
  userPort(networkId: string, ip?: string): string {
    const p = this.make(this.nets.get(networkId)!, '', ip);
    return p.port.id;
  }

  private taken(net: FakeNet): Set<string> {
    return new Set([...this.ports.values()].filter((p) => p.network.id === net.id).flatMap((p) => p.fixed_ips.map((f) => f.ip_address)));
  }

  private make(net: FakeNet, serverId: string, ip?: string): PortWithIps & { order: number; madeFor?: string; host: string } {
    const used = this.taken(net);
    if (ip !== undefined) {
      if (!ipaddr.IPv4.isValidFourPartDecimal(ip) || !ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parseCIDR(net.cidr))) {
        throw new NeutronError('invalid', 'InvalidIpForNetwork', `IP address ${ip} is not a valid IP for any of the subnets on the specified network.`);
      }
      if (used.has(ip)) throw new NeutronError('conflict', 'IpAddressAlreadyAllocated', `IP address ${ip} already allocated in subnet ${net.subnetId}`);
    }
    let n = 2;
    while (!ip && used.has(hostOf(net.cidr, n))) n++;
    const address = ip ?? hostOf(net.cidr, n);
    const id = crypto.randomUUID();
    const mac = `fa:16:3e:${[...crypto.randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
    const p = {
      port: { id, network_id: net.id, mac_address: mac, status: 'DOWN', device_id: serverId },
      fixed_ips: [{ subnet_id: net.subnetId, ip_address: address }],
      network: { id: net.id, name: net.name, project_id: net.project_id, default_for: net.default_for },
      security_group_ids: [], order: ++this.order, host: '', ...(serverId && { madeFor: serverId }),
    };
    this.ports.set(id, p);
    return p;
  }

  async allocate(ctx: RequestContext, serverId: string, _zone: string, nics: ServerNic[] | 'auto' | 'none', securityGroups: string[]): Promise<PortWithIps[]> {
    for (const g of securityGroups) if (g !== 'default' && g !== 'web') throw new NeutronError('notFound', 'SecurityGroupNotFound', `Security group ${g} does not exist`);
    if (nics === 'none') return [];
    const want: ServerNic[] = nics === 'auto' ? [{ networkId: [...this.nets.values()].find((n) => n.default_for === ctx.projectId)?.id ?? this.network('private', '10.220.100.0/24', { defaultFor: ctx.projectId }) }] : nics;
    const made: string[] = [];
    try {
      return want.map((nic) => {
        if (nic.portId) {
          const p = this.ports.get(nic.portId);
          if (!p) throw new NeutronError('notFound', 'PortNotFound', `Port ${nic.portId} could not be found.`);
          if (p.port.device_id) throw new NeutronError('conflict', 'PortInUse', `Unable to complete operation on port ${p.port.id} for network ${p.network.id}. Port already has an attached device ${p.port.device_id}.`);
          p.port.device_id = serverId;
          p.order = ++this.order;
          return p;
        }
        const net = this.nets.get(nic.networkId ?? '');
        if (!net) throw new NeutronError('notFound', 'NetworkNotFound', `Network ${nic.networkId} could not be found.`);
        const p = this.make(net, serverId, nic.fixedIp);
        made.push(p.port.id);
        return p;
      });
    } catch (e) {
      for (const id of made) this.ports.delete(id);
      throw e;
    }
  }

  async bind(serverId: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<void> {
    for (const p of this.ports.values()) if (p.port.device_id === serverId) Object.assign(p, { host }, { port: { ...p.port, status } });
  }

  async portsOf(serverId: string): Promise<PortWithIps[]> {
    return [...this.ports.values()].filter((p) => p.port.device_id === serverId).sort((a, b) => a.order - b.order);
  }

  async release(serverId: string): Promise<void> {
    for (const [id, p] of this.ports) {
      if (p.port.device_id !== serverId) continue;
      if (p.madeFor === serverId) this.ports.delete(id);
      else p.port = { ...p.port, device_id: '', status: 'DOWN' };
    }
  }

  async detach(serverId: string, portId: string): Promise<void> {
    const p = this.ports.get(portId);
    if (!p || p.port.device_id !== serverId) return;
    if (p.madeFor === serverId) this.ports.delete(portId);
    else p.port = { ...p.port, device_id: '', status: 'DOWN' };
  }

  /** What ServerNetworking needs: this, the subnets, and the events it emits (recorded). */
  deps(emitted: string[] = []): ServerNetworkingDeps {
    return {
      ports: this,
      subnets: { getSubnet: async (id) => {
        const n = [...this.nets.values()].find((x) => x.subnetId === id);
        return n && { cidr: n.cidr, gateway_ip: n.gateway, dns_nameservers: n.dns, ip_version: 4 };
      } },
      events: { emit: async (serverId) => { emitted.push(serverId); } },
    };
  }
}
