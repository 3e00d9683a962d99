/**
 * What to do when the engine's view of a server differs from the database's: pure decisions,
 * after nova/compute/manager.py `_sync_instance_power_state`, adapted so that states stay true to
 * Docker. The compute service applies them (compare-and-set); the reconciler only observes.
 *
 * Rules (the engine is the truth for power_state; the database for intent):
 *  - a server with a task in flight, still building, or deleted is left alone (its task owns it),
 *    and so is a SHELVED_OFFLOADED one (it has no instance by design);
 *  - power_state is what the engine reports, except that a SUSPENDED server's frozen container
 *    (which the engine reports as PAUSED, 3) is shown as SUSPENDED (7): suspend = freeze, see README;
 *  - ACTIVE/PAUSED/SUSPENDED whose container stopped → SHUTOFF (vm_state stopped);
 *  - a container stopped by the kernel's OOM killer → ERROR with a fault naming the flavor's RAM.
 *    We choose ERROR over SHUTOFF because Nova shows `fault` only for ERROR servers: SHUTOFF would
 *    hide why the server went down. `os-stop`, a hard reboot or a rebuild bring it back;
 *  - a stopped container that runs again (`docker start` outside novadock) → ACTIVE, and one
 *    frozen from outside (`docker pause`) → PAUSED: the engine is the truth;
 *  - the container gone from an ACTIVE/SHUTOFF/PAUSED/SUSPENDED server → ERROR with a fault;
 *  - an ERROR server only follows the engine's power_state.
 */
import type { InstanceInfo, PowerState } from '../virt/driver';
import type { ServerAddress, ServerRecord } from './server-record';
import { VmStates, VmState } from './vm-states';
import { TaskStates } from './task-states';
import { PowerStates } from './power-state';
import { PROJECT_NETWORK_LABEL } from './networks';

/** What the engine says about a server's instance: its info, or that it does not exist. */
export type Observation = InstanceInfo | 'gone';

/** The changes a decision makes (a subset of the row). */
export interface SyncPatch {
  vm_state?: VmState;
  power_state?: PowerState;
  addresses?: Record<string, ServerAddress[]>;
  /** A fault to record (the service stamps `created`). */
  fault?: { code: number; message: string };
}

export type SyncDecision =
  | { kind: 'skip'; reason: string }
  | { kind: 'none' }
  | { kind: 'update'; patch: SyncPatch; reason: string };

type SyncView = Pick<ServerRecord, 'id' | 'vm_state' | 'task_state' | 'power_state' | 'host' | 'addresses' | 'deleted' | 'flavor'>;

/** InstanceInfo's address list in the shape of ServerRecord.addresses. */
export function addressesOf(info: InstanceInfo): Record<string, ServerAddress[]> {
  const out: Record<string, ServerAddress[]> = {};
  for (const a of info.addresses) (out[a.network || PROJECT_NETWORK_LABEL] ??= []).push({ addr: a.addr, version: a.version, mac: a.mac });
  return out;
}

const sameAddresses = (a: Record<string, ServerAddress[]>, b: Record<string, ServerAddress[]>) => JSON.stringify(a) === JSON.stringify(b);

export const goneMessage = (s: Pick<ServerRecord, 'id' | 'host'>) =>
  `The container of server ${s.id} is gone from compute host ${s.host ?? '(none)'}; it was removed outside novadock.`;

export const oomMessage = (s: Pick<ServerRecord, 'flavor'>) =>
  `The server's process was killed by the kernel for running out of memory (OOM): it used more than the flavor's ${s.flavor.ram} MB of RAM.`;

const STOPPED_POWER: PowerState[] = [PowerStates.SHUTDOWN, PowerStates.CRASHED, PowerStates.NOSTATE];

/** The one decision function: (server, what the engine reports) → what to change. */
export function decideSync(server: SyncView, observed: Observation): SyncDecision {
  if (server.deleted) return { kind: 'skip', reason: 'deleted' };
  if (server.task_state !== null) return { kind: 'skip', reason: `task ${server.task_state} in flight` };
  if (server.vm_state === VmStates.BUILDING) return { kind: 'skip', reason: 'building' };
  // Offloaded: it has no instance anywhere by design; no engine speaks for it (power stays SHUTDOWN, as Nova shows).
  if (server.vm_state === VmStates.SHELVED_OFFLOADED) return { kind: 'skip', reason: 'shelved offloaded' };

  const patch: SyncPatch = {};
  const finish = (reason: string): SyncDecision => (Object.keys(patch).length ? { kind: 'update', patch, reason } : { kind: 'none' });

  if (observed === 'gone') {
    const settled: VmState[] = [VmStates.ACTIVE, VmStates.STOPPED, VmStates.PAUSED, VmStates.SUSPENDED];
    if (settled.includes(server.vm_state)) {
      return {
        kind: 'update',
        reason: 'container gone',
        patch: { vm_state: VmStates.ERROR, power_state: PowerStates.NOSTATE, fault: { code: 500, message: goneMessage(server) } },
      };
    }
    if (server.power_state !== PowerStates.NOSTATE) patch.power_state = PowerStates.NOSTATE;
    return finish('container gone');
  }

  const p = observed.powerState;
  const setPower = (v: PowerState) => {
    if (server.power_state !== v) patch.power_state = v;
  };
  const running = () => {
    setPower(PowerStates.RUNNING);
    const addrs = addressesOf(observed);
    if (!sameAddresses(addrs, server.addresses ?? {}) && observed.addresses.length > 0) patch.addresses = addrs;
  };
  const stoppedOrOom = () => {
    if (observed.oomKilled) {
      patch.vm_state = VmStates.ERROR;
      patch.fault = { code: 500, message: oomMessage(server) };
      patch.power_state = p;
    } else {
      patch.vm_state = VmStates.STOPPED;
      setPower(p === PowerStates.NOSTATE ? PowerStates.SHUTDOWN : p);
    }
  };

  switch (server.vm_state) {
    case VmStates.ACTIVE:
      if (p === PowerStates.RUNNING) running();
      else if (p === PowerStates.PAUSED) {
        patch.vm_state = VmStates.PAUSED;
        setPower(PowerStates.PAUSED);
      } else if (STOPPED_POWER.includes(p)) stoppedOrOom();
      else setPower(p);
      return finish(`engine reports power_state ${p} for an active server`);
    case VmStates.STOPPED:
      if (p === PowerStates.RUNNING) {
        patch.vm_state = VmStates.ACTIVE;
        running();
      } else if (p === PowerStates.PAUSED) {
        patch.vm_state = VmStates.PAUSED;
        setPower(PowerStates.PAUSED);
      } else setPower(p === PowerStates.NOSTATE ? PowerStates.SHUTDOWN : p);
      return finish(`engine reports power_state ${p} for a stopped server`);
    case VmStates.PAUSED:
    case VmStates.SUSPENDED: {
      const frozen = server.vm_state === VmStates.SUSPENDED ? PowerStates.SUSPENDED : PowerStates.PAUSED;
      if (p === PowerStates.PAUSED || p === PowerStates.SUSPENDED) setPower(frozen);
      else if (p === PowerStates.RUNNING) {
        patch.vm_state = VmStates.ACTIVE;
        running();
      } else if (STOPPED_POWER.includes(p)) stoppedOrOom();
      else setPower(p);
      return finish(`engine reports power_state ${p} for a ${server.vm_state} server`);
    }
    default:
      setPower(p);
      return finish(`engine reports power_state ${p}`);
  }
}

/**
 * Nova's resume_guests_state_on_host_boot (issue 15): after its engine restarted, an ACTIVE
 * server with no task whose container stopped (not by the OOM killer) is started again rather
 * than set SHUTOFF.
 */
export function shouldResume(server: SyncView, observed: Observation): boolean {
  if (server.deleted || server.task_state !== null || server.vm_state !== VmStates.ACTIVE || observed === 'gone') return false;
  return STOPPED_POWER.includes(observed.powerState) && !observed.oomKilled;
}

/** Start-up recovery of a server a crash left mid-task (or mid-build). */
export type RecoveryDecision =
  | { kind: 'complete-build'; patch: SyncPatch }
  | { kind: 'fail-build'; message: string }
  | { kind: 'finish-delete' }
  | { kind: 'clear-task'; fault?: { code: number; message: string } }
  /** A shelve offload cut short: finish it (the instance goes, the allocation is released). */
  | { kind: 'complete-offload' }
  /** An unshelve of an offloaded server cut short: ACTIVE if its instance runs, else offloaded again. */
  | { kind: 'complete-unshelve'; patch: SyncPatch }
  | { kind: 'fail-unshelve' }
  | { kind: 'none' };

export const INTERRUPTED = 'interrupted by a restart of novadock';

type RecoveryView = SyncView & Pick<ServerRecord, 'launched_at'>;

export function decideRecovery(server: RecoveryView, observed: Observation | undefined): RecoveryDecision {
  if (server.deleted) return { kind: 'none' };
  if (server.task_state === TaskStates.DELETING) return { kind: 'finish-delete' };
  if (server.vm_state === VmStates.BUILDING) {
    if (observed && observed !== 'gone' && observed.powerState === PowerStates.RUNNING) {
      return { kind: 'complete-build', patch: { vm_state: VmStates.ACTIVE, power_state: PowerStates.RUNNING, addresses: addressesOf(observed) } };
    }
    return { kind: 'fail-build', message: `Build of server ${server.id} was ${INTERRUPTED}.` };
  }
  if (server.task_state === null) return { kind: 'none' };
  if (server.vm_state === VmStates.SHELVED && server.task_state === TaskStates.SHELVING_OFFLOADING) return { kind: 'complete-offload' };
  if (server.vm_state === VmStates.SHELVED_OFFLOADED) {
    if (observed && observed !== 'gone' && observed.powerState === PowerStates.RUNNING) {
      return { kind: 'complete-unshelve', patch: { vm_state: VmStates.ACTIVE, power_state: PowerStates.RUNNING, addresses: addressesOf(observed) } };
    }
    return { kind: 'fail-unshelve' };
  }
  const rebuilding: string[] = [TaskStates.REBUILDING, TaskStates.REBUILD_BLOCK_DEVICE_MAPPING, TaskStates.REBUILD_SPAWNING];
  if (rebuilding.includes(server.task_state) && (observed === 'gone' || observed === undefined)) {
    return { kind: 'clear-task', fault: { code: 500, message: `Rebuild of server ${server.id} was ${INTERRUPTED}.` } };
  }
  return { kind: 'clear-task' };
}
