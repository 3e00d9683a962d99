/**
 * Compute microversions, after nova/api/openstack/wsgi.py (Request.set_api_version_request) and
 * nova/api/openstack/api_version_request.py.
 *
 * Which version a request asks for:
 *   1. `OpenStack-API-Version: compute X.Y|latest` (the entry for service "compute"),
 *   2. else `X-OpenStack-Nova-API-Version: X.Y|latest` (novaclient sends only this below 2.27),
 *   3. else 2.1.
 * A malformed version is a 400, one outside [MIN_VERSION, MAX_VERSION] a 406, and every
 * response under /compute/v2.1 (errors included) says which version it was rendered in.
 */
import type { Request, RequestHandler } from 'express';
import { badRequest, msg, notAcceptable, notFound } from '../errors';

/** The lowest microversion served (v2.1 itself). */
export const MIN_VERSION = '2.1';
/** The highest microversion whose shape changes the views render (contract §5.1). */
export const MAX_VERSION = '2.92';

export interface ApiVersion {
  major: number;
  minor: number;
}

export const LEGACY_HEADER = 'X-OpenStack-Nova-API-Version';
export const HEADER = 'OpenStack-API-Version';
const SERVICE = 'compute';

/** Nova's format: MajorNum.MinorNum, no leading zeros, minor may be 0 (api_version_request.py). */
const VERSION_RE = /^([1-9]\d*)\.([1-9]\d*|0)$/;

/** Parses "X.Y"; throws Nova's 400 for anything else. */
export function parseVersion(text: string): ApiVersion {
  const m = VERSION_RE.exec(text);
  if (!m) throw badRequest(`API Version String ${text} is of invalid format. Must be of format MajorNum.MinorNum.`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function formatVersion(v: ApiVersion): string {
  return `${v.major}.${v.minor}`;
}

/** <0, 0, >0 like a comparator. */
export function compareVersions(a: ApiVersion, b: ApiVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

const MIN = parseVersion(MIN_VERSION);
const MAX = parseVersion(MAX_VERSION);
const DEFAULT = MIN;

/** Memoised parse of the version literals used in views and routers. */
const literalCache = new Map<string, ApiVersion>();
function literal(version: string): ApiVersion {
  let v = literalCache.get(version);
  if (!v) {
    v = parseVersion(version);
    literalCache.set(version, v);
  }
  return v;
}

/**
 * The raw version string a request asks for, or undefined for "none given".
 * NOTE(openstack): like microversion_parse.get_version, the new header may list several services
 * ("compute 2.60, placement 1.10", possibly over several header lines, which Node joins with ", ");
 * when it has no "compute" entry the legacy header is consulted.
 */
export function requestedVersion(headers: { [k: string]: string | string[] | undefined }): string | undefined {
  const raw = headers[HEADER.toLowerCase()];
  if (raw !== undefined) {
    const joined = Array.isArray(raw) ? raw.join(',') : raw;
    for (const item of joined.split(',')) {
      const parts = item.trim().split(/\s+/);
      if (parts[0].toLowerCase() !== SERVICE) continue;
      // "compute" with no version is malformed: report it as an empty version string.
      return parts.slice(1).join(' ');
    }
  }
  const legacy = headers[LEGACY_HEADER.toLowerCase()];
  if (legacy !== undefined) return (Array.isArray(legacy) ? legacy[legacy.length - 1] : legacy).trim();
  return undefined;
}

function setVersionHeaders(res: { setHeader(name: string, value: string | string[]): unknown }, v: ApiVersion): void {
  const s = formatVersion(v);
  res.setHeader(HEADER, `${SERVICE} ${s}`);
  res.setHeader(LEGACY_HEADER, s);
  // Nova sends two Vary lines; one header naming both is equivalent for every client.
  res.setHeader('Vary', `${HEADER}, ${LEGACY_HEADER}`);
}

/**
 * Resolves the request's microversion into `req.apiVersion` and sets the response headers before
 * anything else runs, so that errors carry them too. Mount it under /compute/v2.1 only: the
 * version documents do not carry these headers.
 */
export function apiVersionMiddleware(): RequestHandler {
  return (req, res, next) => {
    const asked = requestedVersion(req.headers);
    let version: ApiVersion;
    if (asked === undefined) {
      version = DEFAULT;
    } else if (asked.toLowerCase() === 'latest') {
      version = MAX;
    } else {
      try {
        version = parseVersion(asked);
      } catch (e) {
        // Nothing was understood: the error is rendered as the default version.
        req.apiVersion = DEFAULT;
        setVersionHeaders(res, DEFAULT);
        return next(e);
      }
      if (compareVersions(version, MIN) < 0 || compareVersions(version, MAX) > 0) {
        // Nova echoes the refused version on the 406 (the Fault renders req.api_version_request).
        req.apiVersion = version;
        setVersionHeaders(res, version);
        return next(notAcceptable(
          `Version ${formatVersion(version)} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`));
      }
    }
    req.apiVersion = version;
    setVersionHeaders(res, version);
    next();
  };
}

/** The request's microversion; 2.1 when the middleware did not run. */
export function versionOf(req: Pick<Request, 'apiVersion'>): ApiVersion {
  return req.apiVersion ?? DEFAULT;
}

/** True when the request's microversion is `version` or later (Nova's api_version_request.is_supported). */
export function atLeast(req: Pick<Request, 'apiVersion'>, version: string): boolean {
  return compareVersions(versionOf(req), literal(version)) >= 0;
}

/** True when the request's microversion is at most `version` (for APIs Nova removed later). */
export function atMost(req: Pick<Request, 'apiVersion'>, version: string): boolean {
  return compareVersions(versionOf(req), literal(version)) <= 0;
}

/** Routes Nova removed after `lastVersion`: a 404 from the next microversion on (its VersionNotFoundForAPIMethod). */
export function untilVersion(lastVersion: string): RequestHandler {
  return (req, _res, next) => (atMost(req, lastVersion) ? next() : next(notFound(msg.resourceNotFound())));
}

/** Routes Nova added at `firstVersion`: a 404 below it (its VersionNotFoundForAPIMethod). */
export function sinceVersion(firstVersion: string): RequestHandler {
  return (req, _res, next) => (atLeast(req, firstVersion) ? next() : next(notFound(msg.resourceNotFound())));
}

/** `atLeast` bound to one request, in the shape the views take (`mv('2.53')`). */
export function mvOf(req: Pick<Request, 'apiVersion'>): (version: string) => boolean {
  return (version) => atLeast(req, version);
}
