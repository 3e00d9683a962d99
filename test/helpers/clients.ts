/**
 * The stock OpenStack clients, run as a user runs them: `openstack`, `nova`, `glance`, and Debian's
 * python3 with openstacksdk, with the OS_* settings of a started server (test/helpers/server.ts).
 *
 * Each run gets its own HOME, so glanceclient's schema cache (~/.glanceclient) and any
 * clouds.yaml a developer has can't leak between servers; and a bounded time, so a client that
 * waits forever (`--wait` on a server that never leaves BUILD) fails the test instead of hanging it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ClientEnv } from './server';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Milliseconds before the client is killed (default 120 s). */
  timeoutMs?: number;
  /** Bytes (or a file path via stdinFile) fed to the client's standard input. */
  stdin?: Buffer | string;
  stdinFile?: string;
  /** Working directory (default: a temp dir). */
  cwd?: string;
}

// Debian's clients and openstacksdk live under Debian's python (a pyenv python3 on PATH has neither).
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

let home: string | undefined;
/**
 * One HOME per test process (per jest worker): fresh, so no schema cache from another server.
 * Made under NOVADOCK_TEST_TMPDIR when set (scripts/test.sh sets it and removes it when the run
 * ends: jest's --forceExit ends workers without their exit handlers), else under the system's
 * temporary directory and removed when the process exits.
 */
function freshHome(): string {
  if (!home) {
    const dir = fs.mkdtempSync(path.join(process.env.NOVADOCK_TEST_TMPDIR || os.tmpdir(), 'novadock-clients-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    home = dir;
  }
  return home;
}

/** A new empty HOME, e.g. to make glanceclient fetch schemas from a new server (the old one is removed). */
export function resetClientHome(): void {
  if (home) fs.rmSync(home, { recursive: true, force: true });
  home = undefined;
}

function baseEnv(env: ClientEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  // Only the caller's PATH-like basics; no OS_* of the developer's own cloud.
  for (const k of ['PATH', 'LANG', 'LC_ALL', 'TMPDIR', 'DOCKER_HOST']) if (process.env[k]) out[k] = process.env[k];
  return { ...out, HOME: freshHome(), PYTHONWARNINGS: 'ignore', LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', ...env };
}

/** Runs a program with the client env; never rejects: look at code/stdout/stderr. */
export function run(cmd: string, args: string[], env: ClientEnv, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    // detached: its own process group, so a timeout kills a whole pipeline (`docker save | glance …`).
    const child = spawn(cmd, args, { env: baseEnv(env), cwd: opts.cwd ?? freshHome(), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs ?? 120_000);
    child.stdin.on('error', () => undefined); // a client that exits early closes its stdin
    if (opts.stdinFile) fs.createReadStream(opts.stdinFile).pipe(child.stdin);
    else child.stdin.end(opts.stdin ?? '');
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n[killed after ${opts.timeoutMs ?? 120_000} ms]` : '');
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
  });
}

export const openstack = (args: string[], env: ClientEnv, opts?: RunOptions) => run('openstack', args, env, opts);
export const nova = (args: string[], env: ClientEnv, opts?: RunOptions) => run('nova', args, env, opts);
export const glance = (args: string[], env: ClientEnv, opts?: RunOptions) => run('glance', args, env, opts);
/** Runs a Python script (openstacksdk is importable) with the client env. */
export const python = (script: string, env: ClientEnv, opts?: RunOptions) => run(PYTHON, ['-c', script], env, opts);
/** Any shell pipeline (e.g. `docker save … | glance image-create …`) with the client env. */
export const sh = (script: string, env: ClientEnv, opts?: RunOptions) => run('bash', ['-o', 'pipefail', '-c', script], env, opts);

/** The docker CLI (no OS_* needed). */
export function docker(args: string[], opts?: RunOptions): Promise<RunResult> {
  return run('docker', args, {}, opts);
}

/** For assertion messages: the whole exchange, so a failing test shows what the client said. */
export function transcript(r: RunResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
