/**
 * The compute API with the network service's ports (issue 17), through HTTP on the fake engine
 * (the port service stood in by test/helpers/fake-ports.ts): boot on a named network and a fixed
 * IP, `addresses` keyed by network name with type and MAC, Nova's errors for refused networks, and
 * os-interface list/show/attach/detach changing the instance's interfaces.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakePorts } from '../helpers/fake-ports';
import { FakeDriver } from '../../src/virt/fake/driver';
import { bootActive, boot, call, show, uploadImage } from './servers-support';

let t: TestApp;
let ports: FakePorts;
let driver: FakeDriver;
let image: string;
let n1: string;
let n2: string;

beforeAll(async () => {
  ports = new FakePorts();
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestApp({ driver, computePorts: ports.deps() });
  image = await uploadImage(t);
  n1 = ports.network('n1', '10.220.5.0/24');
  n2 = ports.network('n2', '10.220.6.0/24');
});
afterAll(() => t.close());

test('a server booted with a network and a fixed IP shows the address under the network name, with its MAC', async () => {
  const id = await bootActive(t, image, { name: 'nb', networks: [{ uuid: n1, fixed_ip: '10.220.5.50' }] }, { mv: '2.37' });
  const [p] = await ports.portsOf(id);
  expect((await show(t, id)).addresses).toEqual({ n1: [{ addr: '10.220.5.50', version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': p.port.mac_address }] });
  const ips = await call(t, 'get', `/compute/v2.1/servers/${id}/ips/n1`);
  expect(ips.body).toEqual({ n1: [{ addr: '10.220.5.50', version: 4 }] });
});

test("refused networks and ports are Nova's 400 and 409", async () => {
  const missing = '0b6f1a52-6a3e-4a0e-8b8b-5d0a1e2f3a4b';
  const r1 = await boot(t, image, { name: 'x', networks: [{ uuid: missing }] }, { mv: '2.37' });
  expect([r1.status, r1.body]).toEqual([400, { badRequest: { code: 400, message: `Network ${missing} could not be found.` } }]);
  const used = ports.userPort(n1);
  await bootActive(t, image, { name: 'y', networks: [{ port: used }] }, { mv: '2.37' });
  const r2 = await boot(t, image, { name: 'z', networks: [{ port: used }] }, { mv: '2.37' });
  expect([r2.status, r2.body]).toEqual([409, { conflictingRequest: { code: 409, message: `Port ${used} is still in use.` } }]);
});

test('os-interface attaches and detaches an interface, and the instance and addresses follow', async () => {
  const id = await bootActive(t, image, { name: 'if', networks: [{ uuid: n1 }] }, { mv: '2.37' });
  const base = `/compute/v2.1/servers/${id}/os-interface`;
  const attached = await call(t, 'post', base, { body: { interfaceAttachment: { net_id: n2, fixed_ips: [{ ip_address: '10.220.6.7' }] } } });
  expect(attached.status).toBe(200);
  const a = attached.body.interfaceAttachment;
  expect(a).toEqual({ net_id: n2, port_id: expect.any(String), mac_addr: expect.stringMatching(/^fa:16:3e:/), port_state: 'ACTIVE', fixed_ips: [{ subnet_id: expect.any(String), ip_address: '10.220.6.7' }] });
  expect(driver.specOf(id)!.nics!.map((n) => n.ip)).toEqual([expect.stringMatching(/^10\.220\.5\./), '10.220.6.7']);
  expect(Object.keys((await show(t, id)).addresses).sort()).toEqual(['n1', 'n2']);
  const list = await call(t, 'get', base);
  expect(list.body.interfaceAttachments.map((x: { net_id: string }) => x.net_id)).toEqual([n1, n2]);
  expect((await call(t, 'get', `${base}/${a.port_id}`)).body.interfaceAttachment).toEqual(a);

  expect((await call(t, 'post', base, { body: { interfaceAttachment: { net_id: n2, port_id: a.port_id } } })).body.badRequest.message).toBe('Must not input both network_id and port_id');
  expect((await call(t, 'post', base, { body: { interfaceAttachment: { fixed_ips: [{ ip_address: '10.220.6.8' }] } } })).body.badRequest.message).toBe('Must input network_id when request IP address');

  expect((await call(t, 'delete', `${base}/${a.port_id}`)).status).toBe(202);
  expect(driver.specOf(id)!.nics!.map((n) => n.label)).toEqual(['n1']);
  expect(Object.keys((await show(t, id)).addresses)).toEqual(['n1']);
  expect(ports.ports.has(a.port_id)).toBe(false);
  const gone = await call(t, 'get', `${base}/${a.port_id}`);
  expect([gone.status, gone.body.itemNotFound.message]).toEqual([404, `Instance ${id} does not have a port with id ${a.port_id}`]);
});
