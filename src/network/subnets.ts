/**
 * Subnets (issue 17): IPv4 ranges of a network, validated as Neutron validates them (neutron-lib
 * validators, neutron/db/ipam_backend_mixin.py), with the answers Neutron gives.
 *
 * - `cidr` is IPv4 CIDR at its network address, /8 to /30 (an engine network needs room for a
 *   gateway and servers). IPv6 is refused (Docker project networks here are IPv4 only).
 * - gateway: the first address by default; `gateway_ip: null` for none; else inside the range,
 *   neither its network nor its broadcast address ("Gateway is not valid on subnet").
 * - allocation pools: inside the range without its network and broadcast addresses, start ≤ end,
 *   not overlapping each other, not holding the gateway; by default the range less the gateway.
 * - Overlap, decided in a transaction serialized for the whole deployment, so concurrent creates
 *   cannot both pass: with another subnet of the project → Neutron's 400; DEPARTURE from Neutron,
 *   which lets projects overlap: Docker engines cannot hold two networks whose ranges overlap, so
 *   a range overlapping any other project's subnet, or the pool project default networks are
 *   taken from (NOVADOCK_PROJECT_NETWORK_RANGE), is refused too (400, saying why).
 * - A subnet with addresses allocated cannot be deleted (409 SubnetInUse).
 */
import crypto from 'node:crypto';
import type { NetworkRepository, SubnetRow, AllocationPool, HostRoute } from '../db/network-repo';
import type { NetworkQuotaRepository } from '../db/network-quota-repo';
import type { RequestContext } from '../http/context';
import { neutron, neutronCore } from './errors';
import { fromInt, isIpv4, isIpv6, isIpv6Cidr, overlaps, parseCidr, Span, spanOf, toInt } from './ip';
import type { NetworkService } from './networks';
import { checkAdminOnly, ownerOf } from './networks';
import type { NetworkQuotas } from './quotas';
import { BOOL, DESCRIPTION, NAME, resourceBody, ResourceSpec, toBool } from './validation';
import { subnetView } from './views';

const POOLS = { type: 'array', maxItems: 64, items: { type: 'object', required: ['start', 'end'], additionalProperties: false, properties: { start: { type: 'string' }, end: { type: 'string' } } } };
const ROUTES = { type: 'array', maxItems: 20, items: { type: 'object', required: ['destination', 'nexthop'], additionalProperties: false, properties: { destination: { type: 'string' }, nexthop: { type: 'string' } } } };
const NAMESERVERS = { type: 'array', maxItems: 5, items: { type: 'string', maxLength: 45 } };
const NULL_ONLY = { type: 'null' };

export const SUBNET_SPEC: ResourceSpec = {
  name: { schema: NAME, post: true, put: true },
  description: { schema: DESCRIPTION, post: true, put: true },
  network_id: { schema: { type: 'string', maxLength: 36 }, post: true },
  ip_version: { schema: { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^[0-9]+$' }] }, post: true },
  cidr: { schema: { type: 'string', maxLength: 64 }, post: true },
  gateway_ip: { schema: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'null' }] }, post: true, put: true },
  allocation_pools: { schema: POOLS, post: true, put: true },
  dns_nameservers: { schema: NAMESERVERS, post: true, put: true },
  host_routes: { schema: ROUTES, post: true, put: true },
  enable_dhcp: { schema: BOOL, post: true, put: true },
  tenant_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  project_id: { schema: { type: 'string', maxLength: 255 }, post: true },
  subnetpool_id: { schema: NULL_ONLY, post: true },
  use_default_subnet_pool: { schema: { enum: [false] }, post: true },
  ipv6_ra_mode: { schema: NULL_ONLY, post: true },
  ipv6_address_mode: { schema: NULL_ONLY, post: true },
  segment_id: { schema: NULL_ONLY, post: true, put: true },
  service_types: { schema: { type: 'array', maxItems: 0 }, post: true, put: true },
};

const poolText = (p: AllocationPool) => `${p.start}-${p.end}`;

/** Neutron's default pools: the range less its network and broadcast addresses and the gateway. */
export function defaultPools(cidr: string, gateway: string | null): AllocationPool[] {
  const [a, b] = spanOf(cidr);
  const [first, last] = [a + 1, b - 1];
  const g = gateway !== null && isIpv4(gateway) ? toInt(gateway) : -1;
  const out: AllocationPool[] = [];
  if (g >= first && g <= last) {
    if (g > first) out.push({ start: fromInt(first), end: fromInt(g - 1) });
    if (g < last) out.push({ start: fromInt(g + 1), end: fromInt(last) });
  } else {
    out.push({ start: fromInt(first), end: fromInt(last) });
  }
  return out;
}

export function checkGateway(cidr: string, gateway: string | null): void {
  if (gateway === null) return;
  if (!isIpv4(gateway)) throw neutronCore.badAttribute('gateway_ip', `'${gateway}' is not a valid IP address`);
  const [a, b] = spanOf(cidr);
  const g = toInt(gateway);
  if (g <= a || g >= b) throw neutron.invalidInput('Gateway is not valid on subnet');
}

export function checkPools(cidr: string, pools: AllocationPool[], gateway: string | null): void {
  const [a, b] = spanOf(cidr);
  const spans: [Span, AllocationPool][] = [];
  for (const p of pools) {
    if (!isIpv4(p.start) || !isIpv4(p.end) || toInt(p.start) > toInt(p.end)) throw neutronCore.invalidAllocationPool(poolText(p));
    const s: Span = [toInt(p.start), toInt(p.end)];
    if (s[0] <= a || s[1] >= b) throw neutronCore.outOfBoundsAllocationPool(poolText(p), cidr);
    for (const [other, q] of spans) if (overlaps(s, other)) throw neutronCore.overlappingAllocationPools(poolText(q), poolText(p), cidr);
    spans.push([s, p]);
  }
  if (gateway !== null) {
    const g = toInt(gateway);
    const hit = spans.find(([s]) => g >= s[0] && g <= s[1]);
    if (hit) throw neutronCore.gatewayConflict(gateway, poolText(hit[1]));
  }
}

function checkNameservers(list: string[]): void {
  const seen = new Set<string>();
  for (const d of list) {
    if (!isIpv4(d) && !isIpv6(d)) throw neutronCore.badAttribute('dns_nameservers', `'${d}' is not a valid nameserver. '${d}' is not a valid IP address`);
    if (seen.has(d)) throw neutronCore.badAttribute('dns_nameservers', `Duplicate nameserver '${d}'`);
    seen.add(d);
  }
}

function checkRoutes(list: HostRoute[]): void {
  for (const r of list) {
    if (parseCidr(r.destination) === undefined || !isIpv4(r.nexthop)) throw neutronCore.badAttribute('host_routes', `Invalid data format for hostroute: '${JSON.stringify(r)}'`);
  }
}

export interface SubnetServiceDeps {
  repo: NetworkRepository;
  networks: NetworkService;
  quotas: NetworkQuotas;
  quotaRepo: NetworkQuotaRepository;
  /** NOVADOCK_PROJECT_NETWORK_RANGE: the pool default networks' subnets come from. */
  projectRange: string;
}

export class SubnetService {
  constructor(private readonly deps: SubnetServiceDeps) {}

  private async visible(ctx: RequestContext, id: string): Promise<SubnetRow> {
    const s = await this.deps.repo.getSubnet(id);
    if (!s) throw neutron.subnetNotFound(id);
    const n = await this.deps.repo.getNetwork(s.network_id);
    if (!n || !this.deps.networks.canSee(ctx, n)) throw neutron.subnetNotFound(id);
    return s;
  }

  private async owned(ctx: RequestContext, id: string, rule: string): Promise<SubnetRow> {
    const s = await this.visible(ctx, id);
    if (!ctx.isAdmin && s.project_id !== ctx.projectId) throw neutron.policy(rule);
    return s;
  }

  async list(ctx: RequestContext): Promise<Record<string, unknown>[]> {
    await this.deps.networks.list(ctx); // makes the default network
    const rows = ctx.isAdmin ? await this.deps.repo.listSubnets(undefined) : await this.deps.repo.listSubnets((await this.deps.repo.listNetworks(ctx.projectId)).map((n) => n.id));
    return rows.map(subnetView);
  }

  async show(ctx: RequestContext, id: string): Promise<Record<string, unknown>> {
    return subnetView(await this.visible(ctx, id));
  }

  async create(ctx: RequestContext, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'subnet', SUBNET_SPEC, 'post', ['network_id', 'ip_version']);
    checkAdminOnly(ctx, SUBNET_SPEC, a, 'create_subnet');
    const network = await this.deps.networks.visible(ctx, a.network_id as string);
    const projectId = ownerOf(ctx, a, 'create_subnet:tenant_id');
    if (!ctx.isAdmin && network.project_id !== ctx.projectId) throw neutron.policy('create_subnet:network_id');
    const version = Number(a.ip_version);
    if (version !== 4 && version !== 6) throw neutronCore.badAttribute('ip_version', `${String(a.ip_version)} is not in [4, 6]`);
    if (a.cidr === undefined) throw neutronCore.badRequest('A cidr must be specified in the absence of a subnet pool');
    if (version === 6 || isIpv6Cidr(a.cidr)) throw neutron.invalidInput('IPv6 subnets are not served: the Docker networks behind this cloud are IPv4');
    const cidr = parseCidr(a.cidr);
    if (cidr === undefined) throw neutronCore.badAttribute('cidr', `'${String(a.cidr)}' is not a valid IP subnet`);
    if (cidr !== a.cidr) throw neutronCore.badAttribute('cidr', `'${String(a.cidr)}' isn't a recognized IP subnet cidr, '${cidr}' is recommended`);
    const prefix = Number(cidr.split('/')[1]);
    if (prefix < 8 || prefix > 30) throw neutron.invalidInput(`Subnet cidr ${cidr}: the prefix length must be from 8 to 30 (an engine network needs a gateway and room for servers)`);
    const gateway = a.gateway_ip === undefined ? fromInt(spanOf(cidr)[0] + 1) : (a.gateway_ip as string | null);
    checkGateway(cidr, gateway);
    const pools = (a.allocation_pools as AllocationPool[] | undefined) ?? defaultPools(cidr, gateway);
    checkPools(cidr, pools, gateway);
    const dns = (a.dns_nameservers as string[] | undefined) ?? [];
    checkNameservers(dns);
    const routes = (a.host_routes as HostRoute[] | undefined) ?? [];
    checkRoutes(routes);
    const id = crypto.randomUUID();
    const mine = spanOf(cidr);
    await this.deps.quotaRepo.serialized('network-subnet-ranges', async (trx) => {
      await this.deps.quotas.check(projectId, 'subnet', trx);
      const overlapText = `Requested subnet with cidr: ${cidr} for network: ${network.id} overlaps with another subnet`;
      const others = await this.deps.repo.allCidrs(trx);
      if (overlaps(mine, spanOf(this.deps.projectRange))) {
        throw neutron.invalidInput(`${overlapText}: ${this.deps.projectRange} is reserved for the projects' default networks (NOVADOCK_PROJECT_NETWORK_RANGE)`);
      }
      if (others.some((o) => o.project_id === projectId && overlaps(mine, spanOf(o.cidr)))) throw neutron.invalidInput(overlapText);
      if (others.some((o) => overlaps(mine, spanOf(o.cidr)))) {
        throw neutron.invalidInput(`${overlapText} of another project (the Docker engines behind this cloud cannot hold overlapping networks)`);
      }
      await this.deps.repo.insertSubnet(trx, {
        id, network_id: network.id, project_id: projectId, name: (a.name as string | undefined) ?? '', description: (a.description as string | undefined) ?? '',
        ip_version: 4, cidr, gateway_ip: gateway, allocation_pools: pools, dns_nameservers: dns, host_routes: routes, enable_dhcp: toBool(a.enable_dhcp ?? true)!,
      });
    });
    return this.show(ctx, id);
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'subnet', SUBNET_SPEC, 'put');
    const s = await this.owned(ctx, id, 'update_subnet');
    const gateway = a.gateway_ip === undefined ? s.gateway_ip : (a.gateway_ip as string | null);
    if (a.gateway_ip !== undefined) checkGateway(s.cidr, gateway);
    const pools = (a.allocation_pools as AllocationPool[] | undefined) ?? s.allocation_pools;
    if (a.gateway_ip !== undefined || a.allocation_pools !== undefined) checkPools(s.cidr, pools, gateway);
    if (a.dns_nameservers !== undefined) checkNameservers(a.dns_nameservers as string[]);
    if (a.host_routes !== undefined) checkRoutes(a.host_routes as HostRoute[]);
    const changes: Parameters<NetworkRepository['updateSubnet']>[1] = {};
    if (a.name !== undefined) changes.name = a.name as string;
    if (a.description !== undefined) changes.description = a.description as string;
    if (a.gateway_ip !== undefined) changes.gateway_ip = gateway;
    if (a.allocation_pools !== undefined) changes.allocation_pools = pools;
    if (a.dns_nameservers !== undefined) changes.dns_nameservers = a.dns_nameservers as string[];
    if (a.host_routes !== undefined) changes.host_routes = a.host_routes as HostRoute[];
    if (a.enable_dhcp !== undefined) changes.enable_dhcp = toBool(a.enable_dhcp)!;
    if (Object.keys(changes).length && !(await this.deps.repo.updateSubnet(id, changes))) throw neutron.subnetNotFound(id);
    return this.show(ctx, id);
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    await this.owned(ctx, id, 'delete_subnet');
    const outcome = await this.deps.repo.deleteSubnet(id);
    if (outcome === 'gone') throw neutron.subnetNotFound(id);
    if (outcome === 'inUse') throw neutron.subnetInUse(id);
  }
}
