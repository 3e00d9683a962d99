/**
 * The base-layer shortcut of an image load.
 *
 * `docker load` (the classic image store) works in two steps: it unpacks the whole archive into
 * a temporary directory, then applies each layer from there. For an image whose bulk is one base
 * layer, the engine writes that layer twice and applies nothing until the last byte has arrived.
 * The engine's import endpoint (`POST /images/create?fromSrc=-`, `docker import`) applies a tar
 * stream as a base layer as it arrives, and computes the same diff id (the sha256 of the tar),
 * so the layer that a `docker save` archive carries as `<id>/layer.tar` can be imported while it
 * streams past. The archive then goes on to the load with that file emptied; the engine finds
 * the layer already present by its chain id and never opens the file, and the image it loads
 * has the id the archive declares, like any other load.
 *
 * The import makes a throw-away "carrier" image (labelled `novadock.layer-carrier=<host>`)
 * that holds the layer until the real image does; it is removed once the load is over, and
 * carriers a crash left behind are removed the next time the shortcut is used.
 *
 * Only a layer known to be a base layer is taken: the legacy layout (Docker ≤ 24) puts each
 * layer's v1 metadata (`<id>/json`, with a `parent` unless it is the base) just before its
 * `layer.tar`. If the guess is wrong anyway (a hand-made archive whose metadata contradicts its
 * manifest) or the import fails, the load is refused and the caller's replay loads the archive
 * the ordinary way: the shortcut can cost time, never the image.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import type tar from 'tar-stream';

export const CARRIER_LABEL = 'novadock.layer-carrier';

/** What the shortcut reads of a tar entry's header. */
export type EntryHeader = Pick<tar.Header, 'type' | 'size'>;

/** A legacy layer's v1 metadata is a few hundred bytes; anything bigger is not parsed. */
const MAX_LAYER_JSON_BYTES = 64 * 1024;
const LAYER_JSON = /^([0-9a-f]{64})\/json$/;
const LAYER_TAR = /^([0-9a-f]{64})\/layer\.tar$/;

export class BaseLayerShortcut {
  private readonly parentless = new Set<string>();
  private carrier: Promise<string> | undefined;
  /** Why the import failed, once it has: the load is then aborted and replayed. */
  failure: Error | undefined;

  /**
   * `minBytes`: smaller layers are left in the archive (an import costs two engine calls).
   * `importLayer`: imports a layer tar stream; resolves to the carrier image's id.
   */
  constructor(private readonly minBytes: number, private readonly importLayer: (layer: Readable) => Promise<string>) {}

  /** True once a layer went to the import: a refused load may then be the shortcut's fault. */
  get taken(): boolean {
    return this.carrier !== undefined;
  }

  /** Whether the rewriter should hand this entry's content to `observe` (a legacy layer's metadata). */
  watches(name: string, header: EntryHeader): boolean {
    return header.type === 'file' && (header.size ?? 0) <= MAX_LAYER_JSON_BYTES && LAYER_JSON.test(name);
  }

  observe(name: string, body: Buffer): void {
    const dir = LAYER_JSON.exec(name)?.[1];
    if (!dir) return;
    try {
      const v1 = JSON.parse(body.toString('utf8')) as { parent?: unknown } | null;
      if (v1 && typeof v1 === 'object' && !v1.parent) this.parentless.add(dir);
    } catch {
      /* not JSON: the load decides what it makes of it */
    }
  }

  /**
   * Where this entry's content goes instead of the archive (which then holds it as an empty
   * file), or undefined to leave it in. At most one layer per load is taken.
   */
  take(name: string, header: EntryHeader): Writable | undefined {
    if (this.carrier || header.type !== 'file' || (header.size ?? 0) < this.minBytes) return undefined;
    const dir = LAYER_TAR.exec(name)?.[1];
    if (!dir || !this.parentless.has(dir)) return undefined;
    const layer = new PassThrough({ highWaterMark: 1 << 20 });
    this.carrier = this.importLayer(layer);
    this.carrier.catch((e: unknown) => {
      this.failure = e instanceof Error ? e : new Error(String(e));
    });
    return layer;
  }

  /** The rewritten archive may end once the taken layer is in the engine; rejects if its import failed. */
  async ready(): Promise<void> {
    await this.carrier;
  }

  /** The carrier image's id, if the import got that far. */
  async carrierId(): Promise<string | undefined> {
    return this.carrier?.catch(() => undefined);
  }
}
