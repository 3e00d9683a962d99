/**
 * Boot latency: POST /servers → ACTIVE against `docker run -d` of the same image with the same
 * limits (create + start through the engine API, which is what `docker run -d` does, minus the CLI
 * process' own start-up), in one run; then 50 boots at once against 50 `docker run -d` at once.
 *
 *   bash bench/run.sh boot [--repeats 20] [--concurrent 50]
 *
 * Both sides attach to a bridge network (novadock: the project network, `networks: auto`; Docker:
 * a network the bench makes) and get m1.tiny's limits. Latency is polled every 10 ms on GET
 * /servers/{id}. Targets (issue 3): p50 ratio <= 1.15; concurrent wall ratio <= 1.3.
 */
import { api, benchImage, boot, deleteServers, docker, dockerRun, main, median, ms, now, numArg, percentile, pool, removeBenchContainers, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';

main(async (cleanups) => {
  const repeats = numArg('repeats', 20);
  const concurrent = numArg('concurrent', 50);
  const image = benchImage('bench-boot', ['/bin/sleep', '1000000']);

  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-boot', image.path);
  const net = await docker.createNetwork({ Name: `novadock-bench-${process.pid}`, Labels: { 'novadock.bench': '1' } });

  // One boot each to warm caches (image layers, the project network) before measuring.
  const warm = await boot(a, 'warm', imageRef);
  await waitStatus(a, warm, 'ACTIVE', now());
  await deleteServers(a, [warm]);
  await (await dockerRun(image.imageId, { network: net.id })).remove({ force: true });

  const novaLat: number[] = [];
  const dockerLat: number[] = [];
  for (let i = 0; i < repeats; i++) {
    let t = now();
    const c = await dockerRun(image.imageId, { network: net.id });
    dockerLat.push(ms(t));
    await c.remove({ force: true });

    t = now();
    const id = await boot(a, `lat-${i}`, imageRef);
    novaLat.push(await waitStatus(a, id, 'ACTIVE', t));
    await deleteServers(a, [id]);
    await sleep(100);
  }
  process.stderr.write(`sequential: docker p50 ${median(dockerLat).toFixed(0)} ms, novadock p50 ${median(novaLat).toFixed(0)} ms\n`);

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
    { name: `${concurrent} concurrent docker run -d, wall`, value: dockerWall, unit: 'ms' },
    { name: `${concurrent} concurrent boots → all ACTIVE, wall`, value: novaWall, unit: 'ms' },
    { name: 'concurrent wall ratio', value: wallRatio, unit: '×', target: '<= 1.3', met: wallRatio <= 1.3 },
  ], [`${repeats} sequential boots each side, alternating; ACTIVE polled every 10 ms (sequential) / 25 ms (concurrent, one GET /servers/detail).`]);
});
