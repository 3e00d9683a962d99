/**
 * How long a server looks ACTIVE after its container was killed outside novadock: `docker kill`
 * (the engine API call) → GET /servers/{id} shows SHUTOFF, over N repeats. Nothing is asked of the
 * API in between but that GET, polled every 10 ms: the reconciler's event listener does the work.
 *
 *   bash bench/run.sh kill-lag [--repeats 20]
 *
 * For reference it also reports when the engine itself published the `die` event, so the lag is
 * split into the engine's part and novadock's. Target (issue 3): p50 < 1 s.
 */
import { api, benchImage, boot, docker, main, median, ms, now, numArg, percentile, report, sleep, startBenchServer, uploadImage, waitStatus } from './lib';

main(async (cleanups) => {
  const repeats = numArg('repeats', 20);
  const image = benchImage('bench-sleep', ['/bin/sleep', '1000000']);
  const srv = await startBenchServer();
  cleanups.push(() => srv.cleanup());
  const a = await api(srv);
  const imageRef = await uploadImage(a, 'bench-kill', image.path);
  const id = await boot(a, 'kill-me', imageRef);
  await waitStatus(a, id, 'ACTIVE', now());

  // The server's container: novadock's label plus a label naming the server id.
  const list = await docker.listContainers({ all: true, filters: { label: ['novadock.managed=true'] } });
  const ctr = list.find((c) => Object.values(c.Labels).includes(id));
  if (!ctr) throw new Error(`no container labelled with server ${id}`);

  const lags: number[] = [];
  const engineLags: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const events = await docker.getEvents({ filters: { container: [ctr.Id], event: ['die'] } });
    let dieAt: bigint | undefined;
    events.on('data', () => (dieAt ??= now()));
    const t = now();
    await docker.getContainer(ctr.Id).kill();
    lags.push(await waitStatus(a, id, 'SHUTOFF', t));
    if (dieAt !== undefined) engineLags.push(Number(dieAt - t) / 1e6);
    (events as unknown as { destroy(): void }).destroy();

    const start = await a.req('POST', `/compute/v2.1/servers/${id}/action`, { 'os-start': null });
    if (start.status !== 202) throw new Error(`os-start: ${start.status} ${JSON.stringify(start.body)}`);
    await waitStatus(a, id, 'ACTIVE', now());
    await sleep(200);
  }

  report('kill-lag', [
    { name: 'docker kill → engine die event p50', value: median(engineLags), unit: 'ms' },
    { name: 'docker kill → SHUTOFF p50', value: median(lags), unit: 'ms', target: '< 1000', met: median(lags) < 1000 },
    { name: 'docker kill → SHUTOFF p95', value: percentile(lags, 95), unit: 'ms' },
    { name: 'docker kill → SHUTOFF max', value: Math.max(...lags), unit: 'ms' },
  ], [`${repeats} kills of one server's container, os-start between them; GET /servers/{id} polled every 10 ms.`]);
});
