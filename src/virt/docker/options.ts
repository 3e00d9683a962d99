/** The Docker driver's options (driver.ts); re-exported there for importers. */
import type { Logger } from 'pino';
import type { SwarmManagers } from './swarm';

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
   * stopped. On a loaded engine both the start and the report of an exit are slow, so the wait
   * grows by a tenth of how much longer the start call took than the engine's quickest (at most
   * 0.5 s in all). Every ms here is added to every boot. Default 10 ms; 0 turns the check off.
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
