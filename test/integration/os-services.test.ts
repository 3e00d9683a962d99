/**
 * os-services through HTTP on a real database, with three configured compute hosts (fake
 * drivers, one whose engine does not answer): one nova-compute per host plus the internal
 * services, the pre-2.53 action URLs and the 2.53 update by UUID, delete refusals, and what the
 * scheduler then reads through HostSettingsPort. Shapes are checked against tempest's schemas.
 */
import os from 'node:os';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { call, Call, uploadImage, bootActive } from './servers-support';
import { tempestProblems } from './tempest-schemas';

let t: TestApp;

beforeAll(async () => {
  t = await makeTestApp({
    drivers: [new FakeDriver({ host: 'host-a' }), new FakeDriver({ host: 'host-b' }), new FakeDriver({ host: 'host-c', unavailable: true })],
  });
});
afterAll(async () => { await t.close(); });

const svc = (method: 'get' | 'put' | 'delete', path: string, c: Call = {}) => call(t, method, `/compute/v2.1/os-services${path}`, { as: 'admin', ...c });
type Svc = Record<string, unknown> & { id: number | string; host: string; binary: string };
const list = async (c: Call = {}): Promise<Svc[]> => {
  const res = await svc('get', '', c);
  expect(res.status).toBe(200);
  return res.body.services;
};
const computeOf = async (host: string, c: Call = {}) => (await list({ ...c, query: { host, binary: 'nova-compute' } }))[0];

describe('GET /os-services', () => {
  it('lists one nova-compute per configured host, in its zone, then nova-scheduler and nova-conductor in "internal" (tempest 2.1 schema)', async () => {
    const res = await svc('get', '');
    expect(tempestProblems('v2_1/services.list_services', res)).toEqual([]);
    const services: Svc[] = res.body.services;
    expect(services.filter((s) => s.binary === 'nova-compute').map((s) => [s.id, s.host, s.zone, s.status])).toEqual([
      [1, 'host-a', 'nova', 'enabled'], [2, 'host-b', 'nova', 'enabled'], [3, 'host-c', 'nova', 'enabled'],
    ]);
    expect(services.filter((s) => s.binary !== 'nova-compute').map((s) => [s.binary, s.host, s.zone, s.state])).toEqual([
      ['nova-scheduler', os.hostname(), 'internal', 'up'], ['nova-conductor', os.hostname(), 'internal', 'up'],
    ]);
    expect(new Set(services.map((s) => s.id)).size).toBe(services.length);
  });

  it('shows a host whose engine answers as up, one that does not as down with no updated_at', async () => {
    const [a, , c] = await list({ query: { binary: 'nova-compute' } });
    expect(a).toMatchObject({ state: 'up', disabled_reason: null });
    expect(a.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(c).toMatchObject({ host: 'host-c', state: 'down', updated_at: null });
  });

  it('adds forced_down at 2.11 and shows UUIDs from 2.53 (tempest schemas)', async () => {
    const r211 = await svc('get', '', { mv: '2.11' });
    expect(tempestProblems('v2_11/services.list_services', r211)).toEqual([]);
    expect(r211.body.services[0].forced_down).toBe(false);
    const r253 = await svc('get', '', { mv: '2.53' });
    expect(tempestProblems('v2_53/services.list_services', r253)).toEqual([]);
    expect(r253.body.services[0].id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('filters by host and by binary, and an unknown host or binary gives an empty list', async () => {
    expect((await list({ query: { host: 'host-b' } })).map((s) => s.binary)).toEqual(['nova-compute']);
    expect((await list({ query: { binary: 'nova-scheduler' } })).map((s) => s.host)).toEqual([os.hostname()]);
    expect(await list({ query: { host: 'host-b', binary: 'xxx' } })).toEqual([]);
    expect(await list({ query: { host: 'xxx', binary: 'nova-compute' } })).toEqual([]);
  });

  it('ignores unknown query parameters below 2.75 and refuses them from 2.75', async () => {
    expect(await list({ query: { xxx: 'nova-compute' } })).toHaveLength(5);
    const res = await svc('get', '', { mv: '2.75', query: { xxx: 'y' } });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain("'xxx' was unexpected");
  });

  it('is for admins only: a member and a reader get Nova\'s 403', async () => {
    for (const as of ['demo', 'viewer'] as const) {
      const res = await svc('get', '', { as });
      expect(res.status).toBe(403);
      expect(res.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-services:list to be performed.");
    }
  });
});

describe('PUT /os-services/{action} (below 2.53)', () => {
  afterEach(async () => { await svc('put', '/enable', { body: { host: 'host-a', binary: 'nova-compute' } }); });

  it('disables and enables a host (tempest schema), and the list shows it', async () => {
    const res = await svc('put', '/disable', { body: { host: 'host-a', binary: 'nova-compute' } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/services.enable_disable_service', res)).toEqual([]);
    expect(res.body).toEqual({ service: { host: 'host-a', binary: 'nova-compute', status: 'disabled' } });
    expect(await computeOf('host-a')).toMatchObject({ status: 'disabled', disabled_reason: null });
    const on = await svc('put', '/enable', { body: { host: 'host-a', binary: 'nova-compute' } });
    expect(on.body).toEqual({ service: { host: 'host-a', binary: 'nova-compute', status: 'enabled' } });
    expect(await computeOf('host-a')).toMatchObject({ status: 'enabled', disabled_reason: null });
  });

  it('disables with a logged reason (tempest schema), which enable clears', async () => {
    const res = await svc('put', '/disable-log-reason', { body: { host: 'host-a', binary: 'nova-compute', disabled_reason: 'maintenance' } });
    expect(tempestProblems('v2_1/services.disable_log_reason', res)).toEqual([]);
    expect(res.body.service).toEqual({ host: 'host-a', binary: 'nova-compute', status: 'disabled', disabled_reason: 'maintenance' });
    expect(await computeOf('host-a')).toMatchObject({ status: 'disabled', disabled_reason: 'maintenance' });
    const missing = await svc('put', '/disable-log-reason', { body: { host: 'host-a', binary: 'nova-compute' } });
    expect([missing.status, missing.body.badRequest.message]).toEqual([400, 'Missing disabled reason field']);
  });

  it('forces a host down and up at 2.11 (tempest schema): state follows; below 2.11 force-down is an unknown action', async () => {
    const down = await svc('put', '/force-down', { mv: '2.11', body: { host: 'host-b', binary: 'nova-compute', forced_down: true } });
    expect(tempestProblems('v2_11/services.update_forced_down', down)).toEqual([]);
    expect(down.body.service).toEqual({ host: 'host-b', binary: 'nova-compute', forced_down: true });
    expect(await computeOf('host-b', { mv: '2.11' })).toMatchObject({ state: 'down', forced_down: true, status: 'enabled' });
    const up = await svc('put', '/force-down', { mv: '2.11', body: { host: 'host-b', binary: 'nova-compute', forced_down: 'false' } });
    expect(up.body.service.forced_down).toBe(false);
    expect(await computeOf('host-b', { mv: '2.11' })).toMatchObject({ state: 'up', forced_down: false });
    const missing = await svc('put', '/force-down', { mv: '2.11', body: { host: 'host-b', binary: 'nova-compute' } });
    expect([missing.status, missing.body.badRequest?.message]).toEqual([400, 'Missing forced_down field']);
    const old = await svc('put', '/force-down', { body: { host: 'host-b', binary: 'nova-compute' } });
    expect([old.status, old.body.itemNotFound?.message]).toEqual([404, 'Unknown action']);
  });

  it('answers Nova\'s errors: unknown action 404, other binaries 400, unknown host 404, bad bodies 400, members 403', async () => {
    const cases: [string, unknown, number, string][] = [
      ['/reboot', { host: 'host-a', binary: 'nova-compute' }, 404, 'Unknown action'],
      ['/disable', { host: os.hostname(), binary: 'nova-scheduler' }, 400, 'Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.'],
      ['/disable', { host: 'nope', binary: 'nova-compute' }, 404, "Host 'nope' is not mapped to any cell"],
    ];
    for (const [path, body, status, message] of cases) {
      const res = await svc('put', path, { body });
      expect([res.status, Object.values(res.body as Record<string, { message: string }>)[0].message]).toEqual([status, message]);
    }
    for (const body of [{ binary: 'nova-compute' }, { host: 'host a', binary: 'nova-compute' }, { host: 'host-a', binary: 'nova-compute', extra: 1 }, { host: 'host-a', binary: '' }]) {
      expect((await svc('put', '/disable', { body })).status).toBe(400);
    }
    const member = await svc('put', '/disable', { as: 'demo', body: { host: 'host-a', binary: 'nova-compute' } });
    expect([member.status, member.body.forbidden.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-services:update to be performed."]);
    expect(await computeOf('host-a')).toMatchObject({ status: 'enabled' });
  });
});

describe('PUT /os-services/{uuid} (2.53)', () => {
  const at = { mv: '2.53' };
  let uuidA: string;
  beforeAll(async () => { uuidA = (await computeOf('host-a', at)).id as string; });
  afterAll(async () => { await svc('put', `/${uuidA}`, { ...at, body: { status: 'enabled', forced_down: false } }); });

  it('disables with a reason and forces down in one update, answering the whole service (tempest schema)', async () => {
    const res = await svc('put', `/${uuidA}`, { ...at, body: { status: 'disabled', disabled_reason: 'upgrade', forced_down: true } });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_53/services.update_service', res)).toEqual([]);
    expect(res.body.service).toMatchObject({ id: uuidA, host: 'host-a', binary: 'nova-compute', status: 'disabled', disabled_reason: 'upgrade', forced_down: true, state: 'down', zone: 'nova' });
    const enabled = await svc('put', `/${uuidA.toUpperCase()}`, { ...at, body: { status: 'enabled' } });
    expect(enabled.body.service).toMatchObject({ status: 'enabled', disabled_reason: null, forced_down: true });
  });

  it('answers Nova\'s 400s: a reason with "enabled", nothing to update, a bad uuid, a bad body, another binary', async () => {
    const scheduler = (await list({ ...at, query: { binary: 'nova-scheduler' } }))[0].id;
    const cases: [string, unknown, string][] = [
      [uuidA, { status: 'enabled', disabled_reason: 'x' }, "Specifying 'disabled_reason' with status 'enabled' is invalid."],
      [uuidA, {}, "No updates were requested. Fields 'status' or 'forced_down' should be specified."],
      [uuidA, { disabled_reason: 'alone' }, "No updates were requested. Fields 'status' or 'forced_down' should be specified."],
      ['disable', { status: 'disabled' }, 'Invalid uuid disable'],
      [String(scheduler), { status: 'disabled' }, 'Updating a nova-scheduler service is not supported. Only nova-compute services can be updated.'],
    ];
    for (const [id, body, message] of cases) {
      const res = await svc('put', `/${id}`, { ...at, body });
      expect([res.status, res.body.badRequest?.message]).toEqual([400, message]);
    }
    for (const body of [{ status: 'off' }, { forced_down: 'maybe' }, { host: 'host-a' }]) {
      expect((await svc('put', `/${uuidA}`, { ...at, body })).status).toBe(400);
    }
  });

  it('answers 404 for an unknown uuid (tempest) and 403 for members', async () => {
    const unknown = '0b3c5e4a-6f7d-4e2b-9a1c-2d3e4f5a6b7c';
    const res = await svc('put', `/${unknown}`, { ...at, body: { status: 'disabled' } });
    expect([res.status, res.body.itemNotFound.message]).toEqual([404, `Service ${unknown} could not be found.`]);
    const member = await svc('put', `/${uuidA}`, { ...at, as: 'demo', body: { status: 'disabled' } });
    expect(member.status).toBe(403);
  });
});

describe('DELETE /os-services/{id}', () => {
  it('refuses to delete a configured host: Nova\'s text when it holds servers, a 409 either way', async () => {
    const image = await uploadImage(t, { as: 'admin' });
    await bootActive(t, image, { availability_zone: 'nova:host-b' }, { as: 'admin' });
    const busy = await svc('delete', '/2');
    expect([busy.status, busy.body.conflictingRequest.message]).toEqual([409, 'Unable to delete compute service that is hosting instances. Migrate or delete the instances first.']);
    const idle = await svc('delete', '/1');
    expect(idle.status).toBe(409);
    expect(idle.body.conflictingRequest.message).toContain('host-a');
    const scheduler = (await list({ query: { binary: 'nova-scheduler' } }))[0].id;
    expect((await svc('delete', `/${scheduler}`)).status).toBe(409);
    expect(await list({ query: { binary: 'nova-compute' } })).toHaveLength(3);
  });

  it('checks the id per microversion and answers Nova\'s 404; members get 403', async () => {
    const cases: [string, Call, number, string][] = [
      ['/abc', {}, 400, 'Invalid input received: id must be an integer'],
      ['/99', {}, 404, 'Service 99 not found.'],
      ['/1', { mv: '2.53' }, 400, 'Invalid uuid 1'],
      ['/0b3c5e4a-6f7d-4e2b-9a1c-2d3e4f5a6b7c', { mv: '2.53' }, 404, 'Service 0b3c5e4a-6f7d-4e2b-9a1c-2d3e4f5a6b7c not found.'],
    ];
    for (const [path, c, status, message] of cases) {
      const res = await svc('delete', path, c);
      expect([res.status, Object.values(res.body as Record<string, { message: string }>)[0].message]).toEqual([status, message]);
    }
    expect((await svc('delete', '/1', { as: 'demo' })).status).toBe(403);
  });
});

describe('HostSettingsPort (what the scheduler reads)', () => {
  it('gives every configured host its settings and zone, enabled by default', async () => {
    await svc('put', '/disable-log-reason', { body: { host: 'host-c', binary: 'nova-compute', disabled_reason: 'broken' } });
    await svc('put', '/force-down', { mv: '2.11', body: { host: 'host-b', binary: 'nova-compute', forced_down: true } });
    try {
      expect(await t.services.compute.hostSettings.all()).toEqual([
        { host: 'host-a', disabled: false, disabledReason: null, forcedDown: false, zone: 'nova' },
        { host: 'host-b', disabled: false, disabledReason: null, forcedDown: true, zone: 'nova' },
        { host: 'host-c', disabled: true, disabledReason: 'broken', forcedDown: false, zone: 'nova' },
      ]);
      expect(await t.services.compute.hostSettings.zoneExists('nova')).toBe(true);
      expect(await t.services.compute.hostSettings.zoneExists('mars')).toBe(false);
    } finally {
      await svc('put', '/enable', { body: { host: 'host-c', binary: 'nova-compute' } });
      await svc('put', '/force-down', { mv: '2.11', body: { host: 'host-b', binary: 'nova-compute', forced_down: false } });
    }
  });
});
