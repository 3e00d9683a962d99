/**
 * Interactive console on a Docker engine (ComputeDriver.openConsole): `/bin/sh` started in the
 * container by the engine's exec with a TTY, attached through the hijacked connection.
 *
 *   exec create (Tty, AttachStdin/Stdout/Stderr) → exec start (hijack) → raw terminal bytes both ways
 *   resize → exec resize                           close → the shell's session is hung up, then killed
 *
 * Why the shell announces its PID: the engine has no call to end an exec, and a TTY exec whose
 * connection is closed keeps running (the engine holds the terminal open: checked on 20.10, where
 * neither closing stdin nor dropping the connection ends it). So the command first prints its own
 * PID (inside the container) as an OSC escape that is taken out of the output, then `exec`s the
 * shell, which keeps that PID and is the leader of the terminal's session. close() runs a second,
 * unattached exec that sends SIGHUP, as a terminal hang-up would, to every process of that
 * session, and SIGKILL to what is left.
 */
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { ConsoleSession, InstanceNotRunning } from '../driver';
import { call, statusOf, translate } from './client';

/** `ESC ] novadock-console ; <pid> BEL`, printed once before the shell starts. */
export const MARKER_PREFIX = Buffer.from('\x1b]novadock-console;');
const BEL = 0x07;
/** More than this before the marker is complete: it is not coming (the bytes are passed on). */
const MARKER_MAX = 64;
/** No output at all for this long after the start: the marker is not coming (input is let through). */
const MARKER_WAIT_MS = 5000;

const SHELL = ['/bin/sh', '-c', "printf '\\033]novadock-console;%s\\007' \"$$\"; exec /bin/sh"];

/**
 * Every process of the terminal's session `sid` (field 6 of /proc/<pid>/stat) gets SIGHUP; those
 * still there after up to ~2 s get SIGKILL. Only shell built-ins and /proc, so that any image with
 * a /bin/sh will do (`sleep` is tried, and skipped where missing).
 */
const hangUp = (sid: number) => [
  '/bin/sh', '-c',
  `sid=${sid}; session() { for f in /proc/[0-9]*/stat; do read -r p c s pp pg ss rest < "$f" 2>/dev/null || continue; [ "$ss" = "$sid" ] && echo "$p"; done; }; `
  + 'left=$(session); [ -z "$left" ] && exit 0; kill -HUP $left 2>/dev/null; '
  + 'for i in 1 2 3 4 5 6 7 8 9 10; do left=$(session); [ -z "$left" ] && exit 0; sleep 0.2 2>/dev/null || sleep 1; done; '
  + 'kill -KILL $(session) 2>/dev/null; exit 0',
];

/**
 * Reads the PID marker off the first bytes of the output: `feed` returns what is the shell's
 * (the marker taken out, held bytes released once it is known there is no marker);
 * `isDecided` once it is known whether the marker came (then `pid` is set) or not.
 */
export class MarkerReader {
  pid: number | undefined;
  private head: Buffer | null = Buffer.alloc(0);

  get isDecided(): boolean {
    return this.head === null;
  }

  feed(chunk: Buffer): Buffer {
    if (this.head === null) return chunk;
    const buf = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    const n = Math.min(buf.length, MARKER_PREFIX.length);
    const end = buf.indexOf(BEL, MARKER_PREFIX.length);
    const complete = buf.length >= MARKER_PREFIX.length && end >= 0 && end <= MARKER_MAX;
    if (!buf.subarray(0, n).equals(MARKER_PREFIX.subarray(0, n)) || (!complete && buf.length > MARKER_MAX)) {
      this.head = null; // no marker: the bytes are the shell's
      return buf;
    }
    if (!complete) {
      this.head = buf; // the marker is not complete yet
      return EMPTY;
    }
    const pid = Number(buf.subarray(MARKER_PREFIX.length, end).toString('latin1'));
    if (Number.isInteger(pid) && pid > 0) this.pid = pid;
    this.head = null;
    return buf.subarray(end + 1);
  }

  /** The marker is not coming (nothing in time, or the output ended): the bytes held. */
  giveUp(): Buffer {
    const held = this.head ?? EMPTY;
    this.head = null;
    return held;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads the PID marker off the terminal's first output, in paused mode (read(), not a 'data'
 * listener, so that the socket is left neither flowing nor paused: whoever attaches a 'data'
 * listener next gets every byte). What came after the marker is put back. Resolves once it is
 * known whether the marker came: at once in practice (the shell prints it first), else after
 * MARKER_WAIT_MS of no marker or when the output ends (the held bytes are then passed on).
 */
function readMarker(socket: Duplex): Promise<number | undefined> {
  const marker = new MarkerReader();
  return new Promise((resolve) => {
    const done = (rest: Buffer) => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', gaveUp);
      socket.off('close', gaveUp);
      if (rest.length && !socket.readableEnded && !socket.destroyed) socket.unshift(rest);
      resolve(marker.pid);
    };
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        const rest = marker.feed(chunk);
        if (marker.isDecided) return done(rest);
      }
    };
    const gaveUp = () => done(marker.giveUp());
    const timer = setTimeout(gaveUp, MARKER_WAIT_MS);
    socket.on('readable', onReadable);
    socket.once('end', gaveUp);
    socket.once('close', gaveUp);
  });
}

/**
 * Opens a shell in `container` (server `serverId`'s own, checked by the driver) and attaches to it.
 * Throws InstanceNotRunning when the container is not running or is frozen.
 */
export async function openShell(docker: Docker, host: string, serverId: string, container: Docker.ContainerInspectInfo): Promise<ConsoleSession> {
  if (!container.State?.Running || container.State.Paused) throw new InstanceNotRunning(serverId);
  const exec = await call(host, () => docker.getContainer(container.Id).exec({
    Cmd: SHELL, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Env: ['TERM=xterm'],
  }), serverId);
  const socket = (await call(host, () => exec.start({ hijack: true, stdin: true, Tty: true }), serverId)) as unknown as Duplex;

  let finished = false;
  const ended = new Promise<void>((resolve) => {
    const done = () => {
      if (finished) return;
      finished = true;
      resolve();
    };
    socket.once('close', done);
    socket.once('end', done);
    socket.once('error', done);
  });
  // An error on the socket ends the session; it is not an unhandled error of the process.
  socket.on('error', () => undefined);
  // Known before the session is handed out, so that input cannot echo ahead of the marker and
  // the session's stream is the hijacked connection itself: a keystroke is one write each way,
  // with no stream stage of ours in between (issue 15's console round-trip target).
  const pid = await readMarker(socket);

  let closing: Promise<void> | undefined;
  return {
    stream: socket,
    ended,
    resize: async (cols, rows) => {
      await call(host, () => exec.resize({ w: cols, h: rows }), serverId);
    },
    close: () => {
      closing ??= (async () => {
        let failure: unknown;
        if (!finished && pid === undefined) failure = new Error(`Compute host ${host}: the console shell of ${serverId} never said its PID; it may still be running`);
        if (!finished && pid !== undefined) {
          try {
            const kill = await docker.getContainer(container.Id).exec({ Cmd: hangUp(pid), AttachStdout: false, AttachStderr: false });
            const s = (await kill.start({ hijack: true, stdin: false })) as unknown as Duplex;
            await new Promise<void>((r) => { s.once('close', r); s.once('end', r); s.once('error', r); s.resume(); });
          } catch (e) {
            // A container gone or stopped took the shell with it; anything else may leave it running.
            const status = statusOf(e);
            if (status !== 404 && status !== 409) failure = translate(host, e, serverId);
          }
        }
        socket.destroy();
        await ended;
        if (failure) throw failure;
      })();
      return closing;
    },
  };
}

