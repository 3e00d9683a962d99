/**
 * The engine's event stream, narrowed to our containers and translated into InstanceEvents.
 * The engine filters by type and labels (ours, this host); the JSON messages are split
 * robustly across chunk boundaries; a stream that ends or fails is reported once through
 * onError so the caller (the reconciler) can re-subscribe and sweep.
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { HypervisorUnavailable, InstanceEvent, InstanceEventType } from '../driver';
import { translate } from './client';
import { JsonObjectSplitter } from './json-stream';
import { LABEL_HOST, LABEL_MANAGED, LABEL_SERVER } from './labels';

const ACTIONS: ReadonlySet<string> = new Set<InstanceEventType>(['start', 'die', 'oom', 'pause', 'unpause', 'destroy', 'stop', 'kill']);

interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  /** Seconds and nanoseconds since the epoch, by the engine's clock. */
  time?: number;
  timeNano?: number;
  Actor?: { Attributes?: Record<string, string> };
}

/** One engine message → an InstanceEvent, or undefined for what we do not follow. */
export function toInstanceEvent(m: unknown, host: string): InstanceEvent | undefined {
  const e = m as EngineEvent;
  if (!e || typeof e !== 'object' || (e.Type && e.Type !== 'container')) return undefined;
  const action = e.Action ?? e.status ?? '';
  if (!ACTIONS.has(action)) return undefined;
  const attrs = e.Actor?.Attributes ?? {};
  // The engine filtered already; checking again keeps a wrong filter from leaking others' events.
  if (attrs[LABEL_MANAGED] !== 'true' || attrs[LABEL_HOST] !== host) return undefined;
  const serverId = attrs[LABEL_SERVER];
  if (!serverId) return undefined;
  const time = typeof e.timeNano === 'number' ? e.timeNano / 1e6 : typeof e.time === 'number' ? e.time * 1000 : undefined;
  return { serverId, type: action as InstanceEventType, time };
}

export function subscribeEvents(
  docker: Docker,
  host: string,
  log: Logger,
  listener: (e: InstanceEvent) => void,
  onError: (err: Error) => void,
): () => void {
  let closed = false;
  let stream: Readable | undefined;
  let reported = false;
  const fail = (err: Error) => {
    if (closed || reported) return;
    reported = true;
    stream?.destroy();
    onError(err);
  };

  const filters = JSON.stringify({ type: ['container'], label: [`${LABEL_MANAGED}=true`, `${LABEL_HOST}=${host}`] });
  // `since` = now: the engine replays what happened between this call and the stream being
  // established, so an event right after subscribe() is not lost.
  // The engine reads "<seconds>.<nanoseconds>", the fraction as a 9-digit integer.
  const now = Date.now();
  const since = `${Math.floor(now / 1000)}.${String(now % 1000).padStart(3, '0')}000000`;
  docker
    // `since` is typed as a number but the engine takes this string form too.
    .getEvents({ filters, since: since as unknown as number })
    .then((s) => {
      stream = s as unknown as Readable;
      if (closed) {
        stream.destroy();
        return;
      }
      const splitter = new JsonObjectSplitter();
      stream.on('data', (chunk: Buffer) => {
        let messages: unknown[];
        try {
          messages = splitter.push(chunk);
        } catch (e) {
          fail(translate(host, e));
          return;
        }
        for (const m of messages) {
          const ev = toInstanceEvent(m, host);
          if (!ev) continue;
          try {
            listener(ev);
          } catch (e) {
            log.error({ err: e, event: ev }, 'instance event listener failed');
          }
        }
      });
      stream.on('error', (e) => fail(new HypervisorUnavailable(host, e)));
      stream.on('end', () => fail(new HypervisorUnavailable(host, new Error('the event stream ended'))));
      stream.on('close', () => fail(new HypervisorUnavailable(host, new Error('the event stream closed'))));
    })
    .catch((e: unknown) => fail(translate(host, e)));

  return () => {
    closed = true;
    stream?.destroy();
  };
}
