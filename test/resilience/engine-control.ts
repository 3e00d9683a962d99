/**
 * Stopping and starting the local Docker engine under a running novadock.
 *
 * On this machine dockerd runs without systemd (`dockerd --ip-masq=false`, started by hand or by
 * scripts/lib.sh): we read its argv, working directory and environment from /proc, SIGTERM it,
 * wait for it to exit, and start it again exactly so, detached, its output in a log file. Where
 * systemd manages docker, `systemctl stop|start docker` instead.
 *
 * The one promise that matters more than any test result: the engine is left RUNNING, with
 * --ip-masq=false. `ensureEngineRunning` restores it from whatever state a failed test left, and
 * an exit hook starts it synchronously if the process dies between stop and start.
 */
import fs from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { docker, sleep } from './support';

export interface DaemonLaunch {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export const ENGINE_LOG = '/var/log/novadock-dockerd.log';
const PID_FILE = '/var/run/docker.pid';
const DEFAULT_LAUNCH: DaemonLaunch = { argv: ['dockerd', '--ip-masq=false'], cwd: '/', env: {} };

/** True when systemd runs this machine and has docker as a unit. */
export function systemdManagesDocker(): boolean {
  if (!fs.existsSync('/run/systemd/system')) return false;
  try {
    execFileSync('systemctl', ['cat', 'docker.service'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** The running dockerd (pid and how it was started), read from /proc. */
export function findDockerd(): { pid: number; launch: DaemonLaunch } | undefined {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/${name}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'dockerd') continue;
    const pid = Number(name);
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      const env: Record<string, string> = {};
      for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
        const at = kv.indexOf('=');
        if (at > 0) env[kv.slice(0, at)] = kv.slice(at + 1);
      }
      if (argv.length) return { pid, launch: { argv, cwd, env } };
    } catch {
      /* it exited while we looked */
    }
  }
  return undefined;
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
function readStatus(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
}

/** `docker version` answers (client and server). */
export async function engineAnswers(timeoutMs = 10_000): Promise<boolean> {
  return (await docker(['version'], timeoutMs)).code === 0;
}

/** Waits (bounded) until `docker version` answers; returns the time it took, or -1. */
export async function waitForEngine(timeoutMs = 90_000): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await engineAnswers(5_000)) return Date.now() - start;
    await sleep(200);
  }
  return -1;
}

/** Makes sure the argv keeps the engine from rewriting the host's NAT rules. */
function withIpMasqOff(argv: string[]): string[] {
  return argv.some((a) => a === '--ip-masq=false') ? argv : [...argv.filter((a) => !a.startsWith('--ip-masq')), '--ip-masq=false'];
}

/** Starts dockerd detached (as `nohup … >log 2>&1 &` would), never waiting for it. */
export function launchEngine(launch: DaemonLaunch = DEFAULT_LAUNCH): void {
  if (systemdManagesDocker()) {
    execFileSync('systemctl', ['start', 'docker'], { stdio: 'ignore', timeout: 120_000 });
    return;
  }
  // A pid file left by a dockerd that did not exit cleanly stops the next one from starting.
  if (!findDockerd() && fs.existsSync(PID_FILE)) fs.rmSync(PID_FILE, { force: true });
  const argv = withIpMasqOff(launch.argv);
  const fd = fs.openSync(ENGINE_LOG, 'a');
  try {
    const env = Object.keys(launch.env).length ? launch.env : (process.env as Record<string, string>);
    const child = spawn(argv[0], argv.slice(1), { cwd: fs.existsSync(launch.cwd) ? launch.cwd : '/', env, detached: true, stdio: ['ignore', fd, fd] });
    child.on('error', () => undefined);
    child.unref();
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Stops the engine: SIGTERM and a bounded wait for the exit (dockerd stops its containers first,
 * which takes a few seconds). Returns how the engine should be started again.
 */
export async function stopEngine(timeoutMs = 90_000): Promise<{ launch: DaemonLaunch; ms: number }> {
  const start = Date.now();
  if (systemdManagesDocker()) {
    execFileSync('systemctl', ['stop', 'docker', 'docker.socket'], { stdio: 'ignore', timeout: timeoutMs });
    return { launch: DEFAULT_LAUNCH, ms: Date.now() - start };
  }
  const d = findDockerd();
  if (!d) throw new Error('no dockerd process found in /proc');
  if (!d.launch.argv.includes('--ip-masq=false')) throw new Error(`dockerd runs as '${d.launch.argv.join(' ')}', not with --ip-masq=false: refusing to restart it`);
  armExitHook(d.launch);
  process.kill(d.pid, 'SIGTERM');
  while (alive(d.pid)) {
    if (Date.now() - start > timeoutMs) throw new Error(`dockerd (pid ${d.pid}) did not exit within ${timeoutMs} ms of SIGTERM`);
    await sleep(100);
  }
  return { launch: d.launch, ms: Date.now() - start };
}

/**
 * Whatever happened: if no engine answers, start one (the recorded launch, else
 * `dockerd --ip-masq=false`) and wait for it. Throws only if it still does not answer.
 */
export async function ensureEngineRunning(launch?: DaemonLaunch): Promise<void> {
  if (await engineAnswers()) return;
  if (!findDockerd()) launchEngine(launch ?? DEFAULT_LAUNCH);
  if ((await waitForEngine(120_000)) < 0) {
    // One more try: a daemon that died at start-up (e.g. a stale pid file) gets a second start.
    if (!findDockerd()) launchEngine(launch ?? DEFAULT_LAUNCH);
    if ((await waitForEngine(120_000)) < 0) {
      let tail = '';
      try {
        tail = fs.readFileSync(ENGINE_LOG, 'utf8').split('\n').slice(-30).join('\n');
      } catch {
        /* no log */
      }
      throw new Error(`the Docker engine does not answer after a restart; log tail:\n${tail}`);
    }
  }
}

let hookArmed = false;
/** If this process exits while the engine is down, start it synchronously on the way out. */
function armExitHook(launch: DaemonLaunch): void {
  if (hookArmed) return;
  hookArmed = true;
  process.once('exit', () => {
    try {
      if (!findDockerd()) launchEngine(launch);
    } catch {
      /* nothing more can be done from an exit hook */
    }
  });
}
