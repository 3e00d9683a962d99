/**
 * Networking rows for tests of the floating IP and router parts (issue 17), inserted directly:
 * an external network with its subnet, a project network with a subnet, and a port as a booted
 * server's would be (device compute:nova, one fixed IP, bound to a host).
 */
import crypto from 'node:crypto';
import type { Db } from '../../src/db/knex';

const at = () => new Date().toISOString();

export async function insertNetwork(db: Db, n: { projectId: string; name: string; external?: boolean; cidr: string; pool: [string, string]; gateway?: string | null }): Promise<{ networkId: string; subnetId: string }> {
  const networkId = crypto.randomUUID();
  const subnetId = crypto.randomUUID();
  await db('networks').insert({ id: networkId, project_id: n.projectId, name: n.name, external: n.external ?? false, created_at: at(), updated_at: at() });
  await db('subnets').insert({
    id: subnetId, network_id: networkId, project_id: n.projectId, name: `${n.name}-subnet`, cidr: n.cidr, gateway_ip: n.gateway === undefined ? null : n.gateway,
    allocation_pools: JSON.stringify([{ start: n.pool[0], end: n.pool[1] }]), created_at: at(), updated_at: at(),
  });
  return { networkId, subnetId };
}

export async function insertPort(db: Db, p: { projectId: string; networkId: string; subnetId?: string; ip?: string; deviceId?: string; deviceOwner?: string; host?: string }): Promise<string> {
  const id = crypto.randomUUID();
  const mac = `fa:16:3e:${crypto.randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
  await db('ports').insert({
    id, network_id: p.networkId, project_id: p.projectId, mac_address: mac, device_id: p.deviceId ?? crypto.randomUUID(),
    device_owner: p.deviceOwner ?? 'compute:nova', status: 'ACTIVE', host: p.host ?? '', created_at: at(), updated_at: at(),
  });
  if (p.ip && p.subnetId) await db('ip_allocations').insert({ subnet_id: p.subnetId, ip_address: p.ip, port_id: id, network_id: p.networkId });
  return id;
}
