/**
 * GET /servers/{id}/diagnostics (nova/api/openstack/compute/server_diagnostics.py, compute/api.py
 * get_diagnostics and compute/manager.py get_diagnostics): an explicit admin request that asks
 * the server's engine for one sample of its live figures, like the console output. List and
 * show never do this.
 */
import type { RequestContext } from '../../http/context';
import { forbidden, invalidState, unavailable } from '../../errors';
import { HypervisorUnavailable, InstanceDiagnostics, InstanceNotFound } from '../../virt/driver';
import { POWER_STATE_NAMES, PowerStates } from '../power-state';
import type { ServerRecord } from '../server-record';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';

export class ServerDiagnostics {
  constructor(private readonly queries: ServerQueries, private readonly hosts: HostService) {}

  /**
   * The server and its engine's figures. 404 for a server the caller cannot see, 403 for
   * non-admins (os_compute_api:os-server-diagnostics is admin-only), 409 when it was never placed
   * on a host or does not run (Nova's manager checks the live power state).
   */
  async get(ctx: RequestContext, id: string): Promise<{ server: ServerRecord; diagnostics: InstanceDiagnostics }> {
    const server = await this.queries.get(ctx, id);
    if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.");
    // compute/api.py check_instance_host: never scheduled → InstanceNotReady (409).
    if (!server.host) throw invalidState(`Instance ${id} is not ready`);
    if (server.power_state !== PowerStates.RUNNING) throw notRunning(id, server.power_state);
    let diagnostics: InstanceDiagnostics;
    try {
      diagnostics = await this.hosts.driverOf(server).diagnostics(id);
    } catch (err) {
      if (err instanceof HypervisorUnavailable) throw unavailable(err.message);
      if (err instanceof InstanceNotFound) throw notRunning(id, PowerStates.NOSTATE);
      throw err;
    }
    if (diagnostics.powerState !== PowerStates.RUNNING) throw notRunning(id, diagnostics.powerState);
    return { server, diagnostics };
  }
}

/** compute/manager.py get_diagnostics: InstanceInvalidState on the power state, as the API words it. */
function notRunning(id: string, state: keyof typeof POWER_STATE_NAMES) {
  return invalidState(`Cannot 'get_diagnostics' instance ${id} while it is in power state ${POWER_STATE_NAMES[state]}`);
}
