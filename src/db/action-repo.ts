/**
 * Instance actions (Nova's `instance_actions`): one row per API action on a server, keyed by the
 * request id that asked for it, finished (result, finish_time) when its background work ends.
 */
import type { Db } from './knex';
import { stamp } from '../clock';

export type ActionResult = 'Success' | 'Error';

export interface InstanceActionRecord {
  id: number;
  instance_uuid: string;
  action: string;
  request_id: string;
  user_id: string;
  project_id: string;
  start_time: string;
  finish_time: string | null;
  /** Nova's action message: null, or "Error" once its work failed. */
  message: string | null;
  result: ActionResult | null;
  /** What went wrong, for admins (Nova's event traceback). */
  traceback: string | null;
  updated_at: string | null;
}

export interface NewAction {
  instanceUuid: string;
  action: string;
  requestId: string;
  userId: string;
  projectId: string;
}

/** An action that has just finished, for whoever times them (metrics). */
export interface FinishedAction {
  action: string;
  result: ActionResult;
  /** From the action's start (the API call) to its finish, in seconds. */
  seconds: number;
}

export class ActionRepository {
  /** `onFinished`: told of each action this process finishes (not of repeated finish calls). */
  constructor(private readonly db: Db, private readonly onFinished?: (a: FinishedAction) => void) {}

  /** Records the start of an action; returns its id for finish(). */
  async start(a: NewAction): Promise<number> {
    const ts = stamp();
    const [id] = await this.db('instance_actions').insert({
      instance_uuid: a.instanceUuid,
      action: a.action,
      request_id: a.requestId,
      user_id: a.userId,
      project_id: a.projectId,
      start_time: ts,
      updated_at: ts,
    }).returning('id');
    // SQLite and PostgreSQL both answer RETURNING; the driver gives { id } rows.
    return Number(typeof id === 'object' ? id.id : id);
  }

  /** Records the outcome. Idempotent: an action finishes once, later calls change nothing. */
  async finish(id: number, result: ActionResult, error?: string): Promise<void> {
    const ts = stamp();
    const rows: { action: string; start_time: string }[] = await this.db('instance_actions').where({ id }).whereNull('finish_time').update({
      finish_time: ts,
      updated_at: ts,
      result,
      message: result === 'Error' ? 'Error' : null,
      traceback: error ? error.slice(0, 65535) : null,
    }, ['action', 'start_time']);
    const row = rows[0];
    if (row && this.onFinished) {
      this.onFinished({ action: row.action, result, seconds: Math.max(0, Date.parse(ts) - Date.parse(row.start_time)) / 1000 });
    }
  }

  /** Newest first (Nova orders by created_at desc, id desc). */
  async list(instanceUuid: string): Promise<InstanceActionRecord[]> {
    return this.db('instance_actions').where({ instance_uuid: instanceUuid }).orderBy([{ column: 'start_time', order: 'desc' }, { column: 'id', order: 'desc' }]);
  }

  async get(instanceUuid: string, requestId: string): Promise<InstanceActionRecord | undefined> {
    return this.db('instance_actions').where({ instance_uuid: instanceUuid, request_id: requestId }).orderBy('id', 'desc').first();
  }

  /** Actions still without an outcome (a crash interrupted them). */
  async listUnfinished(instanceUuid: string): Promise<InstanceActionRecord[]> {
    return this.db('instance_actions').where({ instance_uuid: instanceUuid }).whereNull('finish_time');
  }
}
