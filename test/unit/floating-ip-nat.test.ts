/**
 * The floating IP NAT's rules (issue 17): what a host's state compiles to for iptables-restore,
 * and how NatSync keeps each host's state true to the rows — one run at a time per host, a change
 * during a run followed by one more run, hosts without an external interface never touched.
 */
import pino from 'pino';
import { compileNat, floatingAddresses, HostNat, natChains } from '../../src/virt/nat';
import { FakeNat } from '../../src/virt/fake/nat';
import { NatSync } from '../../src/network/nat-sync';
import type { FloatingIpRepository, ForwardRow } from '../../src/db/floating-ip-repo';

const state: HostNat = {
  externalInterface: 'br-ext', ownedRanges: ['172.31.240.0/24'],
  forwards: [{ floatingIp: '172.31.240.11', fixedIp: '10.240.1.11' }, { floatingIp: '172.31.240.10', fixedIp: '10.240.1.10' }],
  snat: [{ cidr: '10.240.1.0/24', externalIp: '172.31.240.2' }],
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
