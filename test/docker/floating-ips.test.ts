/**
 * Floating IP forwards on a real engine's host (issue 17): a test bridge stands in for the
 * external network (172.31.240.1/24, made and removed here), a busybox web server runs in a
 * container on a project network (10.240.1.0/24); applying a forward makes the floating address
 * answer from the host, replacing the state stops it at once, and clearing leaves no chain, jump
 * or address behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
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
/** A client's namespace on the external bridge (172.31.240.2), for traffic that arrives from outside the host. */
const CLIENT_NS = `ndfipc${tag}`;
const CLIENT_IP = '172.31.240.2';
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
  // A client on the external network that is not the host itself: a namespace on the bridge.
  sh('ip', ['netns', 'add', CLIENT_NS]);
  sh('ip', ['link', 'add', `${BRIDGE}c`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT_NS]);
  sh('ip', ['link', 'set', `${BRIDGE}c`, 'master', BRIDGE, 'up']);
  sh('ip', ['-n', CLIENT_NS, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', CLIENT_NS, 'link', 'set', 'eth0', 'up']);
  const image = busyboxImage('floating-ips');
  const loaded = await dockerCli(['load', '-i', image.path]);
  expect(loaded.code).toBe(0);
  expect((await dockerCli(['network', 'create', '--subnet', '10.240.1.0/24', NETWORK])).code).toBe(0);
  fs.mkdirSync('/tmp', { recursive: true });
  const run = await dockerCli(['run', '-d', '--name', CONTAINER, '--network', NETWORK, '--ip', FIXED, image.imageId,
    'sh', '-c', 'mkdir -p /www && echo hello-from-fip > /www/index.html && dd if=/dev/zero of=/www/big bs=1048576 count=64 2>/dev/null && exec httpd -f -p 8080 -h /www']);
  expect(run.code).toBe(0);
  // The container answers on its fixed IP before any forward exists.
  for (let i = 0; i < 50 && get(FIXED) === undefined; i++) await new Promise((r) => setTimeout(r, 100));
  expect(get(FIXED)).toBe('hello-from-fip\n');
});

afterAll(async () => {
  await nat.clear('local', BRIDGE, [EXTERNAL]).catch(() => undefined);
  await dockerCli(['rm', '-f', CONTAINER]);
  await dockerCli(['network', 'rm', NETWORK]);
  try { sh('ip', ['netns', 'del', CLIENT_NS]); } catch { /* already gone */ }
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

  it('when the forward goes, then a download through it already under way stops too (its connection is forgotten)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-fip-'));
    const out = path.join(dir, 'received');
    // A slow reader (a small receive buffer, 16 KiB every 50 ms) in the client's namespace: its
    // packets reach the host from outside, as a user's do, and the 64 MiB take minutes unless cut off.
    const reader = [
      'import os, socket, sys, time',
      's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384); s.settimeout(1)',
      `s.connect(("${FLOATING}", 8080)); s.sendall(b"GET /big HTTP/1.0\\r\\n\\r\\n")`,
      'total = 0',
      'while True:',
      '    try:',
      '        d = s.recv(16384)',
      '        if not d: break',
      '        total += len(d)',
      '    except socket.timeout: pass',
      // Written whole and renamed into place: a read never sees the file truncated and empty.
      `    open("${out}.new", "w").write(str(total)); os.replace("${out}.new", "${out}"); time.sleep(0.05)`,
    ].join('\n');
    const client = spawn('ip', ['netns', 'exec', CLIENT_NS, 'python3', '-c', reader], { stdio: 'ignore' });
    const received = () => (fs.existsSync(out) ? Number(fs.readFileSync(out, 'utf8')) || 0 : 0);
    const after = async (ms: number) => { await new Promise((r) => setTimeout(r, ms)); return received(); };
    try {
      for (let i = 0; i < 100 && received() < 256 * 1024; i++) await after(100);
      // It is under way: still receiving.
      const a = received();
      expect(await after(1000)).toBeGreaterThan(a);
      await nat.apply('local', wanted([]));
      // What was in flight lands; after that nothing more arrives.
      const cut = await after(1000);
      expect(await after(2000)).toBe(cut);
      expect(cut).toBeLessThan(64 * 1024 * 1024);
    } finally {
      client.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // The next test starts from the forward in place again.
    await nat.apply('local', wanted([{ floatingIp: FLOATING, fixedIp: FIXED }]));
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
