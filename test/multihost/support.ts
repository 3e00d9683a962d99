/**
 * What the many-host network tests share: the docker CLI against one of the test engines, a ping
 * from inside a server's container, and the removal of what a test left on the engines (its
 * containers on every engine, its project networks, overlays through the swarm's manager).
 */
import { execFile, execFileSync } from 'node:child_process';
import type { TestEngine } from '../helpers/engines';

export interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

/** `docker -H <engine> …` (never throws: the result says how it went). */
export function dockerOn(engine: TestEngine, args: string[], timeoutMs = 60_000): Promise<Cli> {
  return new Promise((resolve) => {
    execFile('docker', ['-H', engine.docker_host, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** True when the server's container on `engine` gets an answer to one ping of `ip`. */
export async function pings(engine: TestEngine, serverId: string, ip: string): Promise<boolean> {
  const r = await dockerOn(engine, ['exec', `novadock-${serverId}`, 'ping', '-c', '1', '-W', '2', ip]);
  return r.code === 0;
}

/** A ping that may need the overlay's first packets to learn the way: up to three tries. */
export async function reaches(engine: TestEngine, serverId: string, ip: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await pings(engine, serverId, ip)) return true;
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Removes, on every engine, the containers and project networks labelled with one of
 * `projectIds` (never anything else). An overlay is removed through `manager` once no host has
 * a container on it any more (a host lets go of it a moment after its last container went).
 */
export async function removeProjects(engines: TestEngine[], manager: TestEngine, projectIds: string[]): Promise<void> {
  for (const e of engines) {
    for (const p of projectIds) {
      const ids = (await dockerOn(e, ['ps', '-aq', '--filter', `label=novadock.project_id=${p}`])).stdout.split(/\s+/).filter(Boolean);
      if (ids.length) await dockerOn(e, ['rm', '-f', '-v', ...ids]);
    }
  }
  for (const e of [...engines.filter((x) => x !== manager), manager]) {
    for (const p of projectIds) {
      const nets = (await dockerOn(e, ['network', 'ls', '-q', '--filter', `label=novadock.project_id=${p}`])).stdout.split(/\s+/).filter(Boolean);
      for (const n of nets) {
        for (let i = 0; i < 20 && (await dockerOn(e, ['network', 'rm', n])).code !== 0; i++) await sleep(500);
      }
    }
  }
}

/**
 * What a many-host file made, gone: the test server stopped with its objects, its projects'
 * containers and networks on every engine, and its test images there.
 */
export async function removeRun(srv: { projectIds(): string[]; cleanup(): Promise<void> } | undefined, hosts: TestEngine[] | undefined, imageIds: string[]): Promise<void> {
  const projects = srv ? srv.projectIds() : [];
  await srv?.cleanup();
  if (!hosts) return;
  await removeProjects(hosts, hosts[0], projects);
  for (const h of hosts) for (const id of imageIds) await dockerOn(h, ['rmi', id]);
}

/** scripts/engines.sh's network namespace of engine `host<i>`. */
export const engineNetns = (h: TestEngine): string => `novadock-h${h.name.replace(/^host/, '')}`;

/**
 * An external network for the hosts: a bridge `bridge` on the machine holding `gateway` (/24), and
 * each host's `ext0` a veth on it with the address `hostAddress(i)` (/24) of its own there. Removed by
 * removeExternalBridge (the veths go with the bridge's ports: each end removes its peer).
 */
export function makeExternalBridge(bridge: string, gateway: string, hosts: TestEngine[], hostAddress: (i: number) => string): void {
  const sh = (args: string[]) => execFileSync('ip', args);
  sh(['link', 'add', bridge, 'type', 'bridge']);
  sh(['addr', 'add', `${gateway}/24`, 'dev', bridge]);
  sh(['link', 'set', bridge, 'up']);
  hosts.forEach((h, i) => {
    sh(['link', 'add', `${bridge}${i}`, 'type', 'veth', 'peer', 'name', 'ext0', 'netns', engineNetns(h)]);
    sh(['link', 'set', `${bridge}${i}`, 'master', bridge, 'up']);
    sh(['-n', engineNetns(h), 'addr', 'add', `${hostAddress(i)}/24`, 'dev', 'ext0']);
    sh(['-n', engineNetns(h), 'link', 'set', 'ext0', 'up']);
  });
}

export function removeExternalBridge(bridge: string, hostCount: number): void {
  for (let i = 0; i < hostCount; i++) try { execFileSync('ip', ['link', 'del', `${bridge}${i}`]); } catch { /* not made */ }
  try { execFileSync('ip', ['link', 'del', bridge]); } catch { /* not made */ }
}
