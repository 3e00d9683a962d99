/**
 * The DockerDriver's pure parts, checked without an engine: for ANY spec, the create options
 * never widen the container's reach (issue 5, "Container hardening"); the event stream is
 * parsed whole across any chunking; logs are demultiplexed; addresses are stable.
 */
import fc from 'fast-check';
import type { InstanceSpec } from '../../src/virt/driver';
import { createOptions, DEFAULT_LIMITS, demuxLogs, envFromMetadata, powerStateOf, sanitizeHostname } from '../../src/virt/docker/containers';
import { JsonObjectSplitter } from '../../src/virt/docker/json-stream';
import { toInstanceEvent } from '../../src/virt/docker/events';
import { preferredAddress } from '../../src/virt/docker/addresses';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const anyString = fc.string({ unit: 'binary', maxLength: 80 });
const hostileWords = fc.constantFrom('--privileged', 'host', '/:/host', 'Privileged', 'CapAdd', 'SYS_ADMIN', '../../', '{"Binds":["/:/h"]}', 'NetworkMode=host', '\0', '\n');
const word = fc.oneof(anyString, hostileWords);

const specArb: fc.Arbitrary<InstanceSpec> = fc.record({
  serverId: fc.uuid(),
  projectId: fc.oneof(hex(32), word),
  hostname: word,
  imageRef: hex(64).map((h) => `sha256:${h}`),
  command: fc.option(fc.array(word, { maxLength: 5 }), { nil: undefined }),
  memoryMb: fc.integer({ min: 6, max: 65536 }),
  vcpus: fc.integer({ min: 1, max: 64 }),
  env: fc.dictionary(word, word, { maxKeys: 8 }),
  network: fc.option(fc.record({ projectId: word, subnet: fc.constant('10.160.0.0/24'), addressesInUse: fc.constant([]) }), { nil: null }),
  authorizedKeys: fc.option(word, { nil: undefined }),
  userData: fc.option(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), { nil: undefined }),
});

/** The HostConfig keys of a plain spec: what no spec may add to. */
const PLAIN_HOST_CONFIG_KEYS = Object.keys(createOptions({
  serverId: '00000000-0000-4000-8000-000000000000', projectId: 'p', hostname: 'vm', imageRef: `sha256:${'0'.repeat(64)}`,
  memoryMb: 64, vcpus: 1, env: {}, network: null,
}, 'h', null, DEFAULT_LIMITS).HostConfig!).sort();

describe('container create options, for any spec', () => {
  test('are never privileged, never share the host, always limit memory (no swap), CPU and pids', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 256 }), (spec, hostCpus) => {
        const net = spec.network ? { name: `novadock-net-${spec.network.projectId}`, ip: '172.30.0.5' } : null;
        const o = createOptions(spec, 'h', net, { ...DEFAULT_LIMITS, hostCpus });
        const hc = o.HostConfig!;
        expect(hc.Privileged).toBe(false);
        expect(hc.CapAdd).toEqual([]);
        expect(hc.Binds).toEqual([]);
        expect(hc.Mounts).toEqual([]);
        expect(hc.Devices).toEqual([]);
        expect(hc.VolumesFrom).toEqual([]);
        expect(hc.PidMode).toBe('');
        expect(hc.IpcMode).toBe('private');
        expect(hc.UTSMode).toBe('');
        expect(hc.UsernsMode).toBe('');
        expect(hc.NetworkMode).not.toBe('host');
        expect(hc.NetworkMode).toBe(net ? net.name : 'none');
        expect(hc.SecurityOpt).toEqual(['no-new-privileges']);
        expect(hc.Memory).toBe(spec.memoryMb * 1024 * 1024);
        expect(hc.MemorySwap).toBe(hc.Memory);
        expect(hc.NanoCpus).toBeGreaterThan(0);
        expect(hc.NanoCpus).toBeLessThanOrEqual(hostCpus * 1e9);
        expect(hc.PidsLimit).toBe(1024);
        expect(hc.PortBindings).toEqual({});
        expect(hc.PublishAllPorts).toBe(false);
        expect(o.Labels).toEqual({ 'novadock.managed': 'true', 'novadock.server_id': spec.serverId, 'novadock.project_id': spec.projectId, 'novadock.host': 'h' });
        expect(o.Hostname).toMatch(/^[a-z0-9][a-z0-9.-]{0,62}$/);
        for (const e of o.Env ?? []) expect(e).toMatch(/^[A-Za-z_][A-Za-z0-9_]*=[^\0]*$/s);
        // Option keys are fixed: nothing in the spec adds one.
        // (Compared with a fixed plain spec: comparing with this same spec minus its env only caught env.)
        expect(Object.keys(hc).sort()).toEqual(PLAIN_HOST_CONFIG_KEYS);
      }),
      { numRuns: 500 },
    );
  });

  test('metadata keys that are not variable names are left out, not renamed', () => {
    expect(envFromMetadata({ ROLE: 'db', 'my key': 'x', 'a.b': 'y', _ok: 'z', '1bad': 'n' })).toEqual(['ROLE=db', '_ok=z']);
  });

  test("hostnames follow Nova's sanitize_hostname", () => {
    expect(sanitizeHostname('My Server_1', 'abc')).toBe('my-server-1');
    expect(sanitizeHostname('!!!', '12345678-aaaa')).toBe('server-12345678');
    expect(sanitizeHostname('a'.repeat(100), 'x')).toHaveLength(63);
  });

  test('engine states map to Nova power states', () => {
    expect(powerStateOf({ Status: 'running' })).toBe(1);
    expect(powerStateOf({ Status: 'running', Paused: true })).toBe(3);
    expect(powerStateOf('paused')).toBe(3);
    expect(powerStateOf('exited')).toBe(4);
    expect(powerStateOf('created')).toBe(4);
    expect(powerStateOf('dead')).toBe(6);
  });
});

describe('the engine event stream', () => {
  const mine = (id: string, action: string) => ({
    Type: 'container',
    Action: action,
    Actor: { ID: 'f'.repeat(64), Attributes: { 'novadock.managed': 'true', 'novadock.host': 'h', 'novadock.server_id': id, name: 'x "quoted" {brace}' } },
  });

  test('is parsed whole however it is chunked, multi-byte characters included', () => {
    const messages = [mine('s1', 'start'), mine('s2', 'die'), mine('s3é✓', 'oom')];
    const text = Buffer.from(messages.map((m) => JSON.stringify(m)).join('\n') + '\n');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: text.length }), { maxLength: 10 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const s = new JsonObjectSplitter();
        const out: unknown[] = [];
        let prev = 0;
        for (const p of [...points, text.length]) {
          out.push(...s.push(text.subarray(prev, p)));
          prev = p;
        }
        expect(out).toEqual(messages);
      }),
    );
  });

  test('maps our container actions and ignores the rest', () => {
    expect(toInstanceEvent(mine('s1', 'die'), 'h')).toEqual({ serverId: 's1', type: 'die' });
    expect(toInstanceEvent(mine('s1', 'exec_create: sh'), 'h')).toBeUndefined();
    expect(toInstanceEvent(mine('s1', 'die'), 'other-host')).toBeUndefined();
    expect(toInstanceEvent({ ...mine('s1', 'die'), Type: 'network' }, 'h')).toBeUndefined();
    expect(toInstanceEvent({ Type: 'container', Action: 'die', Actor: { Attributes: {} } }, 'h')).toBeUndefined();
  });
});

describe('logs and addresses', () => {
  test('multiplexed logs are joined in order, stdout and stderr alike', () => {
    const frame = (type: number, text: string) => {
      const body = Buffer.from(text);
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(body.length, 4);
      return Buffer.concat([h, body]);
    };
    expect(demuxLogs(Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n')]))).toBe('out 1\nerr 1\nout 2\n');
    expect(demuxLogs(Buffer.from('plain tty text\n'))).toBe('plain tty text\n');
  });

  test('a server prefers the same address every time, and skips addresses in use', () => {
    const a = preferredAddress('172.30.0.0/16', 'server-a', new Set());
    expect(preferredAddress('172.30.0.0/16', 'server-a', new Set())).toBe(a);
    const b = preferredAddress('172.30.0.0/16', 'server-a', new Set([a]));
    expect(b).not.toBe(a);
    fc.assert(
      fc.property(fc.uuid(), (id) => {
        const ip = preferredAddress('10.1.2.0/29', id, new Set());
        const last = Number(ip.split('.')[3]);
        expect(last).toBeGreaterThanOrEqual(2);
        expect(last).toBeLessThanOrEqual(6);
      }),
    );
  });

  test("on a network spanning hosts, requested addresses stay above the engine's own allocation range", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 150 }), (id, taken) => {
        const used = new Set(taken.map((n) => `10.160.7.${n}`));
        const last = Number(preferredAddress('10.160.7.0/24', id, used, 64).split('.')[3]);
        expect(last).toBeGreaterThanOrEqual(64);
        expect(last).toBeLessThanOrEqual(254);
        expect(used.has(`10.160.7.${last}`)).toBe(false);
      }),
    );
  });
});
