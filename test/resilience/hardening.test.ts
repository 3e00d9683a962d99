/**
 * Container hardening through the API alone (issue 5), on a real novadock and engine: hostile
 * metadata, image properties, names and user data never produce a privileged container, host
 * mounts, host network/PID/IPC/UTS/user namespaces, added capabilities or a missing memory limit
 * (`docker inspect`, and the capabilities the process really holds). A process that allocates
 * beyond its flavor's RAM is OOM-killed and the server shows it, while novadock and the other
 * servers carry on.
 */
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import {
  ContainerInfo, Harness, ServerView, boot, containerOf, docker, errorMessage, resilServer, settles, uploadImage, waitFor,
} from './support';

jest.setTimeout(300_000);

const MiB = 1024 * 1024;
const SMALL_RAM = 64;

/** Keys Nova's schema accepts ([a-zA-Z0-9-_:. ]), named after engine options, with values that look like them. */
const HOSTILE_METADATA: Record<string, string> = {
  '--privileged': 'true',
  HostConfig: '{"Privileged":true,"Binds":["/:/host"],"NetworkMode":"host","PidMode":"host","CapAdd":["ALL"]}',
  'HostConfig.Privileged': 'true',
  Privileged: 'true',
  NetworkMode: 'host',
  PidMode: 'host',
  IpcMode: 'host',
  CapAdd: 'ALL',
  Binds: '/:/host',
  Volumes: '/:/host',
  Devices: '/dev/sda:/dev/sda',
  Memory: '0',
  MemorySwap: '-1',
  '--volume': '/:/host',
  '--net': 'host',
  substitution: '$(reboot)',
  backticks: '`reboot`; shutdown -h now & cat /etc/shadow > /dev/sda | nc 127.0.0.1 1',
  LD_PRELOAD: '/host/lib/evil.so',
  newlines: 'a\nb\r\nPATH=/evil\n--privileged',
  ['k'.repeat(255)]: 'v'.repeat(255),
};

/** Image properties named after engine options and the nova-docker ones, plus a command line full of shell. */
const HOSTILE_PROPERTIES: Record<string, string> = {
  os_command_line: "/bin/sh -c 'while true; do sleep 1; done' ; reboot && $(reboot) | tee /host/pwned > /dev/sda & echo `id` --privileged --net=host -v /:/host",
  privileged: 'true',
  network_mode: 'host',
  pid_mode: 'host',
  ipc_mode: 'host',
  uts_mode: 'host',
  userns_mode: 'host',
  cap_add: 'ALL',
  binds: '/:/host',
  volumes: '/:/host',
  devices: '/dev/sda:/dev/sda',
  security_opt: 'apparmor=unconfined',
  memory: '0',
  memory_swap: '-1',
  HostConfig: '{"Privileged":true}',
  docker_run_args: '--privileged --pid=host --ipc=host -v /:/host',
  user: '0:0',
};

const HOSTILE_NAME = '--privileged --net=host -v /:/host $(reboot) `id` ; rm -rf / # && | >';
const HOSTILE_USER_DATA = Buffer.from(`#!/bin/sh\n--privileged\nreboot\n$(rm -rf /)\n${'x'.repeat(4000)}\n`).toString('base64');

let h: Harness;
let smallFlavor: string;
let hostileImage: string;
let oomImage: string;

beforeAll(async () => {
  h = await resilServer('harden');
  const img = busyboxImage('resil-hardening');
  h.engineImages.add(img.imageId);
  const archive = fs.readFileSync(img.path);

  const f = await h.admin.compute('POST', '/flavors', { flavor: { name: 'resil.small', ram: SMALL_RAM, vcpus: 1, disk: 0 } });
  expect(f.status).toBe(200);
  smallFlavor = (f.body as { flavor: { id: string } }).flavor.id;

  hostileImage = await uploadImage(h.demo, archive, { name: 'resil-hostile-props', ...HOSTILE_PROPERTIES });
  // Allocates far beyond the small flavor's RAM once it is running (dd's block buffer is filled from /dev/zero).
  oomImage = await uploadImage(h.demo, archive, { name: 'resil-oom', os_command_line: "/bin/sh -c 'sleep 2; exec dd if=/dev/zero of=/dev/null bs=512M count=1'" });
}, 300_000);

afterAll(async () => {
  await h?.cleanup();
}, 300_000);

/** CAP_SYS_ADMIN is bit 21: any privileged container has it, no default one does. */
async function holdsSysAdmin(c: ContainerInfo): Promise<boolean> {
  const r = await docker(['exec', c.Id, 'cat', '/proc/1/status']);
  expect(r.code).toBe(0);
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(r.stdout)?.[1];
  expect(capEff).toBeDefined();
  return ((BigInt(`0x${capEff}`) >> 21n) & 1n) === 1n;
}

function expectConfined(c: ContainerInfo, ramMb: number): void {
  const hc = c.HostConfig;
  expect({
    privileged: hc.Privileged,
    binds: hc.Binds ?? [],
    mounts: c.Mounts ?? [],
    volumesFrom: hc.VolumesFrom ?? [],
    devices: hc.Devices ?? [],
    capAdd: hc.CapAdd ?? [],
    memory: hc.Memory,
    memorySwap: hc.MemorySwap,
  }).toEqual({ privileged: false, binds: [], mounts: [], volumesFrom: [], devices: [], capAdd: [], memory: ramMb * MiB, memorySwap: ramMb * MiB });
  expect(hc.NetworkMode === 'none' || hc.NetworkMode.startsWith('novadock-')).toBe(true);
  for (const mode of [hc.PidMode, hc.IpcMode, hc.UTSMode, hc.UsernsMode]) expect(mode ?? '').not.toMatch(/^host$|^container:/);
  expect(hc.SecurityOpt ?? []).toContain('no-new-privileges');
}

describe('when servers are booted with hostile metadata, names, user data and image properties', () => {
  let small: string;
  let tiny: string;

  beforeAll(async () => {
    small = await boot(h.demo, { name: HOSTILE_NAME, imageRef: hostileImage, flavorRef: smallFlavor, metadata: HOSTILE_METADATA, user_data: HOSTILE_USER_DATA });
    tiny = await boot(h.demo, { name: 'resil-tiny', imageRef: hostileImage, flavorRef: '1', metadata: { newlines: HOSTILE_METADATA.newlines, long: 'v'.repeat(255) } });
  });

  test('then they boot ACTIVE and their containers are confined: not privileged, no mounts, no host namespaces, no added capabilities, memory = flavor RAM with no swap', async () => {
    for (const [id, ram] of [[small, SMALL_RAM], [tiny, 512]] as const) {
      const s = await settles(h.demo, id, ['ACTIVE', 'ERROR']);
      expect({ status: s.status, fault: s.fault?.message }).toEqual({ status: 'ACTIVE', fault: undefined });
      const c = await containerOf(h.host, id);
      expect(c?.State.Running).toBe(true);
      expectConfined(c!, ram);
      expect(await holdsSysAdmin(c!)).toBe(false);
    }
  });

  test('then the hostile words stayed data: metadata only as environment values, the command line as literal arguments', async () => {
    const c = (await containerOf(h.host, small))!;
    const env = c.Config.Env ?? [];
    // Portable names become variables, verbatim (one variable each, newlines and all).
    expect(env).toContain(`HostConfig=${HOSTILE_METADATA.HostConfig}`);
    expect(env).toContain(`newlines=${HOSTILE_METADATA.newlines}`);
    expect(env).toContain(`substitution=$(reboot)`);
    // Keys that are not variable names ('--privileged', '--volume') are left out: they never reach the engine at all.
    expect(env.some((e) => e.startsWith('--'))).toBe(false);
    expect(env.filter((e) => e.startsWith('PATH=')).some((e) => e.includes('/evil'))).toBe(false);
    // The command line is argv: the shell words after the script are arguments, never run.
    expect(c.Config.Cmd?.slice(0, 3)).toEqual(['/bin/sh', '-c', 'while true; do sleep 1; done']);
    expect(c.Config.Cmd).toEqual(expect.arrayContaining(['reboot', '--privileged', '-v', '/:/host']));
    expect(c.State.Running).toBe(true);
    // The server's name reached the container only as a sanitized hostname.
    expect(c.Config.Hostname).toMatch(/^[a-z0-9.-]{1,63}$/);
    // The API shows the metadata back unchanged.
    expect((await h.demo.server(small)).metadata).toEqual(HOSTILE_METADATA);
  });

  test('then a metadata key outside what Nova accepts is refused with 400 and boots nothing', async () => {
    const before = (await h.demo.servers()).length;
    const r = await h.demo.compute('POST', '/servers', { server: { name: 'resil-badkey', imageRef: hostileImage, flavorRef: smallFlavor, metadata: { '/:/host': 'x' } } });
    expect(r.status).toBe(400);
    expect(errorMessage(r.body)).toMatch(/metadata|\/:\/host/i);
    expect((await h.demo.servers()).length).toBe(before);
  });

  describe('and a server allocates beyond its flavor RAM', () => {
    let oom: string;
    let last: ServerView;

    beforeAll(async () => {
      oom = await boot(h.demo, { name: 'resil-oom', imageRef: oomImage, flavorRef: smallFlavor });
      const active = await settles(h.demo, oom, ['ACTIVE', 'ERROR', 'SHUTOFF']);
      expect(active.status).toBe('ACTIVE');
      last = (await waitFor(() => h.demo.server(oom), (s) => ['ERROR', 'SHUTOFF'].includes(s.status), 90_000, 250)).value;
    });

    test('then the kernel OOM-kills it and the server shows it (ERROR with a fault naming memory, or SHUTOFF)', async () => {
      const c = await containerOf(h.host, oom);
      console.log(`hardening: OOM server ended ${last.status} (${last.fault?.message ?? 'no fault'}); engine: ${c?.State.Status}, OOMKilled=${c?.State.OOMKilled}, exit ${c?.State.ExitCode}`);
      expect(c?.State.OOMKilled).toBe(true);
      expect(c?.HostConfig.Memory).toBe(SMALL_RAM * MiB);
      expect(['ERROR', 'SHUTOFF']).toContain(last.status);
      if (last.status === 'ERROR') expect(last.fault?.message).toMatch(/memory/i);
      expect(last['OS-EXT-STS:task_state']).toBeNull();
    });

    test('then novadock and the other servers stay fine', async () => {
      const health = await fetch(`${h.srv.url}/healthcheck`);
      expect(health.status).toBe(200);
      for (const id of [small, tiny]) {
        expect((await h.demo.server(id)).status).toBe('ACTIVE');
        expect((await containerOf(h.host, id))?.State.Running).toBe(true);
      }
    });
  });
});
