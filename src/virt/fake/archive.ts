/**
 * Minimal, well-formed `docker save` archives built in memory, so the fake driver's snapshots
 * export real bytes (and unit tests can upload real archives) without a Docker engine.
 *
 * Layout (what `docker save` writes): `manifest.json`, `<config-sha256>.json`, and one
 * `<layer-dir>/layer.tar` (+ `VERSION`, `json`) per layer. The image id is the sha256 of the
 * config bytes, and the config's `rootfs.diff_ids` names the layer's sha256, exactly as the
 * engine computes them, so an archive parser cannot tell these from the real thing.
 */
import crypto from 'node:crypto';
import tar from 'tar-stream';
import { buffer } from 'node:stream/consumers';

export interface FakeArchive {
  /** The archive's bytes. */
  bytes: Buffer;
  /** Engine id the archive loads as (`sha256:…`). */
  imageId: string;
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

async function packToBuffer(entries: Array<{ name: string; body: Buffer; mode?: number; type?: 'file' | 'directory' }>): Promise<Buffer> {
  const pack = tar.pack();
  const done = buffer(pack);
  // A fixed mtime keeps the bytes (and so the ids) a pure function of the content.
  const mtime = new Date(0);
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory', mode: e.mode ?? 0o755, mtime });
    else pack.entry({ name: e.name, mode: e.mode ?? 0o644, mtime, size: e.body.length }, e.body);
  }
  pack.finalize();
  return done;
}

/**
 * Builds a docker-save archive holding one layer with `files` (path → content) and a config
 * carrying `labels`, `cmd` and `tag` (a RepoTag like `name:latest`, optional).
 */
export async function buildFakeArchive(opts: {
  files?: Record<string, Buffer | string>;
  labels?: Record<string, string>;
  cmd?: string[];
  tag?: string;
  /** Anything that must make the image distinct (e.g. a counter). */
  salt?: string;
} = {}): Promise<FakeArchive> {
  const fileEntries = Object.entries(opts.files ?? {}).map(([p, body]) => ({
    name: p.replace(/^\/+/, ''),
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    mode: p.includes('.ssh') ? 0o600 : 0o644,
  }));
  const layer = await packToBuffer(fileEntries);
  const diffId = sha256(layer);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: opts.cmd ?? ['/bin/sh'], Labels: opts.labels ?? {}, Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${diffId}`] },
    history: [{ created: '1970-01-01T00:00:00Z', comment: `novadock fake ${opts.salt ?? ''}`.trim() }],
  }));
  const configHex = sha256(config);
  const layerDir = sha256(`${configHex}/${diffId}`);
  const manifest = Buffer.from(JSON.stringify([{
    Config: `${configHex}.json`,
    RepoTags: opts.tag ? [opts.tag] : null,
    Layers: [`${layerDir}/layer.tar`],
  }]));
  const bytes = await packToBuffer([
    { name: `${layerDir}/`, body: Buffer.alloc(0), type: 'directory' },
    { name: `${layerDir}/VERSION`, body: Buffer.from('1.0') },
    { name: `${layerDir}/json`, body: Buffer.from(JSON.stringify({ id: layerDir })) },
    { name: `${layerDir}/layer.tar`, body: layer },
    { name: `${configHex}.json`, body: config },
    { name: 'manifest.json', body: manifest },
  ]);
  return { bytes, imageId: `sha256:${configHex}` };
}

/** Reads one tar (a Buffer) into its regular files, by name. */
async function unpack(bytes: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') out.set(header.name, Buffer.concat(chunks));
      next();
    });
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return out;
}

/**
 * What a fake engine keeps of an archive it loads: the files of its layers (later layers win)
 * and its config's labels, so an image committed on one fake engine and loaded into another
 * starts with the same files, as on Docker. A layout it does not know gives nothing.
 */
export async function contentsOfArchive(bytes: Buffer): Promise<{ files: Map<string, Buffer>; labels: Record<string, string> }> {
  const files = new Map<string, Buffer>();
  let labels: Record<string, string> = {};
  try {
    const entries = await unpack(bytes);
    const manifest = JSON.parse(entries.get('manifest.json')?.toString('utf8') ?? '[]') as { Config?: string; Layers?: string[] }[];
    const first = manifest[0] ?? {};
    const config = first.Config ? entries.get(first.Config) : undefined;
    if (config) labels = (JSON.parse(config.toString('utf8')) as { config?: { Labels?: Record<string, string> } }).config?.Labels ?? {};
    for (const layer of first.Layers ?? []) {
      const body = entries.get(layer);
      if (body) for (const [name, content] of await unpack(body)) files.set(`/${name.replace(/^\/+/, '')}`, content);
    }
  } catch {
    return { files: new Map(), labels: {} };
  }
  return { files, labels };
}
