/**
 * Resize through HTTP on one fake host (issue 15): the action's 202, VERIFY_RESIZE with the new
 * flavor in the server body (per microversion), os-migrations' resize row, confirm and revert,
 * /limits counting the new flavor, and Nova's 400, 403, 404 and 409 answers.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { act, bootActive, call, show, uploadImage } from './servers-support';
import { tempestProblems } from './tempest-schemas';

let t: TestApp;
let h1: FakeDriver;
let image: string;

beforeEach(async () => {
  h1 = new FakeDriver({ host: 'h1' });
  t = await makeTestApp({ drivers: [h1], quotas: { cores: 3 } });
  image = await uploadImage(t);
});
afterEach(async () => {
  await t.close();
});

const idle = () => t.services.compute.tasks.idle();

async function resizedServer(flavorRef: unknown = '2'): Promise<string> {
  const id = await bootActive(t, image);
  const res = await act(t, id, { resize: { flavorRef } });
  expect([res.status, res.text]).toEqual([202, '']);
  await idle();
  return id;
}

const used = async () => (await call(t, 'get', '/compute/v2.1/limits')).body.limits.absolute;

describe('resize, confirm, revert', () => {
  test('resize (202) → VERIFY_RESIZE on the same host with the new flavor shown; the container keeps running with the new limits', async () => {
    const id = await resizedServer();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:task_state'], s['OS-EXT-SRV-ATTR:host'], s.flavor.id]).toEqual(['VERIFY_RESIZE', 'resized', null, 'h1', '2']);
    const v247 = await show(t, id, { mv: '2.47' });
    expect(v247.flavor).toMatchObject({ original_name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 });
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 2048 });
    expect((await h1.getInfo(id)).powerState).toBe(1);
    const actions = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(actions.body.instanceActions.map((a: { action: string }) => a.action)).toEqual(['resize', 'create']);
  });

  test('OS-DCF:diskConfig given with resize is recorded and shown; a resize without it leaves MANUAL (compute/api.py: auto_disk_config or False)', async () => {
    const id = await bootActive(t, image);
    expect((await act(t, id, { resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'AUTO' } })).status).toBe(202);
    await idle();
    expect((await show(t, id))['OS-DCF:diskConfig']).toBe('AUTO');
    expect((await act(t, id, { confirmResize: null })).status).toBe(204);
    await idle();
    expect((await act(t, id, { resize: { flavorRef: '1' } })).status).toBe(202);
    await idle();
    expect((await show(t, id))['OS-DCF:diskConfig']).toBe('MANUAL');
  });

  test('os-migrations lists the resize with its flavors\' ids (2.23: migration_type resize)', async () => {
    const id = await resizedServer();
    const v223 = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.23' });
    expect(tempestProblems('v2_23/migrations.list_migrations', v223)).toEqual([]);
    const [m] = v223.body.migrations;
    expect(m).toMatchObject({ instance_uuid: id, migration_type: 'resize', status: 'finished', source_compute: 'h1', dest_compute: 'h1' });
    expect(m.old_instance_type_id).not.toBe(m.new_instance_type_id);
    const filtered = await call(t, 'get', '/compute/v2.1/os-migrations', { as: 'admin', mv: '2.23', query: { migration_type: 'resize' } });
    expect(filtered.body.migrations).toHaveLength(1);
  });

  test('confirmResize (204) keeps the new flavor; /limits counts it', async () => {
    const id = await resizedServer('3');
    expect([(await used()).totalCoresUsed, (await used()).totalRAMUsed]).toEqual([2, 4096]);
    const res = await act(t, id, { confirmResize: null });
    expect([res.status, res.text]).toEqual([204, '']);
    await idle();
    const s = await show(t, id);
    expect([s.status, s.flavor.id]).toEqual(['ACTIVE', '3']);
    expect((await used()).totalCoresUsed).toBe(2);
  });

  test('revertResize (202) puts the old flavor back, ACTIVE; /limits counts the old flavor again', async () => {
    const id = await resizedServer('3');
    const res = await act(t, id, { revertResize: null });
    expect([res.status, res.text]).toEqual([202, '']);
    await idle();
    const s = await show(t, id);
    expect([s.status, s.flavor.id]).toEqual(['ACTIVE', '1']);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 512, vcpus: 1 });
    expect([(await used()).totalCoresUsed, (await used()).totalRAMUsed]).toEqual([1, 512]);
  });

  test('a stopped server: resize → VERIFY_RESIZE, revert → SHUTOFF', async () => {
    const id = await bootActive(t, image);
    await act(t, id, { 'os-stop': null });
    await idle();
    expect((await act(t, id, { resize: { flavorRef: 2, 'OS-DCF:diskConfig': 'AUTO' } })).status).toBe(202);
    await idle();
    expect((await show(t, id)).status).toBe('VERIFY_RESIZE');
    await act(t, id, { revertResize: null });
    await idle();
    expect((await show(t, id)).status).toBe('SHUTOFF');
  });
});

describe('refusals in Nova\'s words', () => {
  test('400: no flavorRef, an empty one, an unknown key, an unknown flavor, the same flavor', async () => {
    const id = await bootActive(t, image);
    const bad = async (body: unknown) => { const r = await act(t, id, body); return [r.status, r.body.badRequest?.message]; };
    expect((await bad({ resize: {} }))[0]).toBe(400);
    expect((await bad({ resize: null }))[0]).toBe(400);
    expect((await bad({ resize: { flavorRef: '' } }))[0]).toBe(400);
    expect((await bad({ resize: { flavorRef: '2', extra: 1 } }))[0]).toBe(400);
    expect((await bad({ resize: { flavorRef: '2', 'OS-DCF:diskConfig': 'SOMETIMES' } }))[0]).toBe(400);
    expect(await bad({ resize: { flavorRef: '999' } })).toEqual([400, 'Flavor 999 could not be found.']);
    expect(await bad({ resize: { flavorRef: '1' } })).toEqual([400, 'When resizing, instances must change flavor!']);
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('403 over the cores quota, 404 for an unknown or another project\'s server', async () => {
    const id = await bootActive(t, image);
    const big = await call(t, 'post', '/compute/v2.1/flavors', { as: 'admin', body: { flavor: { name: 'big', ram: 1024, vcpus: 4, disk: 1, id: 'big' } } });
    expect(big.status).toBe(200);
    const over = await act(t, id, { resize: { flavorRef: 'big' } });
    expect([over.status, over.body.forbidden?.message]).toEqual([403, 'Quota exceeded for cores: Requested 3, but already used 1 of 3 cores']);
    expect((await act(t, '8d2b4a4e-53d1-4d8c-9e35-2e7b1b5a1d2f', { resize: { flavorRef: '2' } })).status).toBe(404);
    expect((await act(t, id, { resize: { flavorRef: '2' } }, { as: 'alt' })).status).toBe(404);
  });

  test('409: locked by an admin, and a second resize while VERIFY_RESIZE', async () => {
    const id = await bootActive(t, image);
    await act(t, id, { lock: null }, { as: 'admin' });
    const locked = await act(t, id, { resize: { flavorRef: '2' } });
    expect([locked.status, locked.body.conflictingRequest?.message]).toEqual([409, `Instance ${id} is locked`]);
    await act(t, id, { unlock: null }, { as: 'admin' });
    expect((await act(t, id, { resize: { flavorRef: '2' } })).status).toBe(202);
    await idle();
    const again = await act(t, id, { resize: { flavorRef: '3' } });
    expect([again.status, again.body.conflictingRequest?.message]).toEqual([409, `Cannot 'resize' instance ${id} while it is in vm_state resized`]);
  });
});
