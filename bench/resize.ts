/**
 * Live resize latency (issue 15): POST resize → VERIFY_RESIZE on the server's own host against the
 * engine's own update call (`docker update --memory … --memory-swap … --cpus …`, through the
 * engine API as the driver makes it) on a comparable container, plus one API round trip.
 *
 *   bash bench/run.sh resize [--repeats 30]
 *
 * One m1.tiny server, resized m1.tiny ⇄ m1.small and confirmed each time (each resize is live:
 * the container is updated in place, never restarted — its PID is checked to stay the same).
 * When it reached VERIFY_RESIZE is read from its migration's `updated_at` in os-migrations (stamped,
 * to the ms, by the same transaction that makes it VERIFY_RESIZE), against the wall clock just
 * before the POST, with GET polled every 100 ms (see boot.ts for why not faster). The
 * client-observed latency polling every 10 ms is also reported, without a target.
 * Each round pairs one resize with one engine update and round trip, which of the two goes first
 * alternating between rounds (on a shared machine, whatever runs second inherits what the first
 * left behind); p50s over 30 rounds by default. The median of the rounds' own ratios (each against
 * its own round's engine update) is reported beside the target figure, not instead of it.
 * Target (issue 15): p50 resize → VERIFY_RESIZE <= 1.2 × (p50 engine update + p50 API round trip).
 *
 * The API round trip is GET /servers/{id} (token check, one read, a view), the same client as
 * the resizes. Also reported, not used for the target: the round trip of the resize request
 * itself refused before any work (to the flavor the server has: 400 after the same token check,
 * body validation and reads) — the closest like-for-like request there is.
 */
import { api, Api, benchImage, boot, deleteServers, docker, dockerRun, main, median, ms, now, numArg, percentile, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';

const MB = 1024 * 1024;
const FLAVORS = [{ ref: '1', ram: 512, vcpus: 1 }, { ref: '2', ram: 2048, vcpus: 1 }];

/** updated_at of the server's newest migration once `finished`, as epoch ms (naive UTC, µs). */
async function finishedAt(a: Api, id: string): Promise<number> {
  const r = await a.req<{ migrations: { instance_uuid: string; status: string; updated_at: string | null; id: number }[] }>(
    'GET', `/compute/v2.1/os-migrations?instance_uuid=${id}&migration_type=resize`, undefined, { 'X-OpenStack-Nova-API-Version': '2.23' });
  const m = r.body.migrations.filter((x) => x.instance_uuid === id).sort((x, y) => y.id - x.id)[0];
  if (!m || m.status !== 'finished' || !m.updated_at) throw new Error(`server ${id}: no finished resize (${JSON.stringify(m)})`);
  return Date.parse(`${m.updated_at.slice(0, 23)}Z`);
}

async function pidOf(id: string): Promise<number> {
  return (await docker.getContainer(`novadock-${id}`).inspect()).State.Pid;
}

async function resize(a: Api, id: string, flavorRef: string): Promise<void> {
  const r = await a.req('POST', `/compute/v2.1/servers/${id}/action`, { resize: { flavorRef } });
  if (r.status !== 202) throw new Error(`resize: ${r.status} ${JSON.stringify(r.body)}`);
}

/** A resize to the flavor the server has: refused (400) after the request's own checks, nothing claimed. */
async function refusedResize(a: Api, id: string, flavorRef: string): Promise<void> {
  const r = await a.req('POST', `/compute/v2.1/servers/${id}/action`, { resize: { flavorRef } });
  if (r.status !== 400) throw new Error(`refused resize: ${r.status} ${JSON.stringify(r.body)}`);
}

async function confirm(a: Api, id: string): Promise<void> {
  const r = await a.req('POST', `/compute/v2.1/servers/${id}/action`, { confirmResize: null });
  if (r.status !== 204) throw new Error(`confirm: ${r.status} ${JSON.stringify(r.body)}`);
  await waitStatus(a, id, 'ACTIVE', now(), 50);
}

main(async (cleanups) => {
  const repeats = numArg('repeats', 30);
  const image = benchImage('bench-resize', ['/bin/sleep', '1000000']);
  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-resize', image.path);
  const id = await boot(a, 'resize', imageRef, 'none');
  await waitStatus(a, id, 'ACTIVE', now(), 100);
  cleanups.push(() => deleteServers(a, [id]));
  const pid = await pidOf(id);
  const ctr = await dockerRun(image.imageId);

  // Warm both sides once.
  await resize(a, id, '2');
  await waitStatus(a, id, 'VERIFY_RESIZE', now(), 100);
  await confirm(a, id);
  await ctr.update({ Memory: 2048 * MB, MemorySwap: 2048 * MB, NanoCpus: 1e9 });
  let current = 1;

  const novaLat: number[] = [];
  const observedLat: number[] = [];
  const engineLat: number[] = [];
  const rtt: number[] = [];
  const refusedRtt: number[] = [];
  const pairRatio: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const f = FLAVORS[(current + 1) % 2];
    // The engine's side: the same update on the comparable container, then the round trips.
    const baseline = async (has: string) => {
      const t = now();
      await ctr.update({ Memory: f.ram * MB, MemorySwap: f.ram * MB, NanoCpus: f.vcpus * 1e9 });
      const e = ms(t);
      const r0 = now();
      await a.req('GET', `/compute/v2.1/servers/${id}`);
      const r = ms(r0);
      const q0 = now();
      await refusedResize(a, id, has);
      refusedRtt.push(ms(q0));
      engineLat.push(e);
      rtt.push(r);
      return e + r;
    };
    const resized = async () => {
      const posted = Date.now();
      await resize(a, id, f.ref);
      await waitStatus(a, id, 'VERIFY_RESIZE', now(), 100);
      const l = (await finishedAt(a, id)) - posted;
      novaLat.push(l);
      return l;
    };
    // Alternating which side goes first, so that neither always runs in the other's wake (the
    // refused resize asks for the flavor the server has then: a VERIFY_RESIZE server is confirmed first).
    let base: number;
    let nova: number;
    if (i % 2 === 0) {
      base = await baseline(FLAVORS[current].ref);
      nova = await resized();
      await confirm(a, id);
    } else {
      nova = await resized();
      await confirm(a, id);
      base = await baseline(f.ref);
    }
    pairRatio.push(nova / base);
    current = (current + 1) % 2;
    await sleep(100);

    // The same, as a client polling every 10 ms sees it (observer effect included), every other round.
    if (i % 2 === 0) {
      const g = FLAVORS[(current + 1) % 2];
      const o = now();
      await resize(a, id, g.ref);
      observedLat.push(await waitStatus(a, id, 'VERIFY_RESIZE', o, 10));
      await confirm(a, id);
      current = (current + 1) % 2;
      await sleep(100);
    }
  }
  if ((await pidOf(id)) !== pid) throw new Error('the server\'s process changed during the resizes: they were not live');
  await ctr.remove({ force: true });

  const base = median(engineLat) + median(rtt);
  const ratio = median(novaLat) / base;
  report('resize', [
    { name: 'engine update call p50 (docker update --memory --cpus)', value: median(engineLat), unit: 'ms' },
    { name: 'API round trip p50 (GET /servers/{id})', value: median(rtt), unit: 'ms' },
    { name: 'resize request refused before any work, round trip p50', value: median(refusedRtt), unit: 'ms' },
    { name: 'novadock resize → VERIFY_RESIZE p50', value: median(novaLat), unit: 'ms' },
    { name: 'novadock resize → VERIFY_RESIZE p95', value: percentile(novaLat, 95), unit: 'ms' },
    { name: 'ratio to engine update + one round trip (p50)', value: ratio, unit: '×', target: '<= 1.2', met: ratio <= 1.2 },
    { name: 'median of the rounds\' own ratios (resize / (engine update + round trip) of the same round)', value: median(pairRatio), unit: '×' },
    { name: 'ratio to engine update + the refused resize\'s round trip (p50)', value: median(novaLat) / (median(engineLat) + median(refusedRtt)), unit: '×' },
    { name: 'resize → VERIFY_RESIZE seen polling every 10 ms, p50', value: median(observedLat), unit: 'ms' },
  ], [
    `${repeats} live resizes (m1.tiny ⇄ m1.small, each confirmed), paired with as many engine updates of a comparable container, which side goes first alternating;`,
    'VERIFY_RESIZE = the resize migration\'s updated_at when finished (GET polled every 100 ms); the server\'s PID never changed.',
  ]);
});
