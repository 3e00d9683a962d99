/**
 * FakeDriver: a first-class, in-memory ComputeDriver (after nova/virt/fake.py).
 *
 * It keeps real semantics in Maps — instances with power states, a console, a small file
 * system, addresses on per-project networks, images with their archive bytes — and emits the
 * events a Docker engine would emit for the same change, so the compute service and the
 * reconciler can be tested without an engine. The driver contract suite (test/contract) runs
 * against it and against the Docker driver, which keeps the two honest.
 *
 * Failures are injected through options (`failSpawn`, `failOn`, `unavailable`, `delays`,
 * `beforeCall`) and changes "made outside novadock" through the `external*` helpers.
 * Images live in images.ts (FakeImages), addresses in networks.ts (FakeNetworks), the instance
 * bookkeeping (power states, events, injected failures, commits) in engine-core.ts (FakeEngineCore).
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  ComputeDriver,
  ConsoleSession,
  HypervisorInfo,
  HypervisorUnavailable,
  InstanceEvent,
  InstanceDiagnostics,
  InstanceInfo,
  InstanceNic,
  InstanceSpec,
  OwnedInstance,
  ImageNotOnHost,
  SpawnFailed,
  ImageNamed,
  RegistryPull,
} from '../driver';
import { FakeEngine, FakeInstance, FakeMoves } from './moves';
import { fakeDiagnostics } from './diagnostics';
import { FakeEngineCore, PAUSED, RUNNING, Subscriber } from './engine-core';
import { fakeNetworkOf } from './networks';

import type { FakeDriverOptions, FakeOp } from './options';
export type { FakeOp, FakeProgram, FakeDriverOptions } from './options';

export class FakeDriver extends FakeEngineCore implements ComputeDriver {
  /** Cold moves (moves.ts), over this engine's insides. */
  readonly moves: FakeMoves;
  private named: ImageNamed | undefined;
  /** Diagnostics samples taken per server (the fake's CPU time grows with them). */
  private readonly samples = new Map<string, number>();

  constructor(opts: FakeDriverOptions) {
    super(opts);
    this.moves = new FakeMoves(this.engine());
  }

  // ---------------------------------------------------------------- test controls

  /** Takes the engine away (every call throws HypervisorUnavailable, event streams break) or brings it back. */
  setUnavailable(down: boolean): void {
    this.down = down;
    if (down) {
      const subs = [...this.subscribers];
      this.subscribers.clear();
      const err = new HypervisorUnavailable(this.host, new Error('event stream closed'));
      setImmediate(() => subs.forEach((s) => s.onError(err)));
    }
  }

  get unavailable(): boolean {
    return this.down;
  }

  /** Changes delays at run time (merged into the options). */
  setDelays(delays: Partial<Record<FakeOp, number>>): void {
    this.opts.delays = { ...this.opts.delays, ...delays };
  }

  /** `docker kill` from outside: the process gets SIGKILL; the instance is stopped (exit 137). */
  externalKill(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState !== RUNNING && inst.powerState !== PAUSED) return;
    this.stopNow(inst, 137, ['kill', 'die']);
  }

  /** The instance's process exits by itself with `code` (default 0); its restart policy may start it again. */
  externalExit(serverId: string, code = 0): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState !== RUNNING) return;
    this.stopNow(inst, code, ['die']);
    this.restartByPolicy(inst);
  }

  /** The kernel OOM-kills the instance's process: 'oom' then 'die', exit 137, oomKilled. */
  externalOom(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState !== RUNNING) return;
    inst.oomKilled = true;
    this.stopNow(inst, 137, ['oom', 'die']);
    this.restartByPolicy(inst);
  }

  /** `docker pause` from outside. */
  externalPause(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState !== RUNNING) return;
    inst.powerState = PAUSED;
    this.emit(serverId, 'pause');
  }

  /** `docker rm -f` from outside: the instance is gone. */
  externalRemove(serverId: string): void {
    const inst = this.mustHave(serverId);
    if (inst.powerState === RUNNING || inst.powerState === PAUSED) this.stopNow(inst, 137, ['kill', 'die']);
    this.instances.delete(serverId);
    this.emit(serverId, 'destroy');
  }

  /** Appends a line to the instance's console, as its process would print it. */
  writeConsole(serverId: string, line: string): void {
    this.mustHave(serverId).console.push(line);
  }

  /** Reads a file inside the instance (undefined when absent). */
  readFile(serverId: string, path: string): string | undefined {
    return this.mustHave(serverId).files.get(path)?.toString('utf8');
  }

  /** Writes a file inside the instance, as its process would. */
  writeFile(serverId: string, path: string, content: string | Buffer): void {
    this.mustHave(serverId).files.set(path, Buffer.isBuffer(content) ? content : Buffer.from(content));
  }

  /** The spec an instance was spawned with (for assertions). */
  specOf(serverId: string): InstanceSpec | undefined {
    return this.instances.get(serverId)?.spec;
  }

  // ---------------------------------------------------------------- ImageBackend

  async hasImage(imageRef: string): Promise<boolean> {
    await this.enter('hasImage');
    return this.images.has(imageRef);
  }

  async loadImage(archive: Readable): Promise<void> {
    await this.enter('loadImage');
    const image = await this.images.read(archive, this.opts.maxImageBytes ?? 1024 ** 3);
    if (this.down) throw new HypervisorUnavailable(this.host);
    this.images.add(image);
  }

  async removeImage(imageRef: string): Promise<void> {
    await this.enter('removeImage');
    // Like the engine: an image an instance still uses stays (a no-op here, by contract).
    for (const inst of this.instances.values()) if (inst.spec.imageRef === imageRef) return;
    this.images.delete(imageRef);
  }

  async exportImage(imageRef: string): Promise<Readable> {
    await this.enter('exportImage');
    return this.images.export(imageRef, this.host);
  }

  /** Pulls from novadock's registry: the image the pull names appears (no archive: it cannot be exported). */
  async pullImage(pull: RegistryPull): Promise<void> {
    await this.enter('pullImage');
    this.pulls.push(pull);
    if (!this.images.has(pull.imageId)) this.images.add({ imageId: pull.imageId, repoTags: [], files: new Map() });
  }

  /** Every registry pull asked of this engine, in order (for assertions). */
  readonly pulls: RegistryPull[] = [];

  // ---------------------------------------------------------------- ComputeDriver

  async ping(): Promise<void> {
    await this.enter('ping');
  }

  async spawn(spec: InstanceSpec): Promise<InstanceInfo> {
    await this.enter('spawn', spec.serverId);
    if (this.instances.has(spec.serverId)) {
      // The engine refuses a second container with the same name; nothing new is left behind.
      throw new SpawnFailed(`An instance for server ${spec.serverId} already exists on ${this.host}.`);
    }
    const image = this.images.get(spec.imageRef);
    if (!image) throw new ImageNotOnHost(spec.imageRef, this.host);
    const reason = this.opts.failSpawn?.(spec);
    if (reason) throw new SpawnFailed(reason);

    const files = new Map(image.files);
    if (spec.authorizedKeys !== undefined) files.set('/root/.ssh/authorized_keys', Buffer.from(spec.authorizedKeys));
    if (spec.userData !== undefined) files.set('/var/lib/cloud/user-data', Buffer.from(spec.userData));
    const inst: FakeInstance = { spec: { ...spec, env: { ...spec.env }, ...(spec.nics && { nics: spec.nics.map((n) => ({ ...n })) }) }, powerState: RUNNING, console: [], files };
    this.instances.set(spec.serverId, inst);
    if (spec.network && !spec.nics) this.networks.allocate(spec.serverId, spec.network);
    this.boot(inst);
    if (inst.powerState !== RUNNING) {
      // Like the Docker driver: a process that exits at once is a failed spawn, and the
      // instance is removed (its address stays reserved for the server, as for a rebuild).
      this.instances.delete(spec.serverId);
      this.emit(spec.serverId, 'destroy');
      const tail = inst.console.slice(-5).join('\n');
      throw new SpawnFailed(`The instance's process exited with code ${inst.exitCode}${tail ? `: ${tail}` : ''}`);
    }
    return this.info(inst);
  }

  // ---------------------------------------------------------------- interfaces (issue 17)

  async attachInterface(serverId: string, nic: InstanceNic): Promise<InstanceInfo> {
    await this.enter('attachInterface', serverId);
    const inst = this.mustHave(serverId);
    const nics = (inst.spec.nics ??= []);
    const on = fakeNetworkOf(nic, inst.spec.projectId);
    if (nics.some((n) => fakeNetworkOf(n, inst.spec.projectId) === on)) return this.info(inst);
    for (const other of this.instances.values()) {
      if (other.spec.nics?.some((n) => fakeNetworkOf(n, other.spec.projectId) === on && n.ip === nic.ip)) {
        throw new SpawnFailed(`The interface could not be attached: Address already in use`);
      }
    }
    nics.push({ ...nic });
    return this.info(inst);
  }

  async detachInterface(serverId: string, nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>): Promise<InstanceInfo> {
    await this.enter('detachInterface', serverId);
    const inst = this.mustHave(serverId);
    const on = fakeNetworkOf(nic, inst.spec.projectId);
    if (inst.spec.nics) inst.spec.nics = inst.spec.nics.filter((n) => fakeNetworkOf(n, inst.spec.projectId) !== on);
    return this.info(inst);
  }

  async removeNetwork(networkId: string): Promise<void> {
    await this.enter('removeNetwork');
    this.networks.removed.push(networkId);
  }

  /** Engine networks in use on this host (instances' interfaces), for assertions. */
  networksInUse(): string[] {
    return [...new Set([...this.instances.values()].flatMap((i) => (i.spec.nics ?? []).map((n) => fakeNetworkOf(n, i.spec.projectId))))].sort();
  }

  /** Network ids removeNetwork was called for. */
  get removedNetworks(): readonly string[] {
    return this.networks.removed;
  }

  async destroy(serverId: string): Promise<void> {
    await this.enter('destroy', serverId);
    const inst = this.instances.get(serverId);
    if (inst) {
      if (inst.powerState === RUNNING || inst.powerState === PAUSED) this.stopNow(inst, 137, ['kill', 'die']);
      this.instances.delete(serverId);
      this.emit(serverId, 'destroy');
    }
    await this.moves.destroyRest(serverId, inst);
    await this.releaseImageOf(inst);
  }

  releaseUnnamedImages(named: ImageNamed): void {
    this.named = named;
  }

  /** As the Docker driver's image-release.ts: a destroyed instance's image goes when no record names it and no instance uses it. */
  private async releaseImageOf(inst: FakeInstance | undefined): Promise<void> {
    const ref = inst?.spec.imageRef;
    if (!ref || !this.named || (await this.named(ref).catch(() => true))) return;
    for (const other of this.instances.values()) if (other.spec.imageRef === ref) return;
    this.images.delete(ref);
  }

  async powerOff(serverId: string, timeoutSeconds: number): Promise<void> {
    await this.enter('powerOff', serverId);
    const inst = this.mustHave(serverId);
    if (inst.powerState !== RUNNING && inst.powerState !== PAUSED) return;
    void timeoutSeconds; // the fake's processes always honour SIGTERM at once
    this.stopNow(inst, 143, ['kill', 'die', 'stop']);
  }

  async powerOn(serverId: string): Promise<InstanceInfo> {
    await this.enter('powerOn', serverId);
    const inst = this.mustHave(serverId);
    if (inst.powerState === PAUSED) throw new Error(`Instance ${serverId} is paused; unpause it instead of starting it.`);
    if (inst.powerState !== RUNNING) this.boot(inst);
    return this.info(inst);
  }

  async reboot(serverId: string, type: 'SOFT' | 'HARD'): Promise<InstanceInfo> {
    await this.enter('reboot', serverId);
    const inst = this.mustHave(serverId);
    if (inst.powerState === RUNNING || inst.powerState === PAUSED) {
      if (type === 'SOFT') this.stopNow(inst, 143, ['kill', 'die', 'stop']);
      else this.stopNow(inst, 137, ['kill', 'die']);
    }
    this.boot(inst);
    return this.info(inst);
  }

  pause(serverId: string): Promise<void> {
    return this.enter('pause', serverId).then(() => this.freeze(serverId));
  }

  unpause(serverId: string): Promise<void> {
    return this.enter('unpause', serverId).then(() => this.thaw(serverId));
  }

  suspend(serverId: string): Promise<void> {
    return this.enter('suspend', serverId).then(() => this.freeze(serverId));
  }

  resume(serverId: string): Promise<void> {
    return this.enter('resume', serverId).then(() => this.thaw(serverId));
  }

  async getInfo(serverId: string): Promise<InstanceInfo> {
    await this.enter('getInfo', serverId);
    return this.info(this.mustHave(serverId));
  }

  async getConsoleOutput(serverId: string): Promise<string> {
    await this.enter('getConsoleOutput', serverId);
    const inst = this.mustHave(serverId);
    return inst.console.map((l) => `${l}\n`).join('');
  }

  async snapshot(serverId: string, labels: Record<string, string>): Promise<string> {
    await this.enter('snapshot', serverId);
    return this.commit(this.mustHave(serverId), labels);
  }

  async listInstances(): Promise<OwnedInstance[]> {
    await this.enter('listInstances');
    return [...this.instances.values()].map((i) => ({ serverId: i.spec.serverId, projectId: i.spec.projectId, info: this.info(i) } as OwnedInstance)).concat(this.moves.listed());
  }

  subscribe(listener: (e: InstanceEvent) => void, onError: (err: Error) => void): () => void {
    const sub: Subscriber = { listener, onError };
    if (this.down) {
      setImmediate(() => onError(new HypervisorUnavailable(this.host)));
      return () => undefined;
    }
    this.subscribers.add(sub);
    return () => {
      this.subscribers.delete(sub);
    };
  }

  async hypervisorInfo(): Promise<HypervisorInfo> {
    await this.enter('hypervisorInfo');
    let running = 0;
    for (const i of this.instances.values()) if (i.powerState === RUNNING || i.powerState === PAUSED) running++;
    return {
      hostname: this.host,
      hypervisorType: 'fake',
      hypervisorVersion: 1000,
      vcpus: 8,
      memoryMb: 16384,
      hostIp: '127.0.0.1',
      ...this.opts.hypervisor,
      runningInstances: running,
    };
  }

  // ---- diagnostics (issue 15)
  async diagnostics(serverId: string): Promise<InstanceDiagnostics> {
    await this.enter('diagnostics', serverId);
    const inst = this.mustHave(serverId);
    const sample = (this.samples.get(serverId) ?? 0) + 1;
    this.samples.set(serverId, sample);
    return fakeDiagnostics(inst, sample, this.networks.addressOf(serverId)?.mac ?? null);
  }

  /** Resize in place (issue 15): the limits change, the process runs on (no start, no event). */
  async resizeInstance(serverId: string, memoryMb: number, vcpus: number): Promise<void> {
    await this.enter('resizeInstance', serverId);
    const inst = this.mustHave(serverId);
    inst.spec = { ...inst.spec, memoryMb, vcpus };
  }

  async openConsole(serverId: string): Promise<ConsoleSession> {
    await this.enter('openConsole', serverId);
    return this.consoles.open(serverId, this.mustHave(serverId).powerState === RUNNING);
  }

  // ---------------------------------------------------------------- internals

  /** This engine's insides, as the moves (moves.ts) work on them. */
  private engine(): FakeEngine {
    return {
      enter: (op, serverId) => this.enter(op, serverId),
      get: (serverId) => this.instances.get(serverId),
      take: (serverId) => {
        const inst = this.instances.get(serverId);
        this.instances.delete(serverId);
        return inst;
      },
      put: (inst) => {
        if (this.instances.has(inst.spec.serverId)) throw new Error(`Another instance of server ${inst.spec.serverId} holds its name on ${this.host}.`);
        this.instances.set(inst.spec.serverId, inst);
      },
      stop: (inst) => { if (inst.powerState === RUNNING || inst.powerState === PAUSED) this.stopNow(inst, 143, ['kill', 'die', 'stop']); },
      start: (inst) => { if (inst.powerState !== RUNNING) this.boot(inst); },
      commit: (inst, labels) => this.commit(inst, labels),
      labelsOf: (ref) => this.images.get(ref)?.labels ?? {},
      removeImage: (ref) => this.removeImage(ref),
      info: (inst) => this.info(inst),
      emit: (serverId, type) => this.emit(serverId, type),
    };
  }
}

/** A random server-id-shaped string (handy in tests). */
export const fakeServerId = (): string => crypto.randomUUID();
