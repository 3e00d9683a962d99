/**
 * Ports and their addresses (migrations 20261208010000_networking, 20261208100000_port_attachments).
 * An address is handed out by inserting (subnet_id, ip_address) into ip_allocations: the primary
 * key decides between concurrent askers in any process (an insert that meets the key inserts
 * nothing and says so), never a read-then-write. A MAC is unique per network by the same means.
 */
import type { Knex } from 'knex';
import { stamp } from '../clock';
import { isConstraintViolation } from './dialect';
import type { Db } from './knex';

export interface PortRow {
  id: string;
  network_id: string;
  project_id: string;
  name: string;
  description: string;
  mac_address: string;
  device_id: string;
  device_owner: string;
  status: string;
  admin_state_up: boolean;
  port_security_enabled: boolean;
  /** binding:host_id */
  host: string;
  /** Made by the compute side for device_id's server (deleted with it). */
  auto_delete: boolean;
  attach_seq: number;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface FixedIp { subnet_id: string; ip_address: string }

const bool = (v: unknown) => v === true || v === 1 || v === '1';
export const portFromRow = (r: Record<string, unknown>): PortRow => ({
  ...(r as unknown as PortRow),
  admin_state_up: bool(r.admin_state_up), port_security_enabled: bool(r.port_security_enabled), auto_delete: bool(r.auto_delete), attach_seq: Number(r.attach_seq),
});

export type NewPort = Omit<PortRow, 'revision_number' | 'created_at' | 'updated_at' | 'status' | 'host' | 'attach_seq'> & Partial<Pick<PortRow, 'status' | 'host' | 'attach_seq'>>;

export interface PortQuery { projectId?: string; networkId?: string; deviceId?: string; ids?: string[] }

export class PortRepository {
  constructor(readonly db: Db) {}

  async get(id: string): Promise<PortRow | undefined> {
    const r = await this.db('ports').where({ id }).first();
    return r ? portFromRow(r) : undefined;
  }

  async list(q: PortQuery = {}): Promise<PortRow[]> {
    const b = this.db('ports');
    if (q.projectId !== undefined) b.where({ project_id: q.projectId });
    if (q.networkId !== undefined) b.where({ network_id: q.networkId });
    if (q.deviceId !== undefined) b.where({ device_id: q.deviceId });
    if (q.ids !== undefined) b.whereIn('id', q.ids);
    return (await b.orderBy([{ column: 'attach_seq' }, { column: 'created_at' }, { column: 'id' }])).map(portFromRow);
  }

  /** Fixed IPs of each port, in the order they were given. */
  async fixedIpsOf(portIds: string[]): Promise<Map<string, FixedIp[]>> {
    const out = new Map<string, FixedIp[]>(portIds.map((id) => [id, []]));
    if (portIds.length === 0) return out;
    for (const r of await this.db('ip_allocations').whereIn('port_id', portIds).orderBy(['subnet_id', 'ip_address'])) out.get(r.port_id)?.push({ subnet_id: r.subnet_id, ip_address: r.ip_address });
    return out;
  }

  async securityGroupsOf(portIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(portIds.map((id) => [id, []]));
    if (portIds.length === 0) return out;
    for (const r of await this.db('port_security_groups').whereIn('port_id', portIds).orderBy('security_group_id')) out.get(r.port_id)?.push(r.security_group_id);
    return out;
  }

  /** Addresses allocated from the subnet. */
  async allocatedIn(subnetId: string): Promise<Set<string>> {
    return new Set(await this.db('ip_allocations').where({ subnet_id: subnetId }).pluck('ip_address'));
  }

  /** Inserts the port with its groups; false when its MAC is taken on the network. */
  async insert(trx: Knex.Transaction, p: NewPort, groups: string[]): Promise<boolean> {
    const at = stamp();
    const won = await trx('ports').insert({ ...p, revision_number: 0, created_at: at, updated_at: at }).onConflict(['network_id', 'mac_address']).ignore().returning('id');
    if (won.length === 0) return false;
    if (groups.length) await trx('port_security_groups').insert(groups.map((g) => ({ port_id: p.id, security_group_id: g })));
    return true;
  }

  /** Gives `ip` of the subnet to the port: false when it is allocated already (the key decides). */
  async allocate(portId: string, networkId: string, subnetId: string, ip: string): Promise<boolean> {
    try {
      const won = await this.db('ip_allocations').insert({ subnet_id: subnetId, ip_address: ip, port_id: portId, network_id: networkId }).onConflict(['subnet_id', 'ip_address']).ignore().returning('port_id');
      return won.length === 1;
    } catch (e) {
      if (isConstraintViolation(e)) return false; // the subnet or the port went meanwhile
      throw e;
    }
  }

  async freeIps(portId: string, ips: FixedIp[]): Promise<void> {
    for (const ip of ips) await this.db('ip_allocations').where({ port_id: portId, subnet_id: ip.subnet_id, ip_address: ip.ip_address }).delete();
  }

  /** Changes the given columns; false when the port is gone. `from` makes it a compare-and-set. */
  async update(id: string, changes: Partial<PortRow>, from: Partial<PortRow> = {}): Promise<boolean> {
    return (await this.db('ports').where({ ...from, id }).update({ ...changes, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') })) === 1;
  }

  async setGroups(portId: string, groups: string[]): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx('port_security_groups').where({ port_id: portId }).delete();
      if (groups.length) await trx('port_security_groups').insert(groups.map((g) => ({ port_id: portId, security_group_id: g })));
    });
  }

  /** Updates every port of a device at once. */
  async updateDevice(deviceId: string, changes: Partial<PortRow>, where: Partial<PortRow> = {}): Promise<number> {
    return this.db('ports').where({ ...where, device_id: deviceId }).update({ ...changes, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
  }

  /** Deletes the port with its addresses and groups, and lets go of a floating IP on it. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await trx('floating_ips').where({ port_id: id }).update({ port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN', updated_at: stamp() });
      await trx('ip_allocations').where({ port_id: id }).delete();
      await trx('port_security_groups').where({ port_id: id }).delete();
      return (await trx('ports').where({ id }).delete()) === 1;
    });
  }
}
