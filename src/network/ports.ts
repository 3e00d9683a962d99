/**
 * The port service the compute side uses (issue 17; the shape is fixed in the network service's
 * shared notes): a server's ports are made at boot (or the user's are taken), bound to the host
 * it runs on, listed in attach order, and released when it goes.
 *
 *   allocate ─ one port per nic (the user's port: taken if unbound), IPs, MAC, device_id/owner,
 *              security groups (names or ids; default: the project's `default`); on a failure the
 *              ports this call made are deleted and the user's it took are let go
 *   bind     ─ binding:host_id and status (ACTIVE when running, else DOWN)
 *   portsOf  ─ the server's ports with their IPs, in attach order
 *   detach   ─ one port: deleted when made for the server (IPs freed), else unbound
 *   release  ─ ports made for the server deleted (IPs freed), the user's unbound
 */
import type { NetworkRepository, NetworkRow } from '../db/network-repo';
import type { PortRepository, PortRow } from '../db/port-repo';
import type { SecurityGroupRepository } from '../db/security-group-repo';
import { badRequest } from '../errors';
import type { RequestContext } from '../http/context';
import type { DefaultNetworks } from './default-network';
import { neutron, neutronCore } from './errors';
import type { NetworkService } from './networks';
import type { PortEvents } from './port-events';
import type { PortService } from './port-service';
import type { IpAllocator } from './ip-allocation';
// The compute side's port (what it needs of the network service); this class is its implementation.
import type { ComputePorts, ServerNic } from '../compute/services/server-ports';

/** A port with its addresses, whole rows (wider than the compute side's view of one). */
export interface PortWithIps { port: PortRow; fixed_ips: { subnet_id: string; ip_address: string }[]; network: NetworkRow; security_group_ids: string[] }
export interface ServerPortsDeps {
  ports: PortRepository;
  networks: NetworkRepository;
  networkService: NetworkService;
  portService: PortService;
  groups: SecurityGroupRepository;
  defaults: DefaultNetworks;
  events: PortEvents;
  allocator: IpAllocator;
}

const UNBOUND = { device_id: '', device_owner: '', host: '', status: 'DOWN', attach_seq: 0 };

export class ServerPorts implements ComputePorts {
  private seq = 0;

  constructor(private readonly deps: ServerPortsDeps) {}

  /** Attach order: later calls get larger numbers, in this process and (by the clock) across processes. */
  private nextSeq(): number {
    this.seq = Math.max(this.seq + 1, Date.now() * 1000);
    return this.seq;
  }

  /** Security groups by name or id, in the caller's project (Nova's words when one is missing). */
  private async groupIds(ctx: RequestContext, names: string[]): Promise<string[]> {
    const out: string[] = [];
    for (const name of names.length ? names : ['default']) {
      let id: string | undefined;
      if (name === 'default') id = (await this.deps.groups.ensureDefault(ctx.projectId)).id;
      else id = (await this.deps.groups.findInProject(ctx.projectId, name))?.id;
      if (!id) throw badRequest(`Security group ${name} not found for project ${ctx.projectId}.`);
      if (!out.includes(id)) out.push(id);
    }
    return out;
  }

  /** The groups' names (a server's `security_groups`), each asked for by name or id; Nova's 400 for one not found. */
  async securityGroupNames(ctx: RequestContext, groups: string[]): Promise<string[]> {
    const rows = await this.deps.groups.getMany(await this.groupIds(ctx, groups));
    return [...new Set(rows.map((g) => g.name))];
  }

  async allocate(ctx: RequestContext, serverId: string, zone: string, nics: ServerNic[] | 'auto' | 'none', securityGroups: string[]): Promise<PortWithIps[]> {
    if (nics === 'none') return [];
    const wanted: ServerNic[] = nics === 'auto' ? [{ networkId: (await this.deps.defaults.ensure(ctx.projectId)).id }] : nics;
    const groups = await this.groupIds(ctx, securityGroups);
    const made: string[] = [];
    const taken: string[] = [];
    const owner = `compute:${zone}`;
    try {
      for (const nic of wanted) {
        const seq = this.nextSeq();
        if (nic.portId !== undefined) {
          const p = await this.deps.ports.get(nic.portId);
          if (!p || (!ctx.isAdmin && p.project_id !== ctx.projectId)) throw neutron.portNotFound(nic.portId);
          if (p.device_id && p.device_id !== serverId) throw neutronCore.portInUse(p.id, p.network_id, p.device_id);
          if (!(await this.deps.ports.update(p.id, { device_id: serverId, device_owner: owner, attach_seq: seq }, { device_id: p.device_id }))) {
            throw neutronCore.portInUse(p.id, p.network_id, serverId);
          }
          taken.push(p.id);
          continue;
        }
        const network = await this.deps.networkService.visible(ctx, nic.networkId ?? '');
        if (!ctx.isAdmin && network.project_id !== ctx.projectId && !network.shared) throw neutron.networkNotFound(network.id);
        const port = await this.deps.portService.make({
          projectId: ctx.projectId, network, fixedIps: nic.fixedIp === undefined ? undefined : [{ ip_address: nic.fixedIp }],
          groups, deviceId: serverId, deviceOwner: owner, autoDelete: true, attachSeq: seq,
        });
        made.push(port.id);
      }
    } catch (e) {
      for (const id of made) await this.deps.ports.delete(id);
      for (const id of taken) await this.deps.ports.update(id, UNBOUND, { device_id: serverId });
      throw e;
    }
    return this.portsOf(serverId);
  }

  async bind(serverId: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<void> {
    await this.deps.ports.updateDevice(serverId, { host, status });
  }

  async portsOf(serverId: string): Promise<PortWithIps[]> {
    const rows = await this.deps.ports.list({ deviceId: serverId });
    return this.withIps(rows);
  }

  async withIps(rows: PortRow[]): Promise<PortWithIps[]> {
    const ids = rows.map((r) => r.id);
    const [ips, groups] = await Promise.all([this.deps.ports.fixedIpsOf(ids), this.deps.ports.securityGroupsOf(ids)]);
    const networks = new Map<string, NetworkRow>();
    for (const r of rows) if (!networks.has(r.network_id)) networks.set(r.network_id, (await this.deps.networks.getNetwork(r.network_id))!);
    return rows.map((r) => ({ port: r, fixed_ips: ips.get(r.id) ?? [], network: networks.get(r.network_id)!, security_group_ids: groups.get(r.id) ?? [] }));
  }

  /** One of the server's ports let go (os-interface detach, or an attach the engine refused); not the server's: nothing. */
  async detach(serverId: string, portId: string): Promise<void> {
    const p = await this.deps.ports.get(portId);
    if (!p || p.device_id !== serverId) return;
    if (p.auto_delete) await this.deps.ports.delete(p.id);
    else await this.deps.ports.update(p.id, UNBOUND, { device_id: serverId });
  }

  /** Each of the server's fixed IPs among `addresses` is replaced by another free one of its subnet (taken before the old one is let go). */
  async readdress(serverId: string, addresses: string[]): Promise<void> {
    for (const p of await this.portsOf(serverId)) {
      for (const ip of p.fixed_ips.filter((f) => addresses.includes(f.ip_address))) {
        const subnet = await this.deps.networks.getSubnet(ip.subnet_id);
        if (!subnet) continue;
        await this.deps.allocator.one(p.port.id, p.network.id, [subnet], { subnet_id: subnet.id });
        await this.deps.ports.freeIps(p.port.id, [ip]);
      }
    }
  }

  async release(serverId: string): Promise<void> {
    for (const p of await this.deps.ports.list({ deviceId: serverId })) {
      if (p.auto_delete) await this.deps.ports.delete(p.id);
      else await this.deps.ports.update(p.id, UNBOUND, { device_id: serverId });
    }
    await this.deps.events.emit(serverId);
  }
}
