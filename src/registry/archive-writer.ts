/**
 * The reverse of archive-index.ts: a `docker save` archive (the legacy layout, which every
 * engine loads, Docker 25+ included) streamed from registry blobs, for `openstack image save`
 * of a pushed image and for loading a pushed image into an engine.
 *
 *   config blob ─► <config-hex>.json
 *   layer blobs ─► <layer-hex>/layer.tar     (as stored: a pushed layer stays gzip-compressed)
 *               ─► manifest.json             (Config, RepoTags, Layers), last, as Docker writes it
 *
 * A layer is copied as it is stored, compressed or not: `docker load` decompresses each
 * layer.tar it reads (moby's tarexport loadLayer goes through DecompressStream) and checks the
 * result against the config's diff_ids, so nothing is decompressed here. One blob is open at a
 * time, and it is opened only when its turn comes; memory stays flat for any size.
 */
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';

/** A blob to write: its digest ("sha256:<hex>"), its exact size, and how to read it. */
export interface WriterBlob {
  digest: string;
  size: number;
  open(): Promise<Readable> | Readable;
}

export interface ArchiveSource {
  config: WriterBlob;
  /** In the config's rootfs order. */
  layers: WriterBlob[];
  /** Names to give the image on load ("repo:tag"); may be empty. */
  repoTags: string[];
}

const EPOCH = new Date(0);
const DIGEST = /^sha256:([a-f0-9]{64})$/;

function hexOf(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${JSON.stringify(digest)}`);
  return m[1];
}

/**
 * Streams the archive. A blob that cannot be opened, breaks, or holds other than `size` bytes
 * fails the stream with that error (the archive is then incomplete: `docker load` refuses it).
 */
export function writeImageArchive(src: ArchiveSource): Readable {
  const configName = `${hexOf(src.config.digest)}.json`;
  const layerNames = src.layers.map((l) => `${hexOf(l.digest)}/layer.tar`);
  const pack = tar.pack();
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  pack.on('error', (e: Error) => out.destroy(e));
  pack.pipe(out);

  const entry = (name: string, blob: WriterBlob) => new Promise<void>((resolve, reject) => {
    Promise.resolve().then(() => blob.open()).then((body) => {
      const sink = pack.entry({ name, size: blob.size, mode: 0o644, mtime: EPOCH }, (err?: Error | null) => (err ? reject(err) : resolve()));
      sink.on('error', reject);
      body.on('error', (e: Error) => {
        sink.destroy(e);
        reject(e);
      });
      body.pipe(sink as unknown as NodeJS.WritableStream);
    }, reject);
  });

  (async () => {
    await entry(configName, src.config);
    const written = new Set<string>();
    for (const [i, layer] of src.layers.entries()) {
      // The same layer twice in one image (an empty layer, say) is one file named twice.
      if (written.has(layerNames[i])) continue;
      written.add(layerNames[i]);
      pack.entry({ name: `${hexOf(layer.digest)}/`, type: 'directory', mode: 0o755, mtime: EPOCH });
      await entry(layerNames[i], layer);
    }
    const manifest = JSON.stringify([{ Config: configName, RepoTags: src.repoTags.length > 0 ? src.repoTags : null, Layers: layerNames }]);
    pack.entry({ name: 'manifest.json', mode: 0o644, mtime: EPOCH }, manifest);
    pack.finalize();
  })().catch((e: Error) => {
    pack.destroy(e);
    out.destroy(e);
  });
  return out;
}
