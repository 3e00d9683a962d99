/** Docker's restart decision (restartmanager.ShouldRestart), shared by the fake driver and the contract tests (issue 15). */
import type { RestartPolicy } from './driver';

/**
 * Whether the engine restarts a process that exited by itself with `exitCode`, after `restarts`
 * restarts already (Docker's restartmanager.ShouldRestart, for a process nobody stopped).
 */
export function engineRestarts(policy: RestartPolicy | undefined, exitCode: number, restarts: number): boolean {
  if (!policy) return false;
  switch (policy.name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (policy.maximumRetryCount === 0 || restarts < policy.maximumRetryCount);
    default:
      return false;
  }
}
