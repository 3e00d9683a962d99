/**
 * Moves of servers between compute hosts, as the API asks for them (nova/compute/api.py resize
 * without a flavor, confirm_resize, revert_resize, evacuate, live_migrate, and the migration
 * reads; nova/api/openstack/compute/migrate_server.py, evacuate.py, migrations.py,
 * server_migrations.py for the errors): the rules, the claim (a compare-and-set on the server's
 * task, and on the migration's status where two requests race for one migration), the migration
 * record and the instance action; the work itself runs on the server's lane (move-work.ts).
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { badRequest, forbidden, invalidState as invalidStateError, msg, notFound } from '../../errors';
import type { ServerPatch, ServerRepository } from '../../db/server-repo';
import type { FlavorRepository } from '../../db/flavor-repo';
import { MigrationFilter, MigrationMarkerNotFound, MigrationPage, MigrationRecord, MigrationRepository } from '../../db/migration-repo';
import type { InTransaction } from '../../db/compute-records';
import type { FlavorSnapshot, ServerRecord } from '../server-record';
import { TaskStates } from '../task-states';
import { RULES, StateRule, invalidState, refusal } from '../state-rules';
import { generatePassword } from '../naming';
import { MigrationStatuses as M, MigrationType, MigrationTypes } from '../migration-status';
import type { HostSettingsPort, PlacementPort, RequestSpec, ServerGroupsPort } from '../scheduler/types';
import type { ActionRunner } from './action-runner';
import type { HostService } from './hosts';
import type { MoveWork } from './move-work';
import type { ServerQueries } from './server-queries';
import type { TaskRunner } from './task-runner';

export type { MigrationFilter } from '../../db/migration-repo';

export interface MigrationServiceDeps {
  servers: ServerRepository;
  migrations: MigrationRepository;
  inTransaction: InTransaction;
  flavors: FlavorRepository;
  queries: ServerQueries;
  runner: ActionRunner;
  tasks: TaskRunner;
  hosts: HostService;
  work: MoveWork;
  placement: PlacementPort;
  /** os-services (forced_down); absent: no host is forced down. */
  hostSettings?: HostSettingsPort;
  /** os-server-groups, so a move keeps its group's policy; absent: no groups. */
  groups?: ServerGroupsPort;
  log: Logger;
}

/** A cold move accepted: its migration, and — when the claim placed it on its own host — its work. */
export interface ColdMoveStarted {
  migration: MigrationRecord;
  /** The in-place work (a live resize: one engine call), run; never rejects. */
  inPlace?: Promise<void>;
}

export interface EvacuateRequest {
  host?: string;
  /** 2.29–2.67: skip the scheduler for `host`. */
  force?: boolean;
  adminPass?: string;
  /** Below 2.14 only. There is no shared storage: the server is rebuilt from its image either way. */
  onSharedStorage?: boolean;
}

export interface LiveMigrateRequest {
  host: string | null;
  /** 2.30–2.67. */
  force?: boolean;
}

/** nova.exception.ServiceUnavailable, as check_instance_host words it (no host name: it is for users). */
const SERVICE_UNAVAILABLE = 'Service is unavailable at this time.';
const NOT_RESIZED = 'Instance has not been resized.';

export class MigrationService {
  private readonly d: MigrationServiceDeps;

  constructor(deps: MigrationServiceDeps) {
    this.d = deps;
  }

  // ------------------------------------------------------------------ cold migration

  /** migrate (admin): to a host the placement chooses, or to `host` (2.56). */
  async migrate(ctx: RequestContext, id: string, host?: string): Promise<void> {
    const server = await this.d.queries.get(ctx, id);
    requireAdmin(ctx, host ? 'os_compute_api:os-migrate-server:migrate:host' : 'os_compute_api:os-migrate-server:migrate');
    this.refuse(ctx, server, RULES.migrate);
    if (!server.host) throw invalidStateError(`Instance ${id} is not ready`);
    if (!(await this.serviceUp(server.host))) throw invalidStateError(SERVICE_UNAVAILABLE);
    if (host !== undefined) {
      if (host === server.host) throw badRequest('Cannot migrate to the host where the server exists.');
      if (!this.d.hosts.driverAt(host)) throw badRequest(msg.computeHostNotFound(host));
    }
    await this.startColdMove(ctx, server, { type: MigrationTypes.MIGRATION, rule: RULES.migrate, action: 'migrate', flavor: server.flavor, host });
  }

  /**
   * The cold-move path migrate and resize take (`flavor` the new one): claim resize_prep, record
   * the action and the migration (pre-migrating), all in one transaction, and queue the work.
   */
  async startColdMove(
    ctx: RequestContext, server: ServerRecord,
    o: {
      type: MigrationType; rule: StateRule; action: string; flavor: FlavorSnapshot; host?: string; claimPatch?: ServerPatch;
      /** A check of the caller's that must pass before the claim (it runs alongside the reads here). */
      check?: Promise<void>;
    },
  ): Promise<ColdMoveStarted> {
    // A resize tries its own host first, inside the claim's transaction when the placement can.
    const sameHost = o.type === MigrationTypes.RESIZE;
    const specRead = this.requestSpec(server, o.flavor, o.host);
    const [spec, flavorIds, onSource, sourceIp] = await Promise.all([
      specRead, this.d.flavors.internalIds([server.flavor.id, o.flavor.id]),
      sameHost && this.d.placement.onSource ? specRead.then((s) => this.d.placement.onSource!(server, s)) : undefined,
      sameHost && server.host ? this.d.hosts.hostIp(server.host) : null,
      o.check,
    ]);
    const oldFlavor = flavorIds.get(server.flavor.id) ?? null;
    const newFlavor = flavorIds.get(o.flavor.id) ?? null;
    return this.d.tasks.guarded([server.id], async () => {
      const accepted = await this.d.inTransaction(async (r) => {
        // The placement's lock before the claim's writes, as every placement decision takes it.
        const placement = onSource ? await r.placement() : undefined;
        const claimed = await this.d.runner.tryClaimRecord(server, o.rule, TaskStates.RESIZE_PREP, { ...o.claimPatch, progress: 0 }, r.servers);
        if (!claimed) return undefined;
        const actionId = await this.d.runner.startAction(ctx, server.id, o.action, r.actions);
        const origin = this.origin(ctx, server);
        const placed = placement ? await onSource!(placement, origin.uuid) : undefined;
        // Placed on its own host already: the migration says so from the start (a dead process's move is undone from it).
        const dest = placed ? { dest_compute: placed, dest_node: placed, dest_host: sourceIp } : { dest_compute: null, dest_node: null, dest_host: null };
        const migration = await r.migrations.create({
          ...origin, ...dest,
          old_instance_type_id: oldFlavor, new_instance_type_id: newFlavor, status: M.PRE_MIGRATING, migration_type: o.type,
          old_flavor: server.flavor, new_flavor: o.flavor,
        });
        return { actionId, migration, placed, claimed };
      });
      if (!accepted) return this.d.runner.refuseClaim(ctx, server, o.rule);
      const { actionId, migration, placed, claimed } = accepted;
      const work = this.d.tasks.schedule(server.id, o.action, () => this.d.work.coldMove({ server: claimed, migration, actionId, spec, flavor: o.flavor, sameHost, placed }));
      return { migration, inPlace: placed === server.host ? work : undefined };
    });
  }

  /** confirmResize: the move stays; the source forgets the server (204). */
  async confirmResize(ctx: RequestContext, id: string): Promise<void> {
    const server = await this.d.queries.get(ctx, id);
    this.refuse(ctx, server, RULES.confirmResize);
    const m = await this.finished(id);
    if (!(await this.serviceUp(m.source_compute))) throw invalidStateError(SERVICE_UNAVAILABLE);
    await this.d.tasks.guarded([id], async () => {
      // The migration's status is what a confirm and a revert race for: one of them moves it on.
      if (!(await this.d.migrations.update(m.id, { status: M.CONFIRMING }, [M.FINISHED]))) await this.lostRace(ctx, id, RULES.confirmResize);
      const actionId = await this.d.runner.startAction(ctx, id, 'confirmResize');
      this.d.tasks.schedule(id, 'confirmResize', () => this.d.work.confirm(server, m, actionId));
    });
  }

  /** revertResize: back to the source, as the server was before the move. */
  async revertResize(ctx: RequestContext, id: string): Promise<void> {
    const server = await this.d.queries.get(ctx, id);
    this.refuse(ctx, server, RULES.revertResize);
    const m = await this.finished(id);
    await this.d.tasks.guarded([id], async () => {
      if (!(await this.d.migrations.update(m.id, { status: M.REVERTING }, [M.FINISHED]))) await this.lostRace(ctx, id, RULES.revertResize);
      try {
        await this.d.runner.claim(ctx, server, RULES.revertResize, TaskStates.RESIZE_REVERTING);
      } catch (e) {
        await this.d.migrations.update(m.id, { status: M.FINISHED }, [M.REVERTING]);
        throw e;
      }
      const actionId = await this.d.runner.startAction(ctx, id, 'revertResize');
      this.d.tasks.schedule(id, 'revertResize', () => this.d.work.revert(server, m, actionId));
    });
  }

  // ------------------------------------------------------------------ evacuation

  /**
   * evacuate (admin): only when the server's host is down (its engine does not answer, or its
   * service is forced down). Resolves to the admin password Nova would report (null below 2.14
   * on shared storage without one).
   */
  async evacuate(ctx: RequestContext, id: string, req: EvacuateRequest): Promise<string | null> {
    const server = await this.d.queries.get(ctx, id);
    requireAdmin(ctx, 'os_compute_api:os-evacuate');
    if (req.force && !req.host) throw badRequest("Can't force to a non-provided destination");
    let password: string | null;
    if (req.onSharedStorage !== undefined) {
      if (req.adminPass !== undefined && req.onSharedStorage) throw badRequest("admin password can't be changed on existing disk");
      password = req.adminPass ?? (req.onSharedStorage ? null : generatePassword());
    } else password = req.adminPass ?? generatePassword();
    if (req.host !== undefined && !this.d.hosts.driverAt(req.host)) throw notFound(`Compute host ${req.host} not found.`);
    if (req.host !== undefined && server.host === req.host) throw badRequest("The target host can't be the same one.");
    this.refuse(ctx, server, RULES.evacuate);
    if (server.host && (await this.serviceUp(server.host))) throw badRequest(`Compute service of ${server.host} is still in use.`);
    const spec = await this.requestSpec(server, server.flavor, req.host, req.force);
    await this.d.tasks.guarded([id], async () => {
      await this.d.runner.claim(ctx, server, RULES.evacuate, TaskStates.REBUILDING);
      const actionId = await this.d.runner.startAction(ctx, id, 'evacuate');
      const migration = await this.d.migrations.create({
        ...this.origin(ctx, server), dest_compute: req.host ?? null, dest_node: null, dest_host: null,
        old_instance_type_id: null, new_instance_type_id: null, status: M.ACCEPTED, migration_type: MigrationTypes.EVACUATION,
      });
      const claimed = (await this.d.servers.get(id)) ?? server;
      this.d.tasks.schedule(id, 'evacuate', () => this.d.work.evacuate(ctx, claimed, migration, spec, actionId));
    });
    return password;
  }

  // ------------------------------------------------------------------ live migration

  /**
   * os-migrateLive (admin): the checks Nova makes before it asks the hosts, then the refusal a
   * compute driver without live migration gives (a container's memory cannot travel).
   */
  async liveMigrate(ctx: RequestContext, id: string, req: LiveMigrateRequest): Promise<never> {
    const server = await this.d.queries.get(ctx, id);
    requireAdmin(ctx, req.host ? 'os_compute_api:os-migrate-server:migrate_live:host' : 'os_compute_api:os-migrate-server:migrate_live');
    if (req.force && !req.host) throw badRequest("Can't force to a non-provided destination");
    this.refuse(ctx, server, RULES.liveMigrate);
    if (req.host && !this.d.hosts.driverAt(req.host)) throw badRequest(msg.computeHostNotFound(req.host));
    throw badRequest(`Migration pre-check error: The compute driver of host ${server.host ?? '(none)'} (Docker) does not support live migration. Use a cold migration (the migrate action) instead.`);
  }

  /** GET /servers/{id}/migrations (2.23): in-progress live migrations, which never exist here. */
  async liveMigrationsInProgress(ctx: RequestContext, id: string): Promise<MigrationRecord[]> {
    await this.d.queries.get(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:index');
    return [];
  }

  /** GET /servers/{id}/migrations/{migration_id} (2.23): 404 in Nova's words for anything but a live migration in progress. */
  async liveMigrationInProgress(ctx: RequestContext, id: string, migrationId: string): Promise<never> {
    await this.d.queries.get(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:show');
    const m = /^[0-9]+$/.test(migrationId) ? await this.d.migrations.get(Number(migrationId)) : undefined;
    if (!m || m.instance_uuid !== id) throw notFound(`In-progress live migration ${migrationId} is not found for server ${id}.`);
    if (m.migration_type !== MigrationTypes.LIVE_MIGRATION) throw notFound(`Migration ${migrationId} for server ${id} is not live-migration.`);
    throw notFound(`Live migration ${migrationId} for server ${id} is not in progress.`);
  }

  /** DELETE /servers/{id}/migrations/{migration_id} (2.24): abort a live migration — none is ever in flight. */
  async abortLiveMigration(ctx: RequestContext, id: string, migrationId: string): Promise<never> {
    const server = await this.d.queries.get(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:delete');
    this.refuse(ctx, server, RULES.abortLiveMigration);
    throw notFound(`Migration ${migrationId} not found for instance ${id}`);
  }

  /** POST /servers/{id}/migrations/{migration_id}/action force_complete (2.22): no live migration is ever in flight. */
  async forceCompleteLiveMigration(ctx: RequestContext, id: string, migrationId: string): Promise<never> {
    const server = await this.d.queries.get(ctx, id);
    requireAdmin(ctx, 'os_compute_api:servers:migrations:force_complete');
    this.refuse(ctx, server, RULES.forceCompleteLiveMigration);
    throw badRequest(`Migration ${migrationId} not found for instance ${id}`);
  }

  // ------------------------------------------------------------------ reads

  /** os-migrations (admin). */
  async list(ctx: RequestContext, filter: MigrationFilter, page: MigrationPage): Promise<MigrationRecord[]> {
    requireAdmin(ctx, 'os_compute_api:os-migrations:index');
    try {
      return (await this.d.migrations.list(filter, page)).filter((m) => !m.hidden);
    } catch (e) {
      if (e instanceof MigrationMarkerNotFound) throw badRequest(e.message);
      throw e;
    }
  }

  // ------------------------------------------------------------------ helpers

  private refuse(ctx: RequestContext, server: ServerRecord, rule: StateRule): void {
    const why = refusal(server, rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
  }

  /** The server's finished (VERIFY_RESIZE) migration; Nova's 400 when there is none. */
  private async finished(id: string): Promise<MigrationRecord> {
    const m = await this.d.migrations.latest(id, [M.FINISHED]);
    if (!m || m.migration_type === MigrationTypes.EVACUATION) throw badRequest(NOT_RESIZED);
    return m;
  }

  /** A confirm or revert found the migration taken by the other: say why as Nova would. */
  private async lostRace(ctx: RequestContext, id: string, rule: StateRule): Promise<never> {
    const now = await this.d.servers.get(id);
    if (!now) throw notFound(msg.instanceNotFound(id));
    const why = refusal(now, rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    if (now.task_state !== null) throw invalidStateError(invalidState(rule.action, id, 'task_state', now.task_state));
    throw badRequest(NOT_RESIZED);
  }

  /** Who asked, and from where (Nova records the requester's user and project). */
  private origin(ctx: RequestContext, server: ServerRecord) {
    return {
      uuid: crypto.randomUUID(), instance_uuid: server.id, source_compute: server.host, source_node: server.host,
      project_id: ctx.projectId, user_id: ctx.userId, old_vm_state: server.vm_state,
    };
  }

  /**
   * What a move asks of the placement: the flavor, never the source, and a requested host as
   * Nova's requested_destination (the only candidate, filters still apply) or, forced, as its
   * forced host (filters skipped).
   */
  private async requestSpec(server: ServerRecord, flavor: FlavorSnapshot, host?: string, force?: boolean): Promise<RequestSpec> {
    const spec: RequestSpec = { memoryMb: flavor.ram, vcpus: flavor.vcpus, count: 1, ignoreHosts: server.host ? [server.host] : [] };
    if (host !== undefined && force) spec.forcedHost = host;
    else if (host !== undefined) spec.ignoreHosts = this.d.hosts.names().filter((h) => h !== host);
    const group = await this.d.groups?.groupOf(server.id);
    if (group) spec.group = group;
    return spec;
  }

  /**
   * Nova's service_is_up for a compute host: not forced down (os-services) and its engine
   * answers now.
   */
  private async serviceUp(host: string | null): Promise<boolean> {
    if (!host) return false;
    if ((await this.d.hostSettings?.all())?.some((s) => s.host === host && s.forcedDown)) return false;
    return this.d.hosts.answers(host);
  }
}

function requireAdmin(ctx: RequestContext, policy: string): void {
  if (!ctx.isAdmin) throw forbidden(`Policy doesn't allow ${policy} to be performed.`);
}

