/**
 * The image of novadock's own infrastructure containers (a router's legs on overlays, issue 17):
 * one static program that waits for signals for ever, as Kubernetes' pause container does. No
 * registry is needed: the image is made on the engine that needs it from a one-file archive
 * (`POST /images/create?fromSrc=-`, what `docker import` sends) the first time it is needed.
 *
 * The program is a minimal ELF executable (one header, one loadable segment, no libc), for the
 * engine's architecture:
 *
 *   x86_64    loop: mov eax, 34 (pause) ; syscall ; jmp loop
 *   aarch64   loop: x0..x3 = 0 ; x8 = 73 (ppoll, no descriptors, no timeout) ; svc 0 ; b loop
 *
 * A container's first process ignores the signals it has no handler for, so it is removed with
 * SIGKILL (a forced removal), never stopped.
 */
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { statusOf } from './client';

/** Repository and tag; a new tag for any change to the program. */
export const PAUSE_IMAGE = 'novadock/pause:1';
export const PAUSE_PATH = '/pause';

const MACHINES: Record<string, { machine: number; code: string }> = {
  x86_64: { machine: 0x3e, code: 'b822000000' + '0f05' + 'ebf7' },
  aarch64: { machine: 0xb7, code: ['d2800000', 'd2800001', 'd2800002', 'd2800003', 'd2800928', 'd4000001', '17fffffa'].map(le32).join('') },
};

/** An aarch64 instruction word, little-endian, as hex. */
function le32(word: string): string {
  return word.match(/../g)!.reverse().join('');
}

const BASE = 0x400000;
const EH_SIZE = 64;
const PH_SIZE = 56;

/** The program for an engine architecture (`docker info`'s Architecture: x86_64, aarch64 or arm64). */
export function pauseProgram(architecture: string): Buffer {
  const arch = MACHINES[architecture === 'arm64' ? 'aarch64' : architecture];
  if (!arch) throw new Error(`novadock's router containers need an x86_64 or aarch64 engine (this one is ${architecture})`);
  const code = Buffer.from(arch.code, 'hex');
  const size = EH_SIZE + PH_SIZE + code.length;
  const b = Buffer.alloc(size);
  // ELF header: 64-bit, little-endian, version 1, System V; an executable with one program header.
  b.write('7f454c46020101', 0, 'hex');
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(arch.machine, 18);
  b.writeUInt32LE(1, 20); // EV_CURRENT
  b.writeBigUInt64LE(BigInt(BASE + EH_SIZE + PH_SIZE), 24); // entry: the code after the headers
  b.writeBigUInt64LE(BigInt(EH_SIZE), 32); // program headers right after this one
  b.writeUInt16LE(EH_SIZE, 52);
  b.writeUInt16LE(PH_SIZE, 54);
  b.writeUInt16LE(1, 56);
  // The one segment: the whole file, mapped readable and executable at BASE.
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // PF_R | PF_X
  b.writeBigUInt64LE(0n, 72);
  b.writeBigUInt64LE(BigInt(BASE), 80);
  b.writeBigUInt64LE(BigInt(BASE), 88);
  b.writeBigUInt64LE(BigInt(size), 96);
  b.writeBigUInt64LE(BigInt(size), 104);
  b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, EH_SIZE + PH_SIZE);
  return b;
}

/** The one-file root filesystem archive. */
async function rootfs(program: Buffer): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name: PAUSE_PATH.slice(1), mode: 0o755, uid: 0, gid: 0, mtime: new Date(0) }, program);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Makes PAUSE_IMAGE on the engine unless it has it. Concurrent callers may both import: the result is the same. */
export async function ensurePauseImage(docker: Docker): Promise<void> {
  try {
    await docker.getImage(PAUSE_IMAGE).inspect();
    return;
  } catch (e) {
    if (statusOf(e) !== 404) throw e;
  }
  const info = (await docker.info()) as { Architecture?: string };
  const archive = await rootfs(pauseProgram(info.Architecture ?? 'unknown'));
  const [repo, tag] = PAUSE_IMAGE.split(':');
  const stream = await docker.importImage(Readable.from([archive]), { repo, tag });
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
    const failed = err ?? out.find((o) => o.error);
    if (failed) reject(failed instanceof Error ? failed : new Error(`importing ${PAUSE_IMAGE}: ${(failed as { error: string }).error}`));
    else resolve();
  }));
}
