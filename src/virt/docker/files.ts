/**
 * Files written into a created (not yet started) container through the engine's archive
 * endpoint — no bind mount, so nothing on the host is shared with the instance.
 */
import tar from 'tar-stream';
import type { InstanceSpec } from '../driver';
import { buffer } from 'node:stream/consumers';

export const AUTHORIZED_KEYS = 'root/.ssh/authorized_keys';
export const USER_DATA = 'var/lib/cloud/user-data';

/**
 * A tar (to extract at `/`) with /root/.ssh/authorized_keys (dir 0700, file 0600, root-owned,
 * as sshd's StrictModes wants) and /var/lib/cloud/user-data (0600), or undefined when the
 * spec has neither. Missing parent directories are created by the engine (0755).
 */
export async function bootFilesTar(spec: Pick<InstanceSpec, 'authorizedKeys' | 'userData'>): Promise<Buffer | undefined> {
  if (spec.authorizedKeys === undefined && spec.userData === undefined) return undefined;
  const pack = tar.pack();
  const done = buffer(pack);
  const owner = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: new Date() };
  if (spec.authorizedKeys !== undefined) {
    pack.entry({ ...owner, name: 'root/.ssh/', type: 'directory', mode: 0o700 });
    pack.entry({ ...owner, name: AUTHORIZED_KEYS, mode: 0o600 }, Buffer.from(spec.authorizedKeys, 'utf8'));
  }
  if (spec.userData !== undefined) {
    pack.entry({ ...owner, name: USER_DATA, mode: 0o600 }, Buffer.from(spec.userData));
  }
  pack.finalize();
  return done;
}
