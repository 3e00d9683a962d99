/**
 * Resize (issue 15), as nova/compute/api.py resize() checks it and servers.py _resize answers:
 *
 *   lock, vm_state active|stopped, no task (409)  →  host up (409)  →  flavor found, enabled,
 *   visible to the project (400)  →  not to a zero-disk flavor (400)  →  another flavor (400)
 *   →  quota for the upsize: cores and RAM deltas (403)  →  resize_prep claimed (compare-and-set)
 *
 * The work is a cold move with the new flavor (MigrationService.startColdMove, MoveWork) that
 * prefers the server's own host (Nova's allow_resize_to_same_host): there the container's
 * limits change live, with no restart; a host that cannot take the new flavor sends the server
 * to another one. VERIFY_RESIZE then shows the new flavor; confirmResize keeps it, revertResize
 * puts the old one back (move-work.ts).
 *
 * A resize in place is one engine call (~30 ms): the 202 waits for it, up to IN_PLACE_ANSWER_MS,
 * so that the client's next read already shows VERIFY_RESIZE (`openstack server resize --wait`
 * is done at its first poll instead of after its 5-s sleep), and nothing of the request's own
 * (its answer, the client's first poll) runs beside the engine call. An engine slower than that
 * gets the 202 anyway and the work goes on, as for a move to another host.
 */
import type { RequestContext } from '../../http/context';
import { waitAtMost } from '../../clock';
import { badRequest, invalidState as invalidStateError, msg, quotaExceeded } from '../../errors';
import type { QuotaConfig } from '../../config';
import type { FlavorRepository } from '../../db/flavor-repo';
import type { ServerRepository } from '../../db/server-repo';
import { MigrationTypes } from '../migration-status';
import { RULES, refusal } from '../state-rules';
import { snapshotOf } from './instance-builder';
import type { MigrationService } from './migrations';
import type { ServerQueries } from './server-queries';
import type { ServerRecord } from '../server-record';

/** How long a 202 waits for a resize in place to finish: the engine's update call, several times over. */
export const IN_PLACE_ANSWER_MS = 1000;

export interface ResizeServiceDeps {
  servers: Pick<ServerRepository, 'usage'>;
  flavors: Pick<FlavorRepository, 'get'>;
  queries: Pick<ServerQueries, 'get'>;
  migrations: Pick<MigrationService, 'startColdMove'>;
  /**
   * Nova's service_is_up for the server's host, as check_instance_host(check_is_up=True) asks
   * it: from the hosts' last heartbeat (the host cache) and os-services' forced_down — no
   * engine call on the request's path.
   */
  serviceUp: (host: string) => Promise<boolean>;
  /** The project's limits (instances, cores, ram; -1 = unlimited). */
  quotas: (projectId: string) => Promise<Pick<QuotaConfig, 'cores' | 'ram'>> | Pick<QuotaConfig, 'cores' | 'ram'>;
}

export class ResizeService {
  constructor(private readonly d: ResizeServiceDeps) {}

  /**
   * resize: accepted (202) once resize_prep is claimed and the migration recorded. `target`: the
   * server's id, or its record as this request already read it for `ctx` (the claim's
   * compare-and-set judges the row as it is then either way).
   */
  async resize(ctx: RequestContext, target: string | ServerRecord, flavorRef: string, autoDiskConfig?: boolean): Promise<void> {
    // Looked up together, judged in Nova's order (the server first).
    const [server, flavor] = await Promise.all([typeof target === 'string' ? this.d.queries.get(ctx, target) : target, this.d.flavors.get(flavorRef)]);
    const why = refusal(server, RULES.resize, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const up = server.host ? await this.d.serviceUp(server.host) : false;
    if (!up) throw invalidStateError('Service is unavailable at this time.');
    // NOTE(openstack): a private flavor the project may not use is not found (Flavor.get_by_flavor_id).
    if (!flavor || (!flavor.is_public && !ctx.isAdmin)) throw badRequest(msg.flavorNotFound(flavorRef));
    if (flavor.disk === 0 && server.flavor.disk !== 0) throw badRequest('Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.');
    if (flavor.id === server.flavor.id) throw badRequest('When resizing, instances must change flavor!');
    if (flavor.disabled) throw badRequest(msg.flavorNotFound(flavorRef));
    // compute/api.py resize(): instance.auto_disk_config = auto_disk_config or False. The quota
    // check runs alongside the move's own reads, and must pass before anything is claimed.
    const started = await this.d.migrations.startColdMove(ctx, server, {
      type: MigrationTypes.RESIZE, rule: RULES.resize, action: 'resize', flavor: snapshotOf(flavor), claimPatch: { auto_disk_config: autoDiskConfig ?? false },
      check: this.checkUpsize(server.project_id, { cores: flavor.vcpus - server.flavor.vcpus, ram: flavor.ram - server.flavor.ram }),
    });
    if (started.inPlace) await waitAtMost(started.inPlace, IN_PLACE_ANSWER_MS);
  }

  /** compute/api.py _check_quota_for_upsize: only growth counts, against the project's usage now. */
  private async checkUpsize(projectId: string, deltas: { cores: number; ram: number }): Promise<void> {
    if (deltas.cores <= 0 && deltas.ram <= 0) return;
    const [limits, used] = await Promise.all([this.d.quotas(projectId), this.d.servers.usage(projectId)]);
    for (const r of ['cores', 'ram'] as const) {
      if (deltas[r] > 0 && limits[r] >= 0 && used[r] + deltas[r] > limits[r]) throw quotaExceeded(msg.quotaExceeded(r, deltas[r], used[r], limits[r]));
    }
  }
}
