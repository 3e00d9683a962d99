/**
 * What a server looks like as a container: the create options built from an InstanceSpec,
 * and the engine's container state read back as InstanceInfo.
 *
 * Hardening: every field of the spec is data. Names, metadata, user data and image
 * properties end up only in values (env values, hostname, files) — never in an option that
 * widens the container's reach. The options below are fixed: no privileged mode, no added
 * capabilities, no binds/mounts/devices, no host network/PID/IPC/UTS/user namespace, a memory
 * limit without swap, a CPU limit and a pids limit always. `createOptions` is a pure function
 * so this can be checked for any spec (test/docker/docker-driver-hardening.test.ts).
 */
import type Docker from 'dockerode';
import { FixedAddress, InstanceInfo, InstanceSpec, PowerState, SpawnFailed } from '../driver';
import { CONTAINER_PREFIX, LABEL_HOST, LABEL_MANAGED, LABEL_PROJECT, LABEL_SERVER, containerName } from './labels';
import { isNeutronNetworkName, isProjectNetworkName } from './networks';

export interface Limits {
  /** Processes per container (fork-bomb guard). */
  pidsLimit: number;
  /** CPUs of the engine's host: the engine refuses a CPU limit above it. */
  hostCpus: number;
  /** json-file log cap per file and file count (the console comes from the logs). */
  logMaxSize: string;
  logMaxFiles: number;
}

export const DEFAULT_LIMITS: Limits = { pidsLimit: 1024, hostCpus: 1, logMaxSize: '5m', logMaxFiles: 2 };

/** Smallest memory limit the engine accepts is 6 MiB. */
export const MIN_MEMORY_MB = 6;

/** Container names are derived from server ids; anything else is refused before the engine sees it. */
export const SERVER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/** Spec fields are data: refuse what could not be a server before the engine sees it. */
export function validateSpec(spec: InstanceSpec): void {
  if (!SERVER_ID.test(spec.serverId)) throw new SpawnFailed(`Invalid server id '${spec.serverId}'.`);
  if (!IMAGE_ID.test(spec.imageRef)) throw new SpawnFailed(`Image ${spec.imageRef} is not an engine image id.`);
  // The engine reads 0 as "no limit": a server without a memory or CPU limit is never made.
  if (!Number.isFinite(spec.memoryMb) || spec.memoryMb < MIN_MEMORY_MB) {
    throw new SpawnFailed(`The flavor's RAM (${spec.memoryMb} MB) is below the ${MIN_MEMORY_MB} MB an instance needs.`);
  }
  if (!Number.isFinite(spec.vcpus) || spec.vcpus <= 0) throw new SpawnFailed(`The flavor's vCPUs (${spec.vcpus}) must be positive.`);
  if (spec.command && !spec.command.every((a) => typeof a === 'string' && !a.includes('\0'))) {
    throw new SpawnFailed('The image command line contains an invalid argument.');
  }
}

/** Environment variable names the process can read back: the POSIX portable set. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Server metadata as environment variables. Keys that are not portable variable names
 * (Nova allows any string up to 255 chars, e.g. "my key" or "a.b") are left out rather than
 * renamed, so two keys never collide into one; NUL, which cannot appear in an environment
 * string, is dropped from values.
 */
export function envFromMetadata(env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(k)) continue;
    out.push(`${k}=${String(v).replace(/\0/g, '')}`);
  }
  return out;
}

/**
 * A hostname the kernel and resolvers accept, after Nova's sanitize_hostname
 * (nova/utils.py): lower case, spaces and underscores to '-', other characters dropped,
 * at most 63 characters; empty → "server-<id>".
 */
export function sanitizeHostname(name: string, serverId: string): string {
  const h = (name ?? '')
    .toLowerCase()
    .replace(/[ _]/g, '-')
    .replace(/[^a-z0-9.-]/g, '')
    .replace(/\.+/g, '.')
    .replace(/^[-.]+/, '')
    .slice(0, 63)
    .replace(/[-.]+$/, '');
  return h || `server-${serverId.replace(/[^a-z0-9]/gi, '').slice(0, 8).toLowerCase()}`;
}

export interface NetworkChoice {
  name: string;
  ip: string;
  /** The interface's MAC (a port's); absent = the engine's. */
  mac?: string;
}

/** The container create options for a spec. Pure: no engine calls. */
export function createOptions(spec: InstanceSpec, host: string, network: NetworkChoice | null, limits: Limits): Docker.ContainerCreateOptions {
  const memoryBytes = Math.floor(spec.memoryMb) * 1024 * 1024;
  const cpus = Math.min(spec.vcpus, Math.max(1, limits.hostCpus));
  const hostConfig: Docker.HostConfig = {
    Memory: memoryBytes,
    // Equal to Memory: no swap on top of the flavor's RAM.
    MemorySwap: memoryBytes,
    NanoCpus: Math.round(cpus * 1e9),
    PidsLimit: limits.pidsLimit,
    Privileged: false,
    CapAdd: [],
    SecurityOpt: ['no-new-privileges'],
    Binds: [],
    Mounts: [],
    Devices: [],
    VolumesFrom: [],
    Tmpfs: {},
    NetworkMode: network ? network.name : 'none',
    IpcMode: 'private',
    PidMode: '',
    UTSMode: '',
    UsernsMode: '',
    ReadonlyRootfs: false,
    OomKillDisable: false,
    PublishAllPorts: false,
    PortBindings: {},
    Links: [],
    ExtraHosts: [],
    // The subnets' nameservers: the engine's resolver inside the container forwards to them.
    Dns: [...new Set((spec.nics ?? []).flatMap((n) => n.dns ?? []))],
    RestartPolicy: dockerRestartPolicy(spec.restartPolicy),
    AutoRemove: false,
    LogConfig: { Type: 'json-file', Config: { 'max-size': limits.logMaxSize, 'max-file': String(limits.logMaxFiles) } },
  };
  const opts: Docker.ContainerCreateOptions = {
    name: containerName(spec.serverId),
    Image: spec.imageRef,
    Hostname: sanitizeHostname(spec.hostname, spec.serverId),
    Env: envFromMetadata(spec.env),
    Labels: {
      [LABEL_MANAGED]: 'true',
      [LABEL_SERVER]: spec.serverId,
      [LABEL_PROJECT]: spec.projectId,
      [LABEL_HOST]: host,
    },
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    NetworkDisabled: network === null,
    HostConfig: hostConfig,
  };
  if (spec.command && spec.command.length > 0) opts.Cmd = spec.command.map(String);
  if (network) opts.NetworkingConfig = { EndpointsConfig: { [network.name]: endpointConfig(network) } };
  // Engines before API 1.44 take the first interface's MAC from here only.
  if (network?.mac) opts.MacAddress = network.mac;
  return opts;
}

/** An interface's endpoint: its fixed address, and its MAC for engines that take it per endpoint. */
export function endpointConfig(nic: NetworkChoice): Docker.EndpointSettings {
  return { IPAMConfig: { IPv4Address: nic.ip }, ...(nic.mac && { MacAddress: nic.mac }) };
}

/** The engine's container status → Nova power_state (nova/compute/power_state.py). */
export function powerStateOf(state: { Status?: string; Running?: boolean; Paused?: boolean } | string | undefined): PowerState {
  const status = typeof state === 'string' ? state : state?.Status;
  const paused = typeof state === 'object' && state?.Paused;
  switch (status) {
    case 'running':
      return paused ? 3 : 1;
    case 'paused':
      return 3;
    case 'restarting':
      return 1;
    case 'created':
    case 'exited':
    case 'removing':
      return 4;
    case 'dead':
      return 6;
    default:
      return 0;
  }
}

type EndpointMap = Record<string, { IPAddress?: string; MacAddress?: string; IPAMConfig?: { IPv4Address?: string } | null } | undefined>;

/**
 * Addresses on project networks, labelled "private" as Nova's default network is, and on the
 * network service's networks, labelled with the network's name (`labels`, by engine network name).
 */
export function addressesOf(networks: EndpointMap | undefined, labels: ReadonlyMap<string, string> = new Map()): FixedAddress[] {
  const out: FixedAddress[] = [];
  for (const [name, ep] of Object.entries(networks ?? {})) {
    if (!ep) continue;
    const label = isProjectNetworkName(name) ? 'private' : isNeutronNetworkName(name) ? labels.get(name) : undefined;
    if (label === undefined) continue;
    // A stopped container has no live endpoint; its requested address is still its address.
    const addr = ep.IPAddress || ep.IPAMConfig?.IPv4Address;
    if (!addr) continue;
    out.push({ network: label, addr, version: 4, mac: ep.MacAddress || macFor(addr) });
  }
  return out;
}

/** The MAC the engine derives from an IPv4 address (02:42 + the four octets). */
export function macFor(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/** `docker inspect` → InstanceInfo. */
export function infoFromInspect(c: Docker.ContainerInspectInfo, labels?: ReadonlyMap<string, string>): InstanceInfo {
  const powerState = powerStateOf(c.State);
  const info: InstanceInfo = { powerState, addresses: addressesOf(c.NetworkSettings?.Networks as EndpointMap, labels) };
  if (c.State.Status === 'exited' || c.State.Status === 'dead') {
    info.exitCode = c.State.ExitCode;
    if (c.State.OOMKilled) info.oomKilled = true;
  }
  if (c.State.Error) info.error = c.State.Error;
  if (c.RestartCount) info.restartCount = c.RestartCount;
  return info;
}

/**
 * The engine's restart policy for a spec's (issue 15). `always` is `unless-stopped` here: a
 * server stopped through the API stays stopped when the engine itself restarts.
 */
export function dockerRestartPolicy(p: InstanceSpec['restartPolicy']): { Name: string; MaximumRetryCount: number } {
  if (!p || p.name === 'no') return { Name: 'no', MaximumRetryCount: 0 };
  if (p.name === 'on-failure') return { Name: 'on-failure', MaximumRetryCount: p.maximumRetryCount };
  return { Name: 'unless-stopped', MaximumRetryCount: 0 };
}

/** `docker ps` row → InstanceInfo (no OOM flag in a listing; getInfo has it). */
export function infoFromListing(c: Docker.ContainerInfo, labels?: ReadonlyMap<string, string>): InstanceInfo {
  const info: InstanceInfo = { powerState: powerStateOf(c.State), addresses: addressesOf(c.NetworkSettings?.Networks as EndpointMap, labels) };
  const m = /^Exited \((-?\d+)\)/.exec(c.Status ?? '');
  if (m) info.exitCode = Number(m[1]);
  return info;
}

/** Is this engine name one of ours? (names in listings start with '/'). */
export const isOurName = (name: string): boolean => name.replace(/^\//, '').startsWith(CONTAINER_PREFIX);

/**
 * Splits the engine's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, size)
 * into text, stdout and stderr interleaved as written. A stream without frame headers
 * (a TTY container) is returned as is.
 */
export function demuxLogs(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i];
    if (type > 2 || buf[i + 1] !== 0 || buf[i + 2] !== 0 || buf[i + 3] !== 0) return buf.toString('utf8');
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  if (i < buf.length && parts.length === 0) return buf.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
