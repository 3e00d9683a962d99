/**
 * HostImages: each compute host's engine copy of the images (by engine id), kept from the
 * image store's archives. It is the one place that gets an image onto an engine or off it:
 *
 * - an upload loads into the primary host in the same pass that stores the bytes
 *   (`uploadEngine()`, used by src/image/image-upload.ts);
 * - a boot or rebuild makes sure its host has the image (`ensureOnHost`, loading the stored
 *   archive when the engine lacks it);
 * - a deleted image leaves every host (`removeEverywhere`); on a host where an instance still
 *   used it, it leaves with that host's last such instance (`named`, given to every driver).
 *
 * It knows images only by their id and engine id (the structural `HostImage`), so src/virt
 * never depends on the image or compute domains; those depend on this through their ports.
 */
import { Background } from '../background';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ImageStore } from '../store/image-store';
import type { ComputeDriver, ImageNamed, RegistryPull } from './driver';
import type { DriverRegistry } from './registry';

/** What HostImages needs to know of an image (an ImageRecord has both). */
export interface HostImage {
  id: string;
  /** The engine id recorded at upload; null for images that are not docker archives. */
  engine_image_id: string | null;
  /** The image's properties (a pushed image's name its registry repository and manifest). */
  properties?: Record<string, string>;
}

/** Where an image with no stored archive can be pulled from (novadock's registry), if anywhere. */
/** Where compute host `host` pulls `image` from (undefined: nowhere). */
export type PullSource = (image: HostImage, host: string) => Promise<RegistryPull | undefined>;

/** The engine an upload loads into, for the length of one upload. */
export interface UploadEngine {
  /** Compute host name, for messages. */
  readonly host: string;
  /** Loads an archive as it streams (see ComputeDriver.loadImage); `replay` re-reads it from the store. */
  load(archive: Readable, replay?: () => Promise<Readable>): Promise<void>;
  /** True when the engine has this engine image. */
  has(engineImageId: string): Promise<boolean>;
  /** Removes the engine image from this engine (a no-op when absent or in use). */
  remove(engineImageId: string): Promise<void>;
}

export interface HostImagesDeps {
  drivers: DriverRegistry;
  /** Where the archives are read back from when a host lacks an image. */
  store: Pick<ImageStore, 'has' | 'read'>;
  log: Logger;
  /**
   * Whether an image record names an engine id: the image service's rule for removing an engine
   * image, which the drivers apply again when they destroy an instance (ComputeDriver.releaseUnnamedImages).
   */
  named?: ImageNamed;
}

/** Key of an engine image on a compute host, for `loading` and `present`. */
const engineImageKey = (host: string, engineImageId: string): string => `${host}\u0000${engineImageId}`;

export class HostImages {
  private readonly drivers: DriverRegistry;
  private readonly store: Pick<ImageStore, 'has' | 'read'>;
  private readonly log: Logger;
  /** Loads and removals under way (idle() waits for them). */
  private readonly background = new Background();
  /** ensureOnHost calls under way, by host and engine id, so two boots load once. */
  private readonly loading = new Map<string, Promise<void>>();
  /**
   * Host and engine id pairs seen present, so a boot does not ask the engine again. It can go
   * stale only if someone removes the image behind our back; then spawn fails with
   * ImageNotOnHost and the caller asks again with `recheck`.
   */
  private readonly present = new Set<string>();
  /** Set once the registry is built (issue 14): pushed images have no archive in the store. */
  private pullSource: PullSource | undefined;

  constructor(deps: HostImagesDeps) {
    this.drivers = deps.drivers;
    this.store = deps.store;
    this.log = deps.log;
    const named = deps.named;
    if (named) for (const d of this.drivers.all()) d.releaseUnnamedImages?.((ref) => named(ref).catch(() => true));
  }

  /**
   * Makes `image` present in `driver`'s engine: if the engine lacks its engine id, streams the
   * stored archive into loadImage and checks the id afterwards. Throws an Error with a message
   * for the server's fault when the image has no engine id or no stored data.
   */
  async ensureOnHost(image: HostImage, driver: ComputeDriver, opts: { recheck?: boolean } = {}): Promise<void> {
    const ref = image.engine_image_id;
    if (!ref) {
      throw new Error(`Image ${image.id} has no Docker image: only images uploaded with container_format 'docker' (a \`docker save\` archive) can be booted.`);
    }
    const key = engineImageKey(driver.host, ref);
    if (opts.recheck) this.present.delete(key);
    if (this.present.has(key)) return;
    const running = this.loading.get(key);
    if (running) return running;
    const p = (async () => {
      if (await driver.hasImage(ref)) return;
      if (await this.store.has(image.id)) {
        const data = await this.store.read(image.id);
        await driver.loadImage(data, { replay: () => this.store.read(image.id) });
      } else {
        const pull = driver.pullImage ? await this.pullSource?.(image, driver.host) : undefined;
        if (!pull || !driver.pullImage) throw new Error(`Image ${image.id} has no data in the image store: upload it again.`);
        await driver.pullImage(pull);
      }
      if (!(await driver.hasImage(ref))) throw new Error(`Image ${image.id} did not load as ${ref} on compute host ${driver.host}.`);
    })().then(() => {
      this.present.add(key);
    });
    this.loading.set(key, p);
    try {
      await this.track(p);
    } finally {
      this.loading.delete(key);
    }
  }

  /** Images with no stored archive are pulled from where `source` says (the registry, issue 14). */
  usePulls(source: PullSource): void {
    this.pullSource = source;
  }

  /**
   * Whether a host is known to hold an engine image (loaded or seen there by this process): the
   * scheduler's hint, never an engine call. False may just mean "not known yet".
   */
  holds(host: string, engineImageId: string): boolean {
    return this.present.has(engineImageKey(host, engineImageId));
  }

  /** The engine new uploads load into: the primary compute host. */
  uploadEngine(): UploadEngine {
    const d = this.drivers.primary();
    return {
      host: d.host,
      load: (archive, replay) => d.loadImage(archive, { replay }),
      has: async (engineImageId) => {
        const yes = await d.hasImage(engineImageId);
        if (yes) this.present.add(engineImageKey(d.host, engineImageId));
        return yes;
      },
      remove: (engineImageId) => this.removeFrom(d, engineImageId),
    };
  }

  /**
   * Removes an engine image from every compute host. A host that fails is logged and skipped
   * (the image stays there until removed by hand); the driver keeps an image a container uses.
   */
  async removeEverywhere(engineImageId: string): Promise<void> {
    await this.track(Promise.all(this.drivers.all().map((d) => this.removeFrom(d, engineImageId).catch((e) => {
      this.log.warn({ err: e, host: d.host, engine_image_id: engineImageId }, 'could not remove the engine image of a deleted image');
    }))));
  }

  /** Resolves when no load or removal is in flight. */
  idle(): Promise<void> {
    return this.background.idle();
  }

  private removeFrom(d: ComputeDriver, engineImageId: string): Promise<void> {
    return d.removeImage(engineImageId).finally(() => this.present.delete(engineImageKey(d.host, engineImageId)));
  }

  private track<T>(p: Promise<T>): Promise<T> {
    return this.background.track(p);
  }
}
