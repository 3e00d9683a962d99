/**
 * Host aggregates and the availability zones they make (nova/compute/api.py AggregateAPI,
 * nova/objects/aggregate.py). Nova's rules, each decided inside the change that writes, so two
 * admins cannot together put one host in two zones:
 *
 *   - a host is a configured compute host (ComputeHostNotFound, 404);
 *   - a host is in at most one availability zone: adding it to a zoned aggregate, or zoning an
 *     aggregate whose hosts sit in another zone, is refused (InvalidAggregateAction);
 *   - a zone is never renamed or left under servers: changing the zone of an aggregate whose hosts
 *     hold servers, or moving a host that holds servers into or out of a zone, is refused;
 *   - a zone has a name (an empty or null `availability_zone` is refused);
 *   - an aggregate that still has hosts cannot be deleted.
 */
import { badRequest, conflict, DomainError, msg, notFound } from '../../errors';
import type { AggregateRecord, AggregateRepository, AggregateWriter } from '../../db/aggregate-repo';
import { AZ_KEY } from './host-settings';

export type { AggregateRecord } from '../../db/aggregate-repo';

export interface AggregatesDeps {
  repo: AggregateRepository;
  /** The configured compute hosts' names. */
  computeHosts(): string[];
  /** Servers (not deleted) recorded on a host. */
  instancesOn(host: string): Promise<number>;
}

/** Servers per host, counted before a change's transaction (SQLite has one connection: nothing else may query inside it). */
type Counts = Map<string, number>;

/** What was refused: add_host, remove_host, update (PUT), set_metadata, delete. */
type Action = 'add' | 'remove' | 'update' | 'updateMeta' | 'delete';

/** nova.exception.InvalidAggregateAction* messages, by the action refused. */
const ACTION_TEXT: Record<Action, string> = {
  add: 'Cannot add host to aggregate',
  remove: 'Cannot remove host from aggregate',
  delete: 'Cannot remove host from aggregate',
  update: 'Cannot update aggregate',
  updateMeta: 'Cannot update metadata of aggregate',
};

/** Nova answers a refused add_host or remove_host with 409, a refused update, set_metadata or delete with 400. */
function invalidAction(action: Action, id: number, reason: string): DomainError {
  const m = `${ACTION_TEXT[action]} ${id}. Reason: ${reason}.`;
  return action === 'add' || action === 'remove' ? conflict(m) : badRequest(m);
}

const aggregateNotFound = (id: string | number) => notFound(`Aggregate ${id} could not be found.`);

/** Python's repr of a list of strings, as Nova's messages print it. */
const pyList = (items: string[]) => `[${items.map((s) => `'${s}'`).join(', ')}]`;

export class AggregateService {
  constructor(private readonly deps: AggregatesDeps) {}

  list(): Promise<AggregateRecord[]> {
    return this.deps.repo.all();
  }

  async get(id: number): Promise<AggregateRecord> {
    const a = await this.deps.repo.get(id);
    if (!a) throw aggregateNotFound(id);
    return a;
  }

  /** Creates an aggregate (zoned when `zone` is given); 409 when the name is taken. */
  async create(name: string, zone: string | null | undefined): Promise<AggregateRecord> {
    const id = await this.deps.repo.change((w) => w.insert(name, zone ? { [AZ_KEY]: zone } : {}));
    return this.get(id);
  }

  /** Renames and/or re-zones an aggregate (PUT). */
  async update(id: number, changes: { name?: string; zone?: string | null }): Promise<AggregateRecord> {
    const counts = changes.zone === undefined ? new Map() : await this.counts(this.deps.computeHosts());
    await this.deps.repo.change(async (w) => {
      const a = await this.mustGet(w, id);
      if (changes.zone !== undefined) await this.checkZoneChange(w, a, changes.zone, 'update', a.hosts, counts);
      if (changes.name !== undefined) await w.rename(id, changes.name);
      if (changes.zone !== undefined) await w.updateMetadata(id, { [AZ_KEY]: changes.zone });
      await w.touch(id);
    });
    return this.get(id);
  }

  /** set_metadata: sets keys, removes those given null. */
  async setMetadata(id: number, metadata: Record<string, string | null>): Promise<AggregateRecord> {
    const counts = AZ_KEY in metadata ? await this.counts(this.deps.computeHosts()) : new Map();
    await this.deps.repo.change(async (w) => {
      const a = await this.mustGet(w, id);
      if (AZ_KEY in metadata) await this.checkZoneChange(w, a, metadata[AZ_KEY], 'updateMeta', a.hosts, counts);
      await w.updateMetadata(id, metadata);
      await w.touch(id);
    });
    return this.get(id);
  }

  async delete(id: number): Promise<void> {
    await this.deps.repo.change(async (w) => {
      const a = await this.mustGet(w, id);
      if (a.hosts.length > 0) throw invalidAction('delete', id, 'Host aggregate is not empty');
      await w.delete(id);
    });
  }

  async addHost(id: number, host: string): Promise<AggregateRecord> {
    if (!this.isComputeHost(host)) throw notFound(msg.computeHostNotFound(host));
    const counts = await this.counts([host]);
    await this.deps.repo.change(async (w) => {
      const a = await this.mustGet(w, id);
      const zone = a.metadata[AZ_KEY];
      if (zone !== undefined) {
        await this.checkZoneChange(w, a, zone, 'add', [host]);
        // The host's servers would change zone: Nova refuses (ensure_no_instances_need_to_move_az_when_host_added).
        const current = this.zoneOfHost(await w.all(), host);
        if (current !== zone) refuseIfServers(counts, 'add', id, host, current, zone);
      }
      if (a.hosts.includes(host)) throw conflict(`Aggregate ${id} already has host ${host}.`);
      await w.addHost(id, host);
    });
    return this.get(id);
  }

  /** remove_host; any lookup failure is Nova's one 404 "Cannot remove host … in aggregate …". */
  async removeHost(id: number, host: string): Promise<AggregateRecord> {
    const cannot = () => notFound(`Cannot remove host ${host} in aggregate ${id}`);
    if (!this.isComputeHost(host)) throw cannot();
    const counts = await this.counts([host]);
    await this.deps.repo.change(async (w) => {
      const a = await w.get(id);
      if (!a) throw cannot();
      const zone = a.metadata[AZ_KEY];
      if (zone !== undefined) {
        const after = this.zoneOfHost((await w.all()).filter((x) => x.id !== id), host);
        if (after !== zone) refuseIfServers(counts, 'remove', id, host, zone, after);
      }
      if (!(await w.removeHost(id, host))) throw cannot();
    });
    return this.get(id);
  }

  // ------------------------------------------------------------------ rules

  private isComputeHost(host: string): boolean {
    return this.deps.computeHosts().includes(host);
  }

  private async counts(hosts: string[]): Promise<Counts> {
    return new Map(await Promise.all(hosts.map(async (h) => [h, await this.deps.instancesOn(h)] as const)));
  }

  private async mustGet(w: AggregateWriter, id: number): Promise<AggregateRecord> {
    const a = await w.get(id);
    if (!a) throw aggregateNotFound(id);
    return a;
  }

  /** The zone aggregates give a host (Nova's None when it is in no zoned aggregate). */
  private zoneOfHost(aggregates: AggregateRecord[], host: string): string | null {
    return aggregates.find((a) => a.hosts.includes(host) && a.metadata[AZ_KEY] !== undefined)?.metadata[AZ_KEY] ?? null;
  }

  /**
   * Nova's is_safe_to_update_az: `zone` must be a name, no host of `hosts` may already be in
   * another zone (through another aggregate), and, given `counts`, an aggregate whose zone
   * changes must hold no servers.
   */
  private async checkZoneChange(w: AggregateWriter, a: AggregateRecord, zone: string | null | undefined, action: Action, hosts: string[], counts?: Counts): Promise<void> {
    if (!zone) throw invalidAction(action, a.id, `Aggregate ${a.name} does not support empty named availability zone`);
    const others = (await w.all()).filter((x) => x.id !== a.id && x.hosts.some((h) => hosts.includes(h)));
    const conflicting = others.map((x) => x.metadata[AZ_KEY]).filter((z): z is string => z !== undefined && z !== zone);
    if (conflicting.length > 0) throw invalidAction(action, a.id, `One or more hosts already in availability zone(s) ${pyList(conflicting)}`);
    if (counts && a.metadata[AZ_KEY] !== zone && hosts.some((h) => (counts.get(h) ?? 0) > 0)) {
      throw invalidAction(action, a.id, 'One or more hosts contain instances in this zone');
    }
  }
}

/** Nova's ensure_no_instances_need_to_move_az_when_host_added / _removed. */
function refuseIfServers(counts: Counts, action: 'add' | 'remove', id: number, host: string, from: string | null, to: string | null): void {
  const n = counts.get(host) ?? 0;
  if (n === 0) return;
  const verb = action === 'add' ? 'added to' : 'removed from';
  // NOTE(openstack): the reason ends with a full stop and the template adds another, as Nova prints it.
  throw invalidAction(action, id,
    `The host cannot be ${verb} the aggregate as the availability zone of the host would change from '${from ?? 'None'}' to '${to ?? 'None'}' `
    + `but the host already has ${n} instance(s). Changing the AZ of an existing instance is not supported by this action. Move the instances away `
    + 'from this host then try again. If you need to move the instances between AZs then you can use shelve_offload and unshelve to achieve this.');
}
