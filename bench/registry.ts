/**
 * The embedded registry against Debian's `docker-registry` (the distribution registry 2.8 with its
 * filesystem store) on the same machine, in one run, with the stock docker CLI on both sides:
 *
 *   bash bench/run.sh registry [--layer-mib 256] [--layers 4] [--rounds 3]
 *
 * The image: FROM scratch plus `--layers` COPY layers of `--layer-mib` MiB of random bytes each
 * (incompressible, like real layers), built once with the engine's classic builder and kept by tag.
 * Each round starts both registries empty (a fresh storage directory for docker-registry, a fresh
 * novadock with its own data directory), pushes to each, then pulls
 * from each into an engine that holds none of the image's layers. The order alternates between
 * rounds. Figures are medians over rounds of docker-registry's time over novadock's (≥ 1 means
 * novadock is as fast). Then a second image that differs in its last layer only is pushed to
 * novadock: the CLI's own output says which layers it sent.
 * Targets (issue 14): push and pull ratios ≥ 0.9; a re-push with one changed layer sends one layer.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, main, median, ms, now, numArg, report, ROOT, sleep, startBenchServer } from './lib';

const execFileP = promisify(execFile);
const OUT = path.join(ROOT, 'bench', 'out');

/** Writes `mib` MiB of random bytes to `file`. */
function randomFile(file: string, mib: number): void {
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  const fd = fs.openSync(file, 'w');
  for (let k = 0; k < mib / 4; k++) fs.writeSync(fd, crypto.randomFillSync(chunk));
  fs.closeSync(fd);
}

/** `docker build -t tag` (the engine's classic builder) of a context with these files and Dockerfile lines. */
function build(tag: string, files: Record<string, number>, lines: string[]): void {
  if (execFileSync('docker', ['images', '-q', tag], { encoding: 'utf8' }).trim()) return;
  const ctx = fs.mkdtempSync(path.join(OUT, 'registry-ctx-'));
  try {
    for (const [name, mib] of Object.entries(files)) randomFile(path.join(ctx, name), mib);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), `${lines.join('\n')}\n`);
    process.stderr.write(`building ${tag}…\n`);
    execFileSync('docker', ['build', '-q', '-t', tag, ctx], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
}

/**
 * Builds (once) the bench images: a common FROM-scratch image of `layers - 1` random layers, and two
 * images on it that differ in their last layer only (so they share every other layer's digest).
 */
function buildImages(layers: number, layerMiB: number): { full: string; base: string; changed: string } {
  const prefix = `novadock-bench/registry:${layers}x${layerMiB}`;
  // The rounds' image shares no layer with the other two, so dropping it empties the engine of it.
  const own: Record<string, number> = {};
  for (let i = 0; i < layers; i++) own[`own${i}`] = layerMiB;
  build(`${prefix}-full`, own, ['FROM scratch', ...Object.keys(own).map((f) => `COPY ${f} /data/${f}`), 'LABEL novadock.bench=1']);
  const common = `${prefix}-common`;
  const files: Record<string, number> = {};
  for (let i = 0; i < layers - 1; i++) files[`layer${i}`] = layerMiB;
  build(common, files, ['FROM scratch', ...Object.keys(files).map((f) => `COPY ${f} /data/${f}`), 'LABEL novadock.bench=1']);
  build(`${prefix}-a`, { last: layerMiB }, [`FROM ${common}`, 'COPY last /data/last']);
  build(`${prefix}-b`, { last: layerMiB }, [`FROM ${common}`, 'COPY last /data/last']);
  return { full: `${prefix}-full`, base: `${prefix}-a`, changed: `${prefix}-b` };
}

/** Debian's docker-registry on 127.0.0.1:<port>, storing under a fresh directory; stop() removes it. */
async function startDistribution(): Promise<{ host: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-distribution-'));
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log: {level: error}',
    `storage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}`,
    `http: {addr: "127.0.0.1:${port}"}`,
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'config.yml'), `${config}\n`);
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: 'ignore' });
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (i > 100) throw new Error('docker-registry did not start');
    await sleep(100);
  }
  return {
    host,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the docker CLI with its own config dir (the login); resolves to ms and stdout. */
async function dockerCli(config: string, args: string[]): Promise<{ ms: number; out: string }> {
  const t = now();
  const { stdout } = await execFileP('docker', ['--config', config, ...args], { maxBuffer: 16 * 1024 * 1024 });
  return { ms: ms(t), out: stdout };
}

/** Removes every tag of the image id from the engine (so the next pull fetches every layer). */
async function dropImage(imageId: string): Promise<void> {
  await execFileP('docker', ['rmi', '-f', imageId]).catch(() => undefined);
}

main(async (cleanups) => {
  const layerMiB = numArg('layer-mib', 256);
  const layers = numArg('layers', 4);
  const rounds = numArg('rounds', 3);
  fs.mkdirSync(OUT, { recursive: true });
  const { full, base, changed } = buildImages(layers, layerMiB);
  const imageId = execFileSync('docker', ['inspect', '-f', '{{.Id}}', full], { encoding: 'utf8' }).trim();

  const config = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-docker-config-'));
  cleanups.push(async () => fs.rmSync(config, { recursive: true, force: true }));
  // A fresh novadock each round (its own data dir and port): a registry keeps a project's blobs
  // for cross-repository mounts, so a second push to the same one would send nothing.
  const novadock = async () => {
    const srv = await startBenchServer();
    const host = `127.0.0.1:${srv.port}`;
    execFileSync('docker', ['--config', config, 'login', '-u', 'admin', '--password-stdin', host], { input: srv.passwords.admin, stdio: ['pipe', 'ignore', 'inherit'] });
    return { srv, host };
  };

  const pushRatio: number[] = [];
  const pullRatio: number[] = [];
  const times = { pushDist: [] as number[], pushNova: [] as number[], pullDist: [] as number[], pullNova: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const dist = await startDistribution();
    const { srv, host } = await novadock();
    const distRef = `${dist.host}/admin/bench:${r}`;
    try {
      const novaRef = `${host}/admin/bench:${r}`;
      await execFileP('docker', ['tag', full, distRef]);
      await execFileP('docker', ['tag', full, novaRef]);
      const order = r % 2 === 0 ? ['dist', 'nova'] : ['nova', 'dist'];
      const push: Record<string, number> = {};
      for (const which of order) push[which] = (await dockerCli(config, ['push', which === 'dist' ? distRef : novaRef])).ms;
      // Pull into an engine without any of the image's layers: drop every tag of it first.
      await dropImage(imageId);
      const pull: Record<string, number> = {};
      for (const which of order) {
        pull[which] = (await dockerCli(config, ['pull', which === 'dist' ? distRef : novaRef])).ms;
        await dropImage(imageId);
      }
      times.pushDist.push(push.dist);
      times.pushNova.push(push.nova);
      times.pullDist.push(pull.dist);
      times.pullNova.push(pull.nova);
      pushRatio.push(push.dist / push.nova);
      pullRatio.push(pull.dist / pull.nova);
      process.stderr.write(`round ${r + 1}: push ${push.dist.toFixed(0)} / ${push.nova.toFixed(0)} ms, pull ${pull.dist.toFixed(0)} / ${pull.nova.toFixed(0)} ms (docker-registry / novadock)\n`);
    } finally {
      // The server's cleanup releases its images from the engine: take the image back from
      // docker-registry for the next round.
      await srv.cleanup();
      await dropImage(imageId);
      await dockerCli(config, ['pull', distRef]);
      await execFileP('docker', ['tag', distRef, full]);
      await execFileP('docker', ['rmi', distRef]).catch(() => undefined);
      await dist.stop();
    }
  }

  // Re-push: the base first, then the variant whose last layer differs, to the same tag.
  const { srv, host } = await novadock();
  cleanups.push(() => srv.cleanup());
  const ref = `${host}/admin/bench-repush:v1`;
  // The tag, and the digest references each push leaves the pushed images (`docker images` shows
  // them untagged, under the stopped server's port): removed however the run ends.
  cleanups.push(async () => {
    await execFileP('docker', ['rmi', ref]).catch(() => undefined);
    const digests = (await execFileP('docker', ['images', '--digests', '--format', '{{.Repository}}@{{.Digest}}', `${host}/admin/bench-repush`])).stdout;
    for (const digestRef of digests.split('\n').filter((l) => l.includes('@sha256:'))) await execFileP('docker', ['rmi', digestRef]).catch(() => undefined);
  });
  await execFileP('docker', ['tag', base, ref]);
  await dockerCli(config, ['push', ref]);
  await execFileP('docker', ['tag', changed, ref]);
  const again = await dockerCli(config, ['push', ref]);
  const pushedLayers = (again.out.match(/: Pushed/g) ?? []).length;
  const existing = (again.out.match(/: Layer already exists/g) ?? []).length;

  const mib = layers * layerMiB;
  report('registry', [
    { name: `docker push ${mib} MiB, docker-registry p50`, value: median(times.pushDist), unit: 'ms' },
    { name: `docker push ${mib} MiB, novadock p50`, value: median(times.pushNova), unit: 'ms' },
    { name: 'push ratio (docker-registry time / novadock time), median', value: median(pushRatio), unit: '×', target: '>= 0.9', met: median(pushRatio) >= 0.9 },
    { name: `docker pull ${mib} MiB, docker-registry p50`, value: median(times.pullDist), unit: 'ms' },
    { name: `docker pull ${mib} MiB, novadock p50`, value: median(times.pullNova), unit: 'ms' },
    { name: 'pull ratio (docker-registry time / novadock time), median', value: median(pullRatio), unit: '×', target: '>= 0.9', met: median(pullRatio) >= 0.9 },
    { name: 're-push with one changed layer: layers sent', value: pushedLayers, unit: `of ${layers} (${existing} already there)`, target: '1', met: pushedLayers === 1 },
  ], [`${rounds} rounds; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`]);
});
