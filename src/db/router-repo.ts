/**
 * Routers (issue 17): rows of routers; a router's gateway is a port of its own on the external
 * network (device_owner network:router_gateway) whose address is also kept in
 * `external_fixed_ips`, and each interface is a port on a project subnet holding the subnet's
 * gateway address (network:router_interface), as Neutron keeps them.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
import { createPortWithAddress, deletePort } from './external-ports';
import type { Db } from './knex';

export interface RouterRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  admin_state_up: boolean;
  status: string;
  external_network_id: string | null;
  enable_snat: boolean;
  external_fixed_ips: { subnet_id: string; ip_address: string }[];
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface RouterInterface {
  port_id: string;
  subnet_id: string;
  network_id: string;
  ip_address: string;
  cidr: string;
}

/** A router's interface as routing across hosts sees it (RouterRepository.legs). */
export interface RouterLegRow {
  router_id: string;
  project_id: string;
  admin_state_up: boolean;
  subnet_id: string;
  network_id: string;
  cidr: string;
  default_for: string | null;
  /** The router's gateway address when it SNATs its subnets to the external network (enable_snat), else null. */
  external_ip: string | null;
}

/** The interfaces of each administratively up router, by router id, in the order given. */
export function upRouterLegs(legs: RouterLegRow[]): Map<string, RouterLegRow[]> {
  const byRouter = new Map<string, RouterLegRow[]>();
  for (const l of legs) if (l.admin_state_up) byRouter.set(l.router_id, [...(byRouter.get(l.router_id) ?? []), l]);
  return byRouter;
}

const bool = (v: unknown) => v === true || v === 1 || v === '1';
const gatewayOf = (v: unknown): string | null => {
  const ips = (typeof v === 'string' ? JSON.parse(v) : v ?? []) as { ip_address?: string }[];
  return ips[0]?.ip_address ?? null;
};
const fromRow = (r: Record<string, unknown>): RouterRow => ({
  ...(r as unknown as RouterRow), admin_state_up: bool(r.admin_state_up), enable_snat: bool(r.enable_snat),
  external_fixed_ips: typeof r.external_fixed_ips === 'string' ? JSON.parse(r.external_fixed_ips) : [],
});
const bump = (db: Db) => ({ updated_at: stamp(), revision_number: db.raw('revision_number + 1') });

export class RouterRepository {
  constructor(readonly db: Db) {}

  async list(f: { project_id?: string } = {}): Promise<RouterRow[]> {
    const q = this.db('routers').orderBy('created_at').orderBy('id');
    if (f.project_id !== undefined) q.where({ project_id: f.project_id });
    return (await q).map(fromRow);
  }

  async get(id: string): Promise<RouterRow | undefined> {
    const r = await this.db('routers').where({ id }).first();
    return r ? fromRow(r) : undefined;
  }

  async create(r: { project_id: string; name: string; description: string; admin_state_up: boolean }): Promise<RouterRow> {
    const id = crypto.randomUUID();
    const at = stamp();
    await this.db('routers').insert({ id, ...r, created_at: at, updated_at: at });
    return (await this.get(id))!;
  }

  async update(id: string, r: Partial<Pick<RouterRow, 'name' | 'description' | 'admin_state_up'>>): Promise<boolean> {
    return (await this.db('routers').where({ id }).update({ ...r, ...bump(this.db) })) === 1;
  }

  /**
   * The router's gateway becomes `to` (null: none): its old gateway port goes, a new one takes an
   * address on the external network (the asked-for one, or the first free), in one transaction.
   * Throws the external-ports AllocationError when no address can be had.
   */
  async setGateway(id: string, to: { networkId: string; enableSnat: boolean; subnetId?: string; ipAddress?: string } | null): Promise<void> {
    await this.db.transaction(async (trx) => {
      const old = await trx('ports').where({ device_id: id, device_owner: 'network:router_gateway' }).pluck('id') as string[];
      for (const p of old) await deletePort(trx, p);
      if (!to) {
        await trx('routers').where({ id }).update({ external_network_id: null, external_fixed_ips: '[]', enable_snat: true, ...bump(this.db) });
        return;
      }
      const got = await createPortWithAddress(trx, { networkId: to.networkId, projectId: '', deviceId: id, deviceOwner: 'network:router_gateway', subnetId: to.subnetId, ipAddress: to.ipAddress });
      await trx('routers').where({ id }).update({
        external_network_id: to.networkId, enable_snat: to.enableSnat, external_fixed_ips: JSON.stringify([{ subnet_id: got.subnetId, ip_address: got.ipAddress }]), ...bump(this.db),
      });
    });
  }

  /** The router's interfaces on project subnets. */
  async interfaces(routerId?: string): Promise<(RouterInterface & { router_id: string })[]> {
    const q = this.db('ports as p').join('ip_allocations as a', 'a.port_id', 'p.id').join('subnets as s', 's.id', 'a.subnet_id')
      .where('p.device_owner', 'network:router_interface')
      .select('p.id as port_id', 'p.device_id as router_id', 'a.subnet_id', 'a.network_id', 'a.ip_address', 's.cidr')
      .orderBy('p.created_at');
    if (routerId) q.where('p.device_id', routerId);
    return q;
  }

  /**
   * Every router interface with what routing across hosts needs (RouterEngine): the router's
   * project and state, the subnet's range, and whose default network the subnet's network is.
   */
  async legs(): Promise<RouterLegRow[]> {
    const rows = await this.db('ports as p').join('routers as r', 'r.id', 'p.device_id').join('ip_allocations as a', 'a.port_id', 'p.id')
      .join('subnets as s', 's.id', 'a.subnet_id').join('networks as n', 'n.id', 'a.network_id')
      .where('p.device_owner', 'network:router_interface').where('s.ip_version', 4)
      .select('p.device_id as router_id', 'r.project_id', 'r.admin_state_up', 'a.subnet_id', 'a.network_id', 's.cidr', 'n.default_for', 'r.enable_snat', 'r.external_fixed_ips')
      .orderBy('p.created_at').orderBy('p.id');
    return rows.map(({ enable_snat: snat, external_fixed_ips: ips, ...r }: Record<string, unknown>) => ({
      ...(r as unknown as RouterLegRow), admin_state_up: bool(r.admin_state_up), external_ip: bool(snat) ? gatewayOf(ips) : null,
    }));
  }

  /** Servers with a floating IP on one of their ports (their own address is their source outside, not a router's). */
  async serversWithFloatingIps(): Promise<Set<string>> {
    const rows: { id: string }[] = await this.db('floating_ips as f').join('ports as p', 'p.id', 'f.port_id').distinct('p.device_id as id');
    return new Set(rows.map((r) => r.id));
  }

  /** The servers holding these ports (a floating IP's association changed). */
  async serversOfPorts(portIds: string[]): Promise<string[]> {
    if (portIds.length === 0) return [];
    const rows: { id: string }[] = await this.db('ports').whereIn('id', portIds).where('device_owner', 'like', 'compute:%').distinct('device_id as id');
    return rows.map((r) => r.id);
  }

  /** The IPv4 subnets servers' bound ports have addresses on (one server's, when named): where routes go. */
  async serverSubnets(serverId?: string): Promise<{ server_id: string; host: string; subnet_id: string }[]> {
    const q = this.db('ports as p').join('ip_allocations as a', 'a.port_id', 'p.id').join('subnets as s', 's.id', 'a.subnet_id')
      .where('p.device_owner', 'like', 'compute:%').andWhere('p.host', '<>', '').andWhere('s.ip_version', 4)
      .distinct('p.device_id as server_id', 'p.host', 'a.subnet_id');
    if (serverId !== undefined) q.andWhere('p.device_id', serverId);
    return q;
  }

  /** A port on the subnet holding its gateway address, owned by the router. Throws the external-ports AllocationError when the address is taken. */
  async addInterface(routerId: string, projectId: string, subnet: { id: string; network_id: string; gateway_ip: string }): Promise<string> {
    return this.db.transaction(async (trx) => (await createPortWithAddress(trx, {
      networkId: subnet.network_id, projectId, deviceId: routerId, deviceOwner: 'network:router_interface', subnetId: subnet.id, ipAddress: subnet.gateway_ip,
    })).portId);
  }

  /** A port and its addresses (for `router add port`), or undefined. */
  async port(portId: string): Promise<{ id: string; project_id: string; network_id: string; device_id: string; addresses: { subnet_id: string; ip_address: string; cidr: string; ip_version: number }[] } | undefined> {
    const p = await this.db('ports').where({ id: portId }).first('id', 'project_id', 'network_id', 'device_id');
    if (!p) return undefined;
    const addresses = await this.db('ip_allocations as a').join('subnets as s', 's.id', 'a.subnet_id').where('a.port_id', portId)
      .select('a.subnet_id', 'a.ip_address', 's.cidr', 's.ip_version');
    return { ...p, addresses };
  }

  /** The router takes a port nobody holds (compare-and-set on an empty device_id); false when someone holds it now. */
  async takePort(routerId: string, portId: string): Promise<boolean> {
    return (await this.db('ports').where({ id: portId, device_id: '' })
      .update({ device_id: routerId, device_owner: 'network:router_interface', status: 'ACTIVE', ...bump(this.db) })) === 1;
  }

  async removeInterface(portId: string): Promise<void> {
    await this.db.transaction((trx) => deletePort(trx, portId));
  }

  /** Deletes the router with its gateway port; false when it was gone. The caller checks interfaces first. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const ports = await trx('ports').where({ device_id: id, device_owner: 'network:router_gateway' }).pluck('id') as string[];
      for (const p of ports) await deletePort(trx, p);
      return (await trx('routers').where({ id }).delete()) === 1;
    });
  }
}
