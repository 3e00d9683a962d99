/**
 * Real docker-save archives for tests, built locally (no registry): a rootfs holding Debian's
 * static busybox is imported into the engine and saved by id, so the archive carries no
 * name at all and loading it proves the id binding. Cached under test/.cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const CACHE = path.join(__dirname, '..', '.cache');

export function busyboxBinary(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (fs.existsSync(p)) return p;
  throw new Error('busybox not found: install Debian busybox-static (scripts/test.sh does)');
}

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'sleep', 'ps', 'hostname', 'ip', 'id', 'env', 'head', 'tail', 'dd', 'mkdir', 'rm', 'touch', 'grep', 'wc', 'true', 'false', 'kill', 'wget', 'nc', 'ping', 'ifconfig', 'mount', 'df', 'free', 'uname', 'date', 'yes', 'tr', 'seq', 'md5sum'];

export interface TestImage {
  /** Path of the docker-save archive. */
  path: string;
  /** Engine id (sha256:…) the archive loads as. */
  imageId: string;
}

/**
 * A busybox image whose default command is `cmd` (default: print a line every second, forever).
 * `variant` makes distinct images (distinct ids) with otherwise the same content.
 */
export function busyboxImage(variant = 'default', cmd: string[] = ['/bin/sh', '-c', 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done']): TestImage {
  fs.mkdirSync(CACHE, { recursive: true });
  const archive = path.join(CACHE, `busybox-${variant}.tar`);
  const idFile = `${archive}.id`;
  if (fs.existsSync(archive) && fs.existsSync(idFile)) return { path: archive, imageId: fs.readFileSync(idFile, 'utf8').trim() };

  const work = fs.mkdtempSync(path.join(CACHE, 'rootfs-'));
  try {
    const root = path.join(work, 'rootfs');
    for (const d of ['bin', 'etc', 'root', 'tmp', 'proc', 'sys', 'dev', 'var/lib/cloud']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync(busyboxBinary(), path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.writeFileSync(path.join(root, 'etc', 'variant'), `${variant}\n`);
    fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const rootTar = path.join(work, 'rootfs.tar');
    execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', rootTar, '.']);
    const imported = execFileSync('docker', ['import', '--change', `CMD ${JSON.stringify(cmd)}`, rootTar], { encoding: 'utf8' }).trim();
    const imageId = imported.startsWith('sha256:') ? imported : `sha256:${imported}`;
    const tmp = `${archive}.partial`;
    execFileSync('docker', ['save', '-o', tmp, imageId]);
    fs.renameSync(tmp, archive);
    fs.writeFileSync(idFile, `${imageId}\n`);
    return { path: archive, imageId };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
