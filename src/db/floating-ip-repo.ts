/**
 * Floating IPs (issue 17): rows of floating_ips, each with a port of its own on the external
 * network holding its address (device_owner network:floatingip, device_id = the floating IP), as
 * Neutron keeps them. Association is a compare-and-set on the current port_id; the unique
 * port_id key makes two floating IPs on one port impossible whatever the race.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
import { isConstraintViolation } from './dialect';
import { createPortWithAddress, deletePort } from './external-ports';
import type { Db } from './knex';

export interface FloatingIpRow {
  id: string;
  project_id: string;
  floating_network_id: string;
  subnet_id: string | null;
  floating_ip_address: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
  status: string;
  description: string;
  host: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

/** A port as a floating IP sees it: who owns it, where it runs, its IPv4 addresses. */
export interface InternalPort {
  id: string;
  project_id: string;
  network_id: string;
  name: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  device_id: string;
  device_owner: string;
  /** Where the port's server runs now: the port's binding, else its server's host ('' nowhere). */
  host: string;
  fixed_ips: { subnet_id: string; ip_address: string }[];
}

export interface FloatingIpFilter {
  project_id?: string;
  ids?: string[];
  port_id?: string;
}

export interface Association {
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
}

/** A floating IP's forward on a host: what the NAT there needs. */
export interface ForwardRow {
  id: string;
  floating_ip_address: string;
  fixed_ip_address: string;
  floating_network_id: string;
  /** The host its port's server runs on ('' nowhere). */
  target_host: string;
  /** The host the forward was installed on last ('' none). */
  host: string;
  status: string;
  /** The port's device (its server). */
  device_id: string;
}

export class FloatingIpAlreadyAssociated extends Error {}

export class FloatingIpRepository {
  constructor(readonly db: Db) {}

  async list(f: FloatingIpFilter = {}): Promise<FloatingIpRow[]> {
    const q = this.db('floating_ips').orderBy('created_at').orderBy('id');
    if (f.project_id !== undefined) q.where({ project_id: f.project_id });
    if (f.port_id !== undefined) q.where({ port_id: f.port_id });
    if (f.ids) q.whereIn('id', f.ids);
    return q;
  }

  async get(id: string): Promise<FloatingIpRow | undefined> {
    return this.db('floating_ips').where({ id }).first();
  }

  async count(projectId: string): Promise<number> {
    const r = await this.db('floating_ips').where({ project_id: projectId }).count<{ n: number | string }[]>({ n: '*' });
    return Number(r[0]?.n ?? 0);
  }

  /**
   * Makes a floating IP with its external port and address, in one transaction. Throws the
   * external-ports AllocationError when no (or not the asked-for) address can be had.
   */
  async create(f: { project_id: string; floating_network_id: string; subnet_id?: string; floating_ip_address?: string; description: string }): Promise<FloatingIpRow> {
    const id = crypto.randomUUID();
    await this.db.transaction(async (trx) => {
      const got = await createPortWithAddress(trx, {
        networkId: f.floating_network_id, projectId: '', deviceId: id, deviceOwner: 'network:floatingip', subnetId: f.subnet_id, ipAddress: f.floating_ip_address,
      });
      const at = stamp();
      await trx('floating_ips').insert({
        id, project_id: f.project_id, floating_network_id: f.floating_network_id, subnet_id: got.subnetId,
        floating_ip_address: got.ipAddress, description: f.description, status: 'DOWN', created_at: at, updated_at: at,
      });
    });
    return (await this.get(id))!;
  }

  /**
   * Sets the association if the floating IP is still associated with `from` (compare-and-set):
   * false when someone changed it first. Throws FloatingIpAlreadyAssociated when the port has
   * another floating IP (the unique key decides).
   */
  async associate(id: string, from: string | null, to: Association, description?: string): Promise<boolean> {
    const q = this.db('floating_ips').where({ id });
    if (from === null) q.whereNull('port_id');
    else q.where({ port_id: from });
    try {
      const n = await q.update({
        ...to, ...(description !== undefined ? { description } : {}), updated_at: stamp(), revision_number: this.db.raw('revision_number + 1'),
      });
      return n === 1;
    } catch (e) {
      if (isConstraintViolation(e)) throw new FloatingIpAlreadyAssociated();
      throw e;
    }
  }

  async setDescription(id: string, description: string): Promise<void> {
    await this.db('floating_ips').where({ id }).update({ description, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
  }

  /** Records where the forward is installed and whether it forwards (ACTIVE) or not (DOWN). */
  async setInstalled(id: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<void> {
    await this.db('floating_ips').where({ id }).whereNot(function () { this.where({ host, status }); }).update({ host, status, updated_at: stamp() });
  }

  /** The forward is no longer on `host` (compare-and-set: unless another host's sync recorded it since). */
  async uninstall(id: string, host: string): Promise<void> {
    await this.db('floating_ips').where({ id, host }).update({ host: '', status: 'DOWN', updated_at: stamp() });
  }

  /** Deletes the floating IP and its external port; false when it was gone already. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const n = await trx('floating_ips').where({ id }).delete();
      const ports = await trx('ports').where({ device_id: id, device_owner: 'network:floatingip' }).pluck('id') as string[];
      for (const p of ports) await deletePort(trx, p);
      return n === 1;
    });
  }

  /** Disassociates every floating IP of a port that is going away (Neutron's disassociate_floatingips). */
  async disassociatePort(portId: string): Promise<void> {
    await this.db('floating_ips').where({ port_id: portId })
      .update({ port_id: null, fixed_ip_address: null, router_id: null, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
  }

  /** A port with its addresses and the host its server runs on. */
  async port(id: string): Promise<InternalPort | undefined> {
    const r = await this.db('ports').leftJoin('servers', 'servers.id', 'ports.device_id').where('ports.id', id)
      .first('ports.*', this.db.raw('servers.host as server_host'));
    if (!r) return undefined;
    const ips = await this.db('ip_allocations').where({ port_id: id }).orderBy('ip_address').select('subnet_id', 'ip_address');
    return {
      id: r.id, project_id: r.project_id, network_id: r.network_id, name: r.name, mac_address: r.mac_address,
      admin_state_up: r.admin_state_up === true || r.admin_state_up === 1, status: r.status, device_id: r.device_id, device_owner: r.device_owner,
      host: r.host || r.server_host || '', fixed_ips: ips,
    };
  }

  /** Every associated floating IP with the host its forward belongs on, and where it is now. */
  async forwards(): Promise<ForwardRow[]> {
    const rows = await this.db('floating_ips as f').join('ports as p', 'p.id', 'f.port_id').leftJoin('servers as s', 's.id', 'p.device_id')
      .select('f.id', 'f.floating_ip_address', 'f.fixed_ip_address', 'f.floating_network_id', 'f.host', 'f.status', 'p.host as port_host', 'p.device_id', 's.host as server_host');
    return rows.map((r) => ({
      id: r.id, floating_ip_address: r.floating_ip_address, fixed_ip_address: r.fixed_ip_address, floating_network_id: r.floating_network_id,
      target_host: r.port_host || r.server_host || '', host: r.host, status: r.status, device_id: r.device_id,
    }));
  }

  /** Hosts whose NAT a change of the server's ports may change: where its floating IPs are and belong, and where port-less ones still are. */
  async hostsConcerning(serverId: string): Promise<string[]> {
    const mine = (await this.forwards()).filter((f) => f.device_id === serverId).flatMap((f) => [f.host, f.target_host]);
    const stray = (await this.strayInstalled()).map((f) => f.host);
    return [...new Set([...mine, ...stray])].filter((h) => h !== '');
  }

  /** Floating IPs installed somewhere (host set) that no longer have a port: to be marked DOWN. */
  async strayInstalled(): Promise<{ id: string; host: string }[]> {
    return this.db('floating_ips').whereNull('port_id').whereNot({ host: '' }).select('id', 'host');
  }

  /** The external networks' subnet ranges (what the NAT owns on an external interface). */
  async externalRanges(): Promise<string[]> {
    return this.db('subnets').join('networks', 'networks.id', 'subnets.network_id').where('networks.external', true).where('subnets.ip_version', 4)
      .orderBy('subnets.cidr').pluck('subnets.cidr');
  }
}
