/**
 * Ports that novadock makes for itself on an external network — a floating IP's
 * (device_owner network:floatingip) and a router's gateway (network:router_gateway) — with one
 * address each from the network's IPv4 subnets, in the same ip_allocations table as every port's
 * (issue 17). Addresses are handed out under a per-subnet serialization (PostgreSQL's advisory
 * lock; SQLite's one writer), and the (subnet, address) primary key is the last word.
 */
import crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { stamp } from '../clock';
import { serialize } from './dialect';
import type { Knex } from 'knex';
import { subnetFromRow, type SubnetRow } from './network-repo';

export type Trx = Knex.Transaction;

/** Why no address could be had. */
export type AllocationFailure = 'exhausted' | 'in-use' | 'outside';

export class AllocationError extends Error {
  constructor(readonly reason: AllocationFailure, readonly subnetId: string) {
    super(`address allocation: ${reason}`);
  }
}

const toInt = (ip: string) => ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0);
const fromInt = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** True when `ip` is an IPv4 address inside `cidr`. */
export function inCidr(ip: string, cidr: string): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return false;
  return ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parseCIDR(cidr));
}

/** The first address of `subnet`'s pools not in `used`, or undefined. */
export function firstFree(subnet: Pick<SubnetRow, 'allocation_pools' | 'gateway_ip'>, used: Set<string>): string | undefined {
  for (const pool of subnet.allocation_pools) {
    for (let n = toInt(pool.start), end = toInt(pool.end); n <= end; n++) {
      const ip = fromInt(n);
      if (!used.has(ip) && ip !== subnet.gateway_ip) return ip;
    }
  }
  return undefined;
}

/** The network's IPv4 subnets, oldest first. */
export async function ipv4SubnetsOf(trx: Knex | Trx, networkId: string): Promise<SubnetRow[]> {
  return (await trx('subnets').where({ network_id: networkId, ip_version: 4 }).orderBy('created_at')).map(subnetFromRow);
}

export interface NewExternalPort {
  networkId: string;
  /** The port's project ('' for a floating IP's, as Neutron keeps them from the project). */
  projectId: string;
  deviceId: string;
  deviceOwner: 'network:floatingip' | 'network:router_gateway' | 'network:router_interface';
  /** Take the address from this subnet only. */
  subnetId?: string;
  /** This address exactly. */
  ipAddress?: string;
}

/**
 * Makes the port with one address, inside the caller's transaction: the asked-for address (its
 * subnet found by range), else the first free one of the (asked-for, else first fitting) subnet.
 * Throws AllocationError when the address is taken, outside every subnet, or none is left.
 */
export async function createPortWithAddress(trx: Trx, p: NewExternalPort): Promise<{ portId: string; subnetId: string; ipAddress: string }> {
  const subnets = (await ipv4SubnetsOf(trx, p.networkId)).filter((s) => !p.subnetId || s.id === p.subnetId);
  if (subnets.length === 0) throw new AllocationError('exhausted', p.subnetId ?? p.networkId);
  const portId = crypto.randomUUID();
  const at = stamp();
  await trx('ports').insert({
    id: portId, network_id: p.networkId, project_id: p.projectId, mac_address: randomMac(), device_id: p.deviceId,
    device_owner: p.deviceOwner, status: p.deviceOwner === 'network:router_interface' ? 'ACTIVE' : 'N/A', created_at: at, updated_at: at,
  });
  if (p.ipAddress) {
    const subnet = subnets.find((s) => inCidr(p.ipAddress!, s.cidr));
    if (!subnet) throw new AllocationError('outside', subnets[0].id);
    await serialize(trx, `subnet:${subnet.id}`);
    const taken = await trx('ip_allocations').where({ subnet_id: subnet.id, ip_address: p.ipAddress }).first();
    if (taken) throw new AllocationError('in-use', subnet.id);
    await trx('ip_allocations').insert({ subnet_id: subnet.id, ip_address: p.ipAddress, port_id: portId, network_id: p.networkId });
    return { portId, subnetId: subnet.id, ipAddress: p.ipAddress };
  }
  for (const subnet of subnets) {
    await serialize(trx, `subnet:${subnet.id}`);
    const used = new Set<string>((await trx('ip_allocations').where({ subnet_id: subnet.id }).pluck('ip_address')) as string[]);
    const ip = firstFree(subnet, used);
    if (!ip) continue;
    await trx('ip_allocations').insert({ subnet_id: subnet.id, ip_address: ip, port_id: portId, network_id: p.networkId });
    return { portId, subnetId: subnet.id, ipAddress: ip };
  }
  throw new AllocationError('exhausted', subnets[0].id);
}

/** Deletes a port novadock made (its addresses go with it). */
export async function deletePort(trx: Knex | Trx, portId: string): Promise<void> {
  await trx('ip_allocations').where({ port_id: portId }).delete();
  await trx('ports').where({ id: portId }).delete();
}

/** A MAC in OpenStack's base (fa:16:3e), as Neutron's base_mac makes them. */
function randomMac(): string {
  return ['fa', '16', '3e', ...[...crypto.randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
