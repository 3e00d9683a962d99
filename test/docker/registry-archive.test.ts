/**
 * The registry's archive pieces on the real engine. Pull: an archive in the file store is
 * indexed (src/registry/archive-index.ts) and served by a tiny registry in this file (GET /v2/,
 * manifests, blobs as byte ranges of the stored archive) on 127.0.0.1, which the engine treats
 * as an insecure registry by default; `docker pull` takes it, the pulled image's id is the
 * config digest, and it runs. Load: src/registry/archive-writer.ts streams an archive from
 * blobs (layers plain and gzip-compressed, as `docker push` sends them) into `docker load`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ArchiveIndex, findBlob, indexFromLayout, indexImageArchive, openArchiveBlob } from '../../src/registry/archive-index';
import { inspectImageArchive } from '../../src/virt/image-archive';
import { writeImageArchive, WriterBlob } from '../../src/registry/archive-writer';
import { FileImageStore } from '../../src/store/file-store';
import { busyboxImage } from '../helpers/test-image';
import { gzip, layerOf, ociArchive, tarOf } from '../helpers/synthetic-archive';
import { dockerCli } from './docker-driver-helpers';

jest.setTimeout(120_000);

const sha256 = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`;
const salt = crypto.randomBytes(4).toString('hex');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-registry-archive-'));
const store = new FileImageStore(dir);
/** repository name → the stored archive serving it. */
const served = new Map<string, { storeId: string; index: ArchiveIndex }>();
const engineImages: string[] = [];
const busybox = busyboxImage('registry-archive');
let server: http.Server;
let port: number;

async function storeArchive(storeId: string, source: Readable): Promise<ArchiveIndex> {
  const w = await store.begin(storeId);
  await pipeline(source, w.sink);
  await w.commit();
  return indexImageArchive(await store.read(storeId));
}

async function engine(args: string[]): Promise<string> {
  const r = await dockerCli(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const imageIdOf = (ref: string) => engine(['image', 'inspect', '--format', '{{.Id}}', ref]);

/** Just enough of the distribution API for `docker pull`. */
function registry(req: http.IncomingMessage, res: http.ServerResponse): void {
  const send = (status: number, headers: Record<string, string | number> = {}, body?: Buffer) => {
    res.writeHead(status, { 'Docker-Distribution-API-Version': 'registry/2.0', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (req.url === '/v2/' || req.url === '/v2') return send(200, { 'Content-Type': 'application/json' }, Buffer.from('{}'));
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.url ?? '');
  const image = m && served.get(m[1]);
  if (!m || !image) return send(404);
  const { index, storeId } = image;
  if (m[2] === 'manifests') {
    if (m[3] !== 'latest' && m[3] !== index.manifest.digest) return send(404);
    return send(200, { 'Content-Type': index.manifest.mediaType, 'Content-Length': index.manifest.bytes.length, 'Docker-Content-Digest': index.manifest.digest }, index.manifest.bytes);
  }
  const blob = findBlob(index, m[3]);
  if (!blob) return send(404);
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': blob.size, 'Docker-Content-Digest': blob.digest };
  if (req.method === 'HEAD') return send(200, headers);
  openArchiveBlob(store, storeId, blob).then((body) => {
    res.writeHead(200, headers);
    body.pipe(res);
  }, () => send(500));
}

beforeAll(async () => {
  // Pulled, not already there: the engine must fetch every blob.
  await dockerCli(['rmi', '-f', busybox.imageId]);
  served.set(`nd-test-${salt}/busybox`, { storeId: 'busybox', index: await storeArchive('busybox', fs.createReadStream(busybox.path)) });
  server = http.createServer(registry);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  for (const id of engineImages) await dockerCli(['rmi', '-f', id]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('docker pull of an archive served as byte ranges of the stored file', () => {
  it('when the engine pulls a docker-save archive of busybox, then the image has the config digest for id, its layers, and runs', async () => {
    const { index } = served.get(`nd-test-${salt}/busybox`)!;
    expect(index.imageId).toBe(busybox.imageId);
    // What an upload's pass keeps (no layer hashed: the diff_ids the engine checks) is this same index.
    const seen = await inspectImageArchive(fs.createReadStream(busybox.path), { maxBytes: 1 << 30 });
    expect(indexFromLayout(seen.layout!, seen.repoTags)).toEqual(index);
    const ref = `127.0.0.1:${port}/nd-test-${salt}/busybox:latest`;
    await engine(['pull', ref]);
    engineImages.push(index.imageId);
    expect(await imageIdOf(ref)).toBe(index.imageId);
    expect(JSON.parse(await engine(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]))).toEqual(index.diffIds);
    expect(await engine(['run', '--rm', ref, 'cat', '/etc/variant'])).toBe('registry-archive');
    // By digest too, as compute hosts will pull.
    await engine(['pull', `127.0.0.1:${port}/nd-test-${salt}/busybox@${index.manifest.digest}`]);
  });

  it('when the archive is in the OCI layout, or holds a gzip-compressed layer, then the engine pulls it under the config digest', async () => {
    const oci = await ociArchive({ salt: `pull-oci-${salt}`, layers: 2 });
    const layer = await layerOf({ 'etc/gz': `gz ${salt}\n` });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
    const cfgHex = sha256(config).slice(7);
    const gzipped = await tarOf([
      { name: 'l/layer.tar', body: gzip(layer) },
      { name: `${cfgHex}.json`, body: config },
      { name: 'manifest.json', body: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: null, Layers: ['l/layer.tar'] }]) },
    ]);
    for (const [name, bytes] of [['oci', oci.bytes], ['gzip', gzipped]] as const) {
      const index = await storeArchive(name, Readable.from([bytes]));
      served.set(`nd-test-${salt}/${name}`, { storeId: name, index });
      const ref = `127.0.0.1:${port}/nd-test-${salt}/${name}:latest`;
      await engine(['pull', ref]);
      engineImages.push(index.imageId);
      expect(await imageIdOf(ref)).toBe(index.imageId);
    }
  });
});

describe('docker load of an archive written from blobs', () => {
  async function load(archive: Readable): Promise<string> {
    const p = spawn('docker', ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number>((resolve) => p.on('close', (code) => resolve(code ?? -1)));
    await pipeline(archive, p.stdin);
    if ((await exited) !== 0) throw new Error(`docker load: ${out}`);
    return out;
  }

  it('when the layers are given gzip-compressed, as docker push sends them, then docker load takes the archive with its tag and the image runs', async () => {
    const { index } = served.get(`nd-test-${salt}/busybox`)!;
    const plain = await new Promise<Buffer>((resolve, reject) => {
      openArchiveBlob(store, 'busybox', index.layers[0]).then((s) => {
        const parts: Buffer[] = [];
        s.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
      }, reject);
    });
    const gz = zlib.gzipSync(plain);
    const tag = `nd-test-${salt}/written:1`;
    const blob = (bytes: Buffer): WriterBlob => ({ digest: sha256(bytes), size: bytes.length, open: () => Readable.from([bytes]) });
    await load(writeImageArchive({ config: blob(index.config.bytes), layers: [blob(gz)], repoTags: [tag] }));
    engineImages.push(index.imageId);
    expect(await imageIdOf(tag)).toBe(index.imageId);
    expect(await engine(['run', '--rm', tag, 'cat', '/etc/variant'])).toBe('registry-archive');
  });

  it('when the blobs are ranges of a stored archive, then the written archive loads as the same image', async () => {
    const oci = served.get(`nd-test-${salt}/oci`)!;
    await dockerCli(['rmi', '-f', oci.index.imageId]);
    const fromStore = (b: { digest: string; size: number; offset: number; mediaType: string }): WriterBlob => ({ digest: b.digest, size: b.size, open: () => openArchiveBlob(store, oci.storeId, b) });
    await load(writeImageArchive({ config: fromStore(oci.index.config), layers: oci.index.layers.map(fromStore), repoTags: [] }));
    expect(await imageIdOf(oci.index.imageId)).toBe(oci.index.imageId);
  });

  it('when a blob holds fewer bytes than its size says, then the archive stream fails', async () => {
    const bytes = Buffer.from('short');
    const archive = writeImageArchive({ config: { digest: sha256(bytes), size: 10, open: () => Readable.from([bytes]) }, layers: [], repoTags: [] });
    await expect(new Promise((resolve, reject) => archive.on('data', () => undefined).on('end', resolve).on('error', reject))).rejects.toThrow();
  });
});
