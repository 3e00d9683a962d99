/**
 * Whether password guessing stalls everyone else: an authenticated GET /compute/v2.1/servers p50
 * while the cloud is quiet, and while 8 clients send wrong passwords as fast as they are answered.
 *
 *   bash bench/run.sh login-spam [--seconds 10] [--spammers 8]
 *
 * The measured side is a neutral client: one curl process sending the GETs one after another on
 * a kept-alive connection (`-w %{time_total}`), so the figure is not bent by the event loop of the
 * bench's own Node process, which drives the spammers. Each spammer has an address of its own
 * (127.0.0.2, .3, …: all of 127/8 is loopback), as eight guessing clients would, and guesses the
 * password of an existing user (`demo`): the dearest case (a user read, a hash, a counter write).
 *
 * Three servers, one after the other:
 *  - as configured by default (per-address failure limit and lockout on), measured once every
 *    spammer has been limited (the steady state of a spam that goes on): guesses are answered 429
 *    before any hashing, as fast as the spammers send them;
 *  - with the per-address limit and the lockout off: every guess is hashed, which shows that the
 *    hashing itself (threads of its own, off the event loop and off libuv's pool) leaves the other
 *    requests alone;
 *  - the same with four hashing threads, as wide as libuv's pool that async scrypt used before.
 * Target (issue 18): spam p50 / quiet p50 <= 2.
 */
import http from 'node:http';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { main, median, numArg, percentile, report, startBenchServer, StartedServer } from './lib';

interface Spam {
  stop(): Promise<void>;
  /** Answers by status. */
  counts: Record<string, number>;
  /** The spammers that have been answered 429 at least once. */
  limited: Set<number>;
  answered(): number;
}

/** `n` clients, each from its own loopback address, posting wrong passwords back to back. */
function spam(srv: StartedServer, n: number): Spam {
  const counts: Record<string, number> = {};
  const limited = new Set<number>();
  let stopping = false;
  const body = JSON.stringify({
    auth: {
      identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'wrong-guess' } } },
      scope: { project: { name: 'demo', domain: { name: 'Default' } } },
    },
  });
  const once = (agent: http.Agent, i: number, localAddress: string) => new Promise<void>((resolve) => {
    const req = http.request(`${srv.url}/identity/v3/auth/tokens`, {
      method: 'POST', agent, localAddress, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      counts[res.statusCode ?? 0] = (counts[res.statusCode ?? 0] ?? 0) + 1;
      if (res.statusCode === 429) limited.add(i);
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => {
      counts.error = (counts.error ?? 0) + 1;
      resolve();
    });
    req.end(body);
  });
  const loops = Array.from({ length: n }, async (_, i) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (!stopping) await once(agent, i, `127.0.0.${i + 2}`);
    agent.destroy();
  });
  return {
    counts, limited,
    answered: () => Object.values(counts).reduce((a, b) => a + b, 0),
    stop: async () => { stopping = true; await Promise.all(loops); },
  };
}

/**
 * `requests` GET /servers from one curl process, sequentially; the times in ms. Asynchronous: the
 * spammers live in this process's event loop and must keep guessing meanwhile.
 */
async function curlTimes(srv: StartedServer, token: string, requests: number): Promise<number[]> {
  const url = `${srv.url}/compute/v2.1/servers`;
  const config = [`header = "X-Auth-Token: ${token}"`, 'silent', 'write-out = "%{http_code} %{time_total}\\n"']
    .concat(Array.from({ length: requests }, () => `url = "${url}"\noutput = "/dev/null"`)).join('\n');
  const curl = spawn('curl', ['-K', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  curl.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  curl.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  curl.stdin.end(config);
  const code = await new Promise<number | null>((resolve, reject) => { curl.on('error', reject); curl.on('close', resolve); });
  if (code !== 0) throw new Error(`curl failed (${code}): ${stderr}`);
  const lines = stdout.trim().split('\n');
  const bad = lines.filter((l) => !l.startsWith('200 '));
  if (bad.length > 0 || lines.length !== requests) throw new Error(`GET /servers: ${lines.length} answers, not all 200: ${bad.slice(0, 3).join('; ')}`);
  return lines.map((l) => Number(l.split(' ')[1]) * 1000);
}

/** GETs in batches of 200 until `seconds` have passed. */
async function phase(srv: StartedServer, token: string, seconds: number): Promise<number[]> {
  const out: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) out.push(...(await curlTimes(srv, token, 200)));
  return out;
}

/** Quiet (before and after, against drift) and under spam, on one server; the spam's answers by status. */
async function measure(srv: StartedServer, seconds: number, spammers: number, ready: (s: Spam) => boolean) {
  const { token } = await srv.login('admin');
  await curlTimes(srv, token, 20); // warm
  const quiet = await phase(srv, token, seconds / 2);
  const s = spam(srv, spammers);
  // Steady state first (the variant says when).
  const waitFrom = Date.now();
  while (!ready(s)) {
    if (Date.now() - waitFrom > 300_000) throw new Error(`no steady state after 300 s: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const started = s.answered();
  const t = Date.now();
  const busy = await phase(srv, token, seconds);
  const elapsed = (Date.now() - t) / 1000;
  // Counted before stopping: the guesses in flight then are answered after the phase.
  const answered = s.answered() - started;
  await s.stop();
  quiet.push(...(await phase(srv, token, seconds / 2)));
  return { quiet, busy, counts: s.counts, guessesPerSecond: answered / elapsed };
}

main(async (cleanups) => {
  const seconds = numArg('seconds', 10);
  const spammers = numArg('spammers', 8);
  const answeredThrice = (s: Spam) => s.answered() >= spammers * 3;
  const off = { NOVADOCK_AUTH_FAILURE_LIMIT: '0', NOVADOCK_LOCKOUT_FAILURE_ATTEMPTS: '0' };
  const variants: { name: string; env: Record<string, string>; ready: (s: Spam) => boolean }[] = [
    // Measured once every spammer has been limited: the steady state of a spam that goes on.
    { name: 'defaults, all limited', env: {}, ready: (s) => s.limited.size === spammers },
    { name: 'no limit, no lockout', env: off, ready: answeredThrice },
    // For comparison, hashing as wide as libuv's pool (what async scrypt used before): four threads.
    { name: 'no limit, 4 threads', env: { ...off, NOVADOCK_PASSWORD_THREADS: '4' }, ready: answeredThrice },
  ];
  const figures = [];
  const notes: string[] = [];
  for (const v of variants) {
    const srv = await startBenchServer({ env: v.env });
    const cleanup = () => srv.cleanup();
    cleanups.push(cleanup);
    const m = await measure(srv, seconds, spammers, v.ready);
    cleanups.splice(cleanups.indexOf(cleanup), 1);
    await cleanup();
    const ratio = median(m.busy) / median(m.quiet);
    figures.push(
      { name: `${v.name}: quiet GET /servers p50`, value: median(m.quiet), unit: 'ms' },
      { name: `${v.name}: spam GET /servers p50`, value: median(m.busy), unit: 'ms' },
      { name: `${v.name}: spam GET /servers p95`, value: percentile(m.busy, 95), unit: 'ms' },
      { name: `${v.name}: spam p50 / quiet p50`, value: ratio, unit: 'x', target: '<= 2', met: ratio <= 2 },
      { name: `${v.name}: guesses answered`, value: m.guessesPerSecond, unit: '/s' },
    );
    notes.push(`${v.name}: guesses answered by status: ${JSON.stringify(m.counts)}`);
  }
  notes.push(`load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
  report('login-spam', figures, [`sequential GETs by curl for ${seconds} s under spam, ${seconds / 2} s quiet before and after; ${spammers} spammers from 127.0.0.2-${spammers + 1}.`, ...notes]);
});
