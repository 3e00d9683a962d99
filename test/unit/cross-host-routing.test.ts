/**
 * The pure parts of routers across hosts (issue 17): which routes a server gets (routesFor) and
 * which way out (exitFor), the `ip -batch` that sets them (routeBatch, and the hosts' hostRouteBatch),
 * the engine's way out read in a server's namespace (wayOutOf), and the pause program of router containers.
 */
import { exitFor, routesFor } from '../../src/network/cross-host-routing';
import { routeBatch, ROUTE_PROTO, wayOutOf } from '../../src/virt/docker/router-engine';
import { hostRouteBatch } from '../../src/virt/nat';
import { pauseProgram } from '../../src/virt/docker/pause-image';
import type { RouterLegRow } from '../../src/db/router-repo';

const leg = (router: string, subnet: string, cidr: string): RouterLegRow => ({ router_id: router, project_id: 'p', admin_state_up: true, subnet_id: subnet, network_id: `net-${subnet}`, cidr, default_for: null, external_ip: null });
const r1 = { id: 'r1', projectId: 'p', legs: [leg('r1', 'a', '10.0.1.0/24'), leg('r1', 'b', '10.0.2.0/24'), leg('r1', 'c', '10.0.3.0/24')] };
const r2 = { id: 'r2', projectId: 'p', legs: [leg('r2', 'c', '10.0.3.0/24'), leg('r2', 'd', '10.0.4.0/24')] };
const addresses = new Map<string, Record<string, string>>([['r1', { 'net-a': '10.0.1.9', 'net-b': '10.0.2.9', 'net-c': '10.0.3.9' }], ['r2', { 'net-c': '10.0.3.8', 'net-d': '10.0.4.8' }]]);

describe('routesFor', () => {
  it('routes a server to its router\'s other subnets through the router\'s leg on its own', () => {
    expect(routesFor(['a'], [r1, r2], addresses)).toEqual([{ cidr: '10.0.2.0/24', via: '10.0.1.9' }, { cidr: '10.0.3.0/24', via: '10.0.1.9' }]);
  });

  it('on two routers\' subnet, each router\'s others through that router; never a subnet the server is on', () => {
    expect(routesFor(['c'], [r1, r2], addresses)).toEqual([{ cidr: '10.0.1.0/24', via: '10.0.3.9' }, { cidr: '10.0.2.0/24', via: '10.0.3.9' }, { cidr: '10.0.4.0/24', via: '10.0.3.8' }]);
    expect(routesFor(['a', 'b'], [r1], addresses)).toEqual([{ cidr: '10.0.3.0/24', via: '10.0.1.9' }]);
  });

  it('no route through a leg the router does not have yet, and none for a server on no router\'s subnet', () => {
    expect(routesFor(['b'], [r1], new Map([['r1', { 'net-a': '10.0.1.9' }]]))).toEqual([]);
    expect(routesFor(['z'], [r1, r2], addresses)).toEqual([]);
  });
});

describe('exitFor', () => {
  const out = { ...r2, exitIp: '172.31.0.5' };
  it('is the first router with a gateway on one of the server\'s subnets, through its leg there', () => {
    expect(exitFor(['d'], [r1, out], addresses)).toBe('10.0.4.8');
    expect(exitFor(['c'], [r1, out], addresses)).toBe('10.0.3.8');
  });

  it('is none without a router with a gateway, off its subnets, or before the router has the leg', () => {
    expect(exitFor(['d'], [r1, r2], addresses)).toBeUndefined();
    expect(exitFor(['a'], [r1, out], addresses)).toBeUndefined();
    expect(exitFor(['d'], [out], new Map([['r2', { 'net-c': '10.0.3.8' }]]))).toBeUndefined();
  });
});

const FLUSH = `rule flush protocol ${ROUTE_PROTO}\nroute flush table ${ROUTE_PROTO}\nroute flush proto ${ROUTE_PROTO}\n`;

describe('routeBatch', () => {
  it('flushes novadock\'s routes and rule and adds the wanted routes, tagged', () => {
    expect(routeBatch([{ cidr: '10.0.2.0/24', via: '10.0.1.9' }])).toBe(`${FLUSH}route replace 10.0.2.0/24 via 10.0.1.9 proto ${ROUTE_PROTO}\n`);
    expect(routeBatch([])).toBe(FLUSH);
  });

  it('a way out: two halves through the router, and the engine\'s default kept for replies from the gateway-bridge address', () => {
    const out = { gateway: '172.18.0.1', dev: 'eth1', address: '172.18.0.7' };
    expect(routeBatch([], { via: '10.0.1.9', out })).toBe(`${FLUSH}route replace 0.0.0.0/1 via 10.0.1.9 proto ${ROUTE_PROTO}\nroute replace 128.0.0.0/1 via 10.0.1.9 proto ${ROUTE_PROTO}\n`
      + `route replace default via 172.18.0.1 dev eth1 table ${ROUTE_PROTO} proto ${ROUTE_PROTO}\nrule add from 172.18.0.7 lookup ${ROUTE_PROTO} priority 17300 protocol ${ROUTE_PROTO}\n`);
    expect(() => routeBatch([], { via: '10.0.1.9', out: { ...out, dev: 'eth1 table 1' } })).toThrow('not a way out');
    expect(() => routeBatch([], { via: '10.0.1.9 dev x', out })).toThrow('not an IPv4 route');
  });

  it.each([['10.0.2.0/24\nroute del default', '10.0.1.9'], ['10.0.2.0/24', '10.0.1.9 dev eth1'], ['fd00::/64', '10.0.1.9']])('refuses what is not an IPv4 route (%j via %j)', (cidr, via) => {
    expect(() => routeBatch([{ cidr, via }])).toThrow('not an IPv4 route');
  });
});

describe('wayOutOf', () => {
  const addrs = '[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1"}]},{"ifname":"eth0","addr_info":[{"family":"inet","local":"10.0.1.5"}]},'
    + '{"ifname":"eth1","addr_info":[{"family":"inet6","local":"fe80::1"},{"family":"inet","local":"172.18.0.7"}]}]';
  it('is the default route\'s gateway and device, and the device\'s IPv4 address', () => {
    expect(wayOutOf(`[{"dst":"default","gateway":"172.18.0.1","dev":"eth1","flags":[]}]\n${addrs}\n`)).toEqual({ gateway: '172.18.0.1', dev: 'eth1', address: '172.18.0.7' });
  });

  it('is none without a default route, or without an address on its device', () => {
    expect(wayOutOf(`[]\n${addrs}\n`)).toBeUndefined();
    expect(wayOutOf('[{"dst":"default","gateway":"172.18.0.1","dev":"eth9"}]\n[]\n')).toBeUndefined();
  });
});

describe('hostRouteBatch', () => {
  it('replaces a host\'s routes of novadock\'s with the subnets behind routers\' exits, sorted', () => {
    expect(hostRouteBatch([{ cidr: '10.0.3.0/24', via: '172.18.0.3' }, { cidr: '10.0.1.0/24', via: '172.18.0.3' }]))
      .toBe(`route flush proto ${ROUTE_PROTO}\nroute replace 10.0.1.0/24 via 172.18.0.3 proto ${ROUTE_PROTO}\nroute replace 10.0.3.0/24 via 172.18.0.3 proto ${ROUTE_PROTO}\n`);
    expect(hostRouteBatch([])).toBe(`route flush proto ${ROUTE_PROTO}\n`);
    expect(() => hostRouteBatch([{ cidr: '10.0.1.0/24', via: '172.18.0.3\nroute del default' }])).toThrow('not an IPv4 route');
  });
});

describe('pauseProgram', () => {
  it('is a static ELF executable whose entry is its code, right after the headers', () => {
    for (const [arch, machine] of [['x86_64', 0x3e], ['aarch64', 0xb7], ['arm64', 0xb7]] as const) {
      const b = pauseProgram(arch);
      expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
      expect([b[4], b[5], b.readUInt16LE(16), b.readUInt16LE(18)]).toEqual([2, 1, 2, machine]);
      expect(b.readBigUInt64LE(24)).toBe(0x400000n + 120n);
      expect(b.readUInt32LE(64)).toBe(1); // PT_LOAD
      expect(b.readBigUInt64LE(96)).toBe(BigInt(b.length));
    }
    expect(pauseProgram('x86_64').subarray(120).toString('hex')).toBe('b8220000000f05ebf7');
  });

  it('refuses an architecture it has no program for', () => {
    expect(() => pauseProgram('s390x')).toThrow('x86_64 or aarch64');
  });
});
