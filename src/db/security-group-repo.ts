/**
 * Security groups and their rules (migration 20261208010000_networking). The project's `default`
 * group is an insert on the unique `default_for`, with Neutron's four default rules in the same
 * transaction, so concurrent first uses in any process make one group with its rules.
 */
import crypto from 'node:crypto';
import { stamp } from '../clock';
import type { Db } from './knex';

export interface SecurityGroupRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  stateful: boolean;
  default_for: string | null;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

export interface SecurityGroupRuleRow {
  id: string;
  security_group_id: string;
  project_id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
  description: string;
  revision_number: number;
  created_at: string;
  updated_at: string;
}

const bool = (v: unknown) => v === true || v === 1 || v === '1';
export const groupFromRow = (r: Record<string, unknown>): SecurityGroupRow => ({ ...(r as unknown as SecurityGroupRow), stateful: bool(r.stateful) });

/** Neutron's rules of a project's default group: every egress, ingress only from the group's own members. */
function defaultRules(groupId: string, projectId: string, at: string): SecurityGroupRuleRow[] {
  const rule = (direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6'): SecurityGroupRuleRow => ({
    id: crypto.randomUUID(), security_group_id: groupId, project_id: projectId, direction, ethertype,
    protocol: null, port_range_min: null, port_range_max: null, remote_ip_prefix: null,
    remote_group_id: direction === 'ingress' ? groupId : null, description: '', revision_number: 0, created_at: at, updated_at: at,
  });
  return [rule('ingress', 'IPv4'), rule('ingress', 'IPv6'), rule('egress', 'IPv4'), rule('egress', 'IPv6')];
}

export class SecurityGroupRepository {
  constructor(readonly db: Db) {}

  async get(id: string): Promise<SecurityGroupRow | undefined> {
    const r = await this.db('security_groups').where({ id }).first();
    return r ? groupFromRow(r) : undefined;
  }

  /** The project's `default` group, made with Neutron's default rules on first use. */
  async ensureDefault(projectId: string): Promise<SecurityGroupRow> {
    const found = await this.db('security_groups').where({ default_for: projectId }).first();
    if (found) return groupFromRow(found);
    const at = stamp();
    const id = crypto.randomUUID();
    await this.db.transaction(async (trx) => {
      const won = await trx('security_groups')
        .insert({ id, project_id: projectId, name: 'default', description: 'Default security group', stateful: true, default_for: projectId, revision_number: 0, created_at: at, updated_at: at })
        .onConflict('default_for').ignore().returning('id');
      if (won.length === 0) return;
      await trx('security_group_rules').insert(defaultRules(id, projectId, at));
    });
    return groupFromRow(await this.db('security_groups').where({ default_for: projectId }).first());
  }

  async rulesOf(groupId: string): Promise<SecurityGroupRuleRow[]> {
    return this.db('security_group_rules').where({ security_group_id: groupId }).orderBy('created_at');
  }

  // net-secgroups: the API's reads and writes, and what enforcement needs of ports.

  /** Groups, all or one project's. */
  async list(projectId?: string): Promise<SecurityGroupRow[]> {
    const q = this.db('security_groups').orderBy([{ column: 'created_at' }, { column: 'id' }]);
    if (projectId !== undefined) q.where({ project_id: projectId });
    return (await q).map(groupFromRow);
  }

  /** Rules of these groups, in creation order. */
  async rulesOfGroups(groupIds: string[]): Promise<SecurityGroupRuleRow[]> {
    if (groupIds.length === 0) return [];
    return this.db('security_group_rules').whereIn('security_group_id', groupIds).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  }

  /** Rules, all or one project's. */
  async listRules(projectId?: string): Promise<SecurityGroupRuleRow[]> {
    const q = this.db('security_group_rules').orderBy([{ column: 'created_at' }, { column: 'id' }]);
    if (projectId !== undefined) q.where({ project_id: projectId });
    return q;
  }

  async getRule(id: string): Promise<SecurityGroupRuleRow | undefined> {
    return this.db('security_group_rules').where({ id }).first();
  }

  /** A new group, if the project holds fewer than `limit` (-1: no limit); else 'overQuota'. */
  async create(row: Omit<SecurityGroupRow, 'revision_number' | 'created_at' | 'updated_at' | 'default_for'>, limit: number): Promise<SecurityGroupRow | 'overQuota'> {
    const at = stamp();
    return this.db.transaction(async (trx) => {
      if (limit >= 0) {
        const [{ n }] = await trx('security_groups').where({ project_id: row.project_id }).count({ n: '*' });
        if (Number(n) >= limit) return 'overQuota' as const;
      }
      await trx('security_groups').insert({ ...row, default_for: null, revision_number: 0, created_at: at, updated_at: at });
      return groupFromRow(await trx('security_groups').where({ id: row.id }).first());
    });
  }

  /** Name, description, stateful; the revision moves on. Undefined when the group is gone. */
  async update(id: string, patch: Partial<Pick<SecurityGroupRow, 'name' | 'description' | 'stateful'>>): Promise<SecurityGroupRow | undefined> {
    const n = await this.db('security_groups').where({ id }).update({ ...patch, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
    return n ? this.get(id) : undefined;
  }

  /**
   * Deletes the group and its rules unless a port uses it: 'inUse' then, 'gone' when it was not
   * there. The check and the delete are one transaction, and the binding's foreign key refuses a
   * port joining in between.
   */
  async delete(id: string): Promise<'deleted' | 'inUse' | 'gone'> {
    return this.db.transaction(async (trx) => {
      const used = await trx('port_security_groups').where({ security_group_id: id }).first();
      if (used) return 'inUse' as const;
      await trx('security_group_rules').where({ security_group_id: id }).delete();
      const n = await trx('security_groups').where({ id }).delete();
      return n ? 'deleted' as const : 'gone' as const;
    });
  }

  /**
   * A new rule unless its group already has one with the same key (returned as 'exists' with its
   * id) or the project holds `limit` rules (-1: no limit). The group's revision moves on, so
   * every rule change is seen as a change of the group.
   */
  async createRule(row: Omit<SecurityGroupRuleRow, 'revision_number' | 'created_at' | 'updated_at'>, keyOf: (r: SecurityGroupRuleRow) => string, limit: number):
  Promise<SecurityGroupRuleRow | { exists: string } | 'overQuota' | 'groupGone'> {
    const at = stamp();
    return this.db.transaction(async (trx) => {
      const bumped = await trx('security_groups').where({ id: row.security_group_id }).update({ updated_at: at, revision_number: trx.raw('revision_number + 1') });
      if (!bumped) return 'groupGone' as const;
      const siblings: SecurityGroupRuleRow[] = await trx('security_group_rules').where({ security_group_id: row.security_group_id });
      const key = keyOf({ ...row, revision_number: 0, created_at: at, updated_at: at });
      const same = siblings.find((r) => keyOf(r) === key);
      if (same) return { exists: same.id };
      if (limit >= 0) {
        const [{ n }] = await trx('security_group_rules').where({ project_id: row.project_id }).count({ n: '*' });
        if (Number(n) >= limit) return 'overQuota' as const;
      }
      await trx('security_group_rules').insert({ ...row, revision_number: 0, created_at: at, updated_at: at });
      return trx('security_group_rules').where({ id: row.id }).first();
    });
  }

  async updateRule(id: string, description: string): Promise<SecurityGroupRuleRow | undefined> {
    const n = await this.db('security_group_rules').where({ id }).update({ description, updated_at: stamp(), revision_number: this.db.raw('revision_number + 1') });
    return n ? this.getRule(id) : undefined;
  }

  /** Deletes a rule; false when it was not there. */
  async deleteRule(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const rule = await trx('security_group_rules').where({ id }).first();
      if (!rule) return false;
      await trx('security_group_rules').where({ id }).delete();
      await trx('security_groups').where({ id: rule.security_group_id }).update({ updated_at: stamp(), revision_number: trx.raw('revision_number + 1') });
      return true;
    });
  }

  /** Ids of the groups that are some project's `default`. */
  async defaultGroupIds(): Promise<Set<string>> {
    return new Set((await this.db('security_groups').whereNotNull('default_for').select('id')).map((r: { id: string }) => r.id));
  }

  /** Ids of the ports in the group. */
  async portsOf(groupId: string): Promise<string[]> {
    return (await this.db('port_security_groups').where({ security_group_id: groupId }).select('port_id')).map((r: { port_id: string }) => r.port_id);
  }

  // net-secgroups: what enforcement reads of ports (rows net-core writes).

  /** A server's ports: where they are bound, whether port security is on, and their groups. */
  async serverPorts(serverId: string): Promise<{ id: string; host: string; port_security_enabled: boolean; groupIds: string[] }[]> {
    const ports: { id: string; host: string; port_security_enabled: unknown }[] = await this.db('ports').where({ device_id: serverId }).select('id', 'host', 'port_security_enabled').orderBy('created_at');
    if (ports.length === 0) return [];
    const links: { port_id: string; security_group_id: string }[] = await this.db('port_security_groups').whereIn('port_id', ports.map((p) => p.id));
    return ports.map((p) => ({ id: p.id, host: p.host, port_security_enabled: bool(p.port_security_enabled), groupIds: links.filter((l) => l.port_id === p.id).map((l) => l.security_group_id) }));
  }

  /** Groups by id. */
  async getMany(ids: string[]): Promise<SecurityGroupRow[]> {
    if (ids.length === 0) return [];
    return (await this.db('security_groups').whereIn('id', ids)).map(groupFromRow);
  }

  /** The fixed addresses of the ports in a group. */
  async memberAddresses(groupId: string): Promise<string[]> {
    const rows: { ip_address: string }[] = await this.db('ip_allocations')
      .join('port_security_groups', 'port_security_groups.port_id', 'ip_allocations.port_id')
      .where('port_security_groups.security_group_id', groupId).select('ip_allocations.ip_address');
    return rows.map((r) => r.ip_address);
  }

  /** Servers (device ids of compute ports) with a port in any of these groups. */
  async serversInGroups(groupIds: string[]): Promise<string[]> {
    if (groupIds.length === 0) return [];
    const rows: { device_id: string }[] = await this.db('ports')
      .join('port_security_groups', 'port_security_groups.port_id', 'ports.id')
      .whereIn('port_security_groups.security_group_id', groupIds).andWhere('ports.device_owner', 'like', 'compute:%')
      .distinct('ports.device_id');
    return rows.map((r) => r.device_id);
  }

  /** Groups with a rule whose remote group is one of these. */
  async groupsReferencing(groupIds: string[]): Promise<string[]> {
    if (groupIds.length === 0) return [];
    const rows: { security_group_id: string }[] = await this.db('security_group_rules').whereIn('remote_group_id', groupIds).distinct('security_group_id');
    return rows.map((r) => r.security_group_id);
  }

  /** Adds (true) or removes a port's membership of a group; false when there was nothing to change. */
  async setMembership(portId: string, groupId: string, member: boolean): Promise<boolean> {
    if (member) {
      const made = await this.db('port_security_groups').insert({ port_id: portId, security_group_id: groupId }).onConflict(['port_id', 'security_group_id']).ignore().returning('port_id');
      return made.length > 0;
    }
    return (await this.db('port_security_groups').where({ port_id: portId, security_group_id: groupId }).delete()) > 0;
  }

  /** The project's groups called `name`. */
  async byName(projectId: string, name: string): Promise<SecurityGroupRow[]> {
    return (await this.db('security_groups').where({ project_id: projectId, name })).map(groupFromRow);
  }

  // --- net-core: a group named at boot (Nova takes names or ids) ---
  /** The project's group with this id or (first by creation) this name. */
  async findInProject(projectId: string, nameOrId: string): Promise<SecurityGroupRow | undefined> {
    const r = (await this.db('security_groups').where({ project_id: projectId, id: nameOrId }).first())
      ?? (await this.db('security_groups').where({ project_id: projectId, name: nameOrId }).orderBy('created_at').first());
    return r ? groupFromRow(r) : undefined;
  }
}
