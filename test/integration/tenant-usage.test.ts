/**
 * os-simple-tenant-usage through HTTP on a real database: each server's hours inside the window
 * from its launched_at and terminated_at (deleted servers included), the totals per project
 * times its flavor, who may ask for which project, Nova's 400s for bad windows and markers, and
 * 2.40's pages. Launch and termination times are set on the rows to make the hours exact.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { bootActive, call, uploadImage } from './servers-support';

const USAGE = '/compute/v2.1/os-simple-tenant-usage';
let h: TestApp;
const ids: Record<string, string> = {};
let demo: string;
let alt: string;
const window = { start: '2026-01-01T03:00:00', end: '2026-01-01T12:00:00' };

beforeAll(async () => {
  h = await makeTestApp();
  demo = await h.projectId('demo');
  alt = await h.projectId('alt');
  const image = await uploadImage(h, { extra: { visibility: 'public' }, as: 'admin' });
  ids.running = await bootActive(h, image, { name: 'running' });
  ids.small = await bootActive(h, image, { name: 'small', flavorRef: '2' });
  ids.gone = await bootActive(h, image, { name: 'gone' }, { as: 'alt' });
  ids.before = await bootActive(h, image, { name: 'before' }, { as: 'alt' });
  ids.after = await bootActive(h, image, { name: 'after' });
  for (const id of [ids.gone, ids.before]) expect((await call(h, 'delete', `/compute/v2.1/servers/${id}`, { as: 'alt' })).status).toBe(204);
  await h.services.compute.tasks.idle();
  const set = (id: string, launched: string, terminated: string | null = null) => h.db('servers').where({ id }).update({ launched_at: launched, terminated_at: terminated });
  await set(ids.running, '2026-01-01T00:00:00.000Z');            // 9 h in the window
  await set(ids.small, '2026-01-01T10:30:00.000Z');              // 1.5 h
  await set(ids.gone, '2026-01-01T06:00:00.000Z', '2026-01-01T09:00:00.000Z'); // 3 h, deleted
  await set(ids.before, '2026-01-01T00:00:00.000Z', '2026-01-01T02:00:00.000Z'); // ended before
  await set(ids.after, '2026-01-01T13:00:00.000Z');              // launched after
});
afterAll(async () => { await h.close(); });

describe('GET /os-simple-tenant-usage (admin)', () => {
  it('detailed=1: every project\'s totals and servers, the hours each ran inside the window', async () => {
    const res = await call(h, 'get', USAGE, { as: 'admin', query: { ...window, detailed: '1' } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/tenant_usages.list_tenant_usage', res)).toEqual([]);
    const byTenant = Object.fromEntries(res.body.tenant_usages.map((t: { tenant_id: string }) => [t.tenant_id, t]));
    expect(Object.keys(byTenant).sort()).toEqual([alt, demo].sort());
    // running: m1.tiny (512 MB, 1 vCPU, 1 GB) 9 h; small: m1.small (2048 MB, 1 vCPU, 20 GB) 1.5 h.
    expect(byTenant[demo]).toMatchObject({
      start: '2026-01-01T03:00:00.000000', stop: '2026-01-01T12:00:00.000000',
      total_hours: 10.5, total_vcpus_usage: 10.5, total_memory_mb_usage: 512 * 9 + 2048 * 1.5, total_local_gb_usage: 9 + 30,
    });
    const running = byTenant[demo].server_usages.find((u: { instance_id: string }) => u.instance_id === ids.running);
    expect(running).toEqual({
      instance_id: ids.running, name: 'running', tenant_id: demo, flavor: 'm1.tiny', hours: 9, memory_mb: 512, local_gb: 1, vcpus: 1,
      started_at: '2026-01-01T00:00:00.000000', ended_at: null, state: 'active', uptime: expect.any(Number),
    });
    expect(running.uptime).toBeGreaterThan(3600 * 24 * 300);
    expect(byTenant[alt].server_usages).toEqual([expect.objectContaining({
      instance_id: ids.gone, hours: 3, state: 'terminated', started_at: '2026-01-01T06:00:00.000000', ended_at: '2026-01-01T09:00:00.000000', uptime: 3 * 3600,
    })]);
    expect(byTenant[alt].total_hours).toBe(3);
  });

  it('without detailed=1, the totals only; members and readers are refused', async () => {
    const res = await call(h, 'get', USAGE, { as: 'admin', query: window });
    expect(res.body.tenant_usages.every((t: object) => !('server_usages' in t))).toBe(true);
    expect((await call(h, 'get', USAGE, { as: 'demo', query: window })).status).toBe(403);
  });

  it('bad windows are Nova\'s 400s; no dates is the empty window "now"', async () => {
    const bad = await call(h, 'get', USAGE, { as: 'admin', query: { start: 'yesterday' } });
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toBe('Invalid datetime string: Datetime is in invalid format');
    for (const start of ['2026-02-31T00:00:00', '2026-01-01', '2026-01-01 00:00:00', '2026-01-01T00:00:00Z']) {
      expect({ start, status: (await call(h, 'get', USAGE, { as: 'admin', query: { start, end: '2026-03-01T00:00:00' } })).status }).toEqual({ start, status: 400 });
    }
    const backwards = await call(h, 'get', USAGE, { as: 'admin', query: { start: window.end, end: window.start } });
    expect(backwards.body.badRequest.message).toBe('Invalid start time. The start time cannot occur after the end time.');
    expect((await call(h, 'get', USAGE, { as: 'admin', query: { start: '2026-01-01 03:00:00.5', end: '2026-01-01T12:00:00.000001' } })).status).toBe(200);
    // Running servers launched before now count, with no hours.
    const now = await call(h, 'get', USAGE, { as: 'admin' });
    expect(now.status).toBe(200);
    expect(now.body.tenant_usages.map((t: { total_hours: number }) => t.total_hours)).toEqual([0]);
  });

  it('2.40 pages by server: limit, a next link with the last server as marker, an unknown marker a 400; 2.75 refuses unknown parameters', async () => {
    const page1 = await call(h, 'get', USAGE, { as: 'admin', mv: '2.40', query: { ...window, detailed: '1', limit: '2' } });
    expect(page1.status).toBe(200);
    const seen1 = page1.body.tenant_usages.flatMap((t: { server_usages: { instance_id: string }[] }) => t.server_usages.map((u) => u.instance_id));
    expect(seen1).toHaveLength(2);
    const next = new URL(page1.body.tenant_usages_links[0].href);
    expect(next.searchParams.get('marker')).toBe(seen1[1]);
    const page2 = await call(h, 'get', USAGE, { as: 'admin', mv: '2.40', query: Object.fromEntries(next.searchParams) });
    const seen2 = page2.body.tenant_usages.flatMap((t: { server_usages: { instance_id: string }[] }) => t.server_usages.map((u) => u.instance_id));
    expect([...seen1, ...seen2].sort()).toEqual([ids.running, ids.small, ids.gone].sort());
    expect(page2.body.tenant_usages_links).toBeUndefined();
    const unknown = await call(h, 'get', USAGE, { as: 'admin', mv: '2.40', query: { ...window, marker: 'nope' } });
    expect(unknown.body.badRequest.message).toBe('Marker nope could not be found.');
    expect((await call(h, 'get', USAGE, { as: 'admin', mv: '2.75', query: { bogus: '1' } })).status).toBe(400);
    expect((await call(h, 'get', USAGE, { as: 'admin', mv: '2.74', query: { bogus: '1' } })).status).toBe(200);
  });
});

describe('GET /os-simple-tenant-usage/{project}', () => {
  it('a project\'s own usage for its members, with its servers; another project\'s for admins only', async () => {
    const res = await call(h, 'get', `${USAGE}/${demo}`, { as: 'viewer', query: window });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/tenant_usages.get_tenant_usage', res)).toEqual([]);
    expect(res.body.tenant_usage).toMatchObject({ tenant_id: demo, total_hours: 10.5 });
    expect(res.body.tenant_usage.server_usages.map((u: { name: string }) => u.name).sort()).toEqual(['running', 'small']);
    expect((await call(h, 'get', `${USAGE}/${alt}`, { as: 'demo', query: window })).status).toBe(403);
    expect((await call(h, 'get', `${USAGE}/${alt}`, { as: 'admin', query: window })).body.tenant_usage.total_hours).toBe(3);
  });

  it('an empty project id is a 404 (no route), as in Nova', async () => {
    expect((await call(h, 'get', `${USAGE}/`, { as: 'admin', query: window })).status).toBe(404);
  });

  it('a project that used nothing in the window answers an empty tenant_usage', async () => {
    const res = await call(h, 'get', `${USAGE}/${demo}`, { query: { start: '2025-01-01T00:00:00', end: '2025-02-01T00:00:00' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ tenant_usage: {} });
  });
});
