/**
 * Security group rules as the firewall sees them (issue 17): rule attributes normalised as Neutron
 * does, rows compiled into a server's ruleset (remote groups resolved, port security, dedupe), and
 * the exact iptables-restore input a ruleset becomes.
 */
import crypto from 'node:crypto';
import { compileRuleset, GroupRules } from '../../src/network/firewall-ruleset';
import { ruleFromBody, ruleKey } from '../../src/network/security-group-rules';
import { renderIptables } from '../../src/virt/iptables';
import type { SecurityGroupRuleRow } from '../../src/db/security-group-repo';

function row(groupId: string, r: Partial<SecurityGroupRuleRow>): SecurityGroupRuleRow {
  return {
    id: crypto.randomUUID(), security_group_id: groupId, project_id: 'p', direction: 'ingress', ethertype: 'IPv4', protocol: null,
    port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, description: '', revision_number: 0, created_at: '', updated_at: '', ...r,
  };
}

describe('rule attributes', () => {
  test('legacy IPv6 ICMP names become ipv6-icmp, the whole port range becomes none, an address a host prefix', () => {
    expect(ruleFromBody({ security_group_id: 'g', direction: 'ingress', ethertype: 'ipv6', protocol: 'icmp' })).toMatchObject({ ethertype: 'IPv6', protocol: 'ipv6-icmp' });
    expect(ruleFromBody({ security_group_id: 'g', direction: 'ingress', ethertype: 'IPv6', protocol: '1' }).protocol).toBe('58');
    expect(ruleFromBody({ security_group_id: 'g', direction: 'ingress', protocol: 'udp', port_range_min: 1, port_range_max: 65535 })).toMatchObject({ port_range_min: null, port_range_max: null });
    expect(ruleFromBody({ security_group_id: 'g', direction: 'egress', ethertype: 'IPv6', remote_ip_prefix: '2001:db8::1' }).remote_ip_prefix).toBe('2001:db8::1/128');
    expect(ruleFromBody({ security_group_id: 'g', direction: 'egress', protocol: 'any' }).protocol).toBeNull();
  });

  test('a protocol by name and by number, and a prefix of everything and none, are the same rule', () => {
    const a = ruleFromBody({ security_group_id: 'g', direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' });
    const b = ruleFromBody({ security_group_id: 'g', direction: 'ingress', protocol: '6', port_range_min: 22, port_range_max: 22 });
    expect(ruleKey(a)).toBe(ruleKey(b));
    expect(ruleKey(a)).not.toBe(ruleKey({ ...b, direction: 'egress' }));
  });
});

describe('compileRuleset', () => {
  const groups = new Map<string, GroupRules>([
    ['default', { stateful: true, rules: [row('default', { remote_group_id: 'default' }), row('default', { direction: 'egress' }), row('default', { direction: 'egress', ethertype: 'IPv6' })] }],
    ['web', { stateful: true, rules: [row('web', { protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: '10.230.1.7/24' }), row('web', { direction: 'egress' })] }],
  ]);
  const membersOf = (g: string) => (g === 'default' ? ['10.230.0.2', '10.230.0.3', 'fd00::5'] : []);

  test('a server in two groups admits the union of their rules, remote groups as their members\' addresses of the rule\'s family', () => {
    const policy = compileRuleset({ ports: [{ portSecurityEnabled: true, groupIds: ['default', 'web'] }], groups, membersOf });
    expect(policy).toEqual({
      stateful: true,
      rules: [
        { direction: 'ingress', family: 4, remote: ['10.230.0.2/32', '10.230.0.3/32'] },
        { direction: 'egress', family: 4 },
        { direction: 'egress', family: 6 },
        { direction: 'ingress', family: 4, protocol: 6, ports: { min: 80, max: 80 }, remote: ['10.230.1.0/24'] },
      ],
    });
  });

  test('ports with port security disabled add nothing; a server with only such ports is open', () => {
    expect(compileRuleset({ ports: [{ portSecurityEnabled: false, groupIds: ['web'] }], groups, membersOf })).toBe('open');
    const mixed = compileRuleset({ ports: [{ portSecurityEnabled: false, groupIds: ['default'] }, { portSecurityEnabled: true, groupIds: ['web'] }], groups, membersOf });
    expect(mixed !== 'open' && mixed.rules.some((r) => r.remote?.includes('10.230.0.2/32'))).toBe(false);
  });

  test('an ICMP rule carries type and code; a stateless group makes a stateless ruleset', () => {
    const g = new Map<string, GroupRules>([['icmp', { stateful: false, rules: [row('icmp', { protocol: 'icmp', port_range_min: 8, port_range_max: 0 })] }]]);
    expect(compileRuleset({ ports: [{ portSecurityEnabled: true, groupIds: ['icmp'] }], groups: g, membersOf })).toEqual({
      stateful: false, rules: [{ direction: 'ingress', family: 4, protocol: 1, icmp: { type: 8, code: 0 } }],
    });
  });
});

describe('renderIptables', () => {
  test('a stateful ruleset drops by default and accepts loopback, replies and each rule per remote address', () => {
    const text = renderIptables({
      stateful: true,
      rules: [
        { direction: 'ingress', family: 4, protocol: 6, ports: { min: 8000, max: 8080 }, remote: ['10.230.0.2/32', '10.230.0.3/32'] },
        { direction: 'ingress', family: 4, protocol: 1, icmp: { type: 8 } },
        { direction: 'ingress', family: 4, remote: [] },
        { direction: 'egress', family: 4 },
        { direction: 'egress', family: 6 },
      ],
    }, 4);
    expect(text.split('\n')).toEqual([
      '*filter', ':INPUT DROP [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT DROP [0:0]',
      '-A INPUT -i lo -j ACCEPT',
      '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A INPUT -m conntrack --ctstate INVALID -j DROP',
      '-A INPUT -s 10.230.0.2/32 -p tcp -m tcp --dport 8000:8080 -j ACCEPT',
      '-A INPUT -s 10.230.0.3/32 -p tcp -m tcp --dport 8000:8080 -j ACCEPT',
      '-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT',
      '-A OUTPUT -o lo -j ACCEPT',
      '-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A OUTPUT -m conntrack --ctstate INVALID -j DROP',
      '-A OUTPUT -j ACCEPT',
      'COMMIT', '',
    ]);
  });

  test('IPv6 keeps neighbour discovery; udplite ports go through multiport; open accepts everything', () => {
    const text = renderIptables({ stateful: false, rules: [{ direction: 'egress', family: 6, protocol: 136, ports: { min: 5000, max: 5000 }, remote: ['fd00::/64'] }] }, 6);
    expect(text).toContain('-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT');
    expect(text).toContain('-A OUTPUT -d fd00::/64 -p udplite -m multiport --dports 5000 -j ACCEPT');
    expect(text).not.toContain('conntrack');
    expect(renderIptables('open', 4)).toBe('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
  });
});
