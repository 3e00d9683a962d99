/**
 * The compute API's floating IP proxy (issue 17): os-floating-ips, os-floating-ip-pools and the
 * addFloatingIp/removeFloatingIp server actions answer from the Networking API's floating IP
 * records, as Nova does with Neutron behind it (nova/api/openstack/compute/floating_ips.py,
 * floating_ip_pools.py, nova/network/neutron.py): a pool is an external network (named by name
 * or id), a floating IP is shown as {id, ip, pool, fixed_ip, instance_id}.
 *
 * NOTE(openstack): Nova's default pool is the option [neutron]default_floating_pool ('nova');
 * novadock has no such option: without a pool, the external network named 'nova' is used, else
 * the only external network there is.
 */
import type { RequestContext } from '../http/context';
import type { NetworkRepository, NetworkRow } from '../db/network-repo';
import type { PortRepository } from '../db/port-repo';
import { badRequest, conflict, DomainError, forbidden, notFound } from '../errors';
import type { FloatingIp, FloatingIpService } from './floating-ips';
import { NeutronError } from './errors';

export interface NovaFloatingIp {
  id: string;
  ip: string;
  pool: string;
  fixed_ip: string | null;
  instance_id: string | null;
}

export class NovaFloatingIps {
  constructor(private readonly service: FloatingIpService, private readonly networks: NetworkRepository, private readonly ports: PortRepository) {}

  /** The caller's project's floating IPs (Nova lists by project, an admin's too). */
  async list(ctx: RequestContext): Promise<NovaFloatingIp[]> {
    const mine = (await this.service.list(ctx)).filter((f) => f.fip.project_id === ctx.projectId);
    return Promise.all(mine.map((f) => this.view(f)));
  }

  async show(ctx: RequestContext, id: string): Promise<NovaFloatingIp> {
    return this.view(await this.found(ctx, id));
  }

  /** A floating IP from `pool` (an external network's name or id). */
  async create(ctx: RequestContext, pool: string | undefined): Promise<NovaFloatingIp> {
    const network = await this.pool(ctx, pool);
    try {
      return this.view(await this.service.create(ctx, { floating_network_id: network.id }));
    } catch (e) {
      if (!(e instanceof NeutronError)) throw e;
      const inPool = pool ? ` in pool ${pool}` : '';
      if (e.type === 'OverQuota') throw forbidden(pool ? `IP allocation over quota in pool ${pool}.` : 'IP allocation over quota.');
      if (e.type === 'ExternalIpAddressExhausted') throw notFound(`No more floating IPs${inPool || ' available'}.`);
      if (e.kind === 'invalid') throw badRequest(e.message);
      throw e;
    }
  }

  /** Disassociates and releases (202). */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    const f = await this.found(ctx, id);
    await this.service.remove(ctx, f.fip.id);
  }

  /** os-floating-ip-pools: the external networks, by name (or id when unnamed). */
  async pools(ctx: RequestContext): Promise<{ name: string }[]> {
    return (await this.externals(ctx)).map((n) => ({ name: n.name || n.id }));
  }

  /** addFloatingIp: the floating IP `address` to the server's port holding `fixedAddress` (else its first IPv4 address). */
  async add(ctx: RequestContext, serverId: string, address: string, fixedAddress?: string): Promise<void> {
    const ports = await this.ports.list({ deviceId: serverId });
    const ips = await this.ports.fixedIpsOf(ports.map((p) => p.id));
    const fixed = ports.flatMap((p) => (ips.get(p.id) ?? []).map((ip) => ({ port: p.id, ip: ip.ip_address })));
    if (fixed.length === 0) throw badRequest('No fixed IPs associated to instance');
    const chosen = fixedAddress ? fixed.find((f) => f.ip === fixedAddress) : fixed.find((f) => !f.ip.includes(':'));
    if (fixedAddress && !chosen) throw badRequest('Specified fixed address not assigned to instance');
    if (!chosen) throw badRequest(`Unable to associate floating IP ${address} to any fixed IPs for instance ${serverId}. Instance has no fixed IPv4 addresses to associate.`);
    const fip = await this.byAddress(ctx, address);
    if (!fip) throw notFound('floating IP not found');
    if (fip.fip.port_id) throw badRequest('floating IP is already associated');
    try {
      await this.service.update(ctx, fip.fip.id, { port_id: chosen.port, fixed_ip_address: chosen.ip });
    } catch (e) {
      if (e instanceof NeutronError && e.type === 'FloatingIPPortAlreadyAssociated') throw badRequest('floating IP is already associated');
      if (e instanceof DomainError && !(e instanceof NeutronError)) throw e;
      throw badRequest(`Unable to associate floating IP ${address} to fixed IP ${chosen.ip} for instance ${serverId}. Error: ${(e as Error).message}`);
    }
  }

  /** removeFloatingIp: 409 unless `address` is associated with this server. */
  async remove(ctx: RequestContext, serverId: string, address: string): Promise<void> {
    const fip = await this.byAddress(ctx, address);
    if (!fip) throw notFound('floating IP not found');
    if (!fip.port || fip.port.device_id !== serverId) throw conflict(`Floating IP ${address} is not associated with instance ${serverId}.`);
    await this.service.update(ctx, fip.fip.id, { port_id: null });
  }

  private async byAddress(ctx: RequestContext, address: string): Promise<FloatingIp | undefined> {
    return (await this.service.list(ctx)).find((f) => f.fip.floating_ip_address === address);
  }

  private async found(ctx: RequestContext, id: string): Promise<FloatingIp> {
    try {
      return await this.service.show(ctx, id);
    } catch (e) {
      if (e instanceof NeutronError && e.kind === 'notFound') throw notFound(`Floating IP not found for ID ${id}`);
      throw e;
    }
  }

  private async externals(ctx: RequestContext): Promise<NetworkRow[]> {
    return (await this.networks.listNetworks(ctx.isAdmin ? undefined : ctx.projectId)).filter((n) => n.external);
  }

  private async pool(ctx: RequestContext, pool: string | undefined): Promise<NetworkRow> {
    const externals = await this.externals(ctx);
    const named = (p: string) => externals.filter((n) => n.id === p || n.name === p);
    const found = pool !== undefined ? named(pool) : named('nova').length > 0 ? named('nova') : externals.length === 1 ? externals : [];
    if (found.length === 0) throw notFound('Floating IP pool not found.');
    if (found.length > 1) throw conflict(`Multiple floating IP pools matches found for name '${pool ?? 'nova'}'`);
    return found[0];
  }

  private async view({ fip, port }: FloatingIp): Promise<NovaFloatingIp> {
    const network = await this.networks.getNetwork(fip.floating_network_id);
    return { id: fip.id, ip: fip.floating_ip_address, pool: network?.name || fip.floating_network_id, fixed_ip: fip.fixed_ip_address, instance_id: port?.device_id ?? null };
  }
}
