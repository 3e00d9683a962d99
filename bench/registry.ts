/**
 * Registry skeleton (issue 14): `docker push` of an image with one random layer of --size-mib to
 * novadock's /v2/, then `docker pull` of it into an engine that no longer has it, then a re-push
 * that has nothing to send. Wall times with the stock docker CLI (a temporary DOCKER_CONFIG).
 *
 *   bash bench/run.sh registry [--size-mib 1024]
 *
 * The comparison against Debian's docker-registry (the distribution registry 2.8, filesystem
 * store) on the same machine is still to be added: the same three steps against it, as ratios.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main, ms, now, numArg, report, startBenchServer } from './lib';

/** A tar holding one file of `mib` random MiB, written to `file` (dd and tar, never all in memory). */
function randomLayer(file: string, mib: number): void {
  const dir = path.dirname(file);
  execFileSync('dd', ['if=/dev/urandom', `of=${path.join(dir, 'payload.bin')}`, 'bs=1M', `count=${mib}`, 'status=none']);
  execFileSync('tar', ['-C', dir, '-cf', file, 'payload.bin']);
  fs.rmSync(path.join(dir, 'payload.bin'));
}

main(async (cleanups) => {
  const sizeMiB = numArg('size-mib', 1024);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-bench-registry-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const cli = (args: string[], input?: string) => execFileSync('docker', ['--config', dir, ...args], { input, stdio: ['pipe', 'pipe', 'inherit'], encoding: 'utf8' });
  const registry = `127.0.0.1:${srv.port}`;
  const ref = `${registry}/admin/bench:${process.pid}`;

  const layer = path.join(dir, 'layer.tar');
  randomLayer(layer, sizeMiB);
  const imageId = cli(['import', layer, ref]).trim();
  cleanups.push(async () => {
    try {
      cli(['rmi', '-f', imageId]);
    } catch {
      /* gone already */
    }
  });
  fs.rmSync(layer);
  cli(['login', registry, '-u', 'admin', '--password-stdin'], srv.passwords.admin);

  let t = now();
  cli(['push', ref]);
  const push = ms(t);
  cli(['rmi', ref]);
  t = now();
  cli(['pull', ref]);
  const pull = ms(t);
  t = now();
  cli(['push', ref]);
  const repush = ms(t);

  report('registry', [
    { name: `docker push (${sizeMiB} MiB)`, value: push, unit: 'ms' },
    { name: `docker pull (${sizeMiB} MiB, absent from the engine)`, value: pull, unit: 'ms' },
    { name: 're-push, nothing changed', value: repush, unit: 'ms' },
  ], ['docker-registry (distribution 2.8) figures, and the ratios to them, are not measured yet']);
});
