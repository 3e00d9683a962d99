/**
 * Remote consoles (nova/compute/api.py get_serial_console, nova/compute/manager.py and
 * nova/console/websocketproxy.py, issue 15): the serial console is an interactive shell in the
 * server's container, reached through a websocket on novadock's own port.
 *
 *   POST remote-consoles / os-getSerialConsole → getConsole: state checks, a one-time token
 *       → ws://<public host>/serial/?token=…  (the token's hash, server, project and expiry in the database)
 *   websocket upgrade (src/console/serial-proxy.ts) → connect(token): the token is used up (its
 *       row deleted: one use, whichever process gets it), the server checked, the driver's shell opened
 *
 * Only the serial protocol is served: VNC, SPICE and MKS answer as a Nova whose consoles of that
 * kind are disabled ("Unavailable console type …"), RDP as Nova since its removal.
 */
import crypto from 'node:crypto';
import type { RequestContext } from '../../http/context';
import { badRequest, invalidState as invalidStateError, msg, notFound, unauthorized, unavailable } from '../../errors';
import type { ServerRepository } from '../../db/server-repo';
import type { ConsoleTokenRepository } from '../../db/console-token-repo';
import { ConsoleSession, HypervisorUnavailable, InstanceNotFound, InstanceNotRunning } from '../../virt/driver';
import { VmStates } from '../vm-states';
import { TaskStates } from '../task-states';
import { invalidState } from '../state-rules';
import type { ServerRecord } from '../server-record';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';

export interface ConsoleSettings {
  /** The URL the token is appended to (Nova's [serial_console] base_url), e.g. ws://host:8080/serial/. */
  baseUrl: string;
  /** Seconds a token stays usable (Nova's [consoleauth] token_ttl, 600 by default). */
  tokenTtlSeconds: number;
  /** The clock tokens expire by (ms since the epoch); tests set their own. */
  now?: () => number;
}

export interface RemoteConsolesDeps {
  servers: ServerRepository;
  queries: ServerQueries;
  tokens: ConsoleTokenRepository;
  hosts: HostService;
  settings: ConsoleSettings;
}

/** nova.exception.InstanceNotReady */
const notReady = (id: string) => invalidStateError(`Instance ${id} is not ready`);
/** nova.exception.InvalidToken (the token itself is never repeated back). */
const invalidToken = () => unauthorized("The token '***' is invalid or has expired");

/** The protocols Nova knows whose consoles this cloud does not serve (their types answer "Unavailable"). */
const DISABLED_PROTOCOLS = new Set(['vnc', 'spice', 'mks']);

export class RemoteConsoles {
  private readonly now: () => number;

  constructor(private readonly deps: RemoteConsolesDeps) {
    this.now = deps.settings.now ?? Date.now;
  }

  /**
   * A console URL for the server (POST /servers/{id}/remote-consoles, os-getSerialConsole).
   * Another project's server is a 404 (not the caller's to see), a server not running a 409.
   */
  async getConsole(ctx: RequestContext, id: string, protocol: string, type: string): Promise<string> {
    const server = await this.deps.queries.get(ctx, id);
    if (protocol === 'rdp') throw badRequest('Unavailable console type rdp.');
    if (DISABLED_PROTOCOLS.has(protocol)) throw badRequest(`Unavailable console type ${type}.`);
    // NOTE(openstack): Nova hands out a serial URL for any type and fails only when it is used;
    // a type that is not 'serial' is refused here, as Nova refuses one for VNC (ConsoleTypeInvalid).
    if (protocol !== 'serial' || type !== 'serial') throw badRequest(`Invalid console type ${type}`);
    this.checkReady(server);

    const nowMs = this.now();
    await this.deps.tokens.purgeExpired(nowMs);
    const token = crypto.randomBytes(32).toString('base64url');
    await this.deps.tokens.add(token, {
      consoleType: 'serial', instanceUuid: server.id, projectId: server.project_id, expiresMs: nowMs + this.deps.settings.tokenTtlSeconds * 1000,
    });
    return `${this.deps.settings.baseUrl}?token=${token}`;
  }

  /**
   * Uses a console token and opens the shell it is for. Refused with nothing opened: a token
   * unknown, used already or expired (unauthorized), a server deleted since (not found) or not
   * running (invalid state), an engine that does not answer (unavailable).
   */
  async connect(token: string): Promise<{ serverId: string; session: ConsoleSession }> {
    if (!token) throw invalidToken();
    const rec = await this.deps.tokens.take(token);
    if (!rec || rec.expiresMs <= this.now()) throw invalidToken();
    const server = await this.deps.servers.get(rec.instanceUuid);
    if (!server || server.project_id !== rec.projectId) throw notFound(msg.instanceNotFound(rec.instanceUuid));
    this.checkReady(server);
    try {
      const session = await this.deps.hosts.driverOf(server).openConsole(server.id);
      return { serverId: server.id, session };
    } catch (e) {
      if (e instanceof InstanceNotFound) throw notFound(msg.instanceNotFound(server.id));
      if (e instanceof InstanceNotRunning) throw notReady(server.id);
      if (e instanceof HypervisorUnavailable) throw unavailable(e.message);
      throw e;
    }
  }

  /** check_instance_host, reject_instance_state(task_state=[deleting, migrating]), and a running container. */
  private checkReady(server: ServerRecord): void {
    if (!server.host) throw notReady(server.id);
    if (server.task_state === TaskStates.DELETING || server.task_state === TaskStates.MIGRATING) {
      throw invalidStateError(invalidState('get_serial_console', server.id, 'task_state', server.task_state));
    }
    if (server.vm_state !== VmStates.ACTIVE) throw notReady(server.id);
  }
}
