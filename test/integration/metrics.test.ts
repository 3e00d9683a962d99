/**
 * GET /metrics (issue 18): the exposition read with Prometheus's own parser, the names of
 * docs/metrics.md, counters that move after requests, a boot, an upload and an engine event,
 * route templates instead of ids, and who may scrape.
 */
import crypto from 'node:crypto';
import request from 'supertest';
import pino from 'pino';
import { makeTestApp, TestApp } from '../helpers/app';
import { createApp } from '../../src/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { Family, labelValues, parseExposition, valueOf } from '../helpers/prometheus';
import { bootActive, call, show, uploadImage } from './servers-support';

let t: TestApp;

beforeAll(async () => {
  t = await makeTestApp();
});
afterAll(() => t.close());

async function scrape(app = t.app): Promise<Family[]> {
  const res = await request(app).get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.text);
}

/** Every family docs/metrics.md documents (the parser names a counter without its `_total`). */
const DOCUMENTED: [string, string][] = [
  ['novadock_http_request_duration_seconds', 'histogram'],
  ['novadock_http_requests_in_flight', 'gauge'],
  ['novadock_servers', 'gauge'],
  ['novadock_server_action_duration_seconds', 'histogram'],
  ['novadock_server_boot_duration_seconds', 'histogram'],
  ['novadock_image_upload_bytes', 'counter'],
  ['novadock_image_upload_duration_seconds', 'histogram'],
  ['novadock_reconciler_lag_seconds', 'histogram'],
  ['novadock_docker_errors', 'counter'],
  ['process_cpu_seconds', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_heap_size_used_bytes', 'gauge'],
];

test('when scraped from loopback without a token, then the Prometheus text parses and names every documented family', async () => {
  const families = await scrape();
  const found = new Map(families.map((f) => [f.name, f.type]));
  for (const [name, type] of DOCUMENTED) expect([name, found.get(name)]).toEqual([name, type]);
  // The scrape itself is the one request in flight while it is rendered.
  expect(valueOf(families, 'novadock_http_requests_in_flight')).toBe(1);
});

test('when servers are fetched by id, then they are counted under the route template and no id becomes a label', async () => {
  const route = { method: 'GET', route: '/compute/v2.1/servers/:id', status: '404' };
  const before = valueOf(await scrape(), 'novadock_http_request_duration_seconds_count', route);
  const ids = [crypto.randomUUID(), crypto.randomUUID()];
  for (const id of ids) expect((await call(t, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
  // Refused before any route matched: labelled with the API's mount.
  expect((await request(t.app).get(`/compute/v2.1/servers/${ids[0]}`)).status).toBe(401);
  expect((await request(t.app).get(`/no/such/${ids[0]}`)).status).toBe(404);

  const after = await scrape();
  expect(valueOf(after, 'novadock_http_request_duration_seconds_count', route)).toBe(before + 2);
  expect(valueOf(after, 'novadock_http_request_duration_seconds_count', { route: '/compute/*', status: '401' })).toBeGreaterThanOrEqual(1);
  expect(valueOf(after, 'novadock_http_request_duration_seconds_count', { route: '*', status: '404' })).toBeGreaterThanOrEqual(1);
  expect(labelValues(after).filter((v) => ids.some((id) => v.includes(id)))).toEqual([]);

  // A route on several paths is labelled with the one that matched.
  expect((await call(t, 'get', '/compute/v2.1/os-hypervisors/detail', { as: 'admin' })).status).toBe(200);
  expect(valueOf(await scrape(), 'novadock_http_request_duration_seconds_count', { route: '/compute/v2.1/os-hypervisors/detail', status: '200' })).toBe(1);
});

test('when an image is uploaded, then its bytes and one upload duration are counted', async () => {
  const before = await scrape();
  const id = await uploadImage(t, { name: 'metrics-upload' });
  const size = (await call(t, 'get', `/image/v2/images/${id}`)).body.size as number;
  const after = await scrape();
  expect(size).toBeGreaterThan(0);
  expect(valueOf(after, 'novadock_image_upload_bytes_total') - valueOf(before, 'novadock_image_upload_bytes_total')).toBe(size);
  const count = (f: Family[]) => valueOf(f, 'novadock_image_upload_duration_seconds_count', { result: 'success' });
  expect(count(after) - count(before)).toBe(1);
  // The upload request itself, by its template.
  expect(valueOf(after, 'novadock_http_request_duration_seconds_count', { method: 'PUT', route: '/image/v2/images/:id/file', status: '204' })).toBeGreaterThanOrEqual(1);
});

test('when a server boots on the fake engine, then its boot and create action are observed and it counts as active', async () => {
  const image = await uploadImage(t, { name: 'metrics-boot' });
  const before = await scrape();
  const id = await bootActive(t, image, { name: 'metrics-vm' });
  expect((await show(t, id)).status).toBe('ACTIVE');
  const after = await scrape();
  const boots = (f: Family[]) => valueOf(f, 'novadock_server_boot_duration_seconds_count', { result: 'success' });
  const creates = (f: Family[]) => valueOf(f, 'novadock_server_action_duration_seconds_count', { action: 'create', result: 'success' });
  expect(boots(after) - boots(before)).toBe(1);
  expect(creates(after) - creates(before)).toBe(1);
  expect(valueOf(after, 'novadock_servers', { vm_state: 'active', task_state: 'none' })).toBe(valueOf(before, 'novadock_servers', { vm_state: 'active', task_state: 'none' }) + 1);

  // An action's duration too: stop.
  const stops = (f: Family[]) => valueOf(f, 'novadock_server_action_duration_seconds_count', { action: 'stop', result: 'success' });
  expect((await call(t, 'post', `/compute/v2.1/servers/${id}/action`, { body: { 'os-stop': null } })).status).toBe(202);
  await t.services.compute.tasks.idle();
  const stopped = await scrape();
  expect(stops(stopped) - stops(after)).toBe(1);
  expect(valueOf(stopped, 'novadock_servers', { vm_state: 'stopped', task_state: 'none' })).toBeGreaterThanOrEqual(1);
});

test('when an instance is killed outside novadock, then the reconciler lag of its event is observed', async () => {
  const image = await uploadImage(t, { name: 'metrics-lag' });
  const id = await bootActive(t, image, { name: 'metrics-killed' });
  await t.services.reconciler.start();
  try {
    const lag = (f: Family[]) => valueOf(f, 'novadock_reconciler_lag_seconds_count', { host: 'fake-host' });
    const before = lag(await scrape());
    (t.driver as FakeDriver).externalKill(id);
    await t.services.reconciler.settle();
    expect((await show(t, id)).status).toBe('SHUTOFF');
    expect(lag(await scrape())).toBeGreaterThan(before);
  } finally {
    t.services.reconciler.stop();
  }
});

describe('who may scrape', () => {
  const log = pino({ level: 'silent' });
  const appWith = (metrics: { allow: string[]; token?: string }) => createApp({ ...t.services, config: { ...t.services.config, metrics } }, log);

  test('when loopback is not in NOVADOCK_METRICS_ALLOW and no token is set, then 403', async () => {
    const res = await request(appWith({ allow: ['10.0.0.0/8'] })).get('/metrics');
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/NOVADOCK_METRICS_ALLOW/);
    expect(res.text).not.toMatch(/novadock_/);
  });

  test('when a token is set, then a client outside the allow-list needs it as a bearer token', async () => {
    const app = appWith({ allow: [], token: 'scrape-secret' });
    const none = await request(app).get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect((await request(app).get('/metrics').set('Authorization', 'Bearer wrong')).status).toBe(401);
    const ok = await request(app).get('/metrics').set('Authorization', 'Bearer scrape-secret');
    expect(ok.status).toBe(200);
    expect((await parseExposition(ok.text)).map((f) => f.name)).toContain('novadock_servers');
  });
});
