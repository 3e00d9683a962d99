/**
 * Security groups enforced on a real engine (issue 17), with real packets: two busybox containers
 * on a bridge of their own (10.230.x.0/24), one serving HTTP on port 80. Rules compiled from
 * security group rows (compileRuleset) are applied in the server's network namespace
 * (DockerFirewall); the other container connects, or cannot, as the rules say.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { dockerCli } from './docker-driver-helpers';
import { DockerFirewall } from '../../src/virt/docker/firewall';
import { compileRuleset, GroupRules } from '../../src/network/firewall-ruleset';
import type { SecurityGroupRuleRow } from '../../src/db/security-group-repo';

jest.setTimeout(120_000);

const HOST = 'sg-test-host';
const firewall = new DockerFirewall({ engines: new Map([[HOST, undefined]]) });
const net = `novadock-sgtest-${crypto.randomBytes(4).toString('hex')}`;
const third = 1 + crypto.randomInt(250);
const subnet = `10.230.${third}.0/24`;
const server = crypto.randomUUID();
const client = crypto.randomUUID();
const serverIp = `10.230.${third}.10`;
const clientIp = `10.230.${third}.11`;

async function docker(args: string[]): Promise<string> {
  const r = await dockerCli(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Whether the client gets the server's page (a dropped SYN ends in nc's own connect timeout). */
async function clientReaches(): Promise<boolean> {
  const r = await dockerCli(['exec', `novadock-${client}`, '/bin/busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${serverIp} 80`]);
  return r.code === 0 && r.stdout.includes('hello');
}

let seq = 0;
function rule(groupId: string, r: Partial<SecurityGroupRuleRow>): SecurityGroupRuleRow {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString();
  return {
    id: crypto.randomUUID(), security_group_id: groupId, project_id: 'p', direction: 'ingress', ethertype: 'IPv4', protocol: null,
    port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, description: '', revision_number: 0, created_at: at, updated_at: at, ...r,
  };
}

const egressAll = (g: string) => [rule(g, { direction: 'egress' }), rule(g, { direction: 'egress', ethertype: 'IPv6' })];

async function applyGroup(groupId: string, rules: SecurityGroupRuleRow[], members: Record<string, string[]> = {}) {
  const groups = new Map<string, GroupRules>([[groupId, { stateful: true, rules }]]);
  const policy = compileRuleset({ ports: [{ portSecurityEnabled: true, groupIds: [groupId] }], groups, membersOf: (g) => members[g] ?? [] });
  expect(await firewall.apply(HOST, server, policy)).toBe('applied');
}

beforeAll(async () => {
  const image = busyboxImage('security-groups');
  if ((await dockerCli(['image', 'inspect', image.imageId])).code !== 0) await docker(['load', '-i', image.path]);
  expect(fs.existsSync(image.path)).toBe(true);
  await docker(['network', 'create', '--subnet', subnet, net]);
  await docker(['run', '-d', '--name', `novadock-${server}`, '--network', net, '--ip', serverIp, image.imageId,
    '/bin/busybox', 'sh', '-c', 'mkdir -p /www && echo hello > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www']);
  await docker(['run', '-d', '--name', `novadock-${client}`, '--network', net, '--ip', clientIp, image.imageId, '/bin/busybox', 'sleep', '3600']);
  // Every packet of this test stays on the machine: the subnet is routed to the test's own bridge.
  expect(execFileSync('ip', ['route', 'get', serverIp], { encoding: 'utf8' })).toMatch(/dev br-/);
  // httpd listens a moment after the container starts: a refused connection fails at once, so poll.
  for (let i = 0; i < 100 && !(await clientReaches()); i++);
});

afterAll(async () => {
  await dockerCli(['rm', '-f', '-v', `novadock-${server}`, `novadock-${client}`]);
  await dockerCli(['network', 'rm', net]);
});

test('without rules the server answers; with only egress rules nobody reaches it', async () => {
  expect(await clientReaches()).toBe(true);
  await applyGroup('web', egressAll('web'));
  expect(await clientReaches()).toBe(false);
});

test('a tcp 80 rule from the client\'s address lets it in; a rule for another port does not; removing it shuts it out again', async () => {
  await applyGroup('web', [...egressAll('web'), rule('web', { protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: `${clientIp}/32` })]);
  expect(await clientReaches()).toBe(false);
  await applyGroup('web', [...egressAll('web'), rule('web', { protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: `${clientIp}/32` })]);
  expect(await clientReaches()).toBe(true);
  await applyGroup('web', egressAll('web'));
  expect(await clientReaches()).toBe(false);
});

test('the default group lets its members reach each other, and only them', async () => {
  const defaults = [rule('default', { remote_group_id: 'default' }), rule('default', { ethertype: 'IPv6', remote_group_id: 'default' }), ...egressAll('default')];
  await applyGroup('default', defaults, { default: [serverIp, clientIp] });
  expect(await clientReaches()).toBe(true);
  await applyGroup('default', defaults, { default: [serverIp] });
  expect(await clientReaches()).toBe(false);
});

test('a server whose ports have port security disabled is open; a container that is not there is notRunning', async () => {
  expect(await firewall.apply(HOST, server, compileRuleset({ ports: [{ portSecurityEnabled: false, groupIds: ['web'] }], groups: new Map(), membersOf: () => [] }))).toBe('applied');
  expect(await clientReaches()).toBe(true);
  expect(await firewall.apply(HOST, crypto.randomUUID(), 'open')).toBe('notRunning');
});
