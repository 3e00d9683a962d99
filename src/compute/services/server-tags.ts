/**
 * Server tags (nova/api/openstack/compute/server_tags.py, 2.26+). Tags live on the server's row
 * (`servers.tags`), so the list filters read them with everything else, and every change is a
 * read-modify-write under the row lock (ServerRepository.mutate): the state check, the count
 * limit and the write see the same row, whatever runs beside them.
 */
import type { RequestContext } from '../../http/context';
import { badRequest, invalidState, msg, notFound } from '../../errors';
import type { ServerRepository } from '../../db/server-repo';
import type { ServerRecord } from '../server-record';
import { RULES, RuleName, refusal } from '../state-rules';
import type { ServerQueries } from './server-queries';

/** nova.objects.instance.MAX_TAG_COUNT */
export const MAX_TAG_COUNT = 50;

export class ServerTags {
  constructor(private readonly servers: ServerRepository, private readonly queries: ServerQueries) {}

  /** GET /servers/{id}/tags */
  async list(ctx: RequestContext, id: string): Promise<string[]> {
    return (await this.queries.get(ctx, id)).tags;
  }

  /** GET /servers/{id}/tags/{tag}: a 404 in Nova's words when the server lacks it. */
  async check(ctx: RequestContext, id: string, tag: string): Promise<void> {
    const server = await this.queries.get(ctx, id);
    if (!server.tags.includes(tag)) throw notFound(`Server ${id} has no tag '${tag}'`);
  }

  /**
   * PUT /servers/{id}/tags/{tag}: true when added, false when the server had it already. As Nova,
   * the count limit is checked before whether the tag is new (a full server refuses even a tag it
   * has), and the state before the tag's form: `invalidTag` is the 400 text when the router found it malformed.
   */
  async add(ctx: RequestContext, id: string, tag: string, invalidTag?: string): Promise<boolean> {
    let added = false;
    await this.change(ctx, id, 'updateTag', (server) => {
      if (invalidTag) throw badRequest(invalidTag);
      if (server.tags.length >= MAX_TAG_COUNT) throw badRequest(`The number of tags exceeded the per-server limit ${MAX_TAG_COUNT}`);
      added = !server.tags.includes(tag);
      return added ? [...server.tags, tag] : server.tags;
    });
    return added;
  }

  /** PUT /servers/{id}/tags: the server's tags become `tags` (duplicates once). */
  async replace(ctx: RequestContext, id: string, tags: string[]): Promise<string[]> {
    return (await this.change(ctx, id, 'updateTags', () => [...new Set(tags)])).tags;
  }

  /** DELETE /servers/{id}/tags/{tag} */
  async remove(ctx: RequestContext, id: string, tag: string): Promise<void> {
    await this.change(ctx, id, 'deleteTag', (server) => {
      if (!server.tags.includes(tag)) throw notFound(`Instance ${id} has no tag '${tag}'`);
      return server.tags.filter((t) => t !== tag);
    });
  }

  /** DELETE /servers/{id}/tags */
  async removeAll(ctx: RequestContext, id: string): Promise<void> {
    await this.change(ctx, id, 'deleteTags', () => []);
  }

  /** The visibility check, then the state rule and `next` under the row lock. */
  private async change(ctx: RequestContext, id: string, rule: RuleName, next: (server: ServerRecord) => string[]): Promise<ServerRecord> {
    await this.queries.get(ctx, id);
    const updated = await this.servers.mutate(id, (server) => {
      const why = refusal(server, RULES[rule], ctx.isAdmin);
      if (why) throw invalidState(why);
      return { tags: next(server) };
    });
    if (!updated) throw notFound(msg.instanceNotFound(id));
    return updated;
  }
}
