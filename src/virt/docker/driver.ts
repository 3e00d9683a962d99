/**
 * DockerDriver: a ComputeDriver over one Docker engine (one per compute host).
 * After nova-docker's driver: a server is a container named `novadock-<serverId>`, labelled
 * with its server, project and compute host; its image is referenced by engine id only.
 *
 * Roles are split by file: images.ts (load/save/remove by id), containers.ts (create options
 * and state mapping, pure), networks.ts (per-project networks: bridges, or overlays spanning
 * the hosts of a swarm), addresses.ts (stable addresses), swarm.ts (swarm state and managers),
 * files.ts (boot files), events.ts (the event stream), client.ts (connection and error
 * translation), moves.ts (cold moves). Docker ids and Docker words never leave this folder.
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
  HypervisorUnavailable,
  InstanceEvent,
  InstanceDiagnostics,
  InstanceInfo,
  InstanceNotFound,
  InstanceSpec,
  LoadOptions,
  ProjectNetworkSpec,
  OwnedInstance,
  ImageNotOnHost,
  SpawnFailed,
  ImageNamed,
} from '../driver';
import { call, connect, engineMessage, isUnreachable, statusOf, translate, callOn } from './client';
import { createOptions, DEFAULT_LIMITS, demuxLogs, infoFromInspect, infoFromListing, Limits, SERVER_ID, validateSpec } from './containers';
import { containerDiagnostics } from './diagnostics';
import { subscribeEvents } from './events';
import { bootFilesTar } from './files';
import { DockerImages } from './images';
import { ImageRelease } from './image-release';
import { BLANK_LABELS, LABEL_HOST, LABEL_MANAGED, LABEL_PROJECT, LABEL_SERVER, containerName, setAsideName } from './labels';
import { DockerMoves } from './moves';
import { resizeContainer } from './resize';
import { ProjectNetwork, ProjectNetworks } from './networks';
import { pickAddress, Picked } from './addresses';
import type { SwarmManagers } from './swarm';
import { openShell } from './console';

export interface DockerDriverOptions {
  /** Compute host name (OS-EXT-SRV-ATTR:host); also labels and selects this host's containers. */
  host: string;
  /** unix:///var/run/docker.sock or tcp://host:port; unset → DOCKER_HOST or the local socket. */
  dockerHost?: string;
  log: Logger;
  /** Grace period of a soft reboot before the process is killed. Default 30 s. */
  rebootTimeoutSeconds?: number;
  /**
   * How long after start a process that exits still counts as a failed spawn (later exits are
   * the reconciler's: the server goes SHUTOFF). A process that exits "at once" (a bad command,
   * a missing file) has exited within a few ms of the start call returning, and an inspect
   * after that waits for the engine to finish handling the exit, so it reports the container
   * stopped; every ms here is added to every boot. Default 10 ms.
   */
  startupCheckMs?: number;
  /** Processes per container. Default 1024. */
  pidsLimit?: number;
  /**
   * Base layers from this size are imported into the engine as they stream, not unpacked to a
   * temporary copy first (images.ts, base-layer.ts). Default 32 MiB; Infinity turns it off.
   */
  layerShortcutMinBytes?: number;
  /** ping() gives up after this long. Default 2000 ms. */
  pingTimeoutMs?: number;
  /**
   * Swarm managers among the configured compute hosts: when this engine is a swarm worker, its
   * project networks (overlays spanning hosts) are created through one of them.
   */
  swarm?: SwarmManagers;
  /** Project networks spanning hosts encrypt their traffic between hosts (IPsec ESP in the kernel). */
  encryptedNetworks?: boolean;
}

const CONSOLE_TAIL_LINES = 5;
/** A start refused because the requested address is held. */
const ADDRESS_TAKEN = /address already in use|address .* in use/i;
/** An overlay attachment the swarm could not make (a requested address held elsewhere, among others). */
const ATTACH_FAILED = /attaching to network failed/i;
/** The container's network is gone: 404 at create; "network X not found" at start (through the swarm on a swarm node). */
const networkGone = (e: unknown) => (statusOf(e) === 404 && /network/i.test(engineMessage(e))) || /network \S+ not found/i.test(engineMessage(e));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class DockerDriver implements ComputeDriver {
  readonly host: string;
  readonly moves: DockerMoves;
  private readonly docker: Docker;
  private readonly log: Logger;
  private readonly images: DockerImages;
  private readonly release: ImageRelease;
  private readonly networks: ProjectNetworks;
  private readonly rebootTimeoutSeconds: number;
  private readonly startupCheckMs: number;
  private readonly pingTimeoutMs: number;
  private readonly pidsLimit: number;
  private hostCpus: number | undefined;

  constructor(opts: DockerDriverOptions) {
    this.host = opts.host;
    this.log = opts.log.child({ computeHost: opts.host });
    this.docker = connect(opts.dockerHost);
    this.images = new DockerImages(this.docker, this.host, opts.layerShortcutMinBytes);
    this.networks = new ProjectNetworks(this.docker, this.host, this.log, { swarm: opts.swarm, encrypted: opts.encryptedNetworks, infoTimeoutMs: opts.pingTimeoutMs });
    this.moves = new DockerMoves(this.docker, this.host, this.images);
    this.release = new ImageRelease(this.images, this.log);
    this.rebootTimeoutSeconds = opts.rebootTimeoutSeconds ?? 30;
    this.startupCheckMs = opts.startupCheckMs ?? 10;
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

  releaseUnnamedImages(named: ImageNamed): void {
    this.release.use(named);
  }

  // ---------------------------------------------------------------- host

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
    const limits = await this.limits();
    const network = spec.network;
    if (!network) return this.spawnOn(spec, null, limits);
    // Held for the whole spawn: the project's network is not removed from under it.
    return this.networks.use(network.projectId, () => this.spawnOn(spec, network, limits));
  }

  private async spawnOn(spec: InstanceSpec, network: ProjectNetworkSpec | null, limits: Limits): Promise<InstanceInfo> {
    let net = network ? await this.ensureNetwork(network) : null;
    const failedAddresses = new Set<string>();

    for (let attempt = 1; ; attempt++) {
      let container: Docker.Container | undefined;
      let picked: Picked | undefined;
      const retry = attempt < 4;
      try {
        if (net && network) picked = await this.pick(net, network, spec.serverId, failedAddresses);
        try {
          container = await this.docker.createContainer(createOptions(spec, this.host, net && picked ? { name: net.name, ip: picked.ip } : null, limits));
        } finally {
          picked?.release();
        }
        const files = await bootFilesTar(spec);
        if (files) await container.putArchive(files, { path: '/' });
        try {
          await container.start();
        } catch (e) {
          const msg = engineMessage(e);
          // Someone took the requested address between our look and the start: try the next one.
          // (On an overlay the swarm says only that the attachment failed, after a timeout.)
          if (picked && retry && (ADDRESS_TAKEN.test(msg) || (net?.spansHosts && ATTACH_FAILED.test(msg)))) {
            failedAddresses.add(picked.ip);
            await this.forceRemove(container);
            continue;
          }
          if (networkGone(e)) throw e;
          throw new SpawnFailed(`The instance could not be started: ${msg}`);
        }
        return await this.checkStarted(container);
      } catch (e) {
        if (container) await this.forceRemove(container);
        // The project's network was removed behind our back (we cache it; another process's last
        // instance on it went, or someone removed it): make it again.
        if (network && retry && !(e instanceof SpawnFailed) && networkGone(e)) {
          net = await this.ensureNetwork(network, true);
          continue;
        }
        throw this.spawnError(spec, e);
      }
    }
  }

  /**
   * The address to request: on a network spanning hosts, never one the compute service knows
   * another server of the project holds (this engine sees only its own instances).
   */
  private pick(net: ProjectNetwork, network: ProjectNetworkSpec, serverId: string, failed: Set<string>): Promise<Picked> {
    const exclude = new Set([...failed, ...(net.spansHosts ? network.addressesInUse : [])]);
    return pickAddress(net, serverId, () => this.networks.addressesInUse(net, network.projectId), exclude, failed.size > 0);
  }

  async destroy(serverId: string): Promise<void> {
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
    const projectId = c?.Config?.Labels?.[LABEL_PROJECT];
    if (c && projectId) await this.networks.releaseIfUnused(projectId, Object.keys(c.NetworkSettings?.Networks ?? {}));
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
    return infoFromInspect(await this.owned(serverId));
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
    const out: OwnedInstance[] = [];
    for (const c of list) {
      const serverId = c.Labels?.[LABEL_SERVER];
      const projectId = c.Labels?.[LABEL_PROJECT];
      if (!serverId || !projectId || c.Labels?.[LABEL_MANAGED] !== 'true' || c.Labels?.[LABEL_HOST] !== this.host) continue;
      out.push({ serverId, projectId, info: infoFromListing(c), ...(c.Names?.includes(`/${setAsideName(serverId)}`) && { setAside: true }) });
    }
    return out;
  }

  subscribe(listener: (e: InstanceEvent) => void, onError: (err: Error) => void): () => void {
    return subscribeEvents(this.docker, this.host, this.log, listener, onError);
  }

  /** One stats sample (diagnostics.ts). */
  diagnostics = async (serverId: string): Promise<InstanceDiagnostics> => containerDiagnostics(this.docker, this.host, serverId, await this.owned(serverId));
  /** Resize in place (issue 15): the engine's update call, resize.ts. */
  async resizeInstance(serverId: string, memoryMb: number, vcpus: number): Promise<void> { await resizeContainer(this.docker, this.host, serverId, memoryMb, vcpus, (await this.limits()).hostCpus); }

  // ---------------------------------------------------------------- internals

  /**
   * The project's network (looked up again when `again`), or SpawnFailed saying why it could not
   * be made (SubnetUnavailable when the engine refused the subnet).
   */
  private async ensureNetwork(network: ProjectNetworkSpec, again = false): Promise<ProjectNetwork> {
    if (again) this.networks.forget(network.projectId);
    try {
      return await this.networks.ensure(network);
    } catch (e) {
      if (e instanceof HypervisorUnavailable || e instanceof SpawnFailed) throw e;
      throw new SpawnFailed(`The project network could not be created: ${(e as Error).message}`);
    }
  }

  private async limits(): Promise<Limits> {
    if (this.hostCpus === undefined) {
      const info = (await call(this.host, () => this.docker.info())) as { NCPU?: number };
      this.hostCpus = Number(info.NCPU) || 1;
    }
    return { ...DEFAULT_LIMITS, pidsLimit: this.pidsLimit, hostCpus: this.hostCpus };
  }

  /**
   * A process that exits at once (a bad command, a missing binary) is a failed spawn, not a
   * running server: look again shortly after start and report its exit code and last lines.
   */
  private async checkStarted(container: Docker.Container): Promise<InstanceInfo> {
    if (this.startupCheckMs > 0) await sleep(this.startupCheckMs);
    const info = await container.inspect();
    if (info.State.Running) return infoFromInspect(info);
    let tail = '';
    try {
      const raw = await container.logs({ stdout: true, stderr: true, follow: false, tail: 50 });
      tail = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw ?? '')))
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l.length > 0)
        .slice(-CONSOLE_TAIL_LINES)
        .join('\n');
    } catch {
      /* the exit code alone still says why */
    }
    const why = info.State.OOMKilled ? ' (out of memory)' : '';
    const detail = info.State.Error ? ` (${engineMessage({ message: info.State.Error })})` : '';
    throw new SpawnFailed(`The instance's process exited with code ${info.State.ExitCode}${why}${detail}${tail ? `: ${tail}` : ''}`);
  }

  private spawnError(spec: InstanceSpec, e: unknown): Error {
    if (e instanceof SpawnFailed) return e;
    if (isUnreachable(e)) return translate(this.host, e);
    const status = statusOf(e);
    const msg = engineMessage(e);
    if (status === 409) return new SpawnFailed(`An instance for server ${spec.serverId} already exists on compute host ${this.host}.`);
    if (status === 404 && /image/i.test(msg)) return new ImageNotOnHost(spec.imageRef, this.host);
    return new SpawnFailed(`The instance could not be created: ${msg}`);
  }

  private async forceRemove(container: Docker.Container): Promise<void> {
    try {
      await container.remove({ force: true, v: true });
    } catch (e) {
      if (statusOf(e) !== 404) this.log.warn({ err: engineMessage(e) }, 'could not remove a failed instance');
    }
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
