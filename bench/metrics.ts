/**
 * What the request metrics (issue 18) add to a request: two express apps with the same routes,
 * one with the metrics middleware, one without, asked in turn (A, B, A, B, … on kept-alive
 * connections, so that the machine's other load falls on both alike). The handler is a trivial
 * one, so the figure is the middleware's whole cost, not a fraction of a database query.
 *
 *   bash bench/run.sh metrics [--requests 20000]
 *
 * Prints both p50s, the difference per request, and the ratio. bench/list.ts gives the product's
 * own GET /servers figures to set the difference against.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Metrics } from '../src/metrics/metrics';
import { requestMetrics } from '../src/http/metrics';
import { main, median, now, numArg, percentile, report } from './lib';

function appOf(withMetrics: boolean): express.Express {
  const app = express();
  if (withMetrics) app.use(requestMetrics(new Metrics({ serverStates: async () => [] }), ['/compute']));
  const v21 = express.Router();
  v21.get('/servers/:id', (req, res) => {
    res.json({ server: { id: req.params.id, status: 'ACTIVE' } });
  });
  app.use('/compute/v2.1', v21);
  return app;
}

async function listen(app: express.Express): Promise<http.Server> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}

main(async (cleanups) => {
  const requests = numArg('requests', 20_000);
  const servers = [await listen(appOf(true)), await listen(appOf(false))];
  cleanups.push(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (s: http.Server, id: number) => new Promise<void>((resolve, reject) => {
    const { port } = s.address() as AddressInfo;
    http.get({ host: '127.0.0.1', port, path: `/compute/v2.1/servers/${id}`, agent }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    }).on('error', reject);
  });
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < requests + 1000; i++) {
    for (const k of [0, 1] as const) {
      const s = now();
      await get(servers[k], i);
      if (i >= 1000) times[k].push(Number(process.hrtime.bigint() - s) / 1e3); // µs; the first 1,000 warm up
    }
  }
  agent.destroy();
  const [on, off] = times.map(median);
  report('metrics', [
    { name: 'with metrics p50', value: on, unit: 'µs' },
    { name: 'without p50', value: off, unit: 'µs' },
    { name: 'with metrics p95', value: percentile(times[0], 95), unit: 'µs' },
    { name: 'without p95', value: percentile(times[1], 95), unit: 'µs' },
    { name: 'added per request (p50)', value: on - off, unit: 'µs' },
    { name: 'ratio with / without (p50)', value: on / off, unit: '' },
  ], [`${requests} requests to each app, alternating, after 1,000 each to warm up; a trivial handler, so the difference is the middleware's whole cost.`]);
});
