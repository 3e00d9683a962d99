/**
 * Failed engine API calls, heard at the one place every dockerode call passes through (the
 * modem's `dial`), so no call site is touched (issue 18: novadock_docker_errors_total). Each is
 * named by method and path template: ids and image names become `{id}`, so a label value never
 * names a container.
 */
import type Docker from 'dockerode';
import type { EngineCallError } from '../driver';

/** Path segments of the Docker API that are verbs, not ids (`/containers/{id}/start`, `/images/load`). */
const VERBS = new Set([
  'archive', 'attach', 'changes', 'connect', 'create', 'df', 'disconnect', 'exec', 'export', 'get', 'history', 'init',
  'join', 'json', 'kill', 'leave', 'load', 'logs', 'pause', 'prune', 'push', 'rename', 'resize', 'restart', 'search',
  'start', 'stats', 'stop', 'tag', 'top', 'unlock', 'unpause', 'update', 'wait',
]);

/** `POST /containers/novadock-1b2c…/start?` → `POST /containers/{id}/start`. */
export function operationOf(method: string, path: string): string {
  const segments = path.split('?')[0].split('/').filter(Boolean);
  if (segments.length === 0) return `${method} /`;
  const [resource, ...rest] = segments;
  if (rest.length === 0) return `${method} /${resource}`;
  const last = rest[rest.length - 1];
  if (rest.length === 1) return `${method} /${resource}/${VERBS.has(last) ? last : '{id}'}`;
  return `${method} /${resource}/{id}${VERBS.has(last) ? `/${last}` : ''}`;
}

/** What a failure is called: the engine's HTTP status, else the socket error's code. */
export function codeOf(err: unknown): string {
  const e = err as { statusCode?: unknown; code?: unknown; name?: unknown };
  if (typeof e?.statusCode === 'number') return String(e.statusCode);
  if (typeof e?.code === 'string' && /^[A-Z0-9_]{1,40}$/.test(e.code)) return e.code;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return 'ABORT_ERR';
  return 'error';
}

type Dial = (options: { method?: string; path?: string }, callback?: (err: unknown, data: unknown) => void) => unknown;

/**
 * Wraps `docker`'s modem once; returns how to listen to its failed calls. A listener that throws
 * is ignored: counting must never break a call.
 */
export function watchCallErrors(docker: Docker): (listener: (e: EngineCallError) => void) => () => void {
  const listeners = new Set<(e: EngineCallError) => void>();
  const modem = docker.modem as { dial: Dial };
  const dial: Dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => dial(options, (err, data) => {
    if (err && listeners.size > 0) {
      const e = { operation: operationOf(options.method ?? 'GET', options.path ?? '/'), code: codeOf(err) };
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // a listener's own failure is not the call's
        }
      }
    }
    callback?.(err, data);
  });
  return (listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
}
