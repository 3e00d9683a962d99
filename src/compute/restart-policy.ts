/**
 * The restart policy of a server's process (issue 15): what the engine does when the process
 * exits by itself, chosen by the flavor extra spec `docker:restart_policy`:
 *
 *   no                 never restart (the default: the server goes SHUTOFF, as a crashed VM)
 *   on-failure[:N]     restart after a non-zero exit, at most N times (no N: without limit)
 *   always             restart after any exit
 *   unless-stopped     the same while the server runs (Docker's name for it)
 *
 * A server stopped through the API stays stopped: the engine does not restart a process it was
 * told to stop, and `always` is given to Docker as `unless-stopped` so that a restart of the
 * engine does not start it again either (novadock decides that: NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT).
 * While the engine restarts a crashed process the server stays ACTIVE; each restart the
 * reconciler sees is an instance action `restart` by the engine.
 */
import { badRequest } from '../errors';
import type { RestartPolicy } from '../virt/driver';

/** The flavor extra spec that selects the policy (validated when set, as Nova validates its namespaces). */
export const RESTART_POLICY_SPEC = 'docker:restart_policy';

/** The instance action an engine's restart records, and who it names as its user. */
export const ENGINE_RESTART_ACTION = 'restart';
export const ENGINE_ACTOR = 'compute-engine';

const SYNTAX = /^(no|always|unless-stopped|on-failure(?::([0-9]{1,9}))?)$/;

/** The policy a spec value names, or undefined when the value is not one. */
export function parseRestartPolicy(value: string): RestartPolicy | undefined {
  const m = SYNTAX.exec(value);
  if (!m) return undefined;
  if (m[1].startsWith('on-failure')) return { name: 'on-failure', maximumRetryCount: m[2] === undefined ? 0 : Number(m[2]) };
  return { name: m[1] as RestartPolicy['name'], maximumRetryCount: 0 };
}

/** A 400 in the words of Nova's extra spec validation when a restart policy value is not one. */
export function validateRestartPolicySpecs(specs: Record<string, string>): void {
  const v = specs[RESTART_POLICY_SPEC];
  if (v !== undefined && !parseRestartPolicy(v)) {
    throw badRequest(`Validation failed; Value '${v}' for extra spec '${RESTART_POLICY_SPEC}' is not valid: it must be one of no, on-failure, on-failure:<max retries>, always, unless-stopped.`);
  }
}

/** The policy of a flavor's extra specs; undefined (never restart) when unset or unreadable. */
export function restartPolicyOf(extraSpecs: Record<string, string> | undefined): RestartPolicy | undefined {
  const v = extraSpecs?.[RESTART_POLICY_SPEC];
  const p = v === undefined ? undefined : parseRestartPolicy(v);
  return p && p.name !== 'no' ? p : undefined;
}
