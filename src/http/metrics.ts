/**
 * GET /metrics and the request metrics (issue 18; names in docs/metrics.md).
 *
 * Requests are labelled by the route template that matched (`/compute/v2.1/servers/:server_id`),
 * never by the raw URL: ids would make a label value per server. Express assigns `req.route`
 * when a route matches, at which point `req.baseUrl` is the mount path of the router serving it
 * (it is restored as the request leaves that router, so it cannot be read at the end); the
 * middleware catches that assignment with an accessor on the request itself. A request answered
 * before any route matched (a 404, a 401 from the token check) is labelled with its API's mount
 * (`/compute/*`), or `*` outside the known mounts, so a scanner's URLs make no new series.
 *
 * Access: Prometheus scrapes without a Keystone token. /metrics answers clients whose address is
 * in `allow` (CIDRs; loopback by default) and, when a token is set, any client that sends it as
 * `Authorization: Bearer <token>` (Prometheus's `authorization` scrape setting). Anyone else gets
 * 401 (a token is set) or 403. The peer address is the socket's, never X-Forwarded-For.
 */
import crypto from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import ipaddr from 'ipaddr.js';
import type { Metrics } from '../metrics/metrics';

export interface MetricsAccess {
  /** CIDRs whose clients may scrape without a token. */
  allow: string[];
  /** A bearer token that lets any client scrape. */
  token?: string;
}

/** The route template a request matched, or its API's mount when none did. */
function routeOf(req: Request, matched: string | undefined, mounts: readonly string[]): string {
  if (matched !== undefined) return matched;
  const path = req.originalUrl;
  for (const m of mounts) {
    if (path === m || path.startsWith(`${m}/`) || path.startsWith(`${m}?`)) return `${m}/*`;
  }
  return '*';
}

/**
 * A route's template. A route on several paths (`['/', '/detail', '/:id']`) gives the one that
 * fits `url` (the request's path within the router) segment by segment; a RegExp its source.
 */
function templateOf(path: unknown, url: string): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) {
    const segments = url.split('?')[0].split('/');
    const fits = (t: unknown) => typeof t === 'string' && t.split('/').length === segments.length
      && t.split('/').every((seg, i) => seg.startsWith(':') || seg === segments[i]);
    const found = path.find(fits);
    return found !== undefined ? String(found) : path.map((p) => templateOf(p, url)).join('|');
  }
  return String(path);
}

/**
 * Times every request by method, route template and status, and counts those in flight.
 * `mounts`: the APIs' mount paths, for requests no route matched.
 */
export function requestMetrics(metrics: Metrics, mounts: readonly string[]): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    let matched: string | undefined;
    let route: unknown;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set: (r: { path?: unknown } | undefined) => {
        route = r;
        if (r) matched = `${req.baseUrl}${templateOf(r.path, req.url)}`;
      },
    });
    metrics.requestStarted();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // A client that went away before an answer: 499, as request-log.ts (and nginx) say.
      metrics.requestFinished(req.method, routeOf(req, matched, mounts), res.headersSent ? res.statusCode : 499, seconds);
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };
}

const digest = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Whether `address` (a socket's remote address) is in one of `ranges`. */
function allowed(address: string | undefined, ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][]): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  const a = ipaddr.process(address);
  return ranges.some((r) => a.kind() === r[0].kind() && a.match(r));
}

/** Parses the allow-list; throws on a value that is not a CIDR (config checks it at start-up). */
export function parseAllowList(cidrs: string[]): [ipaddr.IPv4 | ipaddr.IPv6, number][] {
  return cidrs.map((c) => {
    try {
      return ipaddr.parseCIDR(c);
    } catch {
      throw new Error(`NOVADOCK_METRICS_ALLOW: '${c}' is not an address range (CIDR, e.g. 10.0.0.0/8 or ::1/128)`);
    }
  });
}

/** GET /metrics: the exposition text, to the clients `access` lets in. */
export function metricsEndpoint(metrics: Metrics, access: MetricsAccess): RequestHandler {
  const ranges = parseAllowList(access.allow);
  const token = access.token ? digest(access.token) : undefined;
  return (req, res, next) => {
    const auth = req.header('authorization') ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    const tokenOk = token !== undefined && bearer !== undefined && crypto.timingSafeEqual(digest(bearer), token);
    if (!tokenOk && !allowed(req.socket.remoteAddress, ranges)) {
      res.setHeader('Cache-Control', 'no-store');
      if (token !== undefined) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="novadock metrics"');
        res.status(401).type('text/plain').send('401 Unauthorized: send the metrics token (NOVADOCK_METRICS_TOKEN) as "Authorization: Bearer <token>".\n');
      } else {
        res.status(403).type('text/plain').send('403 Forbidden: /metrics answers the addresses in NOVADOCK_METRICS_ALLOW (loopback by default), or a client with NOVADOCK_METRICS_TOKEN.\n');
      }
      return;
    }
    metrics.render().then((text) => {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Type', metrics.contentType); // as prom-client writes it (res.send would reorder it)
      res.status(200).end(text);
    }, next);
  };
}
