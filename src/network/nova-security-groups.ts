/**
 * The compute API's security group proxy (issue 17): os-security-groups, os-security-group-rules,
 * a server's groups and addSecurityGroup/removeSecurityGroup answer from the Networking API's
 * records, as Nova does with Neutron behind it (nova/network/security_group_api.py): groups in
 * Nova's form (ingress rules only), a group named by name or id within the caller's project, and a
 * server's membership held by its ports (port_security_groups).
 */
import type { RequestContext } from '../http/context';
import type { SecurityGroupRepository, SecurityGroupRow } from '../db/security-group-repo';
import { badRequest, DomainError, notFound } from '../errors';
import type { GroupWithRules, SecurityGroupService } from './security-groups';
import type { PortEvents } from './port-events';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export interface NovaRule {
  id: string;
  parent_group_id: string;
  ip_protocol: string | null;
  from_port: number | null;
  to_port: number | null;
  group: { name?: string; tenant_id?: string };
  ip_range: { cidr?: string };
}

export interface NovaGroup {
  id: string;
  name: string;
  description: string;
  tenant_id: string;
  rules: NovaRule[];
}

export class NovaSecurityGroups {
  constructor(private readonly groups: SecurityGroupService, private readonly repo: SecurityGroupRepository, private readonly portEvents: PortEvents) {}

  /** Nova's form of a group; a rule whose remote group is gone is left out (as Nova does). */
  private async nova({ group, rules }: GroupWithRules): Promise<NovaGroup> {
    const out: NovaRule[] = [];
    for (const r of rules.filter((x) => x.direction === 'ingress')) {
      let from = r.port_range_min;
      let to = r.port_range_max;
      if (r.protocol && from === null && to === null) [from, to] = ['tcp', 'udp'].includes(r.protocol) ? [1, 65535] : [-1, -1];
      const rule: NovaRule = { id: r.id, parent_group_id: r.security_group_id, ip_protocol: r.protocol, from_port: from, to_port: to, group: {}, ip_range: {} };
      if (r.remote_group_id) {
        const remote = await this.repo.get(r.remote_group_id);
        if (!remote) continue;
        rule.group = { name: remote.name, tenant_id: remote.project_id };
      } else {
        rule.ip_range = { cidr: r.remote_ip_prefix ?? '0.0.0.0/0' };
      }
      out.push(rule);
    }
    return { id: group.id, name: group.name, description: group.description, tenant_id: group.project_id, rules: out };
  }

  /** Neutron's 404 in Nova's words. */
  private async translate<T>(id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DomainError && e.kind === 'notFound') throw notFound(`Security group ${id} not found.`);
      throw e;
    }
  }

  async list(ctx: RequestContext, allTenants: boolean): Promise<NovaGroup[]> {
    const all = await this.groups.list(ctx);
    const mine = allTenants && ctx.isAdmin ? all : all.filter((g) => g.group.project_id === ctx.projectId);
    return Promise.all(mine.map((g) => this.nova(g)));
  }

  async get(ctx: RequestContext, id: string): Promise<NovaGroup> {
    if (!UUID.test(id)) throw badRequest('Security group id should be uuid');
    return this.nova(await this.translate(id, () => this.groups.get(ctx, id)));
  }

  async create(ctx: RequestContext, name: string, description: string): Promise<NovaGroup> {
    return this.nova(await this.groups.create(ctx, { name, description }));
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    if (!UUID.test(id)) throw badRequest('Security group id should be uuid');
    await this.translate(id, () => this.groups.delete(ctx, id));
  }

  /**
   * os-security-group-rules: an ingress rule in Nova's terms (ip_protocol, from_port/to_port with
   * -1 for any ICMP type or code, cidr or group_id), made through the Networking API's checks.
   */
  async createRule(ctx: RequestContext, r: { parent_group_id: string; ip_protocol?: string | null; from_port?: number | string | null; to_port?: number | string | null; cidr?: string | null; group_id?: string | null }): Promise<NovaRule> {
    if (!UUID.test(r.parent_group_id)) throw badRequest('Security group id should be uuid');
    const port = (v: number | string | null | undefined) => (v === undefined || v === null || v === '' || Number(v) === -1 ? null : v);
    const body: Record<string, unknown> = {
      security_group_id: r.parent_group_id, direction: 'ingress', ethertype: r.cidr && r.cidr.includes(':') ? 'IPv6' : 'IPv4',
      protocol: r.ip_protocol ? r.ip_protocol.toLowerCase() : null, port_range_min: port(r.from_port), port_range_max: port(r.to_port),
    };
    if (r.group_id) body.remote_group_id = r.group_id;
    else if (r.cidr) body.remote_ip_prefix = r.cidr;
    try {
      const { rule } = await this.groups.createRule(ctx, body);
      const group = await this.groups.get(ctx, rule.security_group_id);
      const nova = await this.nova({ group: group.group, rules: [rule] });
      return nova.rules[0];
    } catch (e) {
      if (e instanceof DomainError && e.kind === 'notFound') throw notFound(`Security group ${r.group_id && e.message.includes(r.group_id) ? r.group_id : r.parent_group_id} not found.`);
      if (e instanceof DomainError && (e.kind === 'invalid' || e.kind === 'conflict')) throw badRequest(e.message);
      throw e;
    }
  }

  async deleteRule(ctx: RequestContext, id: string): Promise<void> {
    try {
      await this.groups.deleteRule(ctx, id);
    } catch (e) {
      if (e instanceof DomainError && e.kind === 'notFound') throw notFound(`Security group rule ${id} not found.`);
      throw e;
    }
  }

  /** The project's group called (or with the id) `nameOrId`, as Nova finds it; Nova's 404 otherwise. */
  private async find(ctx: RequestContext, nameOrId: string): Promise<SecurityGroupRow> {
    const byId = UUID.test(nameOrId) ? await this.repo.get(nameOrId) : undefined;
    if (byId && byId.project_id === ctx.projectId) return byId;
    let named = await this.repo.byName(ctx.projectId, nameOrId);
    // The project's `default` group exists from its first use on: this may be it.
    if (named.length === 0 && nameOrId === 'default') named = [await this.repo.ensureDefault(ctx.projectId)];
    if (named.length > 1) throw new DomainError('conflict', `Multiple security_group matches found for name '${nameOrId}', use an ID to be more specific.`);
    if (named.length === 0) throw notFound(`Security group ${nameOrId} is not found for project ${ctx.projectId}`);
    return named[0];
  }

  /** The groups of the server's ports, in Nova's form; undefined when the server has no ports. */
  async ofServer(serverId: string): Promise<NovaGroup[] | undefined> {
    const ports = await this.repo.serverPorts(serverId);
    if (ports.length === 0) return undefined;
    const ids = [...new Set(ports.flatMap((p) => p.groupIds))];
    const groups = await this.repo.getMany(ids);
    const rules = await this.repo.rulesOfGroups(ids);
    return Promise.all(groups.map((group) => this.nova({ group, rules: rules.filter((r) => r.security_group_id === group.id) })));
  }

  /** The names of the groups the server's ports are in; undefined when it has no ports. */
  async namesOfServer(serverId: string): Promise<string[] | undefined> {
    const ports = await this.repo.serverPorts(serverId);
    if (ports.length === 0) return undefined;
    return [...new Set((await this.repo.getMany([...new Set(ports.flatMap((p) => p.groupIds))])).map((g) => g.name))];
  }

  /**
   * addSecurityGroup / removeSecurityGroup through the server's ports (every port joins; leaving
   * is from every port that has it). 'noPorts' when the server has none (the caller decides).
   */
  async changeServer(ctx: RequestContext, serverId: string, nameOrId: string, op: 'add' | 'remove'): Promise<'done' | 'noPorts'> {
    const group = await this.find(ctx, nameOrId);
    const ports = await this.repo.serverPorts(serverId);
    if (ports.length === 0) return 'noPorts';
    if (op === 'add' && ports.some((p) => !p.port_security_enabled)) throw badRequest('Unable to add security group to instance since port security is disabled on one of its ports.');
    let changed = false;
    for (const p of ports) changed = (await this.repo.setMembership(p.id, group.id, op === 'add')) || changed;
    if (op === 'remove' && !changed) throw notFound(`Security group ${nameOrId} not associated with the instance ${serverId}`);
    await this.portEvents.emit(serverId);
    // Servers whose rules name this group as remote see the member come or go.
    this.groups.announce([group.id]);
    return 'done';
  }
}
