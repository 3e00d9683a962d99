/**
 * The Docker engine connection and the translation of its errors into the driver's words.
 * This folder is the only place that imports dockerode (house style 13).
 */
import Docker from 'dockerode';
import { HypervisorUnavailable, InstanceNotFound } from '../driver';

/**
 * Connects to `dockerHost` (`unix:///var/run/docker.sock`, `tcp://host:port`, `http://…`);
 * unset → dockerode's own default: DOCKER_HOST, else the local socket.
 */
export function connect(dockerHost: string | undefined, extra: Docker.DockerOptions = {}): Docker {
  if (!dockerHost) return new Docker(extra);
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) || '/var/run/docker.sock', ...extra });
  if (dockerHost.startsWith('/')) return new Docker({ socketPath: dockerHost, ...extra });
  const m = /^(tcp|http|https):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(dockerHost);
  if (!m) throw new Error(`docker host '${dockerHost}' must look like unix:///var/run/docker.sock or tcp://host:2375`);
  const protocol = m[1] === 'https' ? 'https' : 'http';
  return new Docker({ host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]), protocol, ...extra });
}

/** What dockerode rejects with: a Node socket error, an abort, or an HTTP status from the engine. */
export interface EngineError extends Error {
  code?: string;
  statusCode?: number;
  json?: unknown;
}

/** Socket-level failures: the engine is down, its socket is gone, or it did not answer in time. */
const UNREACHABLE = new Set([
  'ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ABORT_ERR', 'UND_ERR_SOCKET',
]);

export function isUnreachable(e: unknown): boolean {
  const err = e as EngineError;
  if (!err || typeof err !== 'object') return false;
  if (err.statusCode !== undefined) return false;
  return UNREACHABLE.has(err.code ?? '') || err.name === 'AbortError' || err.name === 'TimeoutError' || /socket hang up/i.test(err.message ?? '');
}

export function statusOf(e: unknown): number | undefined {
  return (e as EngineError)?.statusCode;
}

/** The engine's own message (without dockerode's "(HTTP code …) …" prefix), ids shortened. */
export function engineMessage(e: unknown): string {
  const err = e as EngineError;
  const json = err?.json as { message?: string } | undefined;
  const raw = (json && typeof json === 'object' && typeof json.message === 'string') ? json.message : String(err?.message ?? e);
  return scrub(raw.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim());
}

/** Docker ids never leave the driver: 64-hex ids in engine text become 12-char prefixes. */
export function scrub(text: string): string {
  return text.replace(/\b([0-9a-f]{12})[0-9a-f]{52}\b/g, '$1');
}

/**
 * Runs one engine call and translates its failure: unreachable → HypervisorUnavailable,
 * 404 on an instance → InstanceNotFound; anything else keeps the engine's message.
 */
export async function call<T>(host: string, fn: () => Promise<T>, serverId?: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw translate(host, e, serverId);
  }
}

/** One engine call on an instance, as `call`; `ok` lists statuses that mean "already so" (undefined then). */
export async function callOn<T>(host: string, serverId: string, fn: () => Promise<T>, ok: number[] = []): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (ok.includes(statusOf(e) ?? -1)) return undefined;
    throw translate(host, e, serverId);
  }
}

export function translate(host: string, e: unknown, serverId?: string): Error {
  if (e instanceof HypervisorUnavailable || e instanceof InstanceNotFound) return e;
  if (isUnreachable(e)) return new HypervisorUnavailable(host, e);
  if (serverId !== undefined && statusOf(e) === 404) return new InstanceNotFound(serverId);
  const err = new Error(`Compute host ${host}: ${engineMessage(e)}`) as EngineError;
  err.statusCode = statusOf(e);
  return err;
}
