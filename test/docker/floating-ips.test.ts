/**
 * Floating IP forwards on a real engine's host (issue 17): a test bridge stands in for the
 * external network (172.31.240.1/24, made and removed here), a busybox web server runs in a
 * container on a project network (10.240.1.0/24); applying a forward makes the floating address
 * answer from the host, replacing the state stops it at once, and clearing leaves no chain, jump
 * or address behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { busyboxImage } from '../helpers/test-image';
import { dockerCli } from './docker-driver-helpers';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { EMPTY_NAT, HostNat, natChains } from '../../src/virt/nat';

jest.setTimeout(120_000);

const tag = crypto.randomBytes(3).toString('hex');
const BRIDGE = `ndfipt${tag}`;
const NETWORK = `novadock-test-fip-${tag}`;
const CONTAINER = `novadock-test-fip-web-${tag}`;
const EXTERNAL = '172.31.240.0/24';
const FLOATING = '172.31.240.10';
const FIXED = '10.240.1.10';
// Chains of this file's own (tagged): a novadock running beside it on this machine keeps its own.
const CHAIN_TAG = `T${tag}`;
const CHAINS = natChains(CHAIN_TAG);
const nat = new IptablesNat(undefined, CHAIN_TAG);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

/** One HTTP GET from the host with a short connect timeout: the body, or undefined when nothing answers. */
function get(ip: string): string | undefined {
  try {
    return execFileSync('curl', ['-sS', '--max-time', '2', `http://${ip}:8080/`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

const wanted = (forwards: HostNat['forwards']): HostNat => ({ externalInterface: BRIDGE, ownedRanges: [EXTERNAL], forwards, snat: [], routed: [] });

beforeAll(async () => {
  // The external range must be nobody else's on this machine.
  expect(sh('ip', ['-4', 'route', 'show', 'to', 'match', FLOATING]).includes('172.31.240.0/24')).toBe(false);
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', '172.31.240.1/24', 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  const image = busyboxImage('floating-ips');
  const loaded = await dockerCli(['load', '-i', image.path]);
  expect(loaded.code).toBe(0);
  expect((await dockerCli(['network', 'create', '--subnet', '10.240.1.0/24', NETWORK])).code).toBe(0);
  fs.mkdirSync('/tmp', { recursive: true });
  const run = await dockerCli(['run', '-d', '--name', CONTAINER, '--network', NETWORK, '--ip', FIXED, image.imageId,
    'sh', '-c', 'mkdir -p /www && echo hello-from-fip > /www/index.html && exec httpd -f -p 8080 -h /www']);
  expect(run.code).toBe(0);
  // The container answers on its fixed IP before any forward exists.
  for (let i = 0; i < 50 && get(FIXED) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  expect(get(FIXED)).toBe('hello-from-fip\n');
});

afterAll(async () => {
  await nat.clear('local', BRIDGE, [EXTERNAL]).catch(() => undefined);
  await dockerCli(['rm', '-f', CONTAINER]);
  await dockerCli(['network', 'rm', NETWORK]);
  try { sh('ip', ['link', 'del', BRIDGE]); } catch { /* already gone */ }
});

describe('a floating IP forward on the host', () => {
  it('when applied, then the floating address answers from the host with the container\'s page', async () => {
    // Only a local bridge route leads there: no packet leaves the machine.
    expect(sh('ip', ['route', 'get', FLOATING])).toContain(`dev ${BRIDGE}`);
    expect(get(FLOATING)).toBeUndefined();
    await nat.apply('local', wanted([{ floatingIp: FLOATING, fixedIp: FIXED }]));
    expect(get(FLOATING)).toBe('hello-from-fip\n');
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).toContain(`${FLOATING}/32`);
    // Applying the same state again changes nothing (one jump per chain, one address).
    await nat.apply('local', wanted([{ floatingIp: FLOATING, fixedIp: FIXED }]));
    // Exact lines: other novadocks on this machine may hold chains whose names begin like ours.
    expect(sh('iptables', ['-w', '-t', 'nat', '-S', 'PREROUTING']).split('\n').filter((l) => l.endsWith(` -j ${CHAINS.nat.PREROUTING}`))).toHaveLength(1);
    expect(get(FLOATING)).toBe('hello-from-fip\n');
  });

  it('when the forward goes, then the address stops answering at once and is gone from the bridge', async () => {
    await nat.apply('local', wanted([]));
    expect(get(FLOATING)).toBeUndefined();
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).not.toContain(`${FLOATING}/32`);
    expect(get(FIXED)).toBe('hello-from-fip\n');
  });

  it('when cleared, then no chain, jump or floating address of novadock\'s is left', async () => {
    await nat.apply('local', wanted([{ floatingIp: FLOATING, fixedIp: FIXED }]));
    await nat.clear('local', BRIDGE, [EXTERNAL]);
    const all = sh('iptables-save', []);
    expect(all).not.toContain(CHAIN_TAG);
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).not.toContain(`${FLOATING}/32`);
    // The bridge's own address (not a /32 of ours) is untouched.
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).toContain('172.31.240.1/24');
    expect(EMPTY_NAT.forwards).toEqual([]);
  });
});
