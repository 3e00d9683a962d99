/**
 * Several processes over PostgreSQL (issue 16): two novadock processes on one PostgreSQL database
 * (a throwaway cluster bench/run.sh starts), with N real servers booted through them.
 *
 *   bash bench/run.sh scale [--servers 1000] [--requests 200] [--seconds 15] [--connections 8] [--rounds 3]
 *
 *  1. GET /servers/detail p50 on PostgreSQL: sequential requests to one process (target <= 30 ms),
 *     with `curl` as the client (a neutral one, as for every other list figure of this bench).
 *  2. Lists per second under saturation: `wrk` (Debian's) with `--connections` connections for
 *     `--seconds` against one process directly, then against nginx (Debian's) balancing both
 *     processes with deploy/nginx-novadock.conf; `--rounds` alternations, the median of the
 *     per-round ratios (target >= 1.3 on this 2-core machine, where the database, the balancer
 *     and the load generator share the cores with the processes).
 *  3. Where the time goes: CPU seconds per second of wall time of each novadock process, of
 *     PostgreSQL's processes, of nginx, of wrk, of the Docker engine (dockerd, containerd and the
 *     shims of the N containers) and of everything else (the kernel, curl), from /proc, per phase.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { cpuSecondsOf, freePort, machineCpu, main, median, numArg, percentile, report, ROOT, sleepersCloud } from './lib';

const execFileP = promisify(execFile);

/** utime + stime of a process, in seconds (0 once it is gone). */
function cpuOf(pid: number): number {
  try {
    return cpuSecondsOf(pid);
  } catch {
    return 0;
  }
}

/** Pids whose command line matches `re`. */
function pidsOf(re: RegExp): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return re.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      return false;
    }
  });
}

interface Accounts { [who: string]: () => number }

/** CPU seconds per wall second of each account (and of the rest of the machine) while `fn` runs. */
async function cpuDuring<T>(accounts: Accounts, fn: () => Promise<T>): Promise<{ result: T; cores: Record<string, number> }> {
  const before = Object.fromEntries(Object.entries(accounts).map(([k, f]) => [k, f()]));
  const m0 = machineCpu().busy;
  const t0 = Date.now();
  const result = await fn();
  const wall = (Date.now() - t0) / 1000;
  const cores: Record<string, number> = {};
  let accounted = 0;
  for (const [k, f] of Object.entries(accounts)) {
    const used = f() - before[k];
    accounted += used;
    cores[k] = used / wall;
  }
  cores.other = Math.max(0, machineCpu().busy - m0 - accounted) / wall;
  return { result, cores };
}

/**
 * Requests per second `wrk` sustains on `url` (non-2xx answers fail the bench), and the CPU
 * seconds wrk itself used (the shell's `times` after it: its children's user and system time).
 */
async function wrk(url: string, token: string, seconds: number, connections: number): Promise<{ rate: number; cpu: number }> {
  const { stdout } = await execFileP('bash', ['-c', 'wrk -t 2 -c "$1" -d "$2s" -H "X-Auth-Token: $3" "$4"; times', 'wrk', String(connections), String(seconds), token, url], { maxBuffer: 1 << 20 });
  if (/Non-2xx or 3xx responses/.test(stdout)) throw new Error(`wrk saw errors:\n${stdout}`);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no rate:\n${stdout}`);
  // `times` prints two lines (the shell's own, then its children's): "0m1.234s 0m0.567s".
  const t = stdout.trim().split('\n').slice(-1)[0].match(/(\d+)m([\d.]+)s/g) ?? [];
  const cpu = t.map((x) => {
    const [, min, sec] = /(\d+)m([\d.]+)s/.exec(x)!;
    return Number(min) * 60 + Number(sec);
  }).reduce((a, b) => a + b, 0);
  return { rate: Number(m[1]), cpu };
}

/** nginx from Debian in the foreground with the project's balancer config, upstreams rewritten. */
async function startNginx(ports: number[]): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-bench-nginx-'));
  const port = await freePort();
  const site = fs.readFileSync(path.join(ROOT, 'deploy', 'nginx-novadock.conf'), 'utf8')
    .replace(/server novadock-1:8080/, `server 127.0.0.1:${ports[0]}`)
    .replace(/server novadock-2:8080/, `server 127.0.0.1:${ports[1]}`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`);
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), `daemon off;\nworker_processes 1;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log;\n`
    + `events { worker_connections 1024; }\nhttp {\n  access_log off;\n  client_body_temp_path ${prefix};\n  proxy_temp_path ${prefix};\n${site}\n}\n`);
  const child = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthcheck`)).status === 200) break;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid ?? -1,
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** One `curl` request's total time in ms (the neutral client of the p50 figure). */
async function curlMs(url: string, token: string): Promise<number> {
  const { stdout } = await execFileP('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', `X-Auth-Token: ${token}`, url]);
  const [code, secs] = stdout.trim().split(' ');
  if (code !== '200') throw new Error(`${url}: HTTP ${code}`);
  return Number(secs) * 1000;
}

main(async (cleanups) => {
  if (!process.env.NOVADOCK_TEST_PG_URL) throw new Error('NOVADOCK_TEST_PG_URL is not set: run this through `bash bench/run.sh scale`, which starts a PostgreSQL');
  const wanted = numArg('servers', 1000);
  const requests = numArg('requests', 200);
  const seconds = numArg('seconds', 15);
  const connections = numArg('connections', 8);
  const rounds = numArg('rounds', 3);
  const { srv, a, ids, stoppedEarly } = await sleepersCloud(cleanups, wanted, { processes: 2 });

  const [p1, p2] = srv.processes;
  const nginx = await startNginx([p1.port, p2.port]);
  cleanups.push(() => nginx.stop());
  const pgPids = () => pidsOf(/^postgres[: ]|\/postgres /);
  const accounts: Accounts = {
    'novadock-1': () => cpuOf(p1.pid()),
    'novadock-2': () => cpuOf(p2.pid()),
    postgresql: () => pgPids().reduce((s, pid) => s + cpuOf(pid), 0),
    nginx: () => pidsOf(/^nginx/).reduce((s, pid) => s + cpuOf(pid), 0),
    'docker engine': () => pidsOf(/^(\/usr\/s?bin\/)?(dockerd|containerd)( |$)|containerd-shim/).reduce((s, pid) => s + cpuOf(pid), 0),
  };
  const detail = '/compute/v2.1/servers/detail';

  // 1. p50 on PostgreSQL, one process, sequential.
  await curlMs(`${p1.url}${detail}`, a.token); // warm
  const seq = await cpuDuring(accounts, async () => {
    const out: number[] = [];
    for (let i = 0; i < requests; i++) out.push(await curlMs(`${p1.url}${detail}`, a.token));
    return out;
  });

  // 2. Saturation: one process vs both behind nginx, alternating rounds.
  const ratios: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  let cpuOne: Record<string, number> = {};
  let cpuTwo: Record<string, number> = {};
  await wrk(`${nginx.url}${detail}`, a.token, 3, connections); // warm both processes
  /** One saturation run, with wrk's own CPU moved out of `other` into its own account. */
  const saturate = async (url: string) => {
    const r = await cpuDuring(accounts, () => wrk(`${url}${detail}`, a.token, seconds, connections));
    const wrkCores = r.result.cpu / seconds;
    return { rate: r.result.rate, cores: { ...r.cores, wrk: wrkCores, other: Math.max(0, r.cores.other - wrkCores) } };
  };
  for (let r = 0; r < rounds; r++) {
    const x = await saturate(p1.url);
    const y = await saturate(nginx.url);
    one.push(x.rate);
    two.push(y.rate);
    ratios.push(y.rate / x.rate);
    cpuOne = x.cores;
    cpuTwo = y.cores;
    process.stderr.write(`round ${r + 1}: one process ${x.rate.toFixed(1)}/s, two behind nginx ${y.rate.toFixed(1)}/s (x${(y.rate / x.rate).toFixed(2)})\n`);
  }

  const fmt = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  const p50 = median(seq.result);
  const ratio = median(ratios);
  report('scale', [
    { name: 'servers', value: ids.length, unit: '' },
    { name: 'GET /servers/detail p50 (PostgreSQL, one process, curl)', value: p50, unit: 'ms', target: '<= 30', met: p50 <= 30 },
    { name: 'GET /servers/detail p95 (PostgreSQL, one process, curl)', value: percentile(seq.result, 95), unit: 'ms' },
    { name: 'lists/s, one process (wrk, median of rounds)', value: median(one), unit: '/s' },
    { name: 'lists/s, two processes behind nginx (wrk, median of rounds)', value: median(two), unit: '/s' },
    { name: 'two / one (median of per-round ratios)', value: ratio, unit: 'x', target: '>= 1.3', met: ratio >= 1.3 },
  ], [
    `${os.cpus().length} cores. ${requests} sequential curl requests after one warm-up; wrk -t2 -c${connections} -d${seconds}s, ${rounds} rounds, one process then both.`,
    `cores busy, sequential p50 phase: ${fmt(seq.cores)}`,
    `cores busy, one process saturated (last round): ${fmt(cpuOne)}`,
    `cores busy, two processes saturated (last round): ${fmt(cpuTwo)}`,
    ...(stoppedEarly ? [stoppedEarly] : []),
  ]);
});
