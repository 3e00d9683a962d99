/**
 * GET /servers/detail with 1,000 servers: p50 and p95 over repeated requests, beside GET /servers.
 *
 *   bash bench/run.sh list [--servers 1000] [--requests 200]
 *
 * How the 1,000 servers are made, honestly and as cheaply as that allows: they are REAL servers,
 * booted through POST /servers (8 at a time) from a busybox image whose command is `sleep`, with
 * `networks: none` (a Linux bridge takes at most 1,024 ports, and networking is not what a list
 * measures). So every row was written by the compute service itself, each has a running container,
 * and the reconciler watches them all while the list is measured — as in production. Inserting
 * rows behind the service's back would be cheaper but would not be the product: the reconciler
 * would rightly turn servers without containers into ERROR. A container costs the engine about
 * 13 MiB (its containerd shim); the bench stops booting, and says so, when the machine has less
 * than 4 GiB available. Booting and deleting 1,000 takes a few minutes.
 * Target (issue 3): p50 <= 30 ms.
 */
import { main, median, ms, now, numArg, percentile, report, sleepersCloud } from './lib';

main(async (cleanups) => {
  const wanted = numArg('servers', 1000);
  const requests = numArg('requests', 200);
  const { a, ids, stoppedEarly } = await sleepersCloud(cleanups, wanted);

  const timeIt = async (p: string, expect: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < requests; i++) {
      const s = now();
      const r = await a.req<{ servers: unknown[] }>('GET', p);
      out.push(ms(s));
      if (r.status !== 200 || r.body.servers.length !== expect) throw new Error(`${p}: ${r.status}, ${r.body.servers?.length} servers (expected ${expect})`);
    }
    return out;
  };
  // Nova's default page size (osapi_max_limit) is 1,000: one request returns them all.
  const expect = Math.min(ids.length, 1000);
  await timeIt('/compute/v2.1/servers/detail', expect); // warm
  const detail = await timeIt('/compute/v2.1/servers/detail', expect);
  const summary = await timeIt('/compute/v2.1/servers', expect);
  const detail247 = await (async () => {
    const out: number[] = [];
    for (let i = 0; i < requests; i++) {
      const s = now();
      await a.req('GET', '/compute/v2.1/servers/detail', undefined, { 'X-OpenStack-Nova-API-Version': '2.47' });
      out.push(ms(s));
    }
    return out;
  })();

  report('list', [
    { name: 'servers', value: ids.length, unit: '' },
    { name: 'GET /servers/detail p50', value: median(detail), unit: 'ms', target: '<= 30', met: median(detail) <= 30 },
    { name: 'GET /servers/detail p95', value: percentile(detail, 95), unit: 'ms' },
    { name: 'GET /servers/detail (2.47) p50', value: median(detail247), unit: 'ms' },
    { name: 'GET /servers p50', value: median(summary), unit: 'ms' },
  ], [`${requests} sequential requests each, after one warm-up; times include the HTTP round trip on loopback.`, ...(stoppedEarly ? [stoppedEarly] : [])]);
});
