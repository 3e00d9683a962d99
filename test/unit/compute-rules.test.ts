/**
 * The small rule tables of the compute service, on their own: Nova's status map, the allowed
 * states per action and their 409 texts, the console tail, the command split, hostnames, and the
 * regular-expression guard of the list filters.
 */
import { statusOf, STATE_MAP, ALL_STATUSES } from '../../src/compute/status';
import { RULES, refusal, claimCondition } from '../../src/compute/state-rules';
import { tailLines } from '../../src/compute/services/server-actions';
import { commandOf } from '../../src/compute/services/instance-builder';
import { idFromHref } from '../../src/compute/refs';
import { sanitizeHostname, instanceName, hostIdOf } from '../../src/compute/naming';
import { filterRegex } from '../../src/compute/safe-regex';
import { PRIVATE_NETWORK_ID, stableUuid } from '../../src/compute/networks';
import type { ImageRecord } from '../../src/image/image-record';
import type { ServerRecord } from '../../src/compute/server-record';

describe("status is Nova's _STATE_MAP", () => {
  test.each([
    ['building', 'scheduling', 'BUILD'],
    ['building', 'spawning', 'BUILD'],
    ['active', null, 'ACTIVE'],
    ['active', 'rebooting', 'REBOOT'],
    ['active', 'reboot_started', 'REBOOT'],
    ['active', 'rebooting_hard', 'HARD_REBOOT'],
    ['active', 'rebuilding', 'REBUILD'],
    ['active', 'powering-off', 'ACTIVE'],
    ['active', 'pausing', 'ACTIVE'],
    ['active', 'image_snapshot', 'ACTIVE'],
    ['active', 'deleting', 'ACTIVE'],
    ['active', 'migrating', 'MIGRATING'],
    ['active', 'resize_prep', 'RESIZE'],
    ['stopped', null, 'SHUTOFF'],
    ['stopped', 'powering-on', 'SHUTOFF'],
    ['stopped', 'rebuild_spawning', 'REBUILD'],
    ['paused', null, 'PAUSED'],
    ['paused', 'unpausing', 'PAUSED'],
    ['suspended', 'resuming', 'SUSPENDED'],
    ['error', null, 'ERROR'],
    ['error', 'rebuilding', 'REBUILD'],
    ['error', 'deleting', 'ERROR'],
    ['rescued', null, 'RESCUE'],
    ['resized', null, 'VERIFY_RESIZE'],
    ['resized', 'resize_reverting', 'REVERT_RESIZE'],
    ['soft-delete', null, 'SOFT_DELETED'],
    ['shelved_offloaded', null, 'SHELVED_OFFLOADED'],
    ['deleted', null, 'DELETED'],
  ])('(%s, %s) → %s', (vm, task, status) => {
    expect(statusOf(vm, task)).toBe(status);
  });

  test('a deleted row is DELETED whatever its states; an unknown vm_state is UNKNOWN', () => {
    expect(statusOf('active', null, true)).toBe('DELETED');
    expect(statusOf('weird', null)).toBe('UNKNOWN');
  });

  test('every vm_state has a default and the status set holds what the filter accepts', () => {
    expect(Object.keys(STATE_MAP)).toEqual(expect.arrayContaining(['building', 'active', 'stopped', 'paused', 'suspended', 'error', 'deleted']));
    for (const m of Object.values(STATE_MAP)) expect(typeof m.default).toBe('string');
    expect([...ALL_STATUSES]).toEqual(expect.arrayContaining(['ACTIVE', 'BUILD', 'SHUTOFF', 'ERROR', 'HARD_REBOOT', 'DELETED']));
    expect(ALL_STATUSES.has('BOGUS')).toBe(false);
  });
});

const server = (over: Partial<ServerRecord>): ServerRecord =>
  ({ id: 'S', vm_state: 'active', task_state: null, launched_at: '2026-01-01T00:00:00.000Z', locked: false, ...over } as ServerRecord);

describe('which states allow which action (check_instance_state)', () => {
  test.each([
    ['stop', { vm_state: 'active' }, undefined],
    ['stop', { vm_state: 'error' }, undefined],
    ['stop', { vm_state: 'stopped' }, "Cannot 'stop' instance S while it is in vm_state stopped"],
    ['stop', { task_state: 'powering-off' }, "Cannot 'stop' instance S while it is in task_state powering-off"],
    ['stop', { launched_at: null }, "Cannot 'stop' instance S while it is in launched_at None"],
    ['start', { vm_state: 'stopped' }, undefined],
    ['start', { vm_state: 'active' }, "Cannot 'start' instance S while it is in vm_state active"],
    ['rebootSoft', { vm_state: 'active' }, undefined],
    ['rebootSoft', { vm_state: 'stopped' }, "Cannot 'reboot' instance S while it is in vm_state stopped"],
    ['rebootSoft', { task_state: 'pausing' }, "Cannot 'reboot' instance S while it is in task_state pausing"],
    ['rebootHard', { vm_state: 'stopped' }, undefined],
    ['rebootHard', { vm_state: 'error' }, undefined],
    ['rebootHard', { task_state: 'pausing' }, undefined],
    ['rebootHard', { task_state: 'rebooting' }, undefined],
    ['rebootHard', { task_state: 'powering-off' }, "Cannot 'reboot' instance S while it is in task_state powering-off"],
    ['rebootHard', { vm_state: 'building' }, "Cannot 'reboot' instance S while it is in vm_state building"],
    ['pause', { vm_state: 'paused' }, "Cannot 'pause' instance S while it is in vm_state paused"],
    ['unpause', { vm_state: 'paused' }, undefined],
    ['suspend', { vm_state: 'stopped' }, "Cannot 'suspend' instance S while it is in vm_state stopped"],
    ['resume', { vm_state: 'active' }, "Cannot 'resume' instance S while it is in vm_state active"],
    ['rebuild', { vm_state: 'error' }, undefined],
    ['rebuild', { vm_state: 'paused' }, "Cannot 'rebuild' instance S while it is in vm_state paused"],
    ['createImage', { vm_state: 'suspended' }, undefined],
    ['createImage', { vm_state: 'error' }, "Cannot 'createImage' instance S while it is in vm_state error"],
    ['updateMetadata', { vm_state: 'building', launched_at: null }, "Cannot 'update metadata' instance S while it is in vm_state building"],
    ['updateMetadata', { task_state: 'powering-off' }, undefined],
    ['delete', { vm_state: 'building', task_state: 'spawning', launched_at: null }, undefined],
  ] as const)('%s on %j → %s', (rule, over, message) => {
    expect(refusal(server(over as Partial<ServerRecord>), RULES[rule], false)).toBe(message);
  });

  test('a locked server refuses non-admins first, admins pass; createImage ignores the lock', () => {
    const locked = server({ locked: true, vm_state: 'stopped' });
    expect(refusal(locked, RULES.stop, false)).toBe('Instance S is locked');
    expect(refusal(locked, RULES.stop, true)).toBe("Cannot 'stop' instance S while it is in vm_state stopped");
    expect(refusal(server({ locked: true }), RULES.createImage, false)).toBeUndefined();
    expect(refusal(server({ locked: true }), RULES.delete, false)).toBe('Instance S is locked');
  });

  test('the compare-and-set condition intersects the stages', () => {
    expect(claimCondition(RULES.rebootSoft)).toEqual({ vmStates: ['active'], taskStates: [null], mustHaveLaunched: true });
    expect(claimCondition(RULES.rebootHard).vmStates).toEqual(['active', 'stopped', 'paused', 'suspended', 'error']);
    expect(claimCondition(RULES.rebootHard).taskStates).toContain('pausing');
    expect(claimCondition(RULES.delete)).toEqual({ vmStates: null, taskStates: null, mustHaveLaunched: false });
  });
});

describe("the console tail is Nova's _tail_log", () => {
  const log = 'a\nb\nc\nd\n';
  test.each([
    [null, log],
    [-1, log],
    [0, ''],
    [1, ''],
    [2, 'd\n'],
    [3, 'c\nd\n'],
    [100, log],
    [-3, 'd\n'],
  ])('length %s', (length, expected) => {
    expect(tailLines(log, length)).toBe(expected);
  });
});

describe('the image command property', () => {
  const image = (line?: string) => ({ properties: line === undefined ? {} : { os_command_line: line } } as unknown as ImageRecord);
  test('is split with shell rules, operators kept as words, nothing expanded', () => {
    expect(commandOf(image('/bin/sh -c "echo $HOME; ls" > /tmp/x'))).toEqual(['/bin/sh', '-c', 'echo $HOME; ls', '>', '/tmp/x']);
    expect(commandOf(image("nginx -g 'daemon off;'"))).toEqual(['nginx', '-g', 'daemon off;']);
    expect(commandOf(image('echo *.txt $PATH'))).toEqual(['echo', '*.txt', '$PATH']);
  });
  test('absent or blank is the image default', () => {
    expect(commandOf(image())).toBeUndefined();
    expect(commandOf(image('   '))).toBeUndefined();
  });
});

describe('names', () => {
  test.each([
    ['vm1', 'vm1'],
    ['My Server_1.example', 'my-server-1-example'],
    ['--x--', 'x'],
    ['ünïcødé', 'ncd'],
    ['!!!', 'Server-ID'],
    ['a'.repeat(80), 'a'.repeat(63)],
  ])('hostname of %j is %j', (name, host) => {
    expect(sanitizeHostname(name, 'Server-ID')).toBe(host);
  });

  test('instance names, hostId, network ids and hrefs', () => {
    expect(instanceName(1)).toBe('instance-00000001');
    expect(instanceName(255)).toBe('instance-000000ff');
    expect(hostIdOf('p', null)).toBe('');
    expect(hostIdOf('p', 'h')).toMatch(/^[0-9a-f]{56}$/);
    expect(hostIdOf('p', 'h')).not.toBe(hostIdOf('q', 'h'));
    expect(stableUuid('n', 'abc')).toBe(stableUuid('n', 'abc'));
    expect(PRIVATE_NETWORK_ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(stableUuid('n', 'abc')).not.toBe(stableUuid('n', 'abd'));
    expect(idFromHref('http://h/compute/v2.1/flavors/42')).toBe('42');
    expect(idFromHref('42')).toBe('42');
  });
});

describe('list filter regular expressions', () => {
  test('are unanchored searches', () => {
    expect(filterRegex('name', 'b3').test('web3')).toBe(true);
    expect(filterRegex('name', '^vm[0-9]+$').test('vm12')).toBe(true);
  });
  test.each([['(a+)+$'], ['(a|aa)*b'], ['((ab)*)+'], ['(x)\\1'], ['a'.repeat(256)]])('%s is refused before it runs', (p) => {
    expect(() => filterRegex('name', p)).toThrow(expect.objectContaining({ kind: 'invalid' }));
  });
  test('an invalid pattern is a 400, not an exception', () => {
    expect(() => filterRegex('name', 'vm[')).toThrow(expect.objectContaining({ kind: 'invalid' }));
  });
});
