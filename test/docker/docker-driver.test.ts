/**
 * What only a real engine can show about the DockerDriver: the container's limits and
 * hardening as the engine reports them, files written before start, OOM kills, tenant
 * network isolation, events, foreign containers left alone, and an engine that is down.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { HypervisorUnavailable, InstanceEvent, InstanceNotFound, InstanceSpec, SpawnFailed } from '../../src/virt/driver';
import { eventually, idleCommand, TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';
import { spawnOnFreeSubnet, testNetwork } from '../helpers/test-subnets';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog(), rebootTimeoutSeconds: 5 });
let imageRef: string;
const foreign: string[] = [];
const images: string[] = [];

const project = () => `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
const name = (serverId: string) => `novadock-${serverId}`;

function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const projectId = overrides.projectId ?? project();
  return {
    serverId: crypto.randomUUID(),
    projectId,
    hostname: 'web-1',
    imageRef,
    command: idleCommand('ready'),
    memoryMb: 128,
    vcpus: 1,
    env: {},
    network: testNetwork(projectId),
    ...overrides,
  };
}

async function inspect(serverId: string): Promise<any> {
  const r = await dockerCli(['inspect', name(serverId)]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[0];
}

async function exec(serverId: string, cmd: string[]): Promise<{ code: number; stdout: string }> {
  return dockerCli(['exec', name(serverId), ...cmd]);
}

beforeAll(async () => {
  const image = busyboxImage('docker-driver');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  imageRef = image.imageId;
});

afterAll(async () => {
  if (foreign.length) await dockerCli(['rm', '-f', ...foreign]);
  for (const img of images) await driver.removeImage(img);
  await removeTestArtifacts(host);
});

describe('the container of a server', () => {
  test('has the flavor limits and nothing that widens its reach', async () => {
    const s = spec({ memoryMb: 96, vcpus: 1, env: { ROLE: 'web', 'not a name': 'x', 'a.b': 'y' } });
    await spawnOnFreeSubnet(driver, s);
    const c = await inspect(s.serverId);
    const hc = c.HostConfig;
    expect(hc.Memory).toBe(96 * 1024 * 1024);
    expect(hc.MemorySwap).toBe(96 * 1024 * 1024);
    expect(hc.NanoCpus).toBe(1e9);
    expect(hc.PidsLimit).toBe(1024);
    expect(hc.Privileged).toBe(false);
    expect(hc.CapAdd ?? []).toEqual([]);
    expect(hc.Binds ?? []).toEqual([]);
    expect(hc.Mounts ?? []).toEqual([]);
    expect(hc.Devices ?? []).toEqual([]);
    expect(c.Mounts).toEqual([]);
    expect(hc.NetworkMode).toBe(`novadock-net-${s.projectId}`);
    expect(hc.IpcMode).toBe('private');
    expect(hc.PidMode).toBe('');
    expect(hc.UsernsMode).toBe('');
    expect(hc.SecurityOpt).toContain('no-new-privileges');
    expect(hc.RestartPolicy.Name).toBe('no');
    expect(hc.LogConfig.Type).toBe('json-file');
    expect(hc.LogConfig.Config['max-size']).toBeDefined();
    expect(c.Config.Hostname).toBe('web-1');
    expect(c.Config.Labels).toMatchObject({
      'novadock.managed': 'true',
      'novadock.server_id': s.serverId,
      'novadock.project_id': s.projectId,
      'novadock.host': host,
    });
    expect(c.Config.Env).toContain('ROLE=web');
    expect(c.Config.Env.join('\n')).not.toMatch(/not a name|a\.b=/);
    // And the process sees it: the memory cgroup limit inside the container (cgroup v2, else v1).
    const v2 = await exec(s.serverId, ['cat', '/sys/fs/cgroup/memory.max']);
    const limit = v2.code === 0 ? v2 : await exec(s.serverId, ['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    expect(limit.code).toBe(0);
    expect(Number(limit.stdout.trim())).toBe(96 * 1024 * 1024);
  });

  test('hostile names and metadata stay data: no privilege, no host namespaces, a memory limit', async () => {
    const s = spec({
      hostname: '--privileged --net=host; rm -rf /',
      env: { Privileged: 'true', NetworkMode: 'host', HOST_CONFIG: '{"Binds":["/:/host"]}', PATH: '/bin', 'X=Y': 'z' },
      userData: Buffer.from('#cloud-config\nruncmd: [mount /dev/sda1 /mnt]\n'),
    });
    await spawnOnFreeSubnet(driver, s);
    const c = await inspect(s.serverId);
    expect(c.HostConfig.Privileged).toBe(false);
    expect(c.HostConfig.NetworkMode).toBe(`novadock-net-${s.projectId}`);
    expect(c.HostConfig.Binds ?? []).toEqual([]);
    expect(c.HostConfig.Memory).toBeGreaterThan(0);
    expect(c.Config.Hostname).toMatch(/^[a-z0-9.-]+$/);
    expect(c.Config.Env).toContain('Privileged=true');
  });

  test('the authorized keys are written before start, root-owned, dir 0700 and file 0600', async () => {
    const keys = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDockerOnly test@novadock\n';
    const s = spec({ authorizedKeys: keys });
    await spawnOnFreeSubnet(driver, s);
    expect((await exec(s.serverId, ['cat', '/root/.ssh/authorized_keys'])).stdout).toBe(keys);
    const dir = (await exec(s.serverId, ['ls', '-ldn', '/root/.ssh'])).stdout;
    const file = (await exec(s.serverId, ['ls', '-ln', '/root/.ssh/authorized_keys'])).stdout;
    expect(dir).toMatch(/^drwx------\s+\d+\s+0\s+0\s/);
    expect(file).toMatch(/^-rw-------\s+\d+\s+0\s+0\s/);
    const c = await inspect(s.serverId);
    expect(c.Mounts).toEqual([]);
  });

  test('a spec without a memory limit is refused before any container exists', async () => {
    const s = spec({ memoryMb: 0 });
    await expect(spawnOnFreeSubnet(driver, s)).rejects.toBeInstanceOf(SpawnFailed);
    expect((await dockerCli(['inspect', name(s.serverId)])).code).not.toBe(0);
  });

  test('a command that does not exist fails the spawn with the reason and leaves nothing', async () => {
    const s = spec({ command: ['/bin/no-such-program'] });
    const err = await spawnOnFreeSubnet(driver, s).catch((e) => e);
    expect(err).toBeInstanceOf(SpawnFailed);
    expect((err as SpawnFailed).reason).toMatch(/no-such-program/);
    expect((err as SpawnFailed).reason).not.toMatch(/[0-9a-f]{64}/);
    expect((await dockerCli(['inspect', name(s.serverId)])).code).not.toBe(0);
  });
});

describe('memory limit', () => {
  test('when the process allocates beyond its RAM, then it is OOM-killed, the event says oom and getInfo shows it', async () => {
    const s = spec({ memoryMb: 32, command: ['/bin/sh', '-c', 'sleep 1; exec dd if=/dev/zero of=/dev/null bs=256M count=1'] });
    const seen: InstanceEvent[] = [];
    const off = driver.subscribe((e) => seen.push(e), () => undefined);
    try {
      await spawnOnFreeSubnet(driver, s);
      const info = await eventually(async () => {
        const i = await driver.getInfo(s.serverId);
        expect(i.powerState).toBe(4);
        return i;
      });
      expect(info.oomKilled).toBe(true);
      expect(info.exitCode).toBe(137);
      await eventually(() => expect(seen).toContainEqual(expect.objectContaining({ serverId: s.serverId, type: 'oom' })));
      expect(seen).toContainEqual(expect.objectContaining({ serverId: s.serverId, type: 'die' }));
      // The engine is fine afterwards.
      await expect(driver.ping()).resolves.toBeUndefined();
    } finally {
      off();
    }
  });
});

describe('tenant networks', () => {
  test("a project's containers reach each other, and not another project's", async () => {
    const pa = project();
    const pb = project();
    const [a1, a2, b1] = await Promise.all([
      spawnOnFreeSubnet(driver, spec({ projectId: pa, network: testNetwork(pa) })).then((info) => info),
      spawnOnFreeSubnet(driver, spec({ projectId: pa, network: testNetwork(pa) })),
      spawnOnFreeSubnet(driver, spec({ projectId: pb, network: testNetwork(pb) })),
    ]);
    const servers = (await driver.listInstances()).filter((i) => i.projectId === pa || i.projectId === pb);
    const a1Id = servers.find((i) => i.info.addresses[0]?.addr === a1.addresses[0].addr)!.serverId;
    expect(a1.addresses[0].addr).not.toBe(b1.addresses[0].addr);

    const same = await exec(a1Id, ['ping', '-c', '1', '-W', '2', a2.addresses[0].addr]);
    expect(same.code).toBe(0);
    const other = await exec(a1Id, ['ping', '-c', '1', '-W', '2', b1.addresses[0].addr]);
    expect(other.code).not.toBe(0);
  });

  test('the project network is labelled as ours', async () => {
    const s = spec();
    await spawnOnFreeSubnet(driver, s);
    const r = await dockerCli(['network', 'inspect', `novadock-net-${s.projectId}`]);
    const net = JSON.parse(r.stdout)[0];
    expect(net.Labels).toMatchObject({ 'novadock.managed': 'true', 'novadock.project_id': s.projectId });
    expect(net.Driver).toBe('bridge');
  });
});

describe('containers that are not ours', () => {
  test('are never listed, heard or touched, even when named like ours or labelled for another host', async () => {
    const impostorId = crypto.randomUUID();
    const plain = `tdrv-plain-${crypto.randomBytes(4).toString('hex')}`;
    const otherHostId = crypto.randomUUID();
    foreign.push(name(impostorId), plain, name(otherHostId));
    expect((await dockerCli(['run', '-d', '--name', name(impostorId), imageRef, 'sleep', '600'])).code).toBe(0);
    expect((await dockerCli(['run', '-d', '--name', plain, imageRef, 'sleep', '600'])).code).toBe(0);
    expect((await dockerCli(['run', '-d', '--name', name(otherHostId), '--label', 'novadock.managed=true', '--label', `novadock.server_id=${otherHostId}`,
      '--label', 'novadock.project_id=someone-else', '--label', 'novadock.host=another-host', imageRef, 'sleep', '600'])).code).toBe(0);

    const listed = (await driver.listInstances()).map((i) => i.serverId);
    expect(listed).not.toContain(impostorId);
    expect(listed).not.toContain(otherHostId);
    await expect(driver.getInfo(impostorId)).rejects.toBeInstanceOf(InstanceNotFound);
    await driver.destroy(impostorId);
    await expect(driver.powerOff(impostorId, 1)).rejects.toBeInstanceOf(InstanceNotFound);
    expect((await inspect(impostorId)).State.Running).toBe(true);

    const seen: InstanceEvent[] = [];
    const off = driver.subscribe((e) => seen.push(e), () => undefined);
    try {
      const ours = spec();
      await spawnOnFreeSubnet(driver, ours);
      await dockerCli(['kill', plain]);
      await dockerCli(['kill', name(otherHostId)]);
      await dockerCli(['kill', name(ours.serverId)]);
      // Our kill came last: once its die is heard, the others' would have been too.
      await eventually(() => expect(seen).toContainEqual(expect.objectContaining({ serverId: ours.serverId, type: 'die' })));
      expect(seen.every((e) => e.serverId === ours.serverId)).toBe(true);
    } finally {
      off();
    }
  });
});

describe('images', () => {
  test('loading an archive that names a tag does not tag anything on the engine', async () => {
    const tag = `tdrv-never-tagged-${crypto.randomBytes(4).toString('hex')}:latest`;
    const { bytes, imageId } = await buildFakeArchive({ tag, files: { '/etc/hello': 'hi\n' }, salt: tag });
    images.push(imageId);
    await driver.loadImage(Readable.from([bytes]));
    expect(await driver.hasImage(imageId)).toBe(true);
    expect((await dockerCli(['image', 'inspect', tag])).code).not.toBe(0);
  });

  test('hasImage answers only to a full engine id, never to a name or a short id', async () => {
    expect(await driver.hasImage(imageRef.slice(7, 19))).toBe(false);
    expect(await driver.hasImage('busybox')).toBe(false);
  });

  test('a snapshot image does not carry the labels that would make its containers look like ours', async () => {
    const s = spec();
    await spawnOnFreeSubnet(driver, s);
    const id = await driver.snapshot(s.serverId, { 'org.openstack.image_id': 'img-1' });
    images.push(id);
    const r = JSON.parse((await dockerCli(['image', 'inspect', id])).stdout)[0];
    expect(r.Config.Labels['org.openstack.image_id']).toBe('img-1');
    expect(r.Config.Labels['novadock.managed']).not.toBe('true');
    expect(r.RepoTags).toEqual([]);
  });
});

describe('an engine that does not answer', () => {
  test.each([
    ['a socket that does not exist', 'unix:///tmp/novadock-no-such-engine.sock'],
    ['a port nobody listens on', 'tcp://127.0.0.1:1'],
  ])('%s makes every call throw HypervisorUnavailable', async (_what, dockerHost) => {
    const down = new DockerDriver({ host: 'down-host', dockerHost, log: silentLog() });
    await expect(down.ping()).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(down.getInfo(crypto.randomUUID())).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(down.listInstances()).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(down.hasImage(imageRef)).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(down.spawn(spec())).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(down.destroy(crypto.randomUUID())).rejects.toBeInstanceOf(HypervisorUnavailable);
    const err = await new Promise<Error>((resolve) => down.subscribe(() => undefined, resolve));
    expect(err).toBeInstanceOf(HypervisorUnavailable);
    expect(err.message).toContain('down-host');
  });
});
