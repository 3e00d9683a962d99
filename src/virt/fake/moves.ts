/**
 * Cold moves on the fake engine (the InstanceMoves port), with the Docker driver's semantics
 * (src/virt/docker/moves.ts): the source's instance is stopped, committed to an image labelled
 * for the move and set aside; confirm removes it, revert puts it back and starts it; an
 * instance spawned from a move's image takes the image with it when destroyed. Set-aside
 * instances are listed (flagged), as the engine lists a renamed container.
 */
import type { InstanceEventType, InstanceInfo, InstanceMoves, InstanceSpec, OwnedInstance, PowerState } from '../driver';
import { InstanceNotFound } from '../driver';

/** An instance in the fake engine. */
export interface FakeInstance {
  spec: InstanceSpec;
  /** Suspend freezes like pause: the fake, like Docker, reports PAUSED (3) for both. */
  powerState: PowerState;
  console: string[];
  files: Map<string, Buffer>;
  exitCode?: number;
  oomKilled?: boolean;
  /** Restarts by the instance's restart policy (issue 15), as Docker's RestartCount. */
  restartCount?: number;
}

export type MoveOp = 'migrateDiskAndPowerOff' | 'confirmMigration' | 'finishRevertMigration';

/** Labels a move's image carries (as the Docker driver's). */
export const MOVE_OF = 'novadock.move_of';
export const MIGRATION = 'novadock.migration';

/** What the moves need of their engine (FakeDriver hands it over: one engine, two files). */
export interface FakeEngine {
  /** Delays, injected failures and an engine that is down, as for every call. */
  enter(op: MoveOp, serverId: string): Promise<void>;
  get(serverId: string): FakeInstance | undefined;
  /** Takes the server's instance out of the engine's table. */
  take(serverId: string): FakeInstance | undefined;
  /** Puts an instance into the table; throws when the server has one there already. */
  put(inst: FakeInstance): void;
  /** Graceful stop, and start, with the engine's events. */
  stop(inst: FakeInstance): void;
  start(inst: FakeInstance): void;
  /** Commits the instance's files to a new image carrying `labels`; its engine id. */
  commit(inst: FakeInstance, labels: Record<string, string>): Promise<string>;
  labelsOf(imageRef: string): Record<string, string>;
  removeImage(imageRef: string): Promise<void>;
  info(inst: FakeInstance): InstanceInfo;
  emit(serverId: string, type: InstanceEventType): void;
}

export class FakeMoves implements InstanceMoves {
  private readonly aside = new Map<string, FakeInstance>();
  /** Engine ids of each server's move images made here (the engine keeps no label index). */
  private readonly made = new Map<string, Set<string>>();

  constructor(private readonly engine: FakeEngine) {}

  async migrateDiskAndPowerOff(serverId: string, migrationId: string, timeoutSeconds: number): Promise<string> {
    await this.engine.enter('migrateDiskAndPowerOff', serverId);
    void timeoutSeconds; // the fake's processes always honour SIGTERM at once
    const inst = this.aside.get(serverId) ?? this.engine.take(serverId);
    if (!inst) throw new InstanceNotFound(serverId);
    this.aside.set(serverId, inst);
    this.engine.stop(inst);
    const ref = await this.engine.commit(inst, { [MOVE_OF]: serverId, [MIGRATION]: migrationId });
    this.made.set(serverId, (this.made.get(serverId) ?? new Set<string>()).add(ref));
    return ref;
  }

  async confirmMigration(serverId: string): Promise<void> {
    await this.engine.enter('confirmMigration', serverId);
    this.discardAside(serverId);
    await this.removeMoveImages(serverId);
  }

  async finishRevertMigration(serverId: string, powerOn: boolean): Promise<InstanceInfo> {
    await this.engine.enter('finishRevertMigration', serverId);
    const aside = this.aside.get(serverId);
    if (aside) {
      this.engine.put(aside);
      this.aside.delete(serverId);
    }
    const inst = aside ?? this.engine.get(serverId);
    if (!inst) throw new InstanceNotFound(serverId);
    if (powerOn) this.engine.start(inst);
    await this.removeMoveImages(serverId);
    return this.engine.info(inst);
  }

  /** destroy()'s rest: the server's set-aside instance and its move images, and the move image `removed` ran from. */
  async destroyRest(serverId: string, removed: FakeInstance | undefined): Promise<void> {
    if (this.discardAside(serverId)) await this.removeMoveImages(serverId);
    if (removed && this.engine.labelsOf(removed.spec.imageRef)[MOVE_OF] === serverId) await this.engine.removeImage(removed.spec.imageRef);
  }

  /** The set-aside instances, as listInstances shows them. */
  listed(): OwnedInstance[] {
    return [...this.aside.values()].map((i) => ({ serverId: i.spec.serverId, projectId: i.spec.projectId, info: this.engine.info(i), setAside: true }));
  }

  /** Removes the server's set-aside instance; false when there was none. */
  private discardAside(serverId: string): boolean {
    if (!this.aside.delete(serverId)) return false;
    this.engine.emit(serverId, 'destroy');
    return true;
  }

  private async removeMoveImages(serverId: string): Promise<void> {
    for (const ref of this.made.get(serverId) ?? []) await this.engine.removeImage(ref);
    this.made.delete(serverId);
  }
}
