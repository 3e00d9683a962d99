/**
 * Wire shapes of security groups and rules, as Neutron renders them
 * (neutron/db/securitygroups_db.py _make_security_group_dict / _make_security_group_rule_dict, with
 * the standard attributes: description, timestamps, revision_number, tags).
 */
import type { GroupWithRules, RuleOfGroup } from '../security-groups';
import { normalizedCidr } from '../security-group-rules';

/** Neutron's timestamps: seconds, UTC, `Z`. */
const neutronTime = (iso: string) => iso.replace(/\.\d+Z$/, 'Z');

export function ruleView({ rule: r, inDefault }: RuleOfGroup) {
  return {
    id: r.id,
    project_id: r.project_id,
    tenant_id: r.project_id,
    security_group_id: r.security_group_id,
    ethertype: r.ethertype,
    direction: r.direction,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    normalized_cidr: normalizedCidr(r.remote_ip_prefix),
    remote_group_id: r.remote_group_id,
    belongs_to_default_sg: inDefault,
    description: r.description,
    tags: [] as string[],
    created_at: neutronTime(r.created_at),
    updated_at: neutronTime(r.updated_at),
    revision_number: r.revision_number,
  };
}

export function groupView({ group: g, rules }: GroupWithRules) {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    stateful: g.stateful,
    shared: false,
    project_id: g.project_id,
    tenant_id: g.project_id,
    security_group_rules: rules.map((rule) => ruleView({ rule, inDefault: g.default_for !== null })),
    tags: [] as string[],
    created_at: neutronTime(g.created_at),
    updated_at: neutronTime(g.updated_at),
    revision_number: g.revision_number,
  };
}
