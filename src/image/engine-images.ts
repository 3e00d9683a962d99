/**
 * EngineImages: what the image service needs from the compute hosts' engines, as a port
 * (src/virt/host-images.ts HostImages implements it). The image domain stores bytes and
 * records; getting an image onto an engine, or off every engine, is on the other side of this.
 */
import type { Readable } from 'node:stream';

/** The engine one upload loads into (the primary compute host), in the upload's single pass. */
export interface UploadEngine {
  /** Compute host name, for messages. */
  readonly host: string;
  /**
   * Loads the archive as it streams, consuming it fully; rejects with InvalidImageArchive when
   * the engine refuses the bytes, HypervisorUnavailable when it does not answer. `replay`, when
   * given, is the same archive read back from the store, for a faster load that failed.
   */
  load(archive: Readable, replay?: () => Promise<Readable>): Promise<void>;
  /** True when the engine has this engine image (before the load finishes: was it there already?). */
  has(engineImageId: string): Promise<boolean>;
  /** Removes an engine image this upload brought in (a no-op when absent or in use). */
  remove(engineImageId: string): Promise<void>;
}

export interface EngineImages {
  /** The engine the next upload loads into. */
  uploadEngine(): UploadEngine;
  /** Removes an engine image from every compute host (failures are logged, not thrown). */
  removeEverywhere(engineImageId: string): Promise<void>;
}
