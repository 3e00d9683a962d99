/**
 * What a server's container admits, compiled from its ports' security groups (pure; unit-tested).
 *
 * - A port with port security disabled has no rules: a server whose ports all have it disabled is
 *   'open'. Otherwise the container admits the union of its enabled ports' groups' rules (one
 *   ruleset per container: its NICs share one filter table).
 * - A rule's far end is its remote_ip_prefix (the network, host bits cleared), or the current
 *   addresses of its remote group's member ports (an empty group admits nobody), or anywhere.
 * - Stateful when any of its groups is (Neutron refuses to mix them on a port).
 */
import type { SecurityGroupRuleRow } from '../db/security-group-repo';
import type { FirewallPolicy, FirewallRule } from '../virt/firewall';
import { normalizedCidr, parsePrefix, protocolNumber } from './security-group-rules';

export interface PortSecurity {
  portSecurityEnabled: boolean;
  groupIds: string[];
}

export interface GroupRules {
  stateful: boolean;
  rules: SecurityGroupRuleRow[];
}

export interface RulesetInput {
  ports: PortSecurity[];
  groups: ReadonlyMap<string, GroupRules>;
  /** Addresses of the ports in a group (for remote-group rules). */
  membersOf: (groupId: string) => string[];
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 33, 136]);

function firewallRule(r: SecurityGroupRuleRow, membersOf: (groupId: string) => string[]): FirewallRule {
  const family = r.ethertype === 'IPv6' ? 6 : 4;
  const rule: FirewallRule = { direction: r.direction, family };
  const proto = protocolNumber(r.protocol);
  if (proto !== undefined) rule.protocol = proto;
  if (proto !== undefined && PORT_PROTOCOLS.has(proto) && r.port_range_min !== null && r.port_range_max !== null) {
    rule.ports = { min: r.port_range_min, max: r.port_range_max };
  }
  if ((proto === 1 || proto === 58) && r.port_range_min !== null) {
    rule.icmp = r.port_range_max === null ? { type: r.port_range_min } : { type: r.port_range_min, code: r.port_range_max };
  }
  if (r.remote_ip_prefix !== null) {
    const cidr = normalizedCidr(r.remote_ip_prefix)!;
    if (cidr !== '0.0.0.0/0' && cidr !== '::/0') rule.remote = [cidr];
  } else if (r.remote_group_id !== null) {
    rule.remote = membersOf(r.remote_group_id).filter((ip) => parsePrefix(ip)?.family === family).map((ip) => `${ip}/${family === 4 ? 32 : 128}`);
  }
  return rule;
}

export function compileRuleset(input: RulesetInput): FirewallPolicy {
  const enabled = input.ports.filter((p) => p.portSecurityEnabled);
  if (input.ports.length > 0 && enabled.length === 0) return 'open';
  const groupIds = [...new Set(enabled.flatMap((p) => p.groupIds))];
  const groups = groupIds.map((id) => input.groups.get(id)).filter((g): g is GroupRules => g !== undefined);
  const seen = new Set<string>();
  const rules: FirewallRule[] = [];
  for (const g of groups) {
    for (const r of g.rules) {
      const rule = firewallRule(r, input.membersOf);
      const key = JSON.stringify(rule);
      if (!seen.has(key)) { seen.add(key); rules.push(rule); }
    }
  }
  return { stateful: groups.length === 0 || groups.some((g) => g.stateful), rules };
}
