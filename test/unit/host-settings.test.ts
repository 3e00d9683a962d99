/**
 * The rules behind os-services and os-aggregates, on the services the composition root builds
 * (fake drivers, a real database): concurrent changes never put a host in two zones; a host's
 * zone, disabled flag and forced_down reach the scheduler's HostSettingsPort and the
 * availability zones at once; an engine that stops answering shows its service down.
 */
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';

let t: TestServices;
let c: FakeDriver;

beforeAll(async () => {
  c = new FakeDriver({ host: 'c' });
  t = await makeTestServices({ drivers: [new FakeDriver({ host: 'a' }), new FakeDriver({ host: 'b' }), c] });
});
afterAll(async () => { await t.close(); });

const compute = () => t.services.compute;

test('two admins adding one host to aggregates of different zones at once: exactly one succeeds, the other is refused', async () => {
  const az1 = await compute().aggregates.create('race-az1', 'az1');
  const az2 = await compute().aggregates.create('race-az2', 'az2');
  const results = await Promise.allSettled([compute().aggregates.addHost(az1.id, 'a'), compute().aggregates.addHost(az2.id, 'a')]);
  expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
  expect(refused).toMatchObject({ kind: 'conflict' });
  expect(refused.message).toMatch(/One or more hosts already in availability zone\(s\) \['az[12]'\]/);
  const zones = (await compute().hostSettings.all()).map((h) => [h.host, h.zone]);
  expect([['a', 'az1'], ['a', 'az2']]).toContainEqual(zones[0]);
  expect(zones.slice(1)).toEqual([['b', 'nova'], ['c', 'nova']]);
});

test('a disabled or forced-down host is what the scheduler reads; the zone listing follows', async () => {
  await compute().osServices.updateByHost('b', 'nova-compute', { disabled: true, disabledReason: 'drain' });
  await compute().osServices.updateByHost('c', 'nova-compute', { forcedDown: true });
  const [, b, cc] = await compute().hostSettings.all();
  expect(b).toEqual({ host: 'b', disabled: true, disabledReason: 'drain', forcedDown: false, zone: 'nova' });
  expect(cc).toMatchObject({ host: 'c', disabled: false, forcedDown: true });
  const services = await compute().osServices.list({ binary: 'nova-compute' });
  expect(services.map((s) => [s.host, s.up, s.disabled])).toEqual([['a', true, false], ['b', true, true], ['c', false, false]]);
  // Zone "nova" still has c enabled: it stays available.
  expect((await compute().zones.list()).find((z) => z.name === 'nova')).toEqual({ name: 'nova', available: true });
});

test('an engine that stops answering shows its nova-compute down once the host cache hears it', async () => {
  await compute().osServices.updateByHost('c', 'nova-compute', { forcedDown: false });
  expect((await compute().osServices.list({ host: 'c' }))[0].up).toBe(true);
  c.setUnavailable(true);
  await compute().hosts.refresh();
  expect((await compute().osServices.list({ host: 'c' }))[0].up).toBe(false);
  c.setUnavailable(false);
  await compute().hosts.refresh();
  expect((await compute().osServices.list({ host: 'c' }))[0].up).toBe(true);
});
