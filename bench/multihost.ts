/**
 * Many hosts: 40 concurrent boots spread by novadock's scheduler over two real engines (each in a
 * network namespace of its own, joined in a swarm: scripts/engines.sh), against the same 40
 * containers created and started directly on the two engines (20 each) with the same limits, on
 * an attachable overlay network as novadock's project network is, in one run. Target (issue 13):
 * wall time ratio <= 1.3. Rounds alternate sides; the ratio is the median of the rounds' ratios.
 *
 *   bash bench/run.sh multihost [--concurrent 40] [--rounds 3]
 *
 * bench/run.sh starts the engines (`engines.sh up 2 --swarm`) and removes them afterwards; their
 * compute_hosts come in NOVADOCK_BENCH_ENGINES.
 */
import Docker from 'dockerode';
import { api, Api, benchImage, boot, deleteServers, main, median, ms, now, numArg, pool, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';

interface Engine { name: string; docker_host: string }

function engineClient(e: Engine): Docker {
  return new Docker({ socketPath: e.docker_host.replace(/^unix:\/\//, '') });
}

/** Boots `n` servers at once (admin may not force a host here: the scheduler places them). */
async function bootAll(a: Api, imageRef: string, n: number, tag: string): Promise<{ wall: number; ids: string[]; hosts: Record<string, number> }> {
  const t = now();
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => boot(a, `${tag}-${i}`, imageRef)));
  const pending = new Set(ids);
  const deadline = Date.now() + 300_000;
  const hosts: Record<string, number> = {};
  while (pending.size > 0) {
    const r = await a.req<{ servers: { id: string; status: string; 'OS-EXT-STS:task_state': string | null; 'OS-EXT-SRV-ATTR:host': string; fault?: { message: string } }[] }>('GET', '/compute/v2.1/servers/detail');
    for (const s of r.body.servers) {
      if (!pending.has(s.id)) continue;
      if (s.status === 'ERROR') throw new Error(`server ${s.id} went to ERROR: ${s.fault?.message}`);
      if (s.status === 'ACTIVE' && s['OS-EXT-STS:task_state'] === null) {
        pending.delete(s.id);
        hosts[s['OS-EXT-SRV-ATTR:host']] = (hosts[s['OS-EXT-SRV-ATTR:host']] ?? 0) + 1;
      }
    }
    if (Date.now() > deadline) throw new Error(`${pending.size} servers not ACTIVE after 300 s`);
    if (pending.size > 0) await sleep(25);
  }
  return { wall: ms(t), ids, hosts };
}

/** `docker run -d` with m1.tiny's limits on the network, create + start: what the raw side does per container. */
async function runOn(d: Docker, image: string, network: string): Promise<Docker.Container> {
  const c = await d.createContainer({
    Image: image,
    Labels: { 'novadock.bench': '1' },
    HostConfig: { Memory: 512 * 1024 * 1024, MemorySwap: 512 * 1024 * 1024, NanoCpus: 1e9, PidsLimit: 1024, NetworkMode: network },
  });
  await c.start();
  return c;
}

main(async (cleanups) => {
  const concurrent = numArg('concurrent', 40);
  const rounds = numArg('rounds', 3);
  const engines = JSON.parse(process.env.NOVADOCK_BENCH_ENGINES ?? '[]') as Engine[];
  if (engines.length < 2) throw new Error('NOVADOCK_BENCH_ENGINES must list two engines (bash bench/run.sh multihost starts them)');
  const clients = engines.map(engineClient);
  const image = benchImage('bench-multihost', ['/bin/sleep', '1000000']);

  // Raw side: the image in both engines, one attachable overlay network made on the manager.
  const fs = await import('node:fs');
  for (const d of clients) await d.loadImage(fs.createReadStream(image.path)).then((s) => new Promise((r) => d.modem.followProgress(s, r)));
  const net = await clients[0].createNetwork({
    Name: `novadock-bench-overlay-${process.pid}`, Driver: 'overlay', Attachable: true, Internal: true,
    Labels: { 'novadock.bench': '1' }, IPAM: { Config: [{ Subnet: '192.168.250.0/24' }] },
  });
  cleanups.push(async () => {
    for (const d of clients) {
      const list = await d.listContainers({ all: true, filters: { label: ['novadock.bench=1'] } });
      await pool(list, 8, (c) => d.getContainer(c.Id).remove({ force: true }).catch(() => undefined));
    }
    await net.remove().catch(() => undefined);
  });

  const srv = await startBenchServer({ config: { compute_hosts: engines, quotas: { instances: 5000, cores: 10000, ram: 10_000_000 } } });
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-multihost', image.path);

  // Warm both sides: the image on each host, the project network on each host.
  const warm = await bootAll(a, imageRef, 2, 'warm');
  await deleteServers(a, warm.ids);
  for (const d of clients) await (await runOn(d, image.imageId, net.id)).remove({ force: true });

  const ratios: number[] = [];
  const dockerWalls: number[] = [];
  const novaWalls: number[] = [];
  let spread: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    const t = now();
    const ctrs = await Promise.all(Array.from({ length: concurrent }, (_, i) => runOn(clients[i % clients.length], image.imageId, net.id)));
    const dockerWall = ms(t);
    await pool(ctrs, 8, (c) => c.remove({ force: true }));
    await sleep(1000);

    const booted = await bootAll(a, imageRef, concurrent, `r${r}`);
    spread = booted.hosts;
    await deleteServers(a, booted.ids);
    await sleep(1000);
    dockerWalls.push(dockerWall);
    novaWalls.push(booted.wall);
    ratios.push(booted.wall / dockerWall);
    process.stderr.write(`round ${r + 1}: docker ${dockerWall.toFixed(0)} ms, novadock ${booted.wall.toFixed(0)} ms, ratio ${(booted.wall / dockerWall).toFixed(2)}, spread ${JSON.stringify(booted.hosts)}\n`);
  }
  const ratio = median(ratios);
  report('multihost', [
    { name: `${concurrent} containers created+started directly, ${concurrent / 2} per engine, wall (median)`, value: median(dockerWalls), unit: 'ms' },
    { name: `${concurrent} concurrent boots through novadock → all ACTIVE, wall (median)`, value: median(novaWalls), unit: 'ms' },
    { name: 'wall ratio (median of rounds)', value: ratio, unit: '×', target: '<= 1.3', met: ratio <= 1.3 },
  ], [
    `${rounds} rounds; per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}; last round's spread ${JSON.stringify(spread)}.`,
    'Both sides: m1.tiny limits (512 MiB, 1 CPU, 1024 pids), an attachable overlay network, the image already on both engines.',
  ]);
});
