/**
 * ComputeDriver: what the compute and image services need from a hypervisor (a Docker engine).
 * Modelled on nova/virt/driver.py. Docker words and Docker ids never leave an implementation:
 * callers speak of servers (by server id) and of images (by the image's engine id, which the
 * image service records at upload so boot never depends on names).
 *
 * Implementations: src/virt/docker (a real engine, one driver per compute host) and
 * src/virt/fake (in-memory, first-class, with injectable failures). One contract suite
 * (test/contract) runs against both.
 */
import type { Duplex, Readable } from 'node:stream';

/** nova/compute/power_state.py */
export type PowerState = 0 | 1 | 3 | 4 | 6 | 7;

export interface FixedAddress {
  /** Network label as shown in `addresses` (e.g. "private", or a Neutron network's name). */
  network: string;
  addr: string;
  version: 4 | 6;
  mac: string;
}

export interface InstanceInfo {
  powerState: PowerState;
  addresses: FixedAddress[];
  /** Set when the instance stopped: its process' exit code. */
  exitCode?: number;
  /** The kernel killed the instance for exceeding its memory limit. */
  oomKilled?: boolean;
  /** The engine's own error text for a failed start, if any. */
  error?: string;
  /** Restart policy (issue 15): how many times the engine restarted the process by its policy. */
  restartCount?: number;
}

/**
 * A project's network as the compute service knows it. The driver attaches the instance to the
 * project's network on its host, creating it with `subnet` when missing; a network that already
 * exists (made by an older version with another subnet) is used as it is. When the engines share
 * a distributed network (one network across hosts), the driver creates that instead, so servers
 * of one project on different hosts reach each other; otherwise the network is the host's own.
 */
export interface ProjectNetworkSpec {
  projectId: string;
  /** The project's IPv4 subnet (CIDR), the same on every host; allocated by the compute service. */
  subnet: string;
  /**
   * Addresses in `subnet` that the project's other servers hold, on any host (the compute
   * service's records). A network spanning hosts must not hand them out: the engine of this host
   * sees only its own instances, and a stopped one elsewhere holds its address on no engine.
   */
  addressesInUse: string[];
}

/**
 * One interface of an instance (issue 17): a port's network, fixed IP and MAC, as the network
 * service allocated them. The driver attaches the instance with exactly this address (it chooses
 * none), on the network's engine network on its host, made on first use with `subnet` and
 * `gateway` (spanning hosts when the engines share a distributed network), and removed once no
 * instance on the host uses it (or when removeNetwork says the network is gone).
 */
export interface InstanceNic {
  /** The network's id (Neutron's); the engine network is named after it. */
  networkId: string;
  /** The network's name: the key of the address in `addresses`. */
  label: string;
  /** IPv4 subnet (CIDR) the address is in. */
  subnet: string;
  /** The subnet's gateway; absent = the subnet's first host. */
  gateway?: string;
  ip: string;
  /**
   * The port's MAC. Engines before API 1.44 set it on the first interface only (the container's
   * MAC); others get the engine's MAC for their IP, which getInfo reports.
   */
  mac?: string;
  /** The subnet's DNS nameservers: the instance's resolvers. */
  dns?: string[];
  /**
   * The project's default network (`private`): today's engine network of the project (its bridge
   * or overlay), so servers made before networks existed stay on the same network as new ones.
   */
  projectDefault?: boolean;
}

export interface InstanceSpec {
  serverId: string;
  projectId: string;
  /** Hostname inside the instance (from the server name). */
  hostname: string;
  /** Engine id of the image (`sha256:…`), recorded at upload. */
  imageRef: string;
  /** Image property os_command_line, split into argv; overrides the image's command. */
  command?: string[];
  /** Flavor limits: hard memory limit without swap, hard CPU limit. */
  memoryMb: number;
  vcpus: number;
  /** Server metadata, exposed as environment variables. */
  env: Record<string, string>;
  /** Project network to attach to; null = no network (`networks: none`). Ignored when `nics` is set. */
  network: ProjectNetworkSpec | null;
  /**
   * The instance's interfaces (issue 17), one per port, in attach order (the first is eth0).
   * When set, it replaces `network`: an empty list is no network at all.
   */
  nics?: InstanceNic[];
  /** Written to /root/.ssh/authorized_keys before the instance starts (no bind mount). */
  authorizedKeys?: string;
  /** Decoded user data, written to /var/lib/cloud/user-data before start (no bind mount). */
  userData?: Buffer;
  /** Restart policy (issue 15): absent = the engine never restarts the process (src/compute/restart-policy.ts). */
  restartPolicy?: RestartPolicy;
}

/**
 * What the engine does when the instance's process exits without being told to stop (issue 15).
 * A process stopped through the driver (powerOff) is never restarted by it.
 */
export interface RestartPolicy {
  name: 'no' | 'on-failure' | 'always' | 'unless-stopped';
  /** on-failure only: at most this many restarts; 0 = no limit. */
  maximumRetryCount: number;
}

export interface OwnedInstance {
  serverId: string;
  projectId: string;
  info: InstanceInfo;
  /** The instance is a move's source, set aside until the move is confirmed or reverted. */
  setAside?: boolean;
}

export type InstanceEventType = 'start' | 'die' | 'oom' | 'pause' | 'unpause' | 'destroy' | 'stop' | 'kill';

export interface InstanceEvent {
  serverId: string;
  type: InstanceEventType;
  /** When the engine says it happened (ms since the epoch, the engine's clock); absent if it did not say. */
  time?: number;
}

export interface HypervisorInfo {
  hostname: string;
  hypervisorType: string;
  hypervisorVersion: number;
  vcpus: number;
  memoryMb: number;
  runningInstances: number;
  hostIp: string;
}

// The driver's errors live in a file of their own; callers import them from here as before.
export { InstanceNotFound, SpawnFailed, SubnetUnavailable, AddressUnavailable, ImageNotOnHost, HypervisorUnavailable, InvalidImageArchive } from './driver-errors';

export interface LoadOptions {
  /**
   * The same archive again from its first byte, for a second try; callable once `archive` has
   * been read to its end. A driver may load in a faster way that can fail where an ordinary
   * load would not (the Docker driver's base-layer shortcut) only when it has a replay to fall
   * back on.
   */
  replay?: () => Promise<Readable>;
}

/** Images in one engine. */
export interface ImageBackend {
  /** True when the engine has the image with this engine id. */
  hasImage(imageRef: string): Promise<boolean>;
  /**
   * Loads an image archive (`docker save` output) from a stream, consuming it fully.
   * Resolves when the engine has finished; rejects with InvalidImageArchive if the engine
   * refused the bytes. The caller knows the expected id (it parses the archive in the same
   * pass) and checks it with hasImage. A stream that errors aborts the load, leaving nothing.
   */
  loadImage(archive: Readable, opts?: LoadOptions): Promise<void>;
  /** Removes the image; a no-op when absent or still used by an instance. */
  removeImage(imageRef: string): Promise<void>;
  /** The image as an archive stream (`docker save`), to copy it into the image store. */
  exportImage(imageRef: string): Promise<Readable>;
  /**
   * Pulls an image from novadock's registry (issue 14) by digest, presenting `pull.token`
   * (X-Registry-Auth); only the layers the engine lacks travel, and the engine checks each
   * digest. Resolves when the engine has it; the caller checks `pull.imageId` with hasImage.
   * Optional: a driver without it boots pushed images only where the engine already has them.
   */
  pullImage?(pull: RegistryPull): Promise<void>;
}

/** An image in novadock's registry, as an engine pulls it. */
export interface RegistryPull {
  /** `<registry host:port>/<repository>@sha256:…` */
  reference: string;
  /** A short-lived registry token allowing pull of the repository. */
  token: string;
  /** The engine id the pull must produce (the manifest's config digest). */
  imageId: string;
}

/**
 * The two ends of a cold move (nova/virt/driver.py migrate_disk_and_power_off,
 * confirm_migration, finish_revert_migration). The source keeps its instance, powered off and
 * set aside (so another instance of the same server may exist, even on the same engine), until
 * the move is confirmed or reverted. The filesystem travels as an engine image: committed here,
 * then exportImage on the source and loadImage on the destination, which spawns from it with
 * the server's spec (the finish). The destination's instance runs from that image; destroy()
 * removes the image with the instance.
 */
export interface InstanceMoves {
  /**
   * Source: powers the instance off (SIGTERM, SIGKILL after timeoutSeconds), commits its
   * filesystem to a new engine image labelled for the move, and sets the instance aside.
   * Resolves to the image's engine id. Again on an instance already set aside: commits again.
   * Throws InstanceNotFound when the server has no instance here.
   */
  migrateDiskAndPowerOff(serverId: string, migrationId: string, timeoutSeconds: number): Promise<string>;
  /** Source, on confirm: removes the set-aside instance and the move's images. Absent is success. */
  confirmMigration(serverId: string): Promise<void>;
  /**
   * Source, on revert (or a failed move): the set-aside instance is the server's instance again,
   * started when `powerOn`; the move's images go. Idempotent: an instance already back is only
   * started. Throws InstanceNotFound when there is neither.
   */
  finishRevertMigration(serverId: string, powerOn: boolean): Promise<InstanceInfo>;
}

export interface ComputeDriver extends ImageBackend {
  /** Compute host name (OS-EXT-SRV-ATTR:host). */
  readonly host: string;
  /** Cold moves to and from this host. */
  readonly moves: InstanceMoves;

  /** Answers when the engine is reachable; throws HypervisorUnavailable otherwise. */
  ping(): Promise<void>;

  /**
   * Creates and starts the instance. On success it is running and its addresses are known.
   * On failure nothing is left behind (no container, no half-made state) and SpawnFailed
   * says why, e.g. the image's process exited at once.
   */
  spawn(spec: InstanceSpec): Promise<InstanceInfo>;

  /**
   * Removes the instance and what belongs to it (an instance of the server set aside on this
   * host, the image a move left it running from), and the project's network on this host once no
   * instance (running or not) is attached to it any more; a spawn racing with that removal makes
   * the network again. Idempotent: absent is success.
   */
  destroy(serverId: string): Promise<void>;

  /** Graceful stop: SIGTERM, then SIGKILL after timeoutSeconds. Already stopped is success. */
  powerOff(serverId: string, timeoutSeconds: number): Promise<void>;
  /** Starts a stopped instance, keeping its filesystem. Already running is success. */
  powerOn(serverId: string): Promise<InstanceInfo>;
  /** SOFT: graceful stop then start; HARD: kill then start. Filesystem and address are kept. */
  reboot(serverId: string, type: 'SOFT' | 'HARD'): Promise<InstanceInfo>;
  pause(serverId: string): Promise<void>;
  unpause(serverId: string): Promise<void>;
  /**
   * Suspend: processes frozen by the cgroup freezer (docker pause), memory kept — the container
   * analogue of suspend-to-RAM. getInfo reports PAUSED (3) for a suspended instance (the engine
   * cannot tell them apart); the compute service shows SUSPENDED (7) when vm_state is suspended.
   */
  suspend(serverId: string): Promise<void>;
  resume(serverId: string): Promise<void>;

  // ---- interfaces (issue 17)
  /**
   * Attaches the instance to `nic`'s network with its fixed IP (and MAC where the engine can), live
   * when it runs, else from its next start; the network is made on this host when missing.
   * Attached already to that network is success. Throws InstanceNotFound, SpawnFailed (the
   * engine refused: the address is held, the network could not be made).
   */
  attachInterface(serverId: string, nic: InstanceNic): Promise<InstanceInfo>;
  /**
   * Detaches the instance from `nic`'s network (live when it runs); the network goes from this host
   * when no instance uses it any more. Not attached is success. Throws InstanceNotFound.
   */
  detachInterface(serverId: string, nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>): Promise<InstanceInfo>;
  /** The network is deleted: its engine network on this host goes (absent is success). */
  removeNetwork(networkId: string): Promise<void>;
  /**
   * fixed IP → the address this host's own network namespace reaches it at, for those of the
   * server's `fixedIps` it does not reach as they are (an overlay's: its container's gateway
   * endpoint); where floating IPs are forwarded to. Absent, or a fixed IP left out: reached as it is.
   */
  hostAddresses?(serverId: string, fixedIps: string[]): Promise<Record<string, string>>;

  /** Power state and addresses as the engine reports them. Throws InstanceNotFound. */
  getInfo(serverId: string): Promise<InstanceInfo>;
  /** The instance's console (stdout and stderr), whole; works on stopped instances. */
  getConsoleOutput(serverId: string): Promise<string>;
  /** Commits the instance's filesystem to a new engine image; resolves to its engine id. */
  snapshot(serverId: string, labels: Record<string, string>): Promise<string>;

  /** Every instance labelled as ours on this host (labelled by server and project id), set-aside ones flagged. */
  listInstances(): Promise<OwnedInstance[]>;
  /**
   * Subscribes to instance events on this host. The listener sees events of our instances only.
   * `onError` hears of a broken stream (engine gone); callers re-subscribe. Returns an unsubscribe.
   */
  subscribe(listener: (e: InstanceEvent) => void, onError: (err: Error) => void): () => void;

  hypervisorInfo(): Promise<HypervisorInfo>;

  // ---------------------------------------------------------------- images no record names (shelve follow-up)
  /**
   * Tells the driver how to ask whether an image record still names an engine image. From then
   * on destroy() also removes the image the destroyed instance ran from when no record names it:
   * the image service's rule for a deleted image (src/image/image-service.ts removeEngineImage),
   * applied when the image's last instance goes, since removeImage keeps an image in use (an
   * unshelved server's shelved image, a server's deleted snapshot). Without it, destroy() leaves
   * images alone. Called once, by HostImages.
   */
  releaseUnnamedImages?(named: ImageNamed): void;
  // ---- diagnostics (issue 15: GET /servers/{id}/diagnostics)
  /**
   * The instance's live figures, read from the engine when asked (one sample of its stats and
   * one inspect): CPU time and utilisation, memory, traffic per interface, I/O per block device,
   * uptime. Reads only. Throws InstanceNotFound, HypervisorUnavailable.
   */
  diagnostics(serverId: string): Promise<InstanceDiagnostics>;
  // ---------------------------------------------------------------- resize (issue 15)

  /**
   * Changes the instance's memory and CPU limits in place (a resize on the same host): the
   * process keeps running, with the same PID, and a stopped instance gets them at its next
   * start. Memory below what the instance uses may be refused by the engine (an Error). Throws
   * InstanceNotFound.
   */
  resizeInstance(serverId: string, memoryMb: number, vcpus: number): Promise<void>;
  // ---- interactive console (issue 15)
  /**
   * Starts an interactive shell (`/bin/sh`) inside the running instance on a terminal (the
   * engine's exec with a TTY) and attaches to it. Throws InstanceNotFound when the server has no
   * instance here, InstanceNotRunning when it is not running (stopped, paused, suspended).
   */
  openConsole(serverId: string): Promise<ConsoleSession>;
  // ---- metrics (issue 18)
  /**
   * Hears of every engine API call that fails (whatever the caller then makes of it: a 404 may
   * be an expected "not there"): which call, as method and path template without ids, and its
   * HTTP status or socket error code. Optional: a driver without an engine API has none. Returns
   * the unsubscribe.
   */
  onEngineError?(listener: (e: EngineCallError) => void): () => void;
}

/** One failed engine API call (ComputeDriver.onEngineError). */
export interface EngineCallError {
  /** e.g. `POST /containers/{id}/start`. */
  operation: string;
  /** The HTTP status (`404`), or the socket error (`ECONNREFUSED`), or `error`. */
  code: string;
}

/**
 * One interactive shell in an instance. Bytes written to `stream` are the terminal's input
 * (keystrokes); the terminal's output (echo included) is read from it. The session ends when
 * the shell exits or close() is called; either way `ended` resolves and `stream` ends.
 */
export interface ConsoleSession {
  readonly stream: Duplex;
  /** The terminal's size, in characters. Resolves once the engine has applied it. */
  resize(cols: number, rows: number): Promise<void>;
  /**
   * Ends the shell: it is hung up, and killed if it lingers. Idempotent; resolves when ended, and
   * rejects (the stream closed all the same) when the shell may still be running in the instance.
   */
  close(): Promise<void>;
  /** Resolves when the shell has ended (it exited, the instance stopped, or close()). */
  readonly ended: Promise<void>;
}

/** The instance exists but is not running (an interactive console needs a running process). */
export class InstanceNotRunning extends Error {
  constructor(readonly serverId: string) {
    super(`Instance ${serverId} is not running.`);
    this.name = 'InstanceNotRunning';
  }
}

/** What diagnostics() reports (units as Nova's Diagnostics object; null = the engine did not say). */
export interface InstanceDiagnostics {
  powerState: PowerState;
  /** Seconds since the instance's process started; null when it is not running. */
  uptime: number | null;
  /** The engine host's operating system ("linux"). */
  hypervisorOs: string | null;
  /** CPUs the instance may use (its flavor's vCPUs as the engine enforces them). */
  numCpus: number;
  /** CPU time in nanoseconds and utilisation in percent of the instance's CPUs, per CPU the engine accounts. */
  cpus: { id: number; time: number | null; utilisation: number | null }[];
  /** Memory in MiB: the instance's limit, and what it uses (page cache not counted; rounded up). */
  memory: { maximumMb: number | null; usedMb: number | null };
  nics: NicDiagnostics[];
  disks: DiskDiagnostics[];
}

export interface NicDiagnostics {
  /** The interface inside the instance (eth0…). */
  name: string;
  macAddress: string | null;
  rxOctets: number | null; rxPackets: number | null; rxErrors: number | null; rxDrop: number | null;
  txOctets: number | null; txPackets: number | null; txErrors: number | null; txDrop: number | null;
}

export interface DiskDiagnostics {
  /** The block device as the host knows it ("major:minor"). */
  name: string;
  readBytes: number | null; readRequests: number | null;
  writeBytes: number | null; writeRequests: number | null;
  errorsCount: number | null;
}

/** Whether any image record names this engine id (a failure means "yes": the image stays). */
export type ImageNamed = (engineImageId: string) => Promise<boolean>;
