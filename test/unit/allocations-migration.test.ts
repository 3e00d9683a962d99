/**
 * The allocations migration's backfill (SQLite, or PostgreSQL with NOVADOCK_TEST_PG_URL): a
 * database from before allocations existed gets one allocation per server that is not deleted
 * and has a host, from the flavor it was booted with; the scheduler then sees that usage.
 */
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import * as allocations from '../../migrations/20261205000000_allocations';
import type { RequestContext } from '../../src/http/context';

let t: TestServices;
afterEach(async () => {
  await t.close();
});

test('servers placed before the migration hold their flavors; deleted and unplaced ones hold nothing', async () => {
  t = await makeTestServices({ drivers: [new FakeDriver({ host: 'a', hypervisor: { memoryMb: 2048 + 512 } })] });
  const image = await t.uploadImage();
  const c = await t.ctx('demo');
  const boot = async (name: string, flavorRef: string) => (await t.services.compute.boot.create(c, { name, imageRef: image, flavorRef, minCount: 1, maxCount: 1 })).servers[0].id;
  const small = await boot('small', '1');
  const gone = await boot('gone', '1');
  const unplaced = await boot('unplaced', '5');
  await t.services.compute.tasks.idle();
  await t.services.compute.deleter.delete(c, gone);
  await t.services.compute.tasks.idle();
  const admin = { isAdmin: true } as RequestContext;
  expect((await t.services.compute.queries.get(admin, unplaced)).host).toBeNull();

  // As it was before the migration: no table, the servers' hosts recorded.
  await t.services.db.schema.dropTable('allocations');
  await allocations.up(t.services.db);

  const rows = await t.services.db('allocations').select('consumer_id', 'host', 'memory_mb', 'vcpus');
  expect(rows).toEqual([{ consumer_id: small, host: 'a', memory_mb: 512, vcpus: 1 }]);
  const figures = await t.services.compute.placement.figures();
  expect(figures.get('a')).toMatchObject({ memoryMbUsed: 512 + 512, vcpusUsed: 1, runningVms: 1 });
});
