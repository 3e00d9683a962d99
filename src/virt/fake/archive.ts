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
