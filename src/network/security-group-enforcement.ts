/**
 * Keeps each server's firewall equal to its ports' security groups (issue 17).
 *
 *   group rules changed ─┐                 ┌─ the groups' member servers
 *   group deleted ───────┼─ groupsChanged ─┤   and servers whose groups name them as remote group
 *                        │                 └─→ applyServer(each)
 *   PortEvents(server) ──┴─ portsChanged ── applyServer(server) + groupsChanged(its groups)
 *                                           (its addresses joined or left those groups)
 *   reconciler: container started / engine back ─→ applyServer
 *
 * applyServer reads the rows (ports, groups, rules, remote groups' member addresses), compiles the
 * ruleset (firewall-ruleset.ts) and hands it to the host's ServerFirewall, which replaces the
 * container's rules atomically. Applying is idempotent, so a repeated or late call is harmless;
 * one server's failure is logged and does not stop the others.
 */
import type { Logger } from 'pino';
import type { SecurityGroupRepository } from '../db/security-group-repo';
import type { ServerFirewall } from '../virt/firewall';
import { compileRuleset, GroupRules } from './firewall-ruleset';

export class SecurityGroupEnforcement {
  constructor(private readonly repo: SecurityGroupRepository, private readonly firewall: ServerFirewall, private readonly log: Logger) {}

  /** Applies the server's rules on the host its ports are bound to; 'none' when it has no bound port. */
  async applyServer(serverId: string): Promise<'applied' | 'notRunning' | 'none'> {
    const ports = await this.repo.serverPorts(serverId);
    const host = ports.find((p) => p.host !== '')?.host;
    if (!host) return 'none';
    const groupIds = [...new Set(ports.flatMap((p) => p.groupIds))];
    const groups = await this.repo.getMany(groupIds);
    const rules = await this.repo.rulesOfGroups(groupIds);
    const byId = new Map<string, GroupRules>(groups.map((g) => [g.id, { stateful: g.stateful, rules: rules.filter((r) => r.security_group_id === g.id) }]));
    const remotes = [...new Set(rules.map((r) => r.remote_group_id).filter((g): g is string => g !== null))];
    const members = new Map<string, string[]>();
    for (const g of remotes) members.set(g, await this.repo.memberAddresses(g));
    const policy = compileRuleset({
      ports: ports.map((p) => ({ portSecurityEnabled: p.port_security_enabled, groupIds: p.groupIds })),
      groups: byId,
      membersOf: (g) => members.get(g) ?? [],
    });
    return this.firewall.apply(host, serverId, policy);
  }

  /** Re-applies every server that these groups' rules or memberships concern. */
  async groupsChanged(groupIds: string[]): Promise<void> {
    const concerned = [...new Set([...groupIds, ...(await this.repo.groupsReferencing(groupIds))])];
    for (const serverId of await this.repo.serversInGroups(concerned)) await this.safely(serverId);
  }

  /** A server's ports changed (started, attached, joined or left a group): it and its peers. */
  async portsChanged(serverId: string): Promise<void> {
    await this.safely(serverId);
    const groupIds = [...new Set((await this.repo.serverPorts(serverId)).flatMap((p) => p.groupIds))];
    const peers = await this.repo.groupsReferencing(groupIds);
    for (const peer of await this.repo.serversInGroups(peers)) if (peer !== serverId) await this.safely(peer);
  }

  private async safely(serverId: string): Promise<void> {
    try {
      await this.applyServer(serverId);
    } catch (err) {
      this.log.warn({ err, serverId }, 'security group rules could not be applied');
    }
  }
}
