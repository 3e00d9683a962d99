/**
 * DockerDriver: a ComputeDriver over one Docker engine (one per compute host).
 * After nova-docker's driver: a server is a container named `novadock-<serverId>`, labelled
 * with its server, project and compute host; its image is referenced by engine id only.
 *
 * Roles are split by file: images.ts (load/save/remove by id), containers.ts (create options
 * and state mapping, pure), networks.ts (per-project networks: bridges, or overlays spanning
 * the hosts of a swarm), addresses.ts (stable addresses), swarm.ts (swarm state and managers),
 * files.ts (boot files), events.ts (the event stream), client.ts (connection and error
 * translation), moves.ts (cold moves), options.ts (DockerDriverOptions, re-exported here),
 * spawner.ts (the spawn path: create, boot files, start, the startup check, retries),
 * resize.ts (resize in place), diagnostics.ts (stats), console.ts (interactive shells),
 * image-release.ts (unnamed images of destroyed instances). Docker ids and Docker words never
 * leave this folder.
 *
 * Power-state notes:
 * - suspend/resume use the engine's pause (the cgroup freezer: processes stay in memory,
 *   frozen) — the closest container analogue of suspend-to-RAM. The engine cannot tell a
 *   suspended container from a paused one, and labels are immutable, so getInfo reports
 *   PAUSED (3) for both; the compute service shows power_state SUSPENDED (7) when the
 *   server's vm_state is suspended.
 * - A soft reboot is a graceful stop (SIGTERM, then SIGKILL after `rebootTimeoutSeconds`)
 *   and a start; a hard reboot is SIGKILL and a start. Both keep the container, so the file
 *   system and the (requested) address survive.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import {
  ComputeDriver,
  ConsoleSession,
  HypervisorInfo,
  InstanceEvent,
  InstanceDiagnostics,
  InstanceInfo,
  InstanceNic,
  InstanceNotFound,
  InstanceSpec,
  LoadOptions,
  OwnedInstance,
  ImageNamed,
  EngineCallError,
  RegistryPull,
} from '../driver';
import { call, connect, statusOf, callOn } from './client';
import { DEFAULT_LIMITS, demuxLogs, infoFromInspect, infoFromListing, Limits, SERVER_ID, validateSpec } from './containers';
import { containerDiagnostics } from './diagnostics';
import { subscribeEvents } from './events';
import { DockerImages } from './images';
import { ImageRelease } from './image-release';
import { BLANK_LABELS, LABEL_HOST, LABEL_MANAGED, LABEL_PROJECT, LABEL_SERVER, containerName, setAsideName } from './labels';
import { DockerMoves } from './moves';
import { DockerResizer } from './resize';
import { ProjectNetworks } from './networks';
import { openShell } from './console';
import type { DockerDriverOptions } from './options';
import { DockerSpawner } from './spawner';
import { DockerInterfaces } from './interfaces';
import { watchCallErrors } from './call-errors';
import { overlayGateways } from './host-reach';
export type { DockerDriverOptions } from './options';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class DockerDriver implements ComputeDriver {
  readonly host: string;
  readonly moves: DockerMoves;
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly images: DockerImages;
  private readonly release: ImageRelease;
  private readonly networks: ProjectNetworks;
  private readonly spawner: DockerSpawner;
  private readonly interfaces: DockerInterfaces;
  private readonly resizer: DockerResizer;
  private readonly rebootTimeoutSeconds: number;
  private readonly pingTimeoutMs: number;
  private readonly pidsLimit: number;
  private hostCpus: number | undefined;
  private readonly callErrors: (listener: (e: EngineCallError) => void) => () => void;

  constructor(opts: DockerDriverOptions) {
    this.host = opts.host;
    this.log = opts.log.child({ computeHost: opts.host });
    this.docker = connect(opts.dockerHost);
    this.callErrors = watchCallErrors(this.docker);
    this.images = new DockerImages(this.docker, this.host, opts.layerShortcutMinBytes);
    this.networks = new ProjectNetworks(this.docker, this.host, this.log, { swarm: opts.swarm, encrypted: opts.encryptedNetworks, infoTimeoutMs: opts.pingTimeoutMs });
    this.spawner = new DockerSpawner(this.docker, this.host, this.log, this.networks, opts.startupCheckMs ?? 10);
    this.interfaces = new DockerInterfaces(this.docker, this.host, this.networks, this.spawner);
    this.resizer = new DockerResizer(this.docker, this.host);
    this.moves = new DockerMoves(this.docker, this.host, this.images, (serverId) => this.resizer.forget(serverId), (names) => this.networks.labelsOf(names));
    this.release = new ImageRelease(this.images, this.log);
    this.rebootTimeoutSeconds = opts.rebootTimeoutSeconds ?? 30;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? 2000;
    this.pidsLimit = opts.pidsLimit ?? DEFAULT_LIMITS.pidsLimit;
  }

  // ---------------------------------------------------------------- images

  hasImage(imageRef: string): Promise<boolean> {
    return this.images.hasImage(imageRef);
  }

  loadImage(archive: Readable, opts?: LoadOptions): Promise<void> {
    return this.images.loadImage(archive, opts);
  }

  removeImage(imageRef: string): Promise<void> {
    return this.release.remove(imageRef);
  }

  exportImage(imageRef: string): Promise<Readable> {
    return this.images.exportImage(imageRef);
  }

  pullImage(pull: RegistryPull): Promise<void> {
    return this.images.pullImage(pull);
  }

  releaseUnnamedImages(named: ImageNamed): void {
    this.release.use(named);
  }

  // ---------------------------------------------------------------- host

  onEngineError(listener: (e: EngineCallError) => void): () => void {
    return this.callErrors(listener);
  }

  async ping(): Promise<void> {
    // An engine that is down must fail fast: a short deadline on this one call only (a global
    // socket timeout would also cut long stops and the event stream).
    const ping = this.docker as unknown as { ping(opts: { abortSignal: AbortSignal }): Promise<unknown> };
    await call(this.host, () => ping.ping({ abortSignal: AbortSignal.timeout(this.pingTimeoutMs) }));
  }

  async hypervisorInfo(): Promise<HypervisorInfo> {
    const info = (await call(this.host, () => this.docker.info())) as Record<string, unknown>;
    const ours = await this.listInstances();
    const version = String(info.ServerVersion ?? '0.0.0');
    const [maj, min, patch] = version.split(/[.+~-]/).map((p) => Number.parseInt(p, 10) || 0);
    return {
      hostname: this.host,
      hypervisorType: 'docker',
      // nova's convert_version_to_int: 20.10.24 → 20010024
      hypervisorVersion: maj * 1_000_000 + (min ?? 0) * 1000 + (patch ?? 0),
      vcpus: Number(info.NCPU ?? 0),
      memoryMb: Math.floor(Number(info.MemTotal ?? 0) / (1024 * 1024)),
      runningInstances: ours.filter((o) => o.info.powerState === 1 || o.info.powerState === 3).length,
      hostIp: this.hostIp(),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  async spawn(spec: InstanceSpec): Promise<InstanceInfo> {
    validateSpec(spec);
    return this.spawner.spawn(spec, await this.limits());
  }

  async destroy(serverId: string): Promise<void> {
    this.resizer.forget(serverId);
    const c = await this.owned(serverId).catch((e) => {
      if (e instanceof InstanceNotFound) return undefined;
      throw e;
    });
    if (c) {
      await call(this.host, async () => {
        try {
          await this.docker.getContainer(c.Id).remove({ force: true, v: true });
        } catch (e) {
          if (statusOf(e) === 404) return;
          // 409: a removal is already in progress — wait for it to finish.
          if (statusOf(e) === 409) return this.waitGone(c.Id);
          throw e;
        }
      });
    }
    await this.moves.destroyRest(serverId, c);
    await this.release.afterDestroy(c);
    if (c) await this.networks.releaseIfUnused(Object.keys(c.NetworkSettings?.Networks ?? {}));
  }

  async powerOff(serverId: string, timeoutSeconds: number): Promise<void> {
    const c = await this.owned(serverId);
    await this.op(serverId, () => this.docker.getContainer(c.Id).stop({ t: Math.max(0, Math.floor(timeoutSeconds)) }), [304]);
  }

  async powerOn(serverId: string): Promise<InstanceInfo> {
    const c = await this.owned(serverId);
    await this.op(serverId, () => this.docker.getContainer(c.Id).start(), [304]);
    return this.getInfo(serverId);
  }

  async reboot(serverId: string, type: 'SOFT' | 'HARD'): Promise<InstanceInfo> {
    const c = await this.owned(serverId);
    const container = this.docker.getContainer(c.Id);
    if (type === 'SOFT') {
      await this.op(serverId, () => container.stop({ t: this.rebootTimeoutSeconds }), [304]);
    } else {
      // 409: not running — nothing to kill. Then wait: kill returns before the process is gone.
      await this.op(serverId, () => container.kill({ signal: 'SIGKILL' }), [409]);
      await this.op(serverId, () => container.wait({ condition: 'not-running' }));
    }
    await this.op(serverId, () => container.start(), [304]);
    return this.getInfo(serverId);
  }

  pause(serverId: string): Promise<void> {
    return this.freeze(serverId);
  }

  unpause(serverId: string): Promise<void> {
    return this.thaw(serverId);
  }

  /** docker pause: see the module comment for why suspend is the cgroup freezer. */
  suspend(serverId: string): Promise<void> {
    return this.freeze(serverId);
  }

  resume(serverId: string): Promise<void> {
    return this.thaw(serverId);
  }

  // ---------------------------------------------------------------- reads

  async getInfo(serverId: string): Promise<InstanceInfo> {
    const c = await this.owned(serverId);
    return infoFromInspect(c, await this.networks.labelsOf(Object.keys(c.NetworkSettings?.Networks ?? {})));
  }

  // ---------------------------------------------------------------- interfaces (issue 17)

  async attachInterface(serverId: string, nic: InstanceNic): Promise<InstanceInfo> {
    const c = await this.owned(serverId);
    await this.interfaces.attach(c, c.Config.Labels[LABEL_PROJECT], nic);
    return this.getInfo(serverId);
  }

  async detachInterface(serverId: string, nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>): Promise<InstanceInfo> {
    const c = await this.owned(serverId);
    await this.interfaces.detach(c, c.Config.Labels[LABEL_PROJECT], nic);
    return this.getInfo(serverId);
  }

  removeNetwork(networkId: string): Promise<void> {
    return this.networks.removeNeutron(networkId);
  }

  hostAddresses(serverId: string, fixedIps: string[]): Promise<Record<string, string>> {
    return call(this.host, () => overlayGateways(this.docker, serverId, fixedIps), serverId);
  }

  async getConsoleOutput(serverId: string): Promise<string> {
    const c = await this.owned(serverId);
    const raw = await this.op(serverId, () => this.docker.getContainer(c.Id).logs({ stdout: true, stderr: true, follow: false, timestamps: false }));
    return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw ?? '')));
  }

  async snapshot(serverId: string, labels: Record<string, string>): Promise<string> {
    const c = await this.owned(serverId);
    const res = (await this.op(serverId, () =>
      this.docker.getContainer(c.Id).commit({
        _query: { container: c.Id, pause: true, comment: `snapshot of server ${serverId}` },
        _body: { Labels: { ...labels, ...BLANK_LABELS } },
      }),
    )) as { Id?: string };
    if (!res?.Id) throw new Error(`Compute host ${this.host}: the engine returned no image id for the snapshot of ${serverId}`);
    return res.Id.startsWith('sha256:') ? res.Id : `sha256:${res.Id}`;
  }

  async listInstances(): Promise<OwnedInstance[]> {
    const list = await call(this.host, () =>
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_HOST}=${this.host}`] } }),
    );
    const labels = await this.networks.labelsOf(list.flatMap((c) => Object.keys(c.NetworkSettings?.Networks ?? {})));
    const out: OwnedInstance[] = [];
    for (const c of list) {
      const serverId = c.Labels?.[LABEL_SERVER];
      const projectId = c.Labels?.[LABEL_PROJECT];
      if (!serverId || !projectId || c.Labels?.[LABEL_MANAGED] !== 'true' || c.Labels?.[LABEL_HOST] !== this.host) continue;
      out.push({ serverId, projectId, info: infoFromListing(c, labels), ...(c.Names?.includes(`/${setAsideName(serverId)}`) && { setAside: true }) });
    }
    return out;
  }

  subscribe(listener: (e: InstanceEvent) => void, onError: (err: Error) => void): () => void {
    return subscribeEvents(this.docker, this.host, this.log, listener, onError);
  }

  /** One stats sample (diagnostics.ts). */
  diagnostics = async (serverId: string): Promise<InstanceDiagnostics> => containerDiagnostics(this.docker, this.host, serverId, await this.owned(serverId));
  /** Resize in place (issue 15): the engine's update call, resize.ts. */
  async resizeInstance(serverId: string, memoryMb: number, vcpus: number): Promise<void> { await this.resizer.resize(serverId, memoryMb, vcpus, (await this.limits()).hostCpus); }

  // ---------------------------------------------------------------- internals

  private async limits(): Promise<Limits> {
    if (this.hostCpus === undefined) {
      const info = (await call(this.host, () => this.docker.info())) as { NCPU?: number };
      this.hostCpus = Number(info.NCPU) || 1;
    }
    return { ...DEFAULT_LIMITS, pidsLimit: this.pidsLimit, hostCpus: this.hostCpus };
  }

  private async waitGone(id: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        await this.docker.getContainer(id).inspect();
      } catch (e) {
        if (statusOf(e) === 404) return;
        throw e;
      }
      await sleep(100);
    }
  }

  /** Our container for a server: by name, and only if its labels say it is that server's. */
  private async owned(serverId: string): Promise<Docker.ContainerInspectInfo> {
    if (!SERVER_ID.test(serverId)) throw new InstanceNotFound(serverId);
    const info = await call(this.host, () => this.docker.getContainer(containerName(serverId)).inspect(), serverId);
    if (info.Config?.Labels?.[LABEL_MANAGED] !== 'true' || info.Config?.Labels?.[LABEL_SERVER] !== serverId) {
      throw new InstanceNotFound(serverId);
    }
    return info;
  }

  /** One engine call on an instance (callOn on this host). */
  private op<T>(serverId: string, fn: () => Promise<T>, ok: number[] = []): Promise<T | undefined> {
    return callOn(this.host, serverId, fn, ok);
  }

  private async freeze(serverId: string): Promise<void> {
    const c = await this.owned(serverId);
    if (c.State.Paused) return;
    await this.op(serverId, () => this.docker.getContainer(c.Id).pause());
  }

  private async thaw(serverId: string): Promise<void> {
    const c = await this.owned(serverId);
    if (c.State.Running && !c.State.Paused) return;
    await this.op(serverId, () => this.docker.getContainer(c.Id).unpause());
  }

  async openConsole(serverId: string): Promise<ConsoleSession> { return openShell(this.docker, this.host, serverId, await this.owned(serverId)); }

  private hostIp(): string {
    const modem = (this.docker as unknown as { modem?: { host?: string } }).modem;
    const h = modem?.host;
    return h && /^[0-9.]+$|:/.test(h) ? h : '127.0.0.1';
  }
}
