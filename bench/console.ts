/**
 * Keystroke round trip through the serial console (issue 15): one byte typed → its echo back, at
 * the client, through novadock's websocket (`ws`, subprotocol binary) versus `docker exec -it` on
 * the same container (the docker CLI driven through a pseudo-terminal by python3's pty module,
 * as a user's terminal would drive it). Both sides type into the same busybox shell (ash) with
 * the same measurement: write one byte, wait for it to come back, next byte; a Ctrl-U every 40
 * bytes keeps the line short. Rounds alternate the order of the two sides; each side's figure is
 * the median of the rounds' medians.
 *
 *   bash bench/run.sh console [--rounds 5] [--keys 100]
 *
 * Target (issue 15): websocket p50 ≤ 1.5 × docker exec -it p50.
 */
import { execFile } from 'node:child_process';
import WebSocket from 'ws';
import { api, benchImage, boot, docker, main, median, now, ms, numArg, percentile, report, startBenchServer, uploadImage, waitStatus } from './lib';

/** docker exec -it under a pty: prints the per-keystroke round trips (ms) as JSON. */
const PTY_DRIVER = String.raw`
import os, pty, sys, time, select, json
container, n = sys.argv[1], int(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp('docker', ['docker', 'exec', '-it', container, '/bin/sh'])
def read_until(pred, timeout=20.0):
    buf = b''
    end = time.monotonic() + timeout
    while not pred(buf):
        r, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        if not r:
            sys.exit('no answer from docker exec: ' + repr(buf[-200:]))
        buf += os.read(fd, 4096)
    return buf
def drain(quiet=0.05):
    while select.select([fd], [], [], quiet)[0]:
        os.read(fd, 4096)
read_until(lambda b: b'# ' in b)
drain(0.2)
keys = b'abcdefghij'
lat = []
for i in range(n):
    ch = keys[i % len(keys):i % len(keys) + 1]
    t0 = time.perf_counter()
    os.write(fd, ch)
    read_until(lambda b: ch in b)
    lat.append((time.perf_counter() - t0) * 1000.0)
    if i % 40 == 39:
        os.write(fd, b'\x15')
        drain()
os.write(fd, b'\x15exit\n')
try:
    read_until(lambda b: False, 5)
except (SystemExit, OSError):
    pass
os.waitpid(pid, 0)
print(json.dumps(lat))
`;

function dockerExecRound(container: string, keys: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', PTY_DRIVER, container, String(keys)], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`docker exec -it driver: ${err.message} ${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as number[]);
    });
  });
}

/** One websocket session: the same keystrokes, the same wait for each echo. */
async function websocketRound(url: string, keys: number): Promise<number[]> {
  const ws = new WebSocket(url, ['binary']);
  let buf = '';
  let waiter: (() => void) | undefined;
  let want: (s: string) => boolean = () => false;
  ws.on('message', (d: Buffer) => {
    buf += d.toString('latin1');
    if (waiter && want(buf)) {
      const w = waiter;
      waiter = undefined;
      w();
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_q, res) => reject(new Error(`console refused: ${res.statusCode}`)));
  });
  const until = (pred: (s: string) => boolean) => new Promise<void>((resolve, reject) => {
    if (pred(buf)) return resolve();
    want = pred;
    const timer = setTimeout(() => reject(new Error(`no echo: ${JSON.stringify(buf.slice(-200))}`)), 20_000);
    waiter = () => { clearTimeout(timer); resolve(); };
  });
  const drain = (quietMs: number) => new Promise<void>((resolve) => {
    let last = buf.length;
    const tick = () => {
      if (buf.length === last) return resolve();
      last = buf.length;
      setTimeout(tick, quietMs);
    };
    setTimeout(tick, quietMs);
  });
  await until((s) => s.includes('# '));
  await drain(200);
  const chars = 'abcdefghij';
  const lat: number[] = [];
  for (let i = 0; i < keys; i++) {
    const ch = chars[i % chars.length];
    buf = '';
    const t = now();
    ws.send(Buffer.from(ch));
    await until((s) => s.includes(ch));
    lat.push(ms(t));
    if (i % 40 === 39) {
      ws.send(Buffer.from('\x15'));
      await drain(50);
    }
  }
  ws.close();
  await new Promise((r) => ws.once('close', r));
  return lat;
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

  const viaWs: number[] = [];
  const viaExec: number[] = [];
  const all = { ws: [] as number[], exec: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const sides = [
      async () => { const l = (await websocketRound(await consoleUrl(), keys)).slice(5); all.ws.push(...l); viaWs.push(median(l)); },
      async () => { const l = (await dockerExecRound(container, keys)).slice(5); all.exec.push(...l); viaExec.push(median(l)); },
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
    'One byte typed, wait for its echo, next byte; the same busybox sh on the same container; docker exec -it driven through a pty (python3 pty).',
  ]);
});
