/**
 * Moves through HTTP on three fake hosts: the migrate, confirmResize, revertResize, evacuate and
 * os-migrateLive actions per microversion, os-migrations (checked against tempest's schemas),
 * and /servers/{id}/migrations as Nova answers for a server with no live migration in flight.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { StandInPlacement } from '../helpers/placement';
import { FakeDriver } from '../../src/virt/fake/driver';
import { act, bootActive, call, show, uploadImage } from './servers-support';
import { tempestProblems } from './tempest-schemas';

let t: TestApp;
let h1: FakeDriver;
let image: string;

beforeEach(async () => {
  // h1 has the most free RAM, so the scheduler's RAM weigher places every boot there.
  h1 = new FakeDriver({ host: 'h1', hypervisor: { memoryMb: 65536 } });
  t = await makeTestApp({ drivers: [h1, new FakeDriver({ host: 'h2' }), new FakeDriver({ host: 'h3' })], placement: new StandInPlacement(['h1', 'h2', 'h3']) });
  image = await uploadImage(t);
});
afterEach(async () => {
  await t.close();
});

const idle = () => t.services.compute.tasks.idle();
const hostOf = async (id: string) => (await show(t, id))['OS-EXT-SRV-ATTR:host'];

/** Boots as demo and migrates as admin; resolves once the move waits for confirm. */
async function migratedServer(): Promise<string> {
  const id = await bootActive(t, image);
  const res = await act(t, id, { migrate: null }, { as: 'admin' });
  expect([res.status, res.text]).toEqual([202, '']);
  await idle();
  return id;
}

describe('migrate, confirm, revert', () => {
  test('migrate (202) → VERIFY_RESIZE on another host → confirmResize (204) → ACTIVE there; the instance actions say so', async () => {
    const id = await migratedServer();
    const moved = await show(t, id);
    expect([moved.status, moved['OS-EXT-STS:vm_state'], moved['OS-EXT-SRV-ATTR:host']]).toEqual(['VERIFY_RESIZE', 'resized', 'h2']);
    const confirm = await act(t, id, { confirmResize: null });
    expect([confirm.status, confirm.text]).toEqual([204, '']);
    await idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-SRV-ATTR:host']]).toEqual(['ACTIVE', 'h2']);
    const actions = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(actions.body.instanceActions.map((a: { action: string }) => a.action)).toEqual(['confirmResize', 'migrate', 'create']);
    const detail = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/${actions.body.instanceActions[1].request_id}`, { as: 'admin' });
    expect(detail.body.instanceAction.events.map((e: { event: string; result: string }) => [e.event, e.result])).toEqual([['compute_resize_instance', 'Success']]);
  });

  test('revertResize (202) → back on the source ACTIVE', async () => {
    const id = await migratedServer();
    const res = await act(t, id, { revertResize: null });
    expect([res.status, res.text]).toEqual([202, '']);
    await idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-SRV-ATTR:host']]).toEqual(['ACTIVE', 'h1']);
  });

  test('the host is read from 2.56 only; below it the body is not looked at', async () => {
    const a = await bootActive(t, image);
    expect((await act(t, a, { migrate: { host: 'h3' } }, { as: 'admin' })).status).toBe(202);
    await idle();
    expect(await hostOf(a)).toBe('h2');
    const b = await bootActive(t, image);
    expect((await act(t, b, { migrate: { host: 'h3' } }, { as: 'admin', mv: '2.56' })).status).toBe(202);
    await idle();
    expect(await hostOf(b)).toBe('h3');
  });

  test('refusals: a member 403, a bad 2.56 body 400, its own host 400, an unknown host 400, nothing to confirm 409, an unknown server 404', async () => {
    const id = await bootActive(t, image);
    const member = await act(t, id, { migrate: null });
    expect([member.status, member.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed."]);
    const extra = await act(t, id, { migrate: { host: 'h2', when: 'now' } }, { as: 'admin', mv: '2.56' });
    expect(extra.status).toBe(400);
    expect(extra.body.badRequest.message).toMatch(/Additional properties are not allowed \('when' was unexpected\)/);
    const same = await act(t, id, { migrate: { host: 'h1' } }, { as: 'admin', mv: '2.56' });
    expect([same.status, same.body.badRequest?.message]).toEqual([400, 'Cannot migrate to the host where the server exists.']);
    const unknown = await act(t, id, { migrate: { host: 'h9' } }, { as: 'admin', mv: '2.56' });
    expect([unknown.status, unknown.body.badRequest?.message]).toEqual([400, 'Compute host h9 could not be found.']);
    const confirm = await act(t, id, { confirmResize: null });
    expect([confirm.status, confirm.body.conflictingRequest?.message]).toEqual([409, `Cannot 'confirmResize' instance ${id} while it is in vm_state active`]);
    const missing = await act(t, '8d2b4a4e-53d1-4d8c-9e35-2e7b1b5a1d2f', { migrate: null }, { as: 'admin' });
    expect(missing.status).toBe(404);
  });
});

describe('os-migrations', () => {
  test('lists every move to admins, in each microversion\'s shape (tempest\'s schemas), and refuses members', async () => {
    const id = await migratedServer();
    const v21 = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin' });
    expect(tempestProblems('v2_1/migrations.list_migrations', v21)).toEqual([]);
    expect(v21.body.migrations).toEqual([expect.objectContaining({
      instance_uuid: id, source_compute: 'h1', source_node: 'h1', dest_compute: 'h2', dest_node: 'h2', status: 'finished',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/),
    })]);
    expect(v21.body.migrations[0].migration_type).toBeUndefined();
    const v223 = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.23' });
    expect(tempestProblems('v2_23/migrations.list_migrations', v223)).toEqual([]);
    expect(v223.body.migrations[0].migration_type).toBe('migration');
    const v259 = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.59' });
    expect(tempestProblems('v2_59/migrations.list_migrations', v259)).toEqual([]);
    expect(v259.body.migrations[0].uuid).toMatch(/^[0-9a-f-]{36}$/);
    const v280 = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.80' });
    expect(v280.body.migrations[0]).toMatchObject({ user_id: await t.userId('admin'), project_id: await t.projectId('admin') });
    const member = await call(t, 'get', '/compute/v2.1/os-migrations');
    expect([member.status, member.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-migrations:index to be performed."]);
  });

  test('filters (host, status, instance_uuid, migration_type, 2.80 user_id) and 2.59 paging by uuid, newest first', async () => {
    const a = await migratedServer();
    const b = await migratedServer();
    await act(t, b, { revertResize: null });
    await idle();
    const list = async (query: Record<string, string>, mv = '2.80') => (await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv, query })).body.migrations
      .map((m: { instance_uuid: string; status: string }) => `${m.instance_uuid === a ? 'a' : 'b'} ${m.status}`);
    expect(await list({})).toEqual(['b reverted', 'a finished']);
    expect(await list({ host: 'h2' })).toEqual(['b reverted', 'a finished']);
    expect(await list({ host: 'h3' })).toEqual([]);
    expect(await list({ status: 'reverted' })).toEqual(['b reverted']);
    expect(await list({ instance_uuid: a })).toEqual(['a finished']);
    expect(await list({ migration_type: 'evacuation' })).toEqual([]);
    expect(await list({ user_id: await t.userId('admin') })).toHaveLength(2);
    expect(await list({ user_id: 'someone-else' })).toEqual([]);

    const first = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.59', query: { limit: '1' } });
    expect(first.body.migrations).toHaveLength(1);
    const next = new URL(first.body.migrations_links[0].href);
    expect([next.pathname, next.searchParams.get('limit'), next.searchParams.get('marker')]).toEqual(['/compute/v2.1/os-migrations', '1', first.body.migrations[0].uuid]);
    const second = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.59', query: { limit: '1', marker: first.body.migrations[0].uuid } });
    expect(second.body.migrations.map((m: { instance_uuid: string }) => m.instance_uuid)).toEqual([a]);
    const bad = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.59', query: { marker: 'nosuch' } });
    expect([bad.status, bad.body.badRequest?.message]).toEqual([400, 'Marker nosuch could not be found.']);
    const unknown = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.59', query: { colour: 'red' } });
    expect(unknown.status).toBe(400);
    // Before 2.59 Nova's schema lets unknown parameters through, and ignores changes-since.
    expect((await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', query: { colour: 'red', 'changes-since': '2999-01-01T00:00:00Z' } })).body.migrations).toHaveLength(2);
    expect(await list({ 'changes-since': '2999-01-01T00:00:00Z' }, '2.59')).toEqual([]);
    const reversed = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.66', query: { 'changes-since': '2020-01-02T00:00:00Z', 'changes-before': '2020-01-01T00:00:00Z' } });
    expect([reversed.status, reversed.body.badRequest?.message]).toEqual([400, 'The value of changes-since must be less than or equal to changes-before.']);
  });
});

describe('evacuate', () => {
  test('while the host answers: 400 "Compute service of h1 is still in use."', async () => {
    const id = await bootActive(t, image);
    const res = await act(t, id, { evacuate: {} }, { as: 'admin', mv: '2.14' });
    expect([res.status, res.body.badRequest?.message]).toEqual([400, 'Compute service of h1 is still in use.']);
  });

  test('with the host down: 200 with adminPass below 2.14, an empty 200 from 2.14; ACTIVE on another host', async () => {
    const a = await bootActive(t, image);
    const b = await bootActive(t, image);
    h1.setUnavailable(true);
    const missing = await act(t, a, { evacuate: {} }, { as: 'admin' });
    expect(missing.status).toBe(400);
    expect(missing.body.badRequest.message).toMatch(/'onSharedStorage' is a required property$/);
    const old = await act(t, a, { evacuate: { onSharedStorage: 'False' } }, { as: 'admin' });
    expect(old.status).toBe(200);
    expect(old.body.adminPass).toMatch(/^[A-Za-z0-9]{12}$/);
    const fresh = await act(t, b, { evacuate: { host: 'h3' } }, { as: 'admin', mv: '2.14' });
    expect([fresh.status, fresh.text]).toEqual([200, '']);
    await idle();
    expect([(await show(t, a)).status, await hostOf(a)]).toEqual(['ACTIVE', 'h2']);
    expect([(await show(t, b)).status, await hostOf(b)]).toEqual(['ACTIVE', 'h3']);
    const list = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.23', query: { migration_type: 'evacuation' } });
    expect(list.body.migrations.map((m: { status: string; source_compute: string }) => [m.status, m.source_compute])).toEqual([['done', 'h1'], ['done', 'h1']]);
  });

  test('force: without a host 400 (2.29), not in the schema from 2.68; an unknown host 404', async () => {
    const id = await bootActive(t, image);
    h1.setUnavailable(true);
    const noHost = await act(t, id, { evacuate: { force: true } }, { as: 'admin', mv: '2.29' });
    expect([noHost.status, noHost.body.badRequest?.message]).toEqual([400, "Can't force to a non-provided destination"]);
    expect((await act(t, id, { evacuate: { host: 'h2', force: true } }, { as: 'admin', mv: '2.68' })).status).toBe(400);
    const unknown = await act(t, id, { evacuate: { host: 'h9' } }, { as: 'admin', mv: '2.14' });
    expect([unknown.status, unknown.body.itemNotFound?.message]).toEqual([404, 'Compute host h9 not found.']);
  });
});

describe('live migration', () => {
  test('os-migrateLive: 400, the Docker driver has no live migration; checked as Nova checks first (schema, policy, state)', async () => {
    const id = await bootActive(t, image);
    const v21 = await act(t, id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } }, { as: 'admin' });
    expect(v21.status).toBe(400);
    expect(v21.body.badRequest.message).toBe('Migration pre-check error: The compute driver of host h1 (Docker) does not support live migration. Use a cold migration (the migrate action) instead.');
    expect((await act(t, id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, { as: 'admin', mv: '2.25' })).status).toBe(400);
    const schema = await act(t, id, { 'os-migrateLive': { block_migration: 'auto' } }, { as: 'admin', mv: '2.25' });
    expect(schema.body.badRequest.message).toMatch(/'host' is a required property/);
    expect((await act(t, id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, { mv: '2.25' })).status).toBe(403);
    await act(t, id, { 'os-stop': null });
    await idle();
    const stopped = await act(t, id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, { as: 'admin', mv: '2.25' });
    expect([stopped.status, stopped.body.conflictingRequest?.message]).toEqual([409, `Cannot 'os-migrateLive' instance ${id} while it is in vm_state stopped`]);
    expect((await show(t, id))['OS-EXT-STS:task_state']).toBeNull();
  });

  test('/servers/{id}/migrations: none in progress (2.23), a cold migration is not a live one, abort is a conflict (2.24)', async () => {
    const id = await migratedServer();
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}/migrations`, { as: 'admin' })).status).toBe(404);
    const list = await call(t, 'get', `/compute/v2.1/servers/${id}/migrations`, { as: 'admin', mv: '2.23' });
    expect([list.status, list.body]).toEqual([200, { migrations: [] }]);
    const [cold] = (await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin' })).body.migrations;
    const showCold = await call(t, 'get', `/compute/v2.1/servers/${id}/migrations/${cold.id}`, { as: 'admin', mv: '2.23' });
    expect([showCold.status, showCold.body.itemNotFound?.message]).toEqual([404, `Migration ${cold.id} for server ${id} is not live-migration.`]);
    const showNone = await call(t, 'get', `/compute/v2.1/servers/${id}/migrations/999`, { as: 'admin', mv: '2.23' });
    expect([showNone.status, showNone.body.itemNotFound?.message]).toEqual([404, `In-progress live migration 999 is not found for server ${id}.`]);
    const abort = await call(t, 'delete', `/compute/v2.1/servers/${id}/migrations/${cold.id}`, { as: 'admin', mv: '2.24' });
    expect([abort.status, abort.body.conflictingRequest?.message]).toEqual([409, `Cannot 'abort live migration' instance ${id} while it is in task_state None`]);
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}/migrations/${cold.id}`, { as: 'admin', mv: '2.23' })).status).toBe(404);
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}/migrations`, { mv: '2.23' })).status).toBe(403);
  });

  test('force_complete (2.22): its body checked by schema, then refused by the state (no live migration is ever in flight)', async () => {
    const id = await migratedServer();
    const path = `/compute/v2.1/servers/${id}/migrations/7/action`;
    const bad = await call(t, 'post', path, { as: 'admin', mv: '2.22', body: { force_complete: {} } });
    expect([bad.status, bad.body.badRequest?.message]).toEqual([400, "Invalid input for field/attribute force_complete. Value: {}. is not of type 'null'"]);
    const extra = await call(t, 'post', path, { as: 'admin', mv: '2.22', body: { force_complete: null, x: 1 } });
    expect([extra.status, extra.body.badRequest?.message]).toEqual([400, expect.stringContaining("Additional properties are not allowed ('x' was unexpected)")]);
    const none = await call(t, 'post', path, { as: 'admin', mv: '2.22', body: { force_complete: null } });
    expect([none.status, none.body.conflictingRequest?.message]).toEqual([409, `Cannot 'force_complete' instance ${id} while it is in vm_state resized`]);
  });
});
