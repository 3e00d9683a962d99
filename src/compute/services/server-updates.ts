/**
 * Changes to a server's record that need no engine (nova/compute/api.py update_instance,
 * update_instance_metadata, delete_instance_metadata, and the security group actions).
 */
import type { RequestContext } from '../../http/context';
import { badRequest, invalidState as invalidStateError, msg, notFound } from '../../errors';
import type { ServerRepository, ServerPatch } from '../../db/server-repo';
import type { ServerRecord } from '../server-record';
import { RULES, refusal } from '../state-rules';
import { DEFAULT_SECURITY_GROUP } from '../networks';
import type { InstanceBuilder } from './instance-builder';
import type { ServerQueries } from './server-queries';

export interface UpdateServerRequest {
  name?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  description?: string | null;
  hostname?: string;
  /** OS-DCF:diskConfig: true = AUTO, false = MANUAL (no image check on update, as Nova). */
  autoDiskConfig?: boolean;
}

export class ServerUpdates {
  constructor(private readonly servers: ServerRepository, private readonly queries: ServerQueries, private readonly builder: InstanceBuilder) {}

  /** PUT /servers/{id}: name, access IPs, description, hostname. No state is checked (as Nova). */
  async update(ctx: RequestContext, id: string, req: UpdateServerRequest): Promise<ServerRecord> {
    await this.queries.get(ctx, id);
    const patch: ServerPatch = {};
    if (req.name !== undefined) patch.name = req.name;
    if (req.accessIPv4 !== undefined) patch.access_ip_v4 = req.accessIPv4;
    if (req.accessIPv6 !== undefined) patch.access_ip_v6 = req.accessIPv6;
    if (req.description !== undefined) patch.description = req.description;
    if (req.hostname !== undefined) patch.hostname = req.hostname;
    if (req.autoDiskConfig !== undefined) patch.auto_disk_config = req.autoDiskConfig;
    if (Object.keys(patch).length && !(await this.servers.update(id, patch))) throw notFound(msg.instanceNotFound(id));
    return this.queries.get(ctx, id);
  }

  /** addSecurityGroup / removeSecurityGroup: only the project's "default" group exists. */
  async changeSecurityGroup(ctx: RequestContext, id: string, name: string, op: 'add' | 'remove'): Promise<void> {
    await this.queries.get(ctx, id);
    if (op === 'add' && name !== DEFAULT_SECURITY_GROUP) throw notFound(`Security group ${name} not found for project ${ctx.projectId}.`);
    const done = await this.servers.mutate(id, (current) => {
      const has = current.security_groups.includes(name);
      if (op === 'add' && has) throw badRequest(`Security group ${name} is already associated with the instance ${id}`);
      if (op === 'remove' && !has) throw badRequest(`Security group ${name} not associated with the instance ${id}`);
      return { security_groups: op === 'add' ? [...current.security_groups, name] : current.security_groups.filter((g) => g !== name) };
    });
    if (!done) throw notFound(msg.instanceNotFound(id));
  }

  /**
   * The server's groups as its ports now hold them (issue 17: membership lives on the ports, as
   * with Neutron behind Nova); the row the views read follows, written only when it differs.
   */
  async followPortGroups(id: string, names: string[]): Promise<void> {
    const same = (a: string[]) => a.length === names.length && a.every((n) => names.includes(n));
    const current = await this.servers.get(id);
    if (!current || same(current.security_groups)) return;
    await this.servers.mutate(id, (s) => (same(s.security_groups) ? {} : { security_groups: names }));
  }

  /** POST (merge) or PUT (replace) /metadata; PUT /metadata/{key} is a merge of one item. */
  async setMetadata(ctx: RequestContext, id: string, items: Record<string, string>, mode: 'merge' | 'replace'): Promise<Record<string, string>> {
    await this.queries.get(ctx, id);
    const limits = await this.builder.quotaLimits(ctx.projectId);
    const updated = await this.servers.mutate(id, (server) => {
      const why = refusal(server, RULES.updateMetadata, ctx.isAdmin);
      if (why) throw invalidStateError(why);
      const next = mode === 'replace' ? { ...items } : { ...server.metadata, ...items };
      this.builder.checkMetadataCount(Object.keys(next).length, limits.metadata_items);
      return { metadata: next };
    });
    if (!updated) throw notFound(msg.instanceNotFound(id));
    return updated.metadata;
  }

  async deleteMetadataItem(ctx: RequestContext, id: string, key: string): Promise<void> {
    await this.queries.get(ctx, id);
    const updated = await this.servers.mutate(id, (server) => {
      if (!Object.prototype.hasOwnProperty.call(server.metadata, key)) throw notFound('Metadata item was not found');
      const why = refusal(server, RULES.deleteMetadata, ctx.isAdmin);
      if (why) throw invalidStateError(why);
      const next = { ...server.metadata };
      delete next[key];
      return { metadata: next };
    });
    if (!updated) throw notFound(msg.instanceNotFound(id));
  }
}
