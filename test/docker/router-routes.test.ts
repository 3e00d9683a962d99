/**
 * Routes between the subnets of one router on a real engine's host (issue 17: "two networks of
 * one project reach each other only through a router"), with real packets: two Docker bridges of
 * the test's own (10.250.10.0/24, 10.250.11.0/24), a busybox container on each, one serving HTTP
 * (a CGI that answers the caller's address). Without routes Docker's isolation keeps the bridges
 * apart; with the router's routes applied (IptablesNat) the client reaches the server with its own
 * address (no NAT on the way); the server's security group still decides (DockerFirewall); once
 * the routes go, the bridges are apart again, and clearing leaves no chain or jump behind.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { busyboxImage } from '../helpers/test-image';
import { dockerCli } from './docker-driver-helpers';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { EMPTY_NAT } from '../../src/virt/nat';
import { DockerFirewall } from '../../src/virt/docker/firewall';
import { compileRuleset, GroupRules } from '../../src/network/firewall-ruleset';
import type { SecurityGroupRuleRow } from '../../src/db/security-group-repo';

jest.setTimeout(180_000);

const tag = crypto.randomBytes(3).toString('hex');
const HOST = 'local';
const SUBNET_A = '10.250.10.0/24';
const SUBNET_B = '10.250.11.0/24';
const NET_A = `novadock-test-rtr-a-${tag}`;
const NET_B = `novadock-test-rtr-b-${tag}`;
const client = crypto.randomUUID();
const server = crypto.randomUUID();
const CLIENT_IP = '10.250.10.10';
const SERVER_IP = '10.250.11.10';
const nat = new IptablesNat();
const firewall = new DockerFirewall({ engines: new Map([[HOST, undefined]]) });

async function docker(args: string[]): Promise<string> {
  const r = await dockerCli(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** What the server answers the client (its address as the server saw it), or undefined when nothing gets through. */
async function fromClient(): Promise<string | undefined> {
  return get(client, SERVER_IP);
}

/** The last line of a GET of the CGI from `from`'s container (busybox nc: a dropped SYN ends in its connect timeout). */
async function get(from: string, ip: string): Promise<string | undefined> {
  const r = await dockerCli(['exec', `novadock-${from}`, '/bin/busybox', 'sh', '-c', `printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${ip} 80`]);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  // busybox httpd shows an IPv4 caller as ::ffff:a.b.c.d.
  return r.code === 0 && last !== '' ? last.replace(/^\[?(::ffff:)?|\]$/g, '') : undefined;
}

/** Whether the client's ping gets an answer from the server. */
async function pings(): Promise<boolean> {
  return (await dockerCli(['exec', `novadock-${client}`, '/bin/busybox', 'ping', '-c', '1', '-W', '2', SERVER_IP])).code === 0;
}

const routes = (routed: string[][]) => nat.apply(HOST, { ...EMPTY_NAT, routed });

function rule(r: Partial<SecurityGroupRuleRow>): SecurityGroupRuleRow {
  const at = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return {
    id: crypto.randomUUID(), security_group_id: 'web', project_id: 'p', direction: 'ingress', ethertype: 'IPv4', protocol: null,
    port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, description: '', revision_number: 0, created_at: at, updated_at: at, ...r,
  };
}

async function serverGroup(rules: SecurityGroupRuleRow[]): Promise<void> {
  const groups = new Map<string, GroupRules>([['web', { stateful: true, rules: [rule({ direction: 'egress' }), ...rules] }]]);
  expect(await firewall.apply(HOST, server, compileRuleset({ ports: [{ portSecurityEnabled: true, groupIds: ['web'] }], groups, membersOf: () => [] }))).toBe('applied');
}

beforeAll(async () => {
  // The ranges must be nobody else's on this machine: no route leads there before the test's bridges.
  for (const ip of [CLIENT_IP, SERVER_IP]) expect(execFileSync('ip', ['route', 'get', ip], { encoding: 'utf8' })).not.toMatch(/dev br-/);
  const image = busyboxImage('router-routes');
  if ((await dockerCli(['image', 'inspect', image.imageId])).code !== 0) await docker(['load', '-i', image.path]);
  await docker(['network', 'create', '--subnet', SUBNET_A, '--gateway', '10.250.10.1', NET_A]);
  await docker(['network', 'create', '--subnet', SUBNET_B, '--gateway', '10.250.11.1', NET_B]);
  const cgi = 'mkdir -p /www/cgi-bin && printf \'#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "$REMOTE_ADDR"\\n\' > /www/cgi-bin/who && chmod +x /www/cgi-bin/who';
  await docker(['run', '-d', '--name', `novadock-${server}`, '--network', NET_B, '--ip', SERVER_IP, image.imageId,
    '/bin/busybox', 'sh', '-c', `${cgi} && exec /bin/busybox httpd -f -p 80 -h /www`]);
  await docker(['run', '-d', '--name', `novadock-${client}`, '--network', NET_A, '--ip', CLIENT_IP, image.imageId, '/bin/busybox', 'sleep', '3600']);
  // Every packet stays on the machine: both subnets are routed to the test's own bridges.
  for (const ip of [CLIENT_IP, SERVER_IP]) expect(execFileSync('ip', ['route', 'get', ip], { encoding: 'utf8' })).toMatch(/dev br-/);
  // httpd listens a moment after the container starts: wait until it answers on its own bridge.
  for (let i = 0; i < 100 && (await get(server, '127.0.0.1')) !== '127.0.0.1'; i++);
  expect(await get(server, '127.0.0.1')).toBe('127.0.0.1');
});

afterAll(async () => {
  await nat.clear(HOST, undefined, []).catch(() => undefined);
  await dockerCli(['rm', '-f', '-v', `novadock-${server}`, `novadock-${client}`]);
  await dockerCli(['network', 'rm', NET_A, NET_B]);
});

describe('two networks and a router between their subnets', () => {
  it('without a router, then the networks cannot reach each other', async () => {
    await routes([]);
    expect(await fromClient()).toBeUndefined();
    expect(await pings()).toBe(false);
  });

  it('with a router joining both subnets, then the client reaches the server through the host, with its own address', async () => {
    await routes([[SUBNET_A, SUBNET_B]]);
    expect(await fromClient()).toBe(CLIENT_IP);
    expect(await pings()).toBe(true);
    // Applying the same state again changes nothing: still one jump into each chain.
    await routes([[SUBNET_A, SUBNET_B]]);
    expect(execFileSync('iptables-save', ['-t', 'filter'], { encoding: 'utf8' }).split('\n').filter((l) => l.endsWith(' -j NOVADOCK-FIP-FWD'))).toHaveLength(1);
    expect(await fromClient()).toBe(CLIENT_IP);
  });

  it('with a router, then the server\'s security group still decides who gets in', async () => {
    await serverGroup([]);
    expect(await fromClient()).toBeUndefined();
    await serverGroup([rule({ protocol: 'tcp', port_range_min: 80, port_range_max: 80, remote_ip_prefix: SUBNET_A })]);
    expect(await fromClient()).toBe(CLIENT_IP);
    expect(await firewall.apply(HOST, server, 'open')).toBe('applied');
  });

  it('when a router joins only one of the subnets, then they are apart', async () => {
    await routes([[SUBNET_A], [SUBNET_B]]);
    expect(await fromClient()).toBeUndefined();
  });

  it('when the router\'s interface goes, then the networks are apart again, and clearing leaves no chain or jump', async () => {
    await routes([[SUBNET_A, SUBNET_B]]);
    expect(await fromClient()).toBe(CLIENT_IP);
    await routes([]);
    expect(await fromClient()).toBeUndefined();
    expect(await pings()).toBe(false);
    await nat.clear(HOST, undefined, []);
    // Ours only: Docker's own rules for the test's bridges stay until the networks go.
    const ours = execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((l) => /NOVADOCK-FIP-(PRE|OUT|POST|FWD)( |$)/.test(l));
    expect(ours).toEqual([]);
  });
});
