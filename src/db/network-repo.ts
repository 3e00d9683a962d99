/**
 * Networks and subnets (migration 20261208010000_networking). Rows come out with their JSON
 * columns parsed and booleans as booleans, whichever database holds them. Writes that race are
 * decided by constraints: the project's default network is an insert on the unique
 * `default_for`, so concurrent first uses (in any process) make one.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
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
  async moveSubnet(subnetId: string, from: string, to: Pick<SubnetRow, 'cidr' | 'gateway_ip' | 'allocation_pools'>): Promise<boolean> {
    const n = await this.db('subnets').where({ id: subnetId, cidr: from })
      .update({ cidr: to.cidr, gateway_ip: to.gateway_ip, allocation_pools: JSON.stringify(to.allocation_pools), updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
    return n === 1;
  }
}
