/**
 * The floating IP NAT's rules (issue 17): what a host's state compiles to for iptables-restore,
 * and how NatSync keeps each host's state true to the rows — one run at a time per host, a change
 * during a run followed by one more run, hosts without an external interface touched only for
 * routes between subnets.
 */
import pino from 'pino';
import { compileNat, EMPTY_NAT, floatingAddresses, HostNat, natChains, routedPairs } from '../../src/virt/nat';
import { FakeNat } from '../../src/virt/fake/nat';
import { parseSave } from '../../src/virt/nat-iptables';
import { NatSync } from '../../src/network/nat-sync';
import type { FloatingIpRepository, ForwardRow } from '../../src/db/floating-ip-repo';

const state: HostNat = {
  externalInterface: 'br-ext', ownedRanges: ['172.31.240.0/24'],
  forwards: [{ floatingIp: '172.31.240.11', fixedIp: '10.240.1.11' }, { floatingIp: '172.31.240.10', fixedIp: '10.240.1.10' }],
  snat: [{ cidr: '10.240.1.0/24', externalIp: '172.31.240.2' }],
  routed: [],
};

describe('compiling a host\'s NAT', () => {
  it('when there are forwards, then each gets DNAT from outside and from the host, and SNAT out of the external interface before its subnet\'s', () => {
    const { nat, filter } = compileNat(state);
    expect(nat.split('\n')).toEqual([
      '*nat',
      ':NOVADOCK-FIP-PRE - [0:0]', ':NOVADOCK-FIP-OUT - [0:0]', ':NOVADOCK-FIP-POST - [0:0]',
      '-A NOVADOCK-FIP-PRE -d 172.31.240.10/32 -j DNAT --to-destination 10.240.1.10',
      '-A NOVADOCK-FIP-OUT -d 172.31.240.10/32 -j DNAT --to-destination 10.240.1.10',
      '-A NOVADOCK-FIP-PRE -d 172.31.240.11/32 -j DNAT --to-destination 10.240.1.11',
      '-A NOVADOCK-FIP-OUT -d 172.31.240.11/32 -j DNAT --to-destination 10.240.1.11',
      '-A NOVADOCK-FIP-POST -s 10.240.1.10/32 -o br-ext -j SNAT --to-source 172.31.240.10',
      '-A NOVADOCK-FIP-POST -s 10.240.1.11/32 -o br-ext -j SNAT --to-source 172.31.240.11',
      '-A NOVADOCK-FIP-POST -s 10.240.1.0/24 -o br-ext -j SNAT --to-source 172.31.240.2',
      'COMMIT', '',
    ]);
    expect(filter).toContain('-A NOVADOCK-FIP-FWD -i br-ext -d 10.240.1.10/32 -j ACCEPT');
    expect(filter).toContain('-A NOVADOCK-FIP-FWD -d 10.240.1.0/24 -i br-ext -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');
    expect(floatingAddresses(state)).toEqual(['172.31.240.10', '172.31.240.11', '172.31.240.2']);
  });

  it('when nothing is wanted, then the chains are declared (emptied) and hold no rule', () => {
    const { nat, filter } = compileNat({ ...state, forwards: [], snat: [] });
    expect(nat).not.toContain('-A ');
    expect(nat).toContain(':NOVADOCK-FIP-PRE - [0:0]');
    expect(filter).toBe('*filter\n:NOVADOCK-FIP-FWD - [0:0]\nCOMMIT\n');
  });

  it('with a chain tag, then every chain is the tagged one and no untagged chain is named', () => {
    const { nat, filter } = compileNat(state, natChains('T1a2b3c'));
    expect(nat).toContain(':NOVADOCK-FIP-POST-T1a2b3c - [0:0]');
    expect(nat).toContain('-A NOVADOCK-FIP-PRE-T1a2b3c -d 172.31.240.10/32 -j DNAT --to-destination 10.240.1.10');
    expect(filter).toContain(':NOVADOCK-FIP-FWD-T1a2b3c - [0:0]');
    expect(`${nat}${filter}`.match(/NOVADOCK-FIP-[A-Z]+(?!-T1a2b3c)\b/g)).toBeNull();
    // iptables takes chain names of up to 28 characters; a tag that could not fit (or quote) is refused.
    expect(natChains('ABCDEFGHIJ').nat.POSTROUTING.length).toBeLessThanOrEqual(28);
    expect(() => natChains('a b')).toThrow(/letters or digits/);
    expect(() => natChains('ABCDEFGHIJK')).toThrow();
  });

  it('without an external interface, then no rule and no address', () => {
    expect(compileNat({ ...state, externalInterface: undefined }).nat).not.toContain('-A ');
    expect(floatingAddresses({ ...state, externalInterface: undefined })).toEqual([]);
  });

  it('when a router joins subnets, then each is accepted to the others both ways, unNATed, with or without an external interface', () => {
    const routed = [['10.240.1.0/24', '10.240.2.0/24', '10.240.3.0/24'], ['10.240.1.0/24', '10.240.2.0/24'], ['10.240.9.0/24']];
    const { nat, filter } = compileNat({ ...EMPTY_NAT, routed });
    const pairs = routedPairs(routed);
    expect(pairs).toHaveLength(6);
    expect(pairs).toContainEqual(['10.240.2.0/24', '10.240.1.0/24']);
    expect(pairs.flat()).not.toContain('10.240.9.0/24');
    for (const [a, b] of pairs) {
      expect(filter).toContain(`-A NOVADOCK-FIP-FWD -s ${a} -d ${b} -j ACCEPT`);
      expect(nat).toContain(`-A NOVADOCK-FIP-POST -s ${a} -d ${b} -j ACCEPT`);
    }
    // Routes come before the SNAT out of the external interface.
    const withIface = compileNat({ ...state, routed }).nat.split('\n');
    expect(withIface.findIndex((l) => l.includes('-d 10.240.2.0/24 -j ACCEPT'))).toBeLessThan(withIface.findIndex((l) => l.includes('SNAT')));
  });
});

/** A repository stand-in: the forward rows and what the sync records. */
function fakeRepo(rows: ForwardRow[]) {
  const installed: string[] = [];
  const repo = {
    forwards: async () => rows.map((r) => ({ ...r })),
    externalRanges: async () => ['172.31.240.0/24'],
    strayInstalled: async () => [],
    setInstalled: async (id: string, host: string, status: string) => { installed.push(`${id}@${host}:${status}`); },
    uninstall: async (id: string, host: string) => { installed.push(`${id}-${host}`); },
    hostsConcerning: async () => rows.map((r) => r.target_host),
  };
  return { repo: repo as unknown as FloatingIpRepository, installed };
}

const row = (id: string, target: string, host = ''): ForwardRow => ({
  id, floating_ip_address: `172.31.240.${id}`, fixed_ip_address: `10.240.1.${id}`, floating_network_id: 'ext', target_host: target, host, status: 'DOWN', device_id: `server-${id}`,
});

describe('reading what a host holds from iptables-save', () => {
  it('when the jumps are there, then each table lists its chains and its rules as iptables-save prints them', () => {
    const saved = parseSave([
      '# Generated by iptables-save v1.8.9 (nf_tables)',
      '*filter', ':INPUT ACCEPT [0:0]', ':DOCKER-USER - [0:0]', ':NOVADOCK-FIP-FWD - [0:0]',
      '-A DOCKER-USER -j NOVADOCK-FIP-FWD', '-A NOVADOCK-FIP-FWD -i br-ext -d 10.240.1.10/32 -j ACCEPT', 'COMMIT',
      '*nat', ':PREROUTING ACCEPT [0:0]', ':NOVADOCK-FIP-PRE-T1 - [0:0]', '-A PREROUTING -j NOVADOCK-FIP-PRE-T1', 'COMMIT', '',
    ].join('\n'));
    expect([...saved.keys()]).toEqual(['filter', 'nat']);
    expect(saved.get('filter')!.chains.has('DOCKER-USER')).toBe(true);
    expect(saved.get('filter')!.rules.has('-A DOCKER-USER -j NOVADOCK-FIP-FWD')).toBe(true);
    // Another chain whose name starts like ours is not our jump.
    expect(saved.get('nat')!.rules.has('-A PREROUTING -j NOVADOCK-FIP-PRE')).toBe(false);
    expect(saved.get('nat')!.chains.has('DOCKER-USER')).toBe(false);
  });
});

describe('keeping hosts\' NAT true to the rows', () => {
  const log = pino({ level: 'silent' });

  it('when a host syncs, then it holds exactly the forwards of servers running there, recorded ACTIVE, and moved ones are recorded gone', async () => {
    const nat = new FakeNat();
    const { repo, installed } = fakeRepo([row('10', 'h1'), row('11', 'h2', 'h1')]);
    const sync = new NatSync({ repo, nat, hosts: () => ['h1', 'h2'], settingsOf: () => ({ externalInterface: 'br-ext' }), log });
    await sync.syncHost('h1');
    expect(nat.of('h1').forwards).toEqual([{ floatingIp: '172.31.240.10', fixedIp: '10.240.1.10' }]);
    expect(installed).toEqual(['10@h1:ACTIVE', '11-h1']);
  });

  it('when the host reaches a server elsewhere than at its fixed IP (an overlay), then the forward goes there; a server that cannot be asked keeps its fixed IP', async () => {
    const nat = new FakeNat();
    const { repo, installed } = fakeRepo([row('10', 'h1'), row('11', 'h1'), row('12', 'h1')]);
    const asked: string[] = [];
    const reach = async (host: string, serverId: string, fixedIps: string[]): Promise<Record<string, string>> => {
      asked.push(`${host}:${serverId}:${fixedIps.join(',')}`);
      if (serverId === 'server-11') throw new Error('engine down');
      return serverId === 'server-10' ? { '10.240.1.10': '172.18.0.3' } : {};
    };
    const sync = new NatSync({ repo, nat, hosts: () => ['h1'], settingsOf: () => ({ externalInterface: 'br-ext' }), reach, log });
    await sync.syncHost('h1');
    expect(asked.sort()).toEqual(['h1:server-10:10.240.1.10', 'h1:server-11:10.240.1.11', 'h1:server-12:10.240.1.12']);
    expect(nat.of('h1').forwards).toEqual([
      { floatingIp: '172.31.240.10', fixedIp: '172.18.0.3' },
      { floatingIp: '172.31.240.11', fixedIp: '10.240.1.11' },
      { floatingIp: '172.31.240.12', fixedIp: '10.240.1.12' },
    ]);
    expect(installed).toEqual(['10@h1:ACTIVE', '11@h1:ACTIVE', '12@h1:ACTIVE']);
  });

  it('when changes arrive during a run, then one more run follows and reads the rows afresh', async () => {
    const nat = new FakeNat();
    const rows = [row('10', 'h1')];
    const { repo } = fakeRepo(rows);
    const sync = new NatSync({ repo, nat, hosts: () => ['h1'], settingsOf: () => ({ externalInterface: 'br-ext' }), log });
    const first = sync.syncHost('h1');
    rows.push(row('11', 'h1'));
    const second = sync.syncHost('h1');
    const third = sync.syncHost('h1');
    await Promise.all([first, second, third]);
    expect(nat.calls.filter((c) => c.host === 'h1')).toHaveLength(2);
    expect(nat.of('h1').forwards.map((f) => f.floatingIp)).toEqual(['172.31.240.10', '172.31.240.11']);
  });

  it('when a host has no external interface, then its NAT is never touched', async () => {
    const nat = new FakeNat();
    const { repo, installed } = fakeRepo([row('10', 'h1')]);
    const sync = new NatSync({ repo, nat, hosts: () => ['h1'], settingsOf: () => ({}), log });
    await sync.syncAll();
    expect(nat.calls).toEqual([]);
    expect(installed).toEqual([]);
  });

  it('when a host without an external interface gets routes between subnets, then it holds them alone, and is emptied once they go', async () => {
    const nat = new FakeNat();
    const { repo, installed } = fakeRepo([row('10', 'h1')]);
    let routed = [['10.240.1.0/24', '10.240.2.0/24']];
    const sync = new NatSync({ repo, nat, hosts: () => ['h1'], settingsOf: () => ({}), routed: async () => routed, log });
    await sync.syncAll();
    expect(nat.of('h1')).toEqual({ ...EMPTY_NAT, routed });
    routed = [];
    await sync.syncAll();
    expect(nat.of('h1')).toEqual(EMPTY_NAT);
    // Once empty, the host is left alone again; no forward was ever recorded.
    await sync.syncAll();
    expect(nat.calls).toHaveLength(2);
    expect(installed).toEqual([]);
  });

  it('when a host cannot be reached, then its forwards stay unrecorded and the others are still applied', async () => {
    const nat = new FakeNat();
    nat.unreachable.add('h1');
    const { repo, installed } = fakeRepo([row('10', 'h1'), row('11', 'h2')]);
    const sync = new NatSync({ repo, nat, hosts: () => ['h1', 'h2'], settingsOf: () => ({ externalInterface: 'br-ext' }), log });
    await expect(sync.syncHost('h1')).rejects.toThrow('unreachable');
    await sync.syncAll();
    expect(installed).toEqual(['11@h2:ACTIVE']);
    expect(nat.of('h2').forwards).toHaveLength(1);
  });
});
