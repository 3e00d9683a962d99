/**
 * Upload throughput: a ~1 GiB docker-save archive through PUT /image/v2/images/{id}/file against
 * `docker load` of the same file (the engine's load API, as `docker load -i` calls it), in one run,
 * and the server's memory while it streams. Both sides are fed by the same neutral client,
 * `curl -T FILE` (issue 14): a client in this process would share its CPU with neither side
 * equally.
 *
 *   bash bench/run.sh upload [--size-mib 1024] [--rounds 5] [--settle-ms 2000]
 *
 * The archive: Debian's static busybox plus one ~1 GiB file of random bytes (incompressible, like
 * real layers), imported and `docker save`d by id; kept in bench/out/ for the next run.
 * Each round loads it once each way, from the page cache, with the image absent from the engine
 * before each load (so both really load it) and the same settling pause before each; the order
 * rotates between rounds. The figure is the median over rounds of docker's time over ours:
 * pairing the two loads of a round cancels most of this machine's drift from minute to minute.
 * Targets (issue 2): throughput ratio >= 0.9, peak RSS growth < 64 MiB.
 *
 * The floor beside them: the engine's import of the archive's one layer alone (`curl -T layer.tar`
 * to `/images/create?fromSrc=-`), the least any load through this engine does (it hashes and
 * unpacks the layer as it streams) and what the PUT's base-layer shortcut uses; both loads are
 * also given as a share of it.
 *
 * Where the time goes is reported beside the times: the CPU the server used per GiB (every thread,
 * the hashing one too), the engine's (with the helpers it runs to unpack layers) on each side,
 * and how busy the whole machine was on each side. On a machine with few cores the upload is
 * CPU-bound: Glance's two digests of every byte (md5, sha512) compete with the engine's own work.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { ROOT } from '../test/helpers/server';
import { api, Api, busyboxBinary, cpuSecondsOf, docker, machineCpu, main, median, memoryOf, ms, now, numArg, report, sampleRss, sleep, startBenchServer } from './lib';

const OUT = path.join(ROOT, 'bench', 'out');

/** Builds (once) the big archive; resolves to its path and engine id. */
function bigArchive(sizeMiB: number): { file: string; imageId: string } {
  const file = path.join(OUT, `upload-${sizeMiB}m.tar`);
  const idFile = `${file}.id`;
  if (fs.existsSync(file) && fs.existsSync(idFile)) return { file, imageId: fs.readFileSync(idFile, 'utf8').trim() };
  fs.mkdirSync(OUT, { recursive: true });
  const work = fs.mkdtempSync(path.join(OUT, 'rootfs-'));
  try {
    const root = path.join(work, 'rootfs');
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(root, 'data'));
    fs.copyFileSync(busyboxBinary(), path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    fs.symlinkSync('busybox', path.join(root, 'bin', 'sh'));
    process.stderr.write(`writing ${sizeMiB} MiB of random bytes…\n`);
    const fd = fs.openSync(path.join(root, 'data', 'blob'), 'w');
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < sizeMiB / 4; i++) fs.writeSync(fd, crypto.randomFillSync(chunk));
    fs.closeSync(fd);
    const rootTar = path.join(work, 'rootfs.tar');
    execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', rootTar, '.']);
    fs.rmSync(root, { recursive: true, force: true });
    process.stderr.write('docker import + docker save…\n');
    const imported = execFileSync('docker', ['import', '--change', 'LABEL novadock.bench=1', rootTar], { encoding: 'utf8' }).trim();
    const imageId = imported.startsWith('sha256:') ? imported : `sha256:${imported}`;
    execFileSync('docker', ['save', '-o', `${file}.partial`, imageId]);
    fs.renameSync(`${file}.partial`, file);
    fs.writeFileSync(idFile, `${imageId}\n`);
    return { file, imageId };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The archive's one layer as a plain tar (the engine's import takes it), extracted once beside the
 * archive; undefined when the archive holds more than one layer.
 */
function layerOf(file: string): string | undefined {
  const out = `${file}.layer.tar`;
  // Kept while it is newer than the archive it came from (the archive is rebuilt when deleted).
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(file).mtimeMs) return out;
  const manifest = JSON.parse(execFileSync('tar', ['-xOf', file, 'manifest.json'], { encoding: 'utf8' })) as { Layers?: string[] }[];
  const layers = manifest[0]?.Layers ?? [];
  if (manifest.length !== 1 || layers.length !== 1) return undefined;
  const fd = fs.openSync(`${out}.partial`, 'w');
  try {
    execFileSync('tar', ['-xOf', file, layers[0]], { stdio: ['ignore', fd, 'inherit'] });
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(`${out}.partial`, out);
  return out;
}

/** The local engine's pid (its default pid file), when the bench talks to that engine; else undefined. */
function enginePid(): number | undefined {
  if (process.env.DOCKER_HOST && process.env.DOCKER_HOST !== 'unix:///var/run/docker.sock') return undefined;
  try {
    const pid = Number(fs.readFileSync('/var/run/docker.pid', 'utf8').trim());
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds used during `fn` by the engine (with its children) and, given, one more process; and the machine's busy share. */
async function cpuDuring(fn: () => Promise<void>, engine: number | undefined, server?: number): Promise<{ engine?: number; server?: number; busy: number }> {
  const e0 = engine ? cpuSecondsOf(engine, true) : 0;
  const s0 = server ? cpuSecondsOf(server) : 0;
  const m0 = machineCpu();
  await fn();
  const m1 = machineCpu();
  return {
    engine: engine ? cpuSecondsOf(engine, true) - e0 : undefined,
    server: server ? cpuSecondsOf(server) - s0 : undefined,
    busy: (m1.busy - m0.busy) / Math.max(m1.total - m0.total, 1e-9),
  };
}

async function removeFromEngine(imageId: string): Promise<void> {
  await docker.getImage(imageId).remove({ force: true }).catch(() => undefined);
}

/** What the floor's imports are labelled with, so that a run cut short can still remove them. */
const FLOOR_LABEL = 'novadock.bench.upload-floor=1';

async function removeFloorImages(): Promise<void> {
  for (const img of await docker.listImages({ filters: JSON.stringify({ label: [FLOOR_LABEL] }) })) await removeFromEngine(img.Id);
}

const engineSocket = () => process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';

/**
 * Runs curl (the neutral client: the same program, the same reads of the file, on both sides)
 * and resolves to the ms until it exits, with its HTTP status and body.
 */
function curl(args: string[]): Promise<{ took: number; status: number; body: string }> {
  const t = now();
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['--silent', '--show-error', '--output', '-', '--write-out', '\n%{http_code}', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => {
      const took = ms(t);
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${err}`));
      const nl = out.lastIndexOf('\n');
      resolve({ took, status: Number(out.slice(nl + 1)), body: out.slice(0, nl) });
    });
  });
}

/** `curl -T FILE` to the engine's load API (what `docker load -i` calls); ms until the engine has it. */
async function dockerLoad(file: string, imageId: string): Promise<number> {
  const r = await curl(['--unix-socket', engineSocket(), '-X', 'POST', '-H', 'Content-Type: application/x-tar', '-T', file, 'http://localhost/images/load?quiet=1']);
  if (r.status !== 200 || /"error"/.test(r.body)) throw new Error(`docker load: ${r.status} ${r.body}`);
  await docker.getImage(imageId).inspect(); // it is there
  return r.took;
}

/** `curl -T LAYER` to the engine's import API (`docker import -`); ms until it answers. The image it makes is removed. */
async function engineImport(layer: string): Promise<number> {
  const changes = encodeURIComponent(`LABEL ${FLOOR_LABEL}`);
  const r = await curl(['--unix-socket', engineSocket(), '-X', 'POST', '-H', 'Content-Type: application/x-tar', '-T', layer, `http://localhost/images/create?fromSrc=-&changes=${changes}`]);
  const id = /"status":"(sha256:[0-9a-f]{64})"/.exec(r.body)?.[1];
  if (r.status !== 200 || !id) throw new Error(`engine import: ${r.status} ${r.body}`);
  await removeFromEngine(id);
  return r.took;
}

/** `curl -T FILE` to PUT …/file; ms until the 204. */
async function put(a: Api, id: string, file: string): Promise<number> {
  const r = await curl(['-X', 'PUT', '-H', `X-Auth-Token: ${a.token}`, '-H', 'Content-Type: application/octet-stream', '-T', file, `${a.srv.url}/image/v2/images/${id}/file`]);
  if (r.status !== 204) throw new Error(`upload: ${r.status} ${r.body}`);
  return r.took;
}

main(async (cleanups) => {
  const sizeMiB = numArg('size-mib', 1024);
  const rounds = numArg('rounds', 5);
  const settleMs = numArg('settle-ms', 2000);
  const { file, imageId } = bigArchive(sizeMiB);
  const bytes = fs.statSync(file).size;
  const layer = layerOf(file);
  cleanups.push(() => removeFromEngine(imageId), removeFloorImages);
  // Into the page cache for every side.
  for (const f of [file, ...(layer ? [layer] : [])]) execFileSync('cat', [f], { stdio: ['ignore', 'ignore', 'inherit'] });

  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);

  const dockerMs: number[] = [];
  const novaMs: number[] = [];
  const ratios: number[] = [];
  const importMs: number[] = [];
  let rssGrowthKiB = 0;
  let hwmGrowthKiB = 0;

  const engine = enginePid();
  const gib = bytes / 2 ** 30;
  const cpu = { dockerEngine: [] as number[], novaEngine: [] as number[], importEngine: [] as number[], server: [] as number[], dockerBusy: [] as number[], novaBusy: [] as number[] };
  const dockerSide = async () => {
    const c = await cpuDuring(async () => {
      dockerMs.push(await dockerLoad(file, imageId));
    }, engine);
    if (c.engine !== undefined) cpu.dockerEngine.push(c.engine / gib);
    cpu.dockerBusy.push(c.busy);
    await removeFromEngine(imageId);
  };
  const novadockSide = async (r: number) => {
    const created = await a.req<{ id: string }>('POST', '/image/v2/images', { name: `bench-upload-${r}`, container_format: 'docker', disk_format: 'raw' });
    if (created.status !== 201) throw new Error(`image create: ${created.status}`);
    const before = memoryOf(srv.pid());
    const sampler = sampleRss(srv.pid());
    const c = await cpuDuring(async () => {
      novaMs.push(await put(a, created.body.id, file));
    }, engine, srv.pid());
    const peak = sampler.stop();
    if (c.engine !== undefined) cpu.novaEngine.push(c.engine / gib);
    cpu.server.push(c.server! / gib);
    cpu.novaBusy.push(c.busy);
    const after = memoryOf(srv.pid());
    rssGrowthKiB = Math.max(rssGrowthKiB, peak - before.rssKiB);
    hwmGrowthKiB = Math.max(hwmGrowthKiB, after.hwmKiB - Math.max(before.hwmKiB, before.rssKiB));
    await docker.getImage(imageId).inspect(); // novadock loaded it into the engine
    const del = await a.req('DELETE', `/image/v2/images/${created.body.id}`);
    if (del.status !== 204) throw new Error(`image delete: ${del.status}`);
    await removeFromEngine(imageId);
  };
  const floorSide = async () => {
    const c = await cpuDuring(async () => {
      importMs.push(await engineImport(layer!));
    }, engine);
    if (c.engine !== undefined) cpu.importEngine.push(c.engine / gib);
  };
  await removeFromEngine(imageId);
  await removeFloorImages();
  for (let r = 0; r < rounds; r++) {
    // Each side starts from the same state: the image absent and the machine settled for the
    // same time after the last removal (memory the host took back is slow to touch again).
    // The order rotates, so that no side always comes first or follows the same one.
    const sides = [dockerSide, novadockSide, ...(layer ? [floorSide] : [])];
    for (let i = 0; i < sides.length; i++) {
      await sleep(settleMs);
      await sides[(r + i) % sides.length](r);
    }
    ratios.push(dockerMs[r] / novaMs[r]);
    const floor = layer ? `, engine import of the layer ${importMs[r].toFixed(0)} ms` : '';
    process.stderr.write(`round ${r + 1}/${rounds}: docker load ${dockerMs[r].toFixed(0)} ms, novadock PUT ${novaMs[r].toFixed(0)} ms, ratio ${ratios[r].toFixed(3)}${floor}\n`);
  }
  // Each load as a share of the floor, per round (the floor's time over the load's).
  const ofFloor = (loads: number[]) => median(importMs.map((t, r) => t / loads[r]));

  const mib = bytes / 1024 / 1024;
  const dockerTput = mib / (median(dockerMs) / 1000);
  const novaTput = mib / (median(novaMs) / 1000);
  // Paired: each round's two loads ran minutes apart at most, so their ratio cancels the drift
  // of the machine between rounds; the median of those is the figure.
  const ratio = median(ratios);
  const growthMiB = Math.max(rssGrowthKiB, hwmGrowthKiB) / 1024;
  report('upload', [
    { name: 'archive size', value: Math.round(mib), unit: 'MiB' },
    { name: 'docker load throughput (median)', value: dockerTput, unit: 'MiB/s' },
    { name: 'novadock PUT …/file throughput (median)', value: novaTput, unit: 'MiB/s' },
    { name: 'throughput ratio novadock / docker (median of rounds)', value: ratio, unit: '×', target: '>= 0.9', met: ratio >= 0.9 },
    { name: 'lowest round ratio', value: Math.min(...ratios), unit: '×' },
    { name: 'highest round ratio', value: Math.max(...ratios), unit: '×' },
    ...(layer ? [
      { name: 'floor: engine import of the layer alone (median)', value: median(importMs), unit: 'ms' },
      { name: 'docker load as a share of the floor (median of rounds)', value: ofFloor(dockerMs), unit: '×' },
      { name: 'novadock PUT as a share of the floor (median of rounds)', value: ofFloor(novaMs), unit: '×' },
    ] : []),
    { name: 'server peak RSS growth during upload', value: growthMiB, unit: 'MiB', target: '< 64', met: growthMiB < 64 },
    { name: 'server CPU per GiB during PUT (median)', value: median(cpu.server), unit: 's' },
    ...(engine ? [
      { name: 'engine CPU per GiB during docker load (median)', value: median(cpu.dockerEngine), unit: 's' },
      { name: 'engine CPU per GiB during novadock PUT (median)', value: median(cpu.novaEngine), unit: 's' },
      ...(layer ? [{ name: 'engine CPU per GiB during the floor\'s import (median)', value: median(cpu.importEngine), unit: 's' }] : []),
    ] : []),
    { name: 'machine CPU busy during docker load (median)', value: 100 * median(cpu.dockerBusy), unit: '%' },
    { name: 'machine CPU busy during novadock PUT (median)', value: 100 * median(cpu.novaBusy), unit: '%' },
  ], [
    ...(layer ? [] : ['The archive holds more than one layer: no floor (the engine import of its one layer) was measured.']),
    `${rounds} round(s), the order rotating, ${settleMs} ms settle before each load; ratio = docker time / novadock time per round; peak RSS from VmRSS sampled every 20 ms and VmHWM, minus VmRSS before the PUT.`,
    `CPU from /proc: the server's threads (exited ones too); ${engine ? `the engine (pid ${engine}) with the helpers it waited for` : 'the engine not measured (not the local default engine)'}; the machine's busy share over its ${os.cpus().length} CPU(s), the client included.`,
  ]);
});
