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

  // --- net-core: a group named at boot (Nova takes names or ids) ---
  /** The project's group with this id or (first by creation) this name. */
  async findInProject(projectId: string, nameOrId: string): Promise<SecurityGroupRow | undefined> {
    const r = (await this.db('security_groups').where({ project_id: projectId, id: nameOrId }).first())
      ?? (await this.db('security_groups').where({ project_id: projectId, name: nameOrId }).orderBy('created_at').first());
    return r ? groupFromRow(r) : undefined;
  }
}
