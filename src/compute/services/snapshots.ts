/**
 * Snapshots and backups (nova/compute/api.py snapshot, backup; manager.py snapshot_instance and
 * _rotate_backups): the image record exists, queued and listed, before the API answers; the
 * container is committed and its archive stored in the background (image_snapshot →
 * image_pending_upload → image_uploading → none). vm_state does not change.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { invalidState as invalidStateError } from '../../errors';
import type { ServerRepository } from '../../db/server-repo';
import type { ImageRecord } from '../../image/image-record';
import { parseListQuery } from '../../image/list-query';
import type { ComputeDriver } from '../../virt/driver';
import type { ServerRecord } from '../server-record';
import { TaskStates } from '../task-states';
import { RULES, StateRule, refusal } from '../state-rules';
import type { ActionRunner } from './action-runner';
import type { TaskRunner } from './task-runner';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';
import type { ComputeImages } from './ports';

export interface SnapshotsDeps {
  servers: ServerRepository;
  images: ComputeImages;
  queries: ServerQueries;
  runner: ActionRunner;
  tasks: TaskRunner;
  hosts: HostService;
  log: Logger;
}

export class Snapshots {
  private readonly servers: ServerRepository;
  private readonly images: ComputeImages;
  private readonly queries: ServerQueries;
  private readonly runner: ActionRunner;
  private readonly tasks: TaskRunner;
  private readonly hosts: HostService;
  private readonly log: Logger;

  constructor(deps: SnapshotsDeps) {
    this.servers = deps.servers;
    this.images = deps.images;
    this.queries = deps.queries;
    this.runner = deps.runner;
    this.tasks = deps.tasks;
    this.hosts = deps.hosts;
    this.log = deps.log;
  }

  /**
   * createImage: the image record exists (queued, listed) before this resolves; the container is
   * committed and copied into the image store in the background (image_snapshot →
   * image_pending_upload → image_uploading → none). vm_state does not change.
   */
  async createImage(ctx: RequestContext, id: string, req: { name: string; metadata?: Record<string, string> }): Promise<ImageRecord> {
    const server = await this.queries.get(ctx, id);
    const why = refusal(server, RULES.createImage, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.hosts.driverOf(server);
    await this.hosts.reachable(driver);
    return this.tasks.guarded([id], () => this.snapshot(ctx, server, driver, req));
  }

  /**
   * createBackup: a snapshot with image_type=backup and backup_type, after which the instance's
   * backups of that type beyond `rotation` are deleted, oldest first (compute/manager.py
   * _rotate_backups). Rotation 0 keeps none, the new one included, as Nova does.
   */
  async createBackup(ctx: RequestContext, id: string, req: { name: string; backupType: string; rotation: number; metadata?: Record<string, string> }): Promise<ImageRecord> {
    const server = await this.queries.get(ctx, id);
    const why = refusal(server, RULES.createBackup, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.hosts.driverOf(server);
    await this.hosts.reachable(driver);
    const metadata = { ...(req.metadata ?? {}), image_type: 'backup', backup_type: req.backupType };
    return this.tasks.guarded([id], () => this.snapshot(ctx, server, driver, { name: req.name, metadata }, RULES.createBackup, async () => {
      const backups = await this.images.list(ctx, parseListQuery(new URLSearchParams({
        image_type: 'backup', backup_type: req.backupType, instance_uuid: id, sort_key: 'created_at', sort_dir: 'desc', limit: '1000',
      })));
      for (const old of backups.images.filter((i) => i.owner === ctx.projectId).slice(req.rotation)) {
        await this.images.delete(ctx, old.id).catch((e) => this.log.warn({ err: e, image_id: old.id }, 'could not rotate out a backup'));
      }
    }));
  }

  private async snapshot(ctx: RequestContext, server: ServerRecord, driver: ComputeDriver, req: { name: string; metadata?: Record<string, string> },
    rule: StateRule = RULES.createImage, afterUpload?: () => Promise<void>): Promise<ImageRecord> {
    const id = server.id;
    await this.runner.claim(ctx, server, rule, TaskStates.IMAGE_SNAPSHOT);
    let image: ImageRecord;
    try {
      const baseImage = server.image_id ? await this.images.find(ctx, server.image_id) : undefined;
      image = await this.images.beginSnapshot(ctx, { name: req.name, metadata: req.metadata ?? {}, serverId: id, baseImage });
    } catch (err) {
      await this.servers.update(id, { task_state: null }, { taskStates: [TaskStates.IMAGE_SNAPSHOT] });
      throw err;
    }
    const actionId = await this.runner.startAction(ctx, id, 'createImage');
    const claimed = (await this.servers.get(id)) ?? server;
    this.tasks.schedule(id, 'createImage', () => this.runner.runAction(claimed, driver, {
      rule: RULES.createImage, action: 'createImage', task: TaskStates.IMAGE_SNAPSHOT,
      run: async ({ server: s, step }) => {
        const engineImageId = await driver.snapshot(s.id, { 'org.openstack.image.id': image.id, 'org.openstack.server.id': s.id });
        await step(TaskStates.IMAGE_PENDING_UPLOAD);
        await step(TaskStates.IMAGE_UPLOADING);
        await this.images.finishSnapshot(image.id, engineImageId, await driver.exportImage(engineImageId));
        await afterUpload?.();
        return {};
      },
      cleanup: async () => {
        await this.images.abortSnapshot(image.id).catch((e) => this.log.warn({ err: e, image_id: image.id }, 'could not abort snapshot image'));
      },
    }, actionId));
    return image;
  }
}
