/**
 * Boot with the network service's ports (issue 17), on the fake engine: a server's interfaces are
 * the ports made (or taken) at the API call, with their fixed IPs and MACs; `none` has none;
 * `auto` is the project's default network; the network service's refusals are Nova's answers and
 * leave nothing behind; ports follow the server (bound when it runs, released when it goes).
 */
import { makeTestServices, TestServices } from '../helpers/services';
import { FakePorts } from '../helpers/fake-ports';
import { FakeDriver } from '../../src/virt/fake/driver';
import type { DomainError } from '../../src/errors';
import type { NetworkRequest } from '../../src/compute/services/server-ports';

let t: TestServices;
let driver: FakeDriver;
let ports: FakePorts;
let emitted: string[];
let image: string;

beforeEach(async () => {
  driver = new FakeDriver({ host: 'fake-host' });
  ports = new FakePorts();
  emitted = [];
  t = await makeTestServices({ driver, computePorts: ports.deps(emitted) });
  image = await t.uploadImage();
});
afterEach(() => t.close());

async function boot(networks?: NetworkRequest, extra: { maxCount?: number; securityGroups?: string[] } = {}): Promise<string> {
  const { servers } = await t.services.compute.boot.create(await t.ctx(), { name: 'vm', imageRef: image, flavorRef: '1', minCount: 1, maxCount: extra.maxCount ?? 1, networks, securityGroups: extra.securityGroups });
  await t.services.compute.tasks.idle();
  return servers[0].id;
}
const refusal = async (p: Promise<unknown>): Promise<{ kind: string; message: string }> => {
  const e = (await p.then(() => undefined, (err: DomainError) => err))!;
  return { kind: e.kind, message: e.message };
};
const server = async (id: string) => t.services.compute.queries.get(await t.ctx(), id);

describe('a server booted on networks of the network service', () => {
  test('gets one interface per network, with the ports addresses and MACs, under the networks names; its ports are bound', async () => {
    const n1 = ports.network('n1', '10.220.5.0/24', { dns: ['10.220.5.53'] });
    const n2 = ports.network('n2', '10.220.6.0/24');
    const id = await boot([{ uuid: n1 }, { uuid: n2, fixed_ip: '10.220.6.50' }]);
    const s = await server(id);
    expect(s.vm_state).toBe('active');
    const [p1, p2] = await ports.portsOf(id);
    expect(s.addresses).toEqual({
      n1: [{ addr: p1.fixed_ips[0].ip_address, version: 4, mac: p1.port.mac_address }],
      n2: [{ addr: '10.220.6.50', version: 4, mac: p2.port.mac_address }],
    });
    expect(driver.specOf(id)?.nics).toEqual([
      { networkId: n1, label: 'n1', subnet: '10.220.5.0/24', gateway: '10.220.5.1', ip: p1.fixed_ips[0].ip_address, mac: p1.port.mac_address, dns: ['10.220.5.53'] },
      { networkId: n2, label: 'n2', subnet: '10.220.6.0/24', gateway: '10.220.6.1', ip: '10.220.6.50', mac: p2.port.mac_address },
    ]);
    expect([p1.port.status, p2.port.status]).toEqual(['ACTIVE', 'ACTIVE']);
    expect(emitted).toEqual([id]);
    expect(s.requested_networks).toEqual([n1, n2]);
  });

  test('a port the user made is its interface; on delete the ports made for it go and the user port stays, unbound', async () => {
    const n1 = ports.network('n1', '10.220.5.0/24');
    const mine = ports.userPort(n1, '10.220.5.9');
    const id = await boot([{ port: mine }, { uuid: n1 }]);
    expect((await server(id)).addresses.n1.map((a) => a.addr)).toEqual(['10.220.5.9', '10.220.5.2']);
    await t.services.compute.deleter.delete(await t.ctx(), id);
    await t.services.compute.tasks.idle();
    expect([...ports.ports.keys()]).toEqual([mine]);
    expect(ports.ports.get(mine)!.port.device_id).toBe('');
    expect(emitted).toEqual([id, id]);
  });

  test('none has no interface and no port; auto (and no networks before 2.37) is the project default network', async () => {
    const none = await boot('none');
    expect(driver.specOf(none)?.nics).toBeUndefined();
    expect(driver.specOf(none)?.network).toBeNull();
    expect((await server(none)).addresses).toEqual({});
    const auto = await boot('auto');
    const absent = await boot(undefined);
    for (const id of [auto, absent]) {
      const nics = driver.specOf(id)!.nics!;
      expect(nics).toHaveLength(1);
      expect(nics[0]).toMatchObject({ label: 'private', projectDefault: true });
      expect(Object.keys((await server(id)).addresses)).toEqual(['private']);
    }
    expect(ports.ports.size).toBe(2);
  });

  test("the network service's refusals are Nova's answers, and leave no server and no port", async () => {
    const n1 = ports.network('n1', '10.220.5.0/24');
    const used = ports.userPort(n1);
    await boot([{ port: used }]);
    const before = ports.ports.size;
    const missing = '6f1d7a1e-7b4c-4d0e-9a65-2f7b8a4c0001';
    expect(await refusal(boot([{ uuid: missing }]))).toEqual({ kind: 'invalid', message: `Network ${missing} could not be found.` });
    expect(await refusal(boot([{ port: missing }]))).toEqual({ kind: 'invalid', message: `Port ${missing} could not be found.` });
    expect(await refusal(boot([{ port: used }]))).toEqual({ kind: 'conflict', message: `Port ${used} is still in use.` });
    const taken = ports.ports.get(used)!.fixed_ips[0].ip_address;
    const r = await refusal(boot([{ uuid: n1 }, { uuid: n1, fixed_ip: taken }]));
    expect(r.kind).toBe('invalid');
    expect(r.message).toMatch(new RegExp(`^Fixed IP address ${taken.replace(/\./g, '\\.')} is already in use on instance [0-9a-f-]{36}\\.$`));
    expect(await refusal(boot([{ uuid: n1 }], { maxCount: 2, securityGroups: ['nosuch'] }))).toEqual({ kind: 'invalid', message: `Security group nosuch not found for project ${(await t.ctx()).projectId}.` });
    expect(await refusal(boot([{ port: used }], { maxCount: 2 }))).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/^Unable to launch multiple instances with a single configured port ID/) });
    expect(await refusal(boot([{ uuid: n1, fixed_ip: '10.220.5.77' }], { maxCount: 2 }))).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/max_count cannot be greater than 1 if an fixed_ip is specified/) });
    expect(ports.ports.size).toBe(before);
    expect((await t.services.compute.queries.list(await t.ctx(), {})).length).toBe(1);
  });

  test('its ports say DOWN while it is stopped (through the API or behind its back) and ACTIVE when it runs again', async () => {
    const n1 = ports.network('n1', '10.220.5.0/24');
    const id = await boot([{ uuid: n1 }]);
    const status = async () => (await ports.portsOf(id))[0].port.status;
    await t.services.compute.actions.stop(await t.ctx(), id);
    await t.services.compute.tasks.idle();
    expect(await status()).toBe('DOWN');
    await t.services.compute.actions.start(await t.ctx(), id);
    await t.services.compute.tasks.idle();
    expect(await status()).toBe('ACTIVE');
    driver.externalKill(id);
    await t.services.compute.sync.syncPowerState(id, await driver.getInfo(id), new Date(Date.now() + 1000).toISOString());
    expect(await status()).toBe('DOWN');
  });

  test('a rebuild recreates the instance with the same ports, addresses and MACs', async () => {
    const n1 = ports.network('n1', '10.220.5.0/24');
    const id = await boot([{ uuid: n1 }]);
    const before = driver.specOf(id)!.nics;
    await t.services.compute.actions.rebuild(await t.ctx(), id, { imageRef: image });
    await t.services.compute.tasks.idle();
    expect((await server(id)).vm_state).toBe('active');
    expect(driver.specOf(id)!.nics).toEqual(before);
  });
});
