/** Nova's power_state codes (nova/compute/power_state.py); 2 and 5 are unused. */
import type { PowerState } from '../virt/driver';

export type { PowerState };

export const PowerStates = {
  /** Not known yet (building) or gone. */
  NOSTATE: 0,
  RUNNING: 1,
  PAUSED: 3,
  /** Stopped: the container exists, its process does not run. */
  SHUTDOWN: 4,
  CRASHED: 6,
  SUSPENDED: 7,
} as const satisfies Record<string, PowerState>;

/** power_state.STATE_MAP: the names Nova's messages and diagnostics use. */
export const POWER_STATE_NAMES: Record<PowerState, string> = {
  0: 'pending', 1: 'running', 3: 'paused', 4: 'shutdown', 6: 'crashed', 7: 'suspended',
};
