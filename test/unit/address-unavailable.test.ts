/**
 * An engine refuses a port's address (issue 17): on a swarm overlay an evacuated server's old
 * container, on a host that is gone, still holds it, or the swarm's load balancer does. The
 * server's port gets another address of its subnet and the spawn is tried again; the refused
 * address is not its any more. On the fake engine, with the real port service.
 */
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { AddressUnavailable } from '../../src/virt/driver';

let t: TestServices;
afterEach(() => t.close());

test('a spawn refused for its address comes up ACTIVE on another address of the same subnet', async () => {
  let refused: string | undefined;
  let pending: Error | undefined;
  const driver = new FakeDriver({
    host: 'fake-host',
    // The first spawn: the engine refuses the address the server's port holds at that moment.
    beforeCall: async (op, serverId) => {
      if (op !== 'spawn' || refused || !serverId) return;
      refused = (await t.services.networkCore.serverPorts.portsOf(serverId))[0].fixed_ips[0].ip_address;
      pending = new AddressUnavailable([refused], 'fake-host', 'attaching to network failed, make sure your network options are correct and check manager logs: context deadline exceeded');
    },
    failOn: () => {
      const e = pending;
      pending = undefined;
      return e;
    },
  });
  t = await makeTestServices({ driver });
  const image = await t.uploadImage();
  const ctx = await t.ctx();
  const { servers } = await t.services.compute.boot.create(ctx, { name: 'vm', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await t.services.compute.tasks.idle();
  const s = await t.services.compute.queries.get(ctx, servers[0].id);
  expect(s.vm_state).toBe('active');
  expect(refused).toBeDefined();
  const [port] = await t.services.networkCore.serverPorts.portsOf(s.id);
  expect(port.fixed_ips).toHaveLength(1);
  expect(port.fixed_ips[0].ip_address).not.toBe(refused);
  expect(s.addresses.private.map((a) => a.addr)).toEqual([port.fixed_ips[0].ip_address]);
  expect((await t.services.db('ip_allocations').where({ ip_address: refused })).length).toBe(0);
});
