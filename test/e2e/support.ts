/**
 * What the end-to-end scenarios share: a started novadock, the clients with its settings, polling
 * a client until it shows a state, and looking at the engine the way a user would (`docker ps`,
 * `docker inspect`). Polls are bounded in count and time; a bound is a give-up, not a threshold.
 */
import fs from 'node:fs';
import { busyboxImage, TestImage } from '../helpers/test-image';
import { docker, openstack, RunResult, transcript } from '../helpers/clients';
import type { ClientEnv, StartedServer } from '../helpers/server';

export { transcript };

/** Fails with the client's whole transcript unless it exited 0. */
export function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`client failed:\n${transcript(r)}`);
  return r;
}

/** Lines of stdout, trimmed, without the empty ones (`--wait` loops print a blank line). */
export function lines(r: RunResult): string[] {
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

export function json<T = Record<string, unknown>>(r: RunResult): T {
  ok(r);
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON:\n${transcript(r)}`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Re-runs `probe` until `done` holds (at most `timeoutMs`); returns the last value either way. */
export async function poll<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 90_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await probe();
  while (!done(v) && Date.now() < deadline) {
    await sleep(everyMs);
    v = await probe();
  }
  return v;
}

/** `openstack server show NAME -f value -c status`, polled until it prints `status`. */
export async function serverStatusBecomes(env: ClientEnv, server: string, status: string, timeoutMs = 90_000): Promise<string> {
  const r = await poll(() => openstack(['server', 'show', server, '-f', 'value', '-c', 'status'], env), (x) => x.stdout.trim() === status, timeoutMs, 250);
  return r.code === 0 ? r.stdout.trim() : transcript(r);
}

/**
 * A busybox archive for one test file: `variant` gives a distinct engine image id, so deleting an
 * image in one file never pulls the Docker image from under another file's servers.
 * `inEngine` loads it into the engine (for `docker save`); otherwise it is removed from the engine
 * first when nothing uses it, so an upload has to load it for real.
 */
export async function testImage(variant: string, inEngine: boolean): Promise<TestImage> {
  const img = busyboxImage(variant);
  if (inEngine) {
    if ((await docker(['image', 'inspect', img.imageId])).code !== 0) ok(await docker(['load', '-i', img.path]));
  } else {
    await docker(['rmi', img.imageId]); // fails harmlessly while a container uses it
  }
  return img;
}

export interface ContainerView {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Paused: boolean };
  Image: string;
  Config: { Labels: Record<string, string>; Hostname: string; Env: string[] };
  HostConfig: {
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    CpuQuota: number;
    CpuPeriod: number;
    PidsLimit: number | null;
    Privileged: boolean;
    NetworkMode: string;
    Binds: string[] | null;
    Mounts?: unknown[] | null;
    CapAdd: string[] | null;
  };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

/** The container `docker ps -a` lists for a server: novadock's label, and a label naming the server id. */
export async function containerOf(serverId: string): Promise<ContainerView | undefined> {
  const ps = ok(await docker(['ps', '-a', '--no-trunc', '--filter', 'label=novadock.managed=true', '--format', '{{.ID}}\t{{.Labels}}']));
  const row = ps.stdout.split('\n').find((l) => l.includes(serverId));
  if (!row) return undefined;
  const inspected = await docker(['inspect', row.split('\t')[0]]);
  if (inspected.code !== 0) return undefined; // removed between ps and inspect
  return (JSON.parse(inspected.stdout) as ContainerView[])[0];
}

/** Engine state of a server's container: running, exited, paused… or 'absent'. */
export async function containerState(serverId: string): Promise<string> {
  return (await containerOf(serverId))?.State.Status ?? 'absent';
}

export async function imageInEngine(imageId: string): Promise<boolean> {
  return (await docker(['image', 'inspect', imageId])).code === 0;
}

/** The Docker image id novadock recorded for a Glance image (its own database is the record). */
export function recordedDockerImageId(srv: StartedServer, imageId: string): string | null {
  return srv.rows<{ engine_image_id: string | null }>('select engine_image_id from images where id = ?', imageId)[0]?.engine_image_id ?? null;
}

export function sameBytes(a: string, b: string): boolean {
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  return sa.size === sb.size && fs.readFileSync(a).equals(fs.readFileSync(b));
}

export const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A regexp for one row of a client's ASCII table: `| a | b |`, whatever the padding. */
export function tableRow(...cells: string[]): RegExp {
  return new RegExp(`\\|${cells.map((c) => `\\s*${escapeRe(c)}\\s*`).join('\\|')}\\|`);
}
