/**
 * The Docker driver's spawn path (driver.ts delegates spawn here): create the container on the
 * project's network at an address picked for it, put its boot files in, start it, and check
 * that its process did not exit at once; retried when the address or the network went from
 * under it, and every failure told as SpawnFailed, ImageNotOnHost or HypervisorUnavailable.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AddressUnavailable, HypervisorUnavailable, ImageNotOnHost, InstanceInfo, InstanceNic, InstanceSpec, ProjectNetworkSpec, SpawnFailed } from '../driver';
import { engineMessage, isUnreachable, statusOf, translate } from './client';
import { createOptions, demuxLogs, endpointConfig, infoFromInspect, Limits } from './containers';
import { bootFilesTar } from './files';
import { NetworkTarget, nicTarget, ProjectNetwork, ProjectNetworks, projectTarget } from './networks';
import { pickAddress, Picked } from './addresses';

const CONSOLE_TAIL_LINES = 5;
/** A start refused because the requested address is held. */
const ADDRESS_TAKEN = /address already in use|address .* in use/i;
/** An overlay attachment the swarm could not make (a requested address held elsewhere, among others). */
const ATTACH_FAILED = /attaching to network failed/i;
/** The container's network is gone: 404 at create; "network X not found" at start (through the swarm on a swarm node). */
const networkGone = (e: unknown) => (statusOf(e) === 404 && /network/i.test(engineMessage(e))) || /network \S+ not found/i.test(engineMessage(e));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * How much longer a started process is watched for an exit, as a share of how much longer than
 * its quickest the engine took to start it (at most STARTUP_GRACE_MAX_MS in all): an engine slow
 * to start a container is as slow to report its exit, so a fixed wait misses exits on a loaded
 * engine, and an idle engine's boots pay nothing more.
 */
const STARTUP_GRACE_SHARE = 0.1;
const STARTUP_GRACE_MAX_MS = 500;

/** The wait after a start call that took `startMs`, for a configured check of `checkMs`. */
export const startupGrace = (checkMs: number, startMs: number, quickestStartMs: number): number =>
  Math.min(STARTUP_GRACE_MAX_MS, checkMs + Math.max(0, startMs - quickestStartMs) * STARTUP_GRACE_SHARE);

export class DockerSpawner {
  constructor(
    private readonly docker: Docker,
    private readonly host: string,
    private readonly log: Logger,
    private readonly networks: ProjectNetworks,
    private readonly startupCheckMs: number,
  ) {}

  /** The quickest start call this engine answered (the baseline of startupGrace). */
  private quickestStartMs = Infinity;

  /** Spawns a validated spec with these limits. */
  spawn(spec: InstanceSpec, limits: Limits): Promise<InstanceInfo> {
    if (spec.nics) {
      const nics = spec.nics;
      const targets = nics.map((n) => nicTarget(n, spec.projectId));
      return this.networks.useAll(targets.map((t) => t.key), () => this.spawnWithNics(spec, nics, targets, limits));
    }
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
        const starting = Date.now();
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
        return await this.checkStarted(container, Date.now() - starting);
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
   * The spawn of an instance with interfaces (issue 17): the first at create, the others
   * connected before the start, each with the port's address; nothing is picked here. A network
   * that went from under it is made again once.
   */
  private async spawnWithNics(spec: InstanceSpec, nics: InstanceNic[], targets: NetworkTarget[], limits: Limits): Promise<InstanceInfo> {
    for (let attempt = 1; ; attempt++) {
      let container: Docker.Container | undefined;
      try {
        const nets: ProjectNetwork[] = [];
        for (const t of targets) nets.push(await this.ensureTarget(t, attempt > 1));
        const first = nets[0] ? { name: nets[0].name, ip: nics[0].ip, mac: nics[0].mac } : null;
        container = await this.docker.createContainer(createOptions(spec, this.host, first, limits));
        for (let i = 1; i < nics.length; i++) {
          await this.docker.getNetwork(nets[i].id).connect({ Container: container.id, EndpointConfig: endpointConfig({ name: nets[i].name, ip: nics[i].ip, mac: nics[i].mac }) });
        }
        const files = await bootFilesTar(spec);
        if (files) await container.putArchive(files, { path: '/' });
        const starting = Date.now();
        try {
          await container.start();
        } catch (e) {
          if (networkGone(e)) throw e;
          const msg = engineMessage(e);
          // An address held where this engine cannot see (on an overlay the swarm says only that
          // the attachment failed): the ports' addresses are the caller's to change.
          const held = ADDRESS_TAKEN.test(msg) ? nics : nics.filter((_, i) => nets[i].spansHosts && ATTACH_FAILED.test(msg));
          if (held.length > 0) throw new AddressUnavailable(held.map((n) => n.ip), this.host, msg);
          throw new SpawnFailed(`The instance could not be started: ${msg}`);
        }
        return await this.checkStarted(container, Date.now() - starting);
      } catch (e) {
        if (container) await this.forceRemove(container);
        if (attempt < 2 && !(e instanceof SpawnFailed) && networkGone(e)) continue;
        throw this.spawnError(spec, e);
      }
    }
  }

  /** An engine network (looked up again when `again`), or SpawnFailed saying why it could not be made. */
  async ensureTarget(target: NetworkTarget, again = false): Promise<ProjectNetwork> {
    if (again) this.networks.forgetKey(target.key);
    try {
      return await this.networks.ensureTarget(target);
    } catch (e) {
      if (e instanceof HypervisorUnavailable || e instanceof SpawnFailed) throw e;
      throw new SpawnFailed(`The network could not be created: ${(e as Error).message}`);
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

  /**
   * The project's network (looked up again when `again`), or SpawnFailed saying why it could not
   * be made (SubnetUnavailable when the engine refused the subnet).
   */
  private ensureNetwork(network: ProjectNetworkSpec, again = false): Promise<ProjectNetwork> {
    return this.ensureTarget(projectTarget(network), again);
  }

  /**
   * A process that exits at once (a bad command, a missing binary) is a failed spawn, not a
   * running server: look again shortly after start (`startMs`: how long the start call took) and
   * report its exit code and last lines.
   */
  private async checkStarted(container: Docker.Container, startMs: number): Promise<InstanceInfo> {
    if (this.startupCheckMs > 0) await sleep(this.startupGrace(startMs));
    const info = await container.inspect();
    if (info.State.Running) return infoFromInspect(info, await this.networks.labelsOf(Object.keys(info.NetworkSettings?.Networks ?? {})));
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

  /** The wait after a start call that took `startMs`. */
  private startupGrace(startMs: number): number {
    this.quickestStartMs = Math.min(this.quickestStartMs, startMs);
    return startupGrace(this.startupCheckMs, startMs, this.quickestStartMs);
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
}
