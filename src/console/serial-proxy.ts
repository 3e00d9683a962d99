/**
 * The serial console proxy (Nova's nova-serialproxy, nova/console/websocketproxy.py), served on
 * novadock's own port: a websocket (the maintained `ws` library) between a client and a shell in
 * the server's container.
 *
 *   GET /serial/?token=T  Upgrade: websocket  (also /websockify with `Cookie: token=T`, as
 *                                              Tempest's and noVNC's clients send it)
 *     1. handshake checked (method, key, version, subprotocol `binary` or none), Origin as Nova
 *        checks it                                         → 400 / 403, the token is kept
 *     2. token used up (one use, even across processes), server and state checked, shell opened
 *                                                         → 401 / 404 / 409 / 503, nothing attached
 *     3. 101 Switching Protocols, then bytes both ways until either side ends
 *
 * On the websocket: binary frames carry the terminal's bytes (keystrokes in, output out). A text
 * frame holding exactly {"resize": {"cols": C, "rows": R}} resizes the terminal; any other text
 * frame is typed, as its UTF-8 bytes. Closing the websocket ends the shell; the shell ending
 * closes the websocket (1000).
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { DomainError, badRequest, forbidden, notFound } from '../errors';
import { errorBody, statusOf, toDomainError } from '../http/errors';
import type { ConsoleSession } from '../virt/driver';

/** What the proxy needs of the compute service: a token used up, and the shell it opens. */
export interface ConsoleConnector {
  connect(token: string): Promise<{ serverId: string; session: ConsoleSession }>;
}

/** Paths the proxy answers: Nova's serial URL path, and websockify's (Tempest's client asks for it). */
const PATHS = new Set(['/serial', '/serial/', '/websockify', '/websockify/']);
const SUBPROTOCOL = 'binary';
/** The terminal's size bounds (what a resize may ask). */
const MAX_DIMENSION = 1000;
/** Output is paused while this much waits to be sent to a slow client, resumed below LOW_WATER. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 64 * 1024;

/** RFC 6455 handshake fields, checked before the token is used so that a broken handshake costs nothing. */
const KEY = /^[+/0-9A-Za-z]{22}==$/;

interface Live {
  ws: WebSocket;
  session: ConsoleSession;
}

export class SerialConsoleProxy {
  private readonly wss: WebSocketServer;
  private readonly live = new Set<Live>();
  /** Sessions opened whose upgrade has not completed yet. */
  private readonly pending = new Set<ConsoleSession>();

  constructor(private readonly consoles: ConsoleConnector, private readonly log: Logger) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 1024 * 1024,
      // `binary` when offered; a client offering none gets none (the handshake is checked first).
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
  }

  /** Serves the console's websocket upgrades on `server`. */
  attach(server: http.Server): void {
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((e) => {
        this.log.error({ err: e }, 'serial console: upgrade failed');
        socket.destroy();
      });
    });
  }

  /** Ends every console (shutdown): websockets closed with 1001, shells ended. */
  async close(): Promise<void> {
    const all = [...this.live];
    for (const l of all) l.ws.close(1001, 'server shutting down');
    await Promise.allSettled([...all.map((l) => l.session.close()), ...[...this.pending].map((s) => s.close())]);
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let token: string;
    try {
      token = this.checkHandshake(req);
    } catch (e) {
      return refuse(socket, toDomainError(e));
    }

    let opened: { serverId: string; session: ConsoleSession };
    try {
      opened = await this.consoles.connect(token);
    } catch (e) {
      const err = toDomainError(e);
      if (statusOf(err) >= 500) this.log.error({ err: e }, 'serial console: could not attach');
      return refuse(socket, err);
    }
    const { serverId, session } = opened;
    // The client may have gone while the shell was opened; handleUpgrade also drops a socket
    // without calling back when it finds it unusable. Either way the shell must not linger.
    this.pending.add(session);
    let bridged = false;
    const abandon = () => {
      this.pending.delete(session);
      if (!bridged) session.close().catch((e) => this.log.warn({ server_id: serverId, err: e }, 'serial console: the shell may still be running in the server'));
    };
    if (socket.destroyed) return abandon();
    socket.once('close', abandon);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      bridged = true;
      this.pending.delete(session);
      socket.off('close', abandon);
      this.bridge(ws, session, serverId);
    });
  }

  /** Checks the handshake and Origin as Nova's proxy does; resolves to the token (query, else cookie). */
  private checkHandshake(req: http.IncomingMessage): string {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    if (!PATHS.has(url.pathname)) throw notFound('The resource could not be found.');
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    const version = String(req.headers['sec-websocket-version'] ?? '');
    if (req.method !== 'GET' || upgrade !== 'websocket' || !KEY.test(String(req.headers['sec-websocket-key'] ?? '')) || (version !== '13' && version !== '8')) {
      throw badRequest('Not a websocket handshake.');
    }
    const offered = subprotocols(req.headers['sec-websocket-protocol']);
    if (offered.length > 0 && !offered.includes(SUBPROTOCOL)) throw badRequest(`The console speaks the '${SUBPROTOCOL}' subprotocol only.`);
    checkOrigin(req);
    return url.searchParams.get('token') || cookieToken(req.headers.cookie) || '';
  }

  private bridge(ws: WebSocket, session: ConsoleSession, serverId: string): void {
    const entry: Live = { ws, session };
    this.live.add(entry);
    this.log.info({ server_id: serverId }, 'serial console: attached');
    const { stream } = session;

    // Per chunk of output: one frame written, nothing allocated here (a Buffer is sent as a binary
    // frame; one callback for all sends).
    const sent = () => {
      if (stream.isPaused() && ws.bufferedAmount < LOW_WATER) stream.resume();
    };
    stream.on('data', (chunk: Buffer) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(chunk, sent);
      if (ws.bufferedAmount > HIGH_WATER) stream.pause();
    });
    // All output delivered (the shell ended): the websocket closes normally.
    stream.once('end', () => ws.close(1000, 'the console session has ended'));
    void session.ended.then(() => {
      // Some streams never deliver 'end' once destroyed: close anyway, after what is buffered.
      setImmediate(() => {
        if (ws.readyState === WebSocket.OPEN) ws.close(1000, 'the console session has ended');
      });
    });

    const type = (data: Buffer) => {
      if (stream.writableEnded) return;
      if (!stream.write(data)) {
        ws.pause();
        stream.once('drain', () => ws.resume());
      }
    };
    // Frames take effect in the order they came. A resize is a call to the engine, so what comes
    // after one waits for it (a command typed after a resize sees the new size), and the
    // websocket is not read meanwhile.
    let resizing: Promise<void> | undefined;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const size = isBinary ? undefined : resizeOf(data);
      if (!size && !resizing) return type(data);
      if (!resizing) ws.pause();
      const apply = size ? () => session.resize(size.cols, size.rows).catch(() => undefined) : () => type(data);
      const step: Promise<void> = (resizing ?? Promise.resolve()).then(apply).then(() => {
        if (resizing !== step) return;
        resizing = undefined;
        if (!stream.writableNeedDrain) ws.resume();
      });
      resizing = step;
    });
    const end = () => {
      if (!this.live.delete(entry)) return;
      this.log.info({ server_id: serverId }, 'serial console: detached');
      session.close().catch((e) => this.log.warn({ server_id: serverId, err: e }, 'serial console: the shell may still be running in the server'));
    };
    ws.on('close', end);
    ws.on('error', end);
  }
}

/** RFC 6455 Sec-WebSocket-Protocol: tokens (RFC 7230) separated by commas, none twice; absent = none offered. */
const PROTOCOL_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;
function subprotocols(header: string | undefined): string[] {
  if (header === undefined) return [];
  if (!PROTOCOL_LIST.test(header)) throw badRequest('Invalid Sec-WebSocket-Protocol header.');
  const list = header.split(',').map((p) => p.trim());
  if (new Set(list).size !== list.length) throw badRequest('Invalid Sec-WebSocket-Protocol header.');
  return list;
}

/** Nova's origin check: an Origin, when sent, must name this host (non-browser clients send none). */
function checkOrigin(req: http.IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    throw forbidden('Origin header not valid.');
  }
  const host = String(req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (!u.hostname || u.hostname.replace(/^\[|\]$/g, '') !== host) throw forbidden('Origin header does not match this host.');
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw forbidden('Origin header protocol does not match this host.');
}

/** The `token` cookie (noVNC's and Tempest's clients send the token so). */
function cookieToken(cookie: string | undefined): string | undefined {
  for (const part of (cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'token') return v.join('=');
  }
  return undefined;
}

/** {"resize": {"cols": C, "rows": R}}, integers 1..1000; anything else is not a resize. */
function resizeOf(data: Buffer): { cols: number; rows: number } | undefined {
  if (data.length > 200 || data[0] !== 0x7b) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = (v as { resize?: { cols?: unknown; rows?: unknown } } | null)?.resize;
  if (!r || typeof r !== 'object' || Object.keys(v as object).length !== 1) return undefined;
  const ok = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_DIMENSION;
  return ok(r.cols) && ok(r.rows) ? { cols: r.cols, rows: r.rows } : undefined;
}

/** An HTTP error answer on the raw socket, in the compute API's error shape; the socket then closes. */
function refuse(socket: Duplex, err: DomainError): void {
  if (socket.destroyed) return;
  const status = statusOf(err);
  const body = JSON.stringify(errorBody('compute', err));
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
