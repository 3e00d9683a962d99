/**
 * Networks and subnets (migration 20261208010000_networking). Rows come out with their JSON
 * columns parsed and booleans as booleans, whichever database holds them. Writes that race are
 * decided by constraints: the project's default network is an insert on the unique
 * `default_for`, so concurrent first uses (in any process) make one.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
import type { Knex } from 'knex';
import type { Db } from './knex';

export interface NetworkRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  shared: boolean;
  external: boolean;
  admin_state_up: boolean;
  mtu: number;
  status: string;
  default_for: string | null;
  docker_name: string | null;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface AllocationPool { start: string; end: string }
export interface HostRoute { destination: string; nexthop: string }

export interface SubnetRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  ip_version: number;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  dns_nameservers: string[];
  host_routes: HostRoute[];
  enable_dhcp: boolean;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

const bool = (v: unknown) => v === true || v === 1 || v === '1';

export function networkFromRow(r: Record<string, unknown>): NetworkRow {
  return { ...(r as unknown as NetworkRow), shared: bool(r.shared), external: bool(r.external), admin_state_up: bool(r.admin_state_up) };
}

export function subnetFromRow(r: Record<string, unknown>): SubnetRow {
  const json = <T>(v: unknown, d: T): T => (typeof v === 'string' ? (JSON.parse(v) as T) : d);
  return {
    ...(r as unknown as SubnetRow),
    allocation_pools: json(r.allocation_pools, []),
    dns_nameservers: json(r.dns_nameservers, []),
    host_routes: json(r.host_routes, []),
    enable_dhcp: bool(r.enable_dhcp),
  };
}

/** What a subnet is made of; lists are written as JSON. */
export type NewSubnet = Omit<SubnetRow, 'id' | 'revision_number' | 'created_at' | 'updated_at'> & { id?: string };
export type NewNetwork = Partial<Omit<NetworkRow, 'revision_number' | 'created_at' | 'updated_at'>> & Pick<NetworkRow, 'project_id'>;

export const subnetToRow = (s: NewSubnet) => ({
  ...s,
  allocation_pools: JSON.stringify(s.allocation_pools),
  dns_nameservers: JSON.stringify(s.dns_nameservers),
  host_routes: JSON.stringify(s.host_routes),
});

export class NetworkRepository {
  constructor(readonly db: Db) {}

  async getNetwork(id: string): Promise<NetworkRow | undefined> {
    const r = await this.db('networks').where({ id }).first();
    return r ? networkFromRow(r) : undefined;
  }

  /** The project's default network, if it has been made. */
  async defaultOf(projectId: string): Promise<NetworkRow | undefined> {
    const r = await this.db('networks').where({ default_for: projectId }).first();
    return r ? networkFromRow(r) : undefined;
  }

  async subnetsOf(networkId: string): Promise<SubnetRow[]> {
    return (await this.db('subnets').where({ network_id: networkId }).orderBy('created_at')).map(subnetFromRow);
  }

  async getSubnet(id: string): Promise<SubnetRow | undefined> {
    const r = await this.db('subnets').where({ id }).first();
    return r ? subnetFromRow(r) : undefined;
  }

  /**
   * Makes the project's default network with its one subnet unless it exists; resolves to the
   * one that exists afterwards (this call's, or a concurrent caller's that won the unique key).
   */
  async ensureDefault(network: NewNetwork & { default_for: string }, subnet: Omit<NewSubnet, 'network_id'>): Promise<NetworkRow> {
    const at = stamp();
    const id = network.id ?? crypto.randomUUID();
    await this.db.transaction(async (trx) => {
      const won = await trx('networks').insert({ ...network, id, created_at: at, updated_at: at }).onConflict('default_for').ignore().returning('id');
      // better-sqlite3 and pg both return the inserted rows; none when the unique key said no.
      if (won.length === 0) return;
      await trx('subnets').insert({ ...subnetToRow({ ...subnet, network_id: id }), id: subnet.id ?? crypto.randomUUID(), created_at: at, updated_at: at });
    });
    return (await this.defaultOf(network.default_for))!;
  }

  /** Moves a default network's subnet to another range (the engine refused the old one): compare-and-set on the old cidr. */
  /**
   * The subnet moves to another range of its size (compare-and-set on the old one), and the
   * addresses given from it move with it, each to the same offset in the new range.
   */
  async moveSubnet(subnetId: string, from: string, to: Pick<SubnetRow, 'cidr' | 'gateway_ip' | 'allocation_pools'>, rebase: (ip: string) => string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const n = await trx('subnets').where({ id: subnetId, cidr: from })
        .update({ cidr: to.cidr, gateway_ip: to.gateway_ip, allocation_pools: JSON.stringify(to.allocation_pools), updated_at: stamp(), revision_number: trx.raw('revision_number + 1') });
      if (n !== 1) return false;
      for (const r of await trx('ip_allocations').where({ subnet_id: subnetId })) {
        await trx('ip_allocations').where({ subnet_id: subnetId, ip_address: r.ip_address }).update({ ip_address: rebase(r.ip_address) });
      }
      return true;
    });
  }
  // --- net-core: the Networking API's reads and writes of networks and subnets ---

  /** Networks `projectId` may see: its own, shared and external ones (every one when undefined: an admin). */
  async listNetworks(projectId: string | undefined): Promise<NetworkRow[]> {
    const q = this.db('networks').orderBy('id');
    if (projectId !== undefined) q.where((w) => w.where({ project_id: projectId }).orWhere({ shared: true }).orWhere({ external: true }));
    return (await q).map(networkFromRow);
  }

  async listSubnets(networkIds: string[] | undefined): Promise<SubnetRow[]> {
    const q = this.db('subnets').orderBy('id');
    if (networkIds !== undefined) q.whereIn('network_id', networkIds);
    return (await q).map(subnetFromRow);
  }

  /** Subnet ids of each network, in creation order. */
  async subnetIdsByNetwork(networkIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(networkIds.map((id) => [id, []]));
    if (networkIds.length === 0) return out;
    for (const r of await this.db('subnets').whereIn('network_id', networkIds).orderBy(['created_at', 'id']).select('id', 'network_id')) out.get(r.network_id)?.push(r.id);
    return out;
  }

  async insertNetwork(trx: Knex.Transaction, n: NewNetwork & { id: string }): Promise<void> {
    const at = stamp();
    await trx('networks').insert({ ...n, revision_number: 0, created_at: at, updated_at: at });
  }

  /** Changes the given columns; false when the network is gone. */
  async updateNetwork(id: string, changes: Partial<NetworkRow>): Promise<boolean> {
    return (await this.db('networks').where({ id }).update({ ...changes, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') })) === 1;
  }

  /** Every subnet's range with its project and network (the overlap check's view). */
  async allCidrs(trx: Knex.Transaction): Promise<{ id: string; cidr: string; project_id: string; network_id: string }[]> {
    return trx('subnets').where({ ip_version: 4 }).select('id', 'cidr', 'project_id', 'network_id');
  }

  async insertSubnet(trx: Knex.Transaction, s: NewSubnet & { id: string }): Promise<void> {
    const at = stamp();
    await trx('subnets').insert({ ...subnetToRow(s), revision_number: 0, created_at: at, updated_at: at });
  }

  async updateSubnet(id: string, changes: Partial<Pick<SubnetRow, 'name' | 'description' | 'gateway_ip' | 'allocation_pools' | 'dns_nameservers' | 'host_routes' | 'enable_dhcp'>>): Promise<boolean> {
    const row: Record<string, unknown> = { ...changes };
    for (const k of ['allocation_pools', 'dns_nameservers', 'host_routes'] as const) if (changes[k] !== undefined) row[k] = JSON.stringify(changes[k]);
    return (await this.db('subnets').where({ id }).update({ ...row, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') })) === 1;
  }

  /** Deletes the subnet unless an address is allocated from it (one statement): 'gone' | 'inUse' | 'deleted'. */
  async deleteSubnet(id: string): Promise<'gone' | 'inUse' | 'deleted'> {
    const n = await this.db('subnets').where({ id }).whereNotExists((q) => q.select(this.db.raw('1')).from('ip_allocations').where({ subnet_id: id })).delete();
    if (n === 1) return 'deleted';
    return (await this.getSubnet(id)) ? 'inUse' : 'gone';
  }

  /**
   * Deletes the network with its subnets unless a port other than `ignoreOwners`' is on it (one
   * transaction, the network's row locked): 'gone' | 'inUse' | 'deleted'. The ignored ports go with it.
   */
  async deleteNetwork(id: string, ignoreOwners: (owner: string) => boolean): Promise<'gone' | 'inUse' | 'deleted'> {
    return this.db.transaction(async (trx) => {
      const row = await trx('networks').where({ id }).forUpdate().first('id');
      if (!row) return 'gone';
      const owners: string[] = await trx('ports').where({ network_id: id }).pluck('device_owner');
      if (owners.some((o) => !ignoreOwners(o))) return 'inUse';
      const ports = trx('ports').where({ network_id: id }).select('id');
      await trx('ip_allocations').where({ network_id: id }).delete();
      await trx('port_security_groups').whereIn('port_id', ports).delete();
      await trx('ports').where({ network_id: id }).delete();
      await trx('subnets').where({ network_id: id }).delete();
      await trx('networks').where({ id }).delete();
      return 'deleted';
    });
  }
}

