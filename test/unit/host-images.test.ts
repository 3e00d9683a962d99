/**
 * Images onto hosts: a host that lacks a server's image gets it from the image store before the
 * spawn, once, even when ten boots on that host need it at the same moment; and the scheduler's
 * hint (holds) knows where an image is without asking an engine.
 */
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import type { RequestContext } from '../../src/http/context';

let t: TestServices;
let a: FakeDriver;
let b: FakeDriver;
const calls: Record<string, FakeOp[]> = { a: [], b: [] };

beforeEach(async () => {
  calls.a = [];
  calls.b = [];
  const mk = (host: 'a' | 'b') => new FakeDriver({ host, beforeCall: (op) => { calls[host].push(op); } });
  a = mk('a');
  b = mk('b');
  t = await makeTestServices({ drivers: [a, b], quotas: { instances: 50, cores: 100, ram: 100_000 } });
});
afterEach(async () => {
  await t.close();
});

const loads = (host: 'a' | 'b') => calls[host].filter((op) => op === 'loadImage').length;

test('ten concurrent boots on a host without the image load it once, and all become ACTIVE', async () => {
  const image = await t.uploadImage();
  const ref = (await t.services.images.get(await t.ctx('admin'), image)).engine_image_id!;
  expect([loads('a'), loads('b'), await b.hasImage(ref)]).toEqual([1, 0, false]);
  const admin = await t.ctx('admin');
  const boots = await Promise.all(Array.from({ length: 10 }, (_, i) => t.services.compute.boot.create(admin, {
    name: `b${i}`, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1, availabilityZone: 'nova:b',
  })));
  await t.services.compute.tasks.idle();
  expect(loads('b')).toBe(1);
  for (const { servers } of boots) {
    const s = await t.services.compute.queries.get({ isAdmin: true } as RequestContext, servers[0].id);
    expect([s.host, s.vm_state]).toEqual(['b', 'active']);
  }
  expect(t.services.hostImages.holds('b', ref)).toBe(true);
});

test('the scheduler hint knows the upload host holds a new image, and another host once it loaded it', async () => {
  const image = await t.uploadImage();
  const ref = (await t.services.images.get(await t.ctx('admin'), image)).engine_image_id!;
  const before = calls.a.length + calls.b.length;
  expect([t.services.hostImages.holds('a', ref), t.services.hostImages.holds('b', ref)]).toEqual([true, false]);
  expect(calls.a.length + calls.b.length).toBe(before); // no engine asked
  await Promise.all(Array.from({ length: 10 }, () => t.services.hostImages.ensureOnHost({ id: image, engine_image_id: ref }, b)));
  expect([loads('b'), t.services.hostImages.holds('b', ref)]).toEqual([1, true]);
});
