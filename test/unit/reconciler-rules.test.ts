/**
 * The reconciler's pure decisions (sync-rules.ts), one situation per line: given what the database
 * says and what the engine reports, what changes.
 */
import { decideSync, decideRecovery, Observation } from '../../src/compute/sync-rules';
import type { InstanceInfo, PowerState } from '../../src/virt/driver';
import type { ServerRecord } from '../../src/compute/server-record';

const server = (over: Partial<ServerRecord> = {}): ServerRecord => ({
  id: 'S',
  vm_state: 'active',
  task_state: null,
  power_state: 1,
  host: 'h1',
  addresses: { private: [{ addr: '10.0.0.2', version: 4, mac: '02:42:0a:00:00:02' }] },
  deleted: false,
  launched_at: '2026-01-01T00:00:00.000Z',
  flavor: { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, ephemeral: 0, swap: 0, extra_specs: {} },
  ...over,
} as ServerRecord);

const info = (powerState: PowerState, extra: Partial<InstanceInfo> = {}): InstanceInfo => ({
  powerState,
  addresses: [{ network: 'private', addr: '10.0.0.2', version: 4, mac: '02:42:0a:00:00:02' }],
  ...extra,
});

describe('decideSync', () => {
  test.each<[string, Partial<ServerRecord>, Observation, string]>([
    ['a task in flight', { task_state: 'powering-off' }, info(4), 'skip'],
    ['a build', { vm_state: 'building', task_state: null }, 'gone', 'skip'],
    ['a deleted row', { deleted: true }, 'gone', 'skip'],
    ['agreement', {}, info(1), 'none'],
  ])('%s: %s', (_what, over, observed, kind) => {
    expect(decideSync(server(over), observed).kind).toBe(kind);
  });

  test.each<[string, Partial<ServerRecord>, Observation, Record<string, unknown>]>([
    ['ACTIVE whose container exited → SHUTOFF (stopped, 4)', {}, info(4, { exitCode: 0 }), { vm_state: 'stopped', power_state: 4 }],
    ['ACTIVE whose container crashed → stopped, power 6', {}, info(6, { exitCode: 1 }), { vm_state: 'stopped', power_state: 6 }],
    ['ACTIVE frozen from outside → PAUSED', {}, info(3), { vm_state: 'paused', power_state: 3 }],
    ['SHUTOFF started from outside → ACTIVE', { vm_state: 'stopped', power_state: 4 }, info(1), { vm_state: 'active', power_state: 1 }],
    ['PAUSED thawed from outside → ACTIVE', { vm_state: 'paused', power_state: 3 }, info(1), { vm_state: 'active', power_state: 1 }],
    ['PAUSED killed → SHUTOFF', { vm_state: 'paused', power_state: 3 }, info(4), { vm_state: 'stopped', power_state: 4 }],
    ['SUSPENDED: the engine reports the freeze as 3, shown as 7', { vm_state: 'suspended', power_state: 1 }, info(3), { power_state: 7 }],
    ['SUSPENDED thawed from outside → ACTIVE', { vm_state: 'suspended', power_state: 7 }, info(1), { vm_state: 'active', power_state: 1 }],
    ['ERROR follows the power state only', { vm_state: 'error', power_state: 0 }, info(1), { power_state: 1 }],
    ['ACTIVE running on a new address', {}, info(1, { addresses: [{ network: 'private', addr: '10.0.0.9', version: 4, mac: 'm' }] }),
      { addresses: { private: [{ addr: '10.0.0.9', version: 4, mac: 'm' }] } }],
  ])('%s', (_what, over, observed, patch) => {
    const d = decideSync(server(over), observed);
    expect(d.kind).toBe('update');
    if (d.kind === 'update') expect(d.patch).toEqual(patch);
  });

  test('an OOM kill makes the server ERROR with a fault naming the flavor RAM (SHUTOFF would hide the fault)', () => {
    const d = decideSync(server(), info(4, { exitCode: 137, oomKilled: true }));
    expect(d).toMatchObject({ kind: 'update', patch: { vm_state: 'error', power_state: 4 } });
    if (d.kind === 'update') expect(d.patch.fault!.message).toMatch(/out of memory \(OOM\).*512 MB/);
  });

  test.each(['active', 'stopped', 'paused', 'suspended'] as const)('the container gone from a %s server → ERROR, power 0, with a fault', (vm) => {
    const d = decideSync(server({ vm_state: vm }), 'gone');
    expect(d).toMatchObject({ kind: 'update', patch: { vm_state: 'error', power_state: 0, fault: { code: 500 } } });
    if (d.kind === 'update') expect(d.patch.fault!.message).toContain('is gone from compute host h1');
  });

  test('the container gone from an ERROR server only clears the power state', () => {
    expect(decideSync(server({ vm_state: 'error', power_state: 4 }), 'gone')).toMatchObject({ kind: 'update', patch: { power_state: 0 } });
    expect(decideSync(server({ vm_state: 'error', power_state: 0 }), 'gone').kind).toBe('none');
  });
});

describe('decideRecovery (start-up after a crash)', () => {
  test('a build whose container runs completes', () => {
    const d = decideRecovery(server({ vm_state: 'building', task_state: 'spawning', launched_at: null }), info(1));
    expect(d).toMatchObject({ kind: 'complete-build', patch: { vm_state: 'active', power_state: 1 } });
  });

  test.each<[string, Observation | undefined]>([
    ['no container', 'gone'],
    ['a stopped container', info(4)],
    ['never scheduled', undefined],
  ])('a build with %s fails with a fault saying it was interrupted', (_w, observed) => {
    const d = decideRecovery(server({ vm_state: 'building', task_state: 'block_device_mapping', launched_at: null }), observed);
    expect(d.kind).toBe('fail-build');
    if (d.kind === 'fail-build') expect(d.message).toContain('interrupted by a restart');
  });

  test('a delete in flight completes; other tasks are cleared; a rebuild that lost its container is ERROR', () => {
    expect(decideRecovery(server({ task_state: 'deleting' }), info(1)).kind).toBe('finish-delete');
    expect(decideRecovery(server({ task_state: 'powering-off' }), info(4))).toEqual({ kind: 'clear-task' });
    expect(decideRecovery(server({ task_state: 'image_uploading' }), info(1))).toEqual({ kind: 'clear-task' });
    const rebuild = decideRecovery(server({ task_state: 'rebuild_spawning' }), 'gone');
    expect(rebuild).toMatchObject({ kind: 'clear-task', fault: { code: 500 } });
    expect(decideRecovery(server(), info(1)).kind).toBe('none');
  });

  test('shelve: an offload cut short is finished; an unshelve cut short is ACTIVE if its container runs, else offloaded again; a shelving server is cleared', () => {
    expect(decideRecovery(server({ vm_state: 'shelved', task_state: 'shelving_offloading' }), info(4)).kind).toBe('complete-offload');
    expect(decideRecovery(server({ vm_state: 'shelved', task_state: 'shelving_offloading' }), 'gone').kind).toBe('complete-offload');
    expect(decideRecovery(server({ vm_state: 'shelved_offloaded', task_state: 'spawning' }), info(1))).toMatchObject({ kind: 'complete-unshelve', patch: { vm_state: 'active', power_state: 1 } });
    expect(decideRecovery(server({ vm_state: 'shelved_offloaded', task_state: 'spawning' }), 'gone').kind).toBe('fail-unshelve');
    expect(decideRecovery(server({ vm_state: 'shelved_offloaded', task_state: 'unshelving', host: null }), undefined).kind).toBe('fail-unshelve');
    expect(decideRecovery(server({ task_state: 'shelving_image_uploading' }), info(4))).toEqual({ kind: 'clear-task' });
  });

  test('decideSync leaves an offloaded server (no instance) and shelve\'s tasks alone', () => {
    expect(decideSync(server({ vm_state: 'shelved_offloaded', power_state: 4, host: null }), 'gone')).toEqual({ kind: 'skip', reason: 'shelved offloaded' });
    expect(decideSync(server({ vm_state: 'shelved', power_state: 4 }), info(4))).toEqual({ kind: 'none' });
    for (const task of ['shelving', 'shelving_image_pending_upload', 'shelving_image_uploading', 'shelving_offloading', 'unshelving'] as const) {
      expect(decideSync(server({ task_state: task }), 'gone').kind).toBe('skip');
    }
  });
});
