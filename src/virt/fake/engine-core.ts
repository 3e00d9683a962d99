/**
 * The fake engine's core (driver.ts's FakeDriver extends it): the instances in a Map, their
 * power states and the events each change emits, the injected failures every call goes
 * through (`enter`), and commits of an instance's files to an image.
 */
import {
  HypervisorUnavailable,
  InstanceEvent,
  InstanceEventType,
  InstanceInfo,
  InstanceNotFound,
  PowerState,
} from '../driver';
import { buildFakeArchive } from './archive';
import { engineRestarts } from '../restart';
import { FakeImages } from './images';
import { FakeNetworks, nicAddress } from './networks';
import type { FakeInstance } from './moves';
import { FakeConsoles } from './console';
import type { FakeDriverOptions, FakeOp } from './options';

export interface Subscriber {
  listener: (e: InstanceEvent) => void;
  onError: (err: Error) => void;
}

export const RUNNING: PowerState = 1;
export const PAUSED: PowerState = 3;
export const SHUTDOWN: PowerState = 4;
export const CRASHED: PowerState = 6;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class FakeEngineCore {
  readonly host: string;
  /** Interactive console sessions (console.ts); `live(serverId)` for assertions. */
  readonly consoles = new FakeConsoles();
  protected readonly opts: FakeDriverOptions;
  protected down: boolean;

  protected readonly instances = new Map<string, FakeInstance>();
  protected readonly images: FakeImages;
  protected readonly subscribers = new Set<Subscriber>();
  protected readonly networks = new FakeNetworks();
  private snapshots = 0;

  constructor(opts: FakeDriverOptions) {
    this.host = opts.host;
    this.opts = opts;
    this.down = opts.unavailable ?? false;
    this.images = new FakeImages(opts.images);
  }

  /** Commits an instance's files to a new image (snapshots and moves). */
  protected async commit(inst: FakeInstance, labels: Record<string, string>): Promise<string> {
    const { bytes, imageId } = await buildFakeArchive({
      files: Object.fromEntries(inst.files), labels, cmd: inst.spec.command, salt: `${this.host}/${inst.spec.serverId}/${++this.snapshots}`,
    });
    this.images.add({ imageId, repoTags: [], archive: bytes, files: new Map(inst.files), labels });
    return imageId;
  }

  protected async enter(op: FakeOp, serverId?: string): Promise<void> {
    await this.opts.beforeCall?.(op, serverId);
    const delay = this.opts.delays?.[op];
    if (delay) await sleep(delay);
    if (this.down) throw new HypervisorUnavailable(this.host, new Error('connect ECONNREFUSED (fake)'));
    const injected = this.opts.failOn?.(op, serverId);
    if (injected) throw injected;
  }

  protected mustHave(serverId: string): FakeInstance {
    const inst = this.instances.get(serverId);
    if (!inst) throw new InstanceNotFound(serverId);
    return inst;
  }

  protected info(inst: FakeInstance): InstanceInfo {
    const addr = inst.spec.network ? this.networks.addressOf(inst.spec.serverId) : undefined;
    const info: InstanceInfo = { powerState: inst.powerState, addresses: inst.spec.nics ? inst.spec.nics.map(nicAddress) : addr ? [{ ...addr }] : [] };
    if (inst.powerState === SHUTDOWN || inst.powerState === CRASHED) {
      if (inst.exitCode !== undefined) info.exitCode = inst.exitCode;
      if (inst.oomKilled) info.oomKilled = true;
    }
    if (inst.restartCount) info.restartCount = inst.restartCount;
    return info;
  }

  protected boot(inst: FakeInstance): void {
    inst.powerState = RUNNING;
    inst.exitCode = undefined;
    inst.oomKilled = undefined;
    this.emit(inst.spec.serverId, 'start');
    const program = this.opts.program?.(inst.spec) ?? { output: [`[fake] ${inst.spec.hostname} started`] };
    inst.console.push(...(program.output ?? []));
    if (program.exitCode !== undefined) this.stopNow(inst, program.exitCode, ['die']);
  }

  /**
   * Docker's restart manager for a process that exited by itself (issue 15): started again at
   * once when the spec's policy says so. A kill or a stop from outside is a manual stop (Docker
   * marks it so): never restarted.
   */
  protected restartByPolicy(inst: FakeInstance): void {
    if (!engineRestarts(inst.spec.restartPolicy, inst.exitCode ?? 0, inst.restartCount ?? 0)) return;
    inst.restartCount = (inst.restartCount ?? 0) + 1;
    inst.powerState = RUNNING;
    inst.exitCode = undefined;
    inst.oomKilled = undefined;
    this.emit(inst.spec.serverId, 'start');
  }

  protected stopNow(inst: FakeInstance, exitCode: number, events: InstanceEventType[]): void {
    inst.powerState = SHUTDOWN;
    inst.exitCode = exitCode;
    this.consoles.endAll(inst.spec.serverId);
    for (const e of events) this.emit(inst.spec.serverId, e);
  }

  protected freeze(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState === PAUSED) return;
    if (inst.powerState !== RUNNING) throw new Error(`Instance ${serverId} is not running.`);
    inst.powerState = PAUSED;
    this.emit(serverId, 'pause');
  }

  protected thaw(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState === RUNNING) return;
    if (inst.powerState !== PAUSED) throw new Error(`Instance ${serverId} is not paused.`);
    inst.powerState = RUNNING;
    this.emit(serverId, 'unpause');
  }

  protected emit(serverId: string, type: InstanceEventType): void {
    const subs = [...this.subscribers];
    const time = Date.now();
    // Delivered asynchronously, in order, like an engine's event stream.
    setImmediate(() => {
      for (const s of subs) if (this.subscribers.has(s)) s.listener({ serverId, type, time });
    });
  }
}
