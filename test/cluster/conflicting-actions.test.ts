/**
 * Issue 16: 20 conflicting actions on one ACTIVE server, sent at once and alternating between the
 * two processes themselves (not the balancer): the compare-and-set in the shared database lets
 * exactly one through, whichever process it reached; the 19 others get Nova's 409.
 */
import http from 'node:http';
import type { Reply } from '../resilience/support';
import { bootSettled, cleanUpClustersAfterEach, ourContainers, startCluster, uploadImage, waitFor } from './support';

jest.setTimeout(600_000);
cleanUpClustersAfterEach();

const CONCURRENT = 20;

test(`when ${CONCURRENT} os-stop actions on one ACTIVE server are sent at once to both processes, then one is accepted and the others get 409 conflictingRequest`, async () => {
  const c = await startCluster('conflict');
  const imageId = await uploadImage(c.direct[0], c.image, 'cluster-conflict');
  const server = await bootSettled(c.direct[1], imageId, 'contended');
  expect(server.status).toBe('ACTIVE');

  // Warm keep-alive sockets to each process, so the burst leaves together rather than connect by connect.
  const agents = c.srv.processes.map(() => new http.Agent({ keepAlive: true, maxSockets: CONCURRENT }));
  try {
    const send = (i: number, method: string, p: string, payload?: unknown) => new Promise<Reply>((resolve, reject) => {
      const data = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
      const req = http.request({
        host: '127.0.0.1', port: c.srv.processes[i % 2].port, method, path: `/compute/v2.1${p}`, agent: agents[i % 2], timeout: 60_000,
        headers: { 'X-Auth-Token': c.lb.token, Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
          resolve({ status: res.statusCode ?? 0, body, text, headers: new Headers() });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
    await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => send(i, 'GET', `/servers/${server.id}`)));

    const replies = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => send(i, 'POST', `/servers/${server.id}/action`, { 'os-stop': null })));
    const statuses = replies.map((r) => r.status);
    const winner = statuses.indexOf(202);
    console.log(`conflicting-actions: ${JSON.stringify(statuses)}; the winner went to process ${(winner % 2) + 1}`);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(CONCURRENT - 1);
    for (const r of replies.filter((x) => x.status === 409)) {
      expect(r.body).toEqual({ conflictingRequest: { code: 409, message: expect.stringContaining(server.id) } });
    }
  } finally {
    for (const a of agents) a.destroy();
  }

  // The one accepted stop happened, and nothing else is in flight.
  const after = await waitFor(() => c.lb.server(server.id), (s) => s['OS-EXT-STS:task_state'] === null && s.status !== 'ACTIVE', 60_000);
  expect(after.value.status).toBe('SHUTOFF');
  expect(after.value['OS-EXT-STS:task_state']).toBeNull();
  const containers = await ourContainers(c.host);
  expect(containers.map((x) => x.State.Status)).toEqual(['exited']);
});
