/**
 * Boot latency: POST /servers → ACTIVE against `docker run -d` of the same image with the same
 * limits (create + start through the engine API, which is what `docker run -d` does, minus the CLI
 * process' own start-up), in one run; then 50 boots at once against 50 `docker run -d` at once.
 *
 *   bash bench/run.sh boot [--repeats 20] [--concurrent 50]
 *
 * Both sides attach to a bridge network (novadock: the project network, `networks: auto`; Docker:
 * a network the bench makes) and get m1.tiny's limits. Targets (issue 3): p50 ratio <= 1.15;
 * concurrent wall ratio <= 1.3.
 *
 * When a server became ACTIVE is read from its `OS-SRV-USG:launched_at` (stamped, to the ms, in
 * the same write that makes it ACTIVE) against the wall clock just before the POST, with GET
 * polled every 100 ms. Polling every 10 ms instead, as a first version did, measurably slows
 * what it measures on a 2-core machine: the engine's own container start took ~35-50 ms longer
 * under it (CPU for the GETs, in the server and the client). The client-observed latency under
 * 10 ms polling is still reported, for comparison, without a target.
 */
import { api, Api, benchImage, boot, deleteServers, docker, dockerRun, main, median, ms, now, numArg, percentile, pool, removeBenchContainers, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';

/** OS-SRV-USG:launched_at of an ACTIVE server, as epoch ms (Nova renders it naive UTC, µs). */
async function launchedAt(a: Api, id: string): Promise<number> {
  const r = await a.req<{ server: { 'OS-SRV-USG:launched_at': string | null } }>('GET', `/compute/v2.1/servers/${id}`);
  const at = r.body.server['OS-SRV-USG:launched_at'];
  if (!at) throw new Error(`server ${id} is ACTIVE without launched_at`);
  return Date.parse(`${at.slice(0, 23)}Z`);
}

main(async (cleanups) => {
  const repeats = numArg('repeats', 20);
  const concurrent = numArg('concurrent', 50);
  const image = benchImage('bench-boot', ['/bin/sleep', '1000000']);

  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-boot', image.path);
  const net = await docker.createNetwork({ Name: `novadock-bench-${process.pid}`, Labels: { 'novadock.bench': '1' } });

  // One boot each to warm caches (image layers, the project network) before measuring. The warm
  // server stays until the end: an engine network goes with the last instance on it (as Neutron's
  // Linux bridge agent removes an empty bridge), and the docker side boots onto a network that
  // exists, so novadock's boots must too.
  const warm = await boot(a, 'warm', imageRef);
  await waitStatus(a, warm, 'ACTIVE', now());
  cleanups.push(() => deleteServers(a, [warm]));
  await (await dockerRun(image.imageId, { network: net.id })).remove({ force: true });

  const novaLat: number[] = [];
  const dockerLat: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = now();
    const c = await dockerRun(image.imageId, { network: net.id });
    dockerLat.push(ms(t));
    await c.remove({ force: true });

    const posted = Date.now();
    const id = await boot(a, `lat-${i}`, imageRef);
    await waitStatus(a, id, 'ACTIVE', now(), 100);
    novaLat.push((await launchedAt(a, id)) - posted);
    await deleteServers(a, [id]);
    await sleep(100);
  }
  process.stderr.write(`sequential: docker p50 ${median(dockerLat).toFixed(0)} ms, novadock p50 ${median(novaLat).toFixed(0)} ms\n`);

  // The same boots as a client polling every 10 ms sees them (observer effect included).
  const observedLat: number[] = [];
  for (let i = 0; i < Math.ceil(repeats / 2); i++) {
    const t = now();
    const id = await boot(a, `obs-${i}`, imageRef);
    observedLat.push(await waitStatus(a, id, 'ACTIVE', t, 10));
    await deleteServers(a, [id]);
    await sleep(100);
  }

  // Concurrent: all at once, wall time until the last is running / ACTIVE.
  let t = now();
  const ctrs = await Promise.all(Array.from({ length: concurrent }, () => dockerRun(image.imageId, { network: net.id })));
  const dockerWall = ms(t);
  await pool(ctrs, 8, (c) => c.remove({ force: true }));
  await sleep(1000);

  t = now();
  const ids = await Promise.all(Array.from({ length: concurrent }, (_, i) => boot(a, `con-${i}`, imageRef)));
  const pending = new Set(ids);
  const deadline = Date.now() + 300_000;
  while (pending.size > 0) {
    const r = await a.req<{ servers: { id: string; status: string; 'OS-EXT-STS:task_state': string | null; fault?: { message: string } }[] }>('GET', '/compute/v2.1/servers/detail');
    for (const s of r.body.servers) {
      if (!pending.has(s.id)) continue;
      if (s.status === 'ERROR') throw new Error(`server ${s.id} went to ERROR: ${s.fault?.message}`);
      if (s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null) pending.delete(s.id);
    }
    if (Date.now() > deadline) throw new Error(`${pending.size} servers not ACTIVE after 300 s`);
    if (pending.size > 0) await sleep(25);
  }
  const novaWall = ms(t);
  await deleteServers(a, ids);
  await removeBenchContainers();

  const p50Ratio = median(novaLat) / median(dockerLat);
  const wallRatio = novaWall / dockerWall;
  report('boot', [
    { name: 'docker run -d p50', value: median(dockerLat), unit: 'ms' },
    { name: 'novadock POST → ACTIVE p50', value: median(novaLat), unit: 'ms' },
    { name: 'novadock POST → ACTIVE p95', value: percentile(novaLat, 95), unit: 'ms' },
    { name: 'boot latency ratio (p50)', value: p50Ratio, unit: '×', target: '<= 1.15', met: p50Ratio <= 1.15 },
    { name: 'POST → ACTIVE seen polling every 10 ms, p50', value: median(observedLat), unit: 'ms' },
    { name: 'same, ratio to docker run -d p50', value: median(observedLat) / median(dockerLat), unit: '×' },
    { name: `${concurrent} concurrent docker run -d, wall`, value: dockerWall, unit: 'ms' },
    { name: `${concurrent} concurrent boots → all ACTIVE, wall`, value: novaWall, unit: 'ms' },
    { name: 'concurrent wall ratio', value: wallRatio, unit: '×', target: '<= 1.3', met: wallRatio <= 1.3 },
  ], [
    `${repeats} sequential boots each side, alternating; ACTIVE = OS-SRV-USG:launched_at (GET polled every 100 ms).`,
    'Both sides boot onto a network that exists (novadock: a warm server keeps the project network).',
    `Then ${Math.ceil(repeats / 2)} boots timed by a client polling GET /servers/{id} every 10 ms; concurrent: one GET /servers/detail every 25 ms.`,
  ]);
});
