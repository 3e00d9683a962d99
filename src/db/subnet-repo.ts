/**
 * Project subnets (migration 20261205040000_project_subnets): which subnet each project's network
 * has, and the subnets an engine refused. The unique constraints on `cidr` and `project_id` make
 * every write here a compare-and-set that concurrent processes (SQLite or PostgreSQL) cannot both
 * win: the repository never reads-then-writes.
 */
import { stamp } from '../clock';
import { isConstraintViolation } from './dialect';
import type { Db } from './knex';

export class ProjectSubnetRepository {
  constructor(private readonly db: Db) {}

  /** The project's subnet, if it has one. */
  async get(projectId: string): Promise<string | undefined> {
    const row = await this.db('project_subnets').where({ project_id: projectId }).first('cidr');
    return row?.cidr as string | undefined;
  }

  /** Every subnet handed out or refused: none of them can be handed out (again). */
  async taken(): Promise<string[]> {
    return (await this.db('project_subnets').pluck('cidr')) as string[];
  }

  /**
   * Gives `cidr` to the project unless the project has a subnet already or `cidr` is taken.
   * Resolves to the project's subnet afterwards: `cidr` when this call won, the other one when a
   * concurrent caller gave the project one first, undefined when `cidr` went to someone else.
   */
  async claim(projectId: string, cidr: string): Promise<string | undefined> {
    await this.db('project_subnets').insert({ cidr, project_id: projectId, created_at: stamp() }).onConflict().ignore();
    return this.get(projectId);
  }

  /** Moves the project from `from` to `to` (compare-and-set on `from`); false when it no longer has `from` or `to` is taken. */
  async move(projectId: string, from: string, to: string): Promise<boolean> {
    try {
      return (await this.db('project_subnets').where({ project_id: projectId, cidr: from }).update({ cidr: to, created_at: stamp() })) === 1;
    } catch (e) {
      if (isConstraintViolation(e)) return false;
      throw e;
    }
  }

  /** Keeps `cidr` out of use for good (no project), saying why; a no-op when it is taken. */
  async block(cidr: string, reason: string): Promise<void> {
    await this.db('project_subnets').insert({ cidr, project_id: null, blocked_reason: reason.slice(0, 255), created_at: stamp() }).onConflict().ignore();
  }
}
