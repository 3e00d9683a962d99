/**
 * Real docker-save archives for tests, built locally (no registry) by scripts/build-test-image.sh:
 * Debian's static busybox imported into the engine and saved by id, so the archive carries no
 * name at all and loading it proves the id binding. Cached under test/.cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const CACHE = path.join(__dirname, '..', '.cache');
const BUILDER = path.join(__dirname, '..', '..', 'scripts', 'build-test-image.sh');

export interface TestImage {
  /** Path of the docker-save archive. */
  path: string;
  /** Engine id (sha256:…) the archive loads as. */
  imageId: string;
}

/**
 * A busybox image whose default command is `cmd` (default: print "tick N" every second, forever).
 * `variant` makes distinct images (distinct ids) with otherwise the same content.
 */
export function busyboxImage(variant = 'default', cmd?: string[]): TestImage {
  fs.mkdirSync(CACHE, { recursive: true });
  const archive = path.join(CACHE, `busybox-${variant}.tar`);
  const idFile = `${archive}.id`;
  if (fs.existsSync(archive) && fs.existsSync(idFile)) return { path: archive, imageId: fs.readFileSync(idFile, 'utf8').trim() };
  const args = [archive, variant];
  if (cmd) args.push(JSON.stringify(cmd));
  const imageId = execFileSync('bash', [BUILDER, ...args], { encoding: 'utf8' }).trim().split('\n').pop()!;
  fs.writeFileSync(idFile, `${imageId}\n`);
  return { path: archive, imageId };
}
