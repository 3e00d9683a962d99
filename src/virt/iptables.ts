/**
 * A server's Ruleset as iptables-restore input (one per address family), for the filter table of
 * the container's own network namespace. Pure, so the exact lines are unit-tested.
 *
 *   INPUT  (ingress): policy DROP; loopback; [stateful: established/related, drop invalid];
 *                     IPv6 neighbour discovery; one ACCEPT per rule and remote address
 *   OUTPUT (egress):  the same with destinations
 *   FORWARD:          ACCEPT (a container routes nothing of its own)
 */
import type { FirewallPolicy, FirewallRule, IpFamily } from './firewall';

/** Protocols iptables matches ports of with their own module; udplite only through multiport. */
const PORT_MODULES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 33: 'dccp' };

function match(rule: FirewallRule, family: IpFamily): string {
  const parts: string[] = [];
  if (rule.protocol !== undefined) {
    const name = PORT_MODULES[rule.protocol] ?? (rule.protocol === 1 ? 'icmp' : rule.protocol === 58 ? 'ipv6-icmp' : rule.protocol === 136 ? 'udplite' : String(rule.protocol));
    parts.push(`-p ${name}`);
    if (rule.ports) {
      const range = rule.ports.min === rule.ports.max ? `${rule.ports.min}` : `${rule.ports.min}:${rule.ports.max}`;
      parts.push(PORT_MODULES[rule.protocol] ? `-m ${PORT_MODULES[rule.protocol]} --dport ${range}` : `-m multiport --dports ${range}`);
    }
    if (rule.icmp) {
      const t = rule.icmp.code === undefined ? `${rule.icmp.type}` : `${rule.icmp.type}/${rule.icmp.code}`;
      parts.push(family === 4 ? `-m icmp --icmp-type ${t}` : `-m icmp6 --icmpv6-type ${t}`);
    }
  }
  return parts.join(' ');
}

function chainLines(chain: 'INPUT' | 'OUTPUT', rules: FirewallRule[], family: IpFamily, stateful: boolean): string[] {
  const lines = [`-A ${chain} ${chain === 'INPUT' ? '-i' : '-o'} lo -j ACCEPT`];
  if (stateful) {
    lines.push(`-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, `-A ${chain} -m conntrack --ctstate INVALID -j DROP`);
  }
  if (family === 6) {
    // Neighbour discovery (router/neighbour solicitation and advertisement): without it IPv6 does not work at all.
    for (const type of [133, 134, 135, 136]) lines.push(`-A ${chain} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`);
  }
  const flag = chain === 'INPUT' ? '-s' : '-d';
  for (const rule of rules) {
    const m = match(rule, family);
    for (const remote of rule.remote ?? [undefined]) {
      lines.push(['-A', chain, remote ? `${flag} ${remote}` : '', m, '-j ACCEPT'].filter(Boolean).join(' '));
    }
  }
  return lines;
}

/** iptables-restore input replacing the whole filter table for one family. */
export function renderIptables(policy: FirewallPolicy, family: IpFamily): string {
  if (policy === 'open') return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', 'COMMIT', ''].join('\n');
  const mine = policy.rules.filter((r) => r.family === family && (r.remote === undefined || r.remote.length > 0));
  return [
    '*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT DROP [0:0]',
    ...chainLines('INPUT', mine.filter((r) => r.direction === 'ingress'), family, policy.stateful),
    ...chainLines('OUTPUT', mine.filter((r) => r.direction === 'egress'), family, policy.stateful),
    'COMMIT', '',
  ].join('\n');
}
