/**
 * Keystroke round trip through the serial console (issue 15): one byte typed → its echo back, at
 * the client, through novadock's websocket (subprotocol binary) versus `docker exec -it` on the
 * same container. One neutral client drives both, bench/console_keys.py (python3): the docker CLI
 * through a pseudo-terminal, as a user's terminal drives it, and the console URL through Debian's
 * python3-websocket; the same loop on both sides (write one byte, wait for it to come back, next
 * byte; a Ctrl-U every 40 bytes keeps the line short) into the same busybox shell (ash). A first
 * round per side is not counted (novadock's code is compiled on first use: a long-running
 * server's is); then rounds alternate the order of the two sides, and each side's figure is the
 * median of the rounds' medians. The machine's load average is printed with the figures (on a
 * busy machine the websocket side's figure varies far more than docker exec's).
 *
 *   bash bench/run.sh console [--rounds 5] [--keys 100]
 *
 * Target (issue 15): websocket p50 ≤ 1.5 × docker exec -it p50.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, benchImage, boot, docker, main, median, now, numArg, percentile, report, ROOT, startBenchServer, uploadImage, waitStatus } from './lib';

/** bench/console_keys.py: the same keystroke loop over either transport; resolves to the round trips (ms). */
const DRIVER = path.join(ROOT, 'bench', 'console_keys.py');
/** Debian's python3, which has python3-websocket (a python3 earlier on PATH, e.g. pyenv's, may not). */
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function keysRound(mode: 'exec' | 'ws', target: string, keys: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [DRIVER, mode, target, String(keys)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`console_keys.py ${mode}: ${err.message} ${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as number[]);
    });
  });
}

main(async (cleanups) => {
  const rounds = numArg('rounds', 5);
  const keys = numArg('keys', 100);
  const image = benchImage('bench-sleep', ['/bin/sleep', '1000000']);
  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-console', image.path);
  const id = await boot(a, 'console', imageRef, 'none');
  await waitStatus(a, id, 'ACTIVE', now());
  const list = await docker.listContainers({ filters: { label: [`novadock.server_id=${id}`] } });
  if (!list[0]) throw new Error(`no container for server ${id}`);
  const container = list[0].Id;

  const consoleUrl = async () => {
    const r = await a.req<{ remote_console: { url: string } }>('POST', `/compute/v2.1/servers/${id}/remote-consoles`,
      { remote_console: { protocol: 'serial', type: 'serial' } }, { 'OpenStack-API-Version': 'compute 2.6' });
    if (r.status !== 200) throw new Error(`remote-consoles: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.remote_console.url;
  };

  // Warm-up, not counted.
  await keysRound('ws', await consoleUrl(), keys);
  await keysRound('exec', container, keys);

  const viaWs: number[] = [];
  const viaExec: number[] = [];
  const all = { ws: [] as number[], exec: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const sides = [
      async () => { const l = (await keysRound('ws', await consoleUrl(), keys)).slice(5); all.ws.push(...l); viaWs.push(median(l)); },
      async () => { const l = (await keysRound('exec', container, keys)).slice(5); all.exec.push(...l); viaExec.push(median(l)); },
    ];
    if (r % 2 === 1) sides.reverse();
    for (const side of sides) await side();
  }

  const p50Ws = median(viaWs);
  const p50Exec = median(viaExec);
  const ratio = p50Ws / p50Exec;
  report('console', [
    { name: 'keystroke round trip, websocket p50', value: p50Ws, unit: 'ms' },
    { name: 'keystroke round trip, docker exec -it p50', value: p50Exec, unit: 'ms' },
    { name: 'websocket / docker exec -it (p50)', value: ratio, unit: 'x', target: '<= 1.5', met: ratio <= 1.5 },
    { name: 'keystroke round trip, websocket p95', value: percentile(all.ws, 95), unit: 'ms' },
    { name: 'keystroke round trip, docker exec -it p95', value: percentile(all.exec, 95), unit: 'ms' },
  ], [
    `${rounds} rounds of ${keys} keystrokes per side (first 5 of each round not counted), alternating which side goes first; p50 = median of the rounds' medians.`,
    'One byte typed, wait for its echo, next byte; the same busybox sh on the same container; one python3 client for both (docker exec -it through a pty, the console through python3-websocket); one warm-up round per side not counted.',
    `Load average at the end (1, 5, 15 min): ${os.loadavg().map((l) => l.toFixed(2)).join(', ')} on ${os.cpus().length} CPUs.`,
  ]);
});
