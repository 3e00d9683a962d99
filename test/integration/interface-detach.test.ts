/**
 * os-interface detach with the network service's own ports (issue 17), as every boot now has
 * them: a port made for the attach goes with the detach (its address free again), a user's port
 * attached with `server add port` is let go and stays. The fake ports of network-boot.test.ts
 * had `detach`, the real ones did not: `openstack server remove network|port` answered 500.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { bootActive, call, uploadImage } from './servers-support';

let h: TestApp;
const N = '/networking/v2.0';

beforeAll(async () => { h = await makeTestApp(); });
afterAll(async () => { await h.close(); });

test('a port made by the attach is deleted by the detach; a user\'s port is unbound and stays', async () => {
  const net = (await call(h, 'post', `${N}/networks`, { body: { network: { name: 'detach-net' } } })).body.network.id as string;
  expect((await call(h, 'post', `${N}/subnets`, { body: { subnet: { network_id: net, cidr: '10.220.90.0/24', ip_version: 4 } } })).status).toBe(201);
  const image = await uploadImage(h);
  const id = await bootActive(h, image);
  const base = `/compute/v2.1/servers/${id}/os-interface`;

  const made = await call(h, 'post', base, { body: { interfaceAttachment: { net_id: net, fixed_ips: [{ ip_address: '10.220.90.7' }] } } });
  expect(made.status).toBe(200);
  const madePort = made.body.interfaceAttachment.port_id as string;
  expect((await call(h, 'delete', `${base}/${madePort}`)).status).toBe(202);
  expect((await call(h, 'get', `${N}/ports/${madePort}`)).status).toBe(404);
  expect((await call(h, 'get', base)).body.interfaceAttachments).toHaveLength(1);

  // The address is free again: a user's port takes it, and is attached and detached in turn.
  const user = (await call(h, 'post', `${N}/ports`, { body: { port: { network_id: net, name: 'mine', fixed_ips: [{ ip_address: '10.220.90.7' }] } } })).body.port.id as string;
  expect((await call(h, 'post', base, { body: { interfaceAttachment: { port_id: user } } })).status).toBe(200);
  expect((await call(h, 'get', `${N}/ports/${user}`)).body.port.device_id).toBe(id);
  expect((await call(h, 'delete', `${base}/${user}`)).status).toBe(202);
  const after = (await call(h, 'get', `${N}/ports/${user}`)).body.port;
  expect(after).toMatchObject({ id: user, device_id: '', device_owner: '', fixed_ips: [{ subnet_id: expect.any(String), ip_address: '10.220.90.7' }] });
  expect((await call(h, 'get', base)).body.interfaceAttachments).toHaveLength(1);
  expect((await call(h, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
});
