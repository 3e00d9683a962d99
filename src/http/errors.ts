/**
 * One place renders every error, in the shape of the API it belongs to:
 * Keystone `{"error": {code, title, message}}`, Nova `{"<faultName>": {code, message}}`,
 * Glance `{"message", "code": "404 Not Found", "title"}` (JSON, as Glance does for Accept: application/json).
 * Every 5xx is logged with its stack; nothing else leaks into the body.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import http from 'node:http';
import { DomainError, ErrorKind, methodNotAllowed as methodNotAllowedError, msg, notFound } from '../errors';
import type { Logger } from 'pino';
import { NeutronError, neutronTypeOf } from '../network/errors';

export type ApiName = 'identity' | 'compute' | 'image' | 'network';

/** The one map from a domain error's kind to an HTTP status. */
export const STATUS_OF: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  methodNotAllowed: 405,
  notAcceptable: 406,
  conflict: 409,
  invalidState: 409,
  gone: 410,
  // NOTE(openstack): Nova answers an exceeded quota with 403 (OverQuota → HTTPForbidden).
  overQuota: 403,
  tooLarge: 413,
  unsupportedMediaType: 415,
  tooManyRequests: 429,
  notImplemented: 501,
  unavailable: 503,
  internal: 500,
};

export const statusOf = (err: DomainError): number => STATUS_OF[err.kind];

const KIND_OF_STATUS: Record<number, ErrorKind> = {
  400: 'invalid', 401: 'unauthorized', 403: 'forbidden', 404: 'notFound', 405: 'methodNotAllowed',
  406: 'notAcceptable', 409: 'conflict', 410: 'gone', 413: 'tooLarge', 415: 'unsupportedMediaType', 429: 'tooManyRequests',
};

/** Turns whatever was thrown (ours, body-parser's, a bug) into a DomainError. */
export function toDomainError(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
  // body-parser / raw-body errors carry a status and a type
  if (e && typeof e === 'object' && typeof (e.status ?? e.statusCode) === 'number') {
    const status = (e.status ?? e.statusCode) as number;
    if (e.type === 'entity.parse.failed') return new DomainError('invalid', 'Malformed request body: the body is not valid JSON.');
    if (e.type === 'entity.too.large') return new DomainError('tooLarge', 'Request body is too large.');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new DomainError('unsupportedMediaType', e.message ?? 'Unsupported encoding');
    if (e.type === 'request.aborted') return new DomainError('invalid', 'The request was aborted by the client.');
    if (status >= 400 && status < 500) return new DomainError(KIND_OF_STATUS[status] ?? 'invalid', e.expose && e.message ? e.message : http.STATUS_CODES[status] ?? 'Bad request');
  }
  return new DomainError('internal', 'The server has either erred or is incapable of performing the requested operation.');
}

/** Nova's fault names by status (nova/api/openstack/wsgi.py Fault._fault_names). */
function novaFaultName(status: number): string {
  switch (status) {
    case 400: return 'badRequest';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'itemNotFound';
    case 405: return 'badMethod';
    case 409: return 'conflictingRequest';
    case 413: case 429: return 'overLimit';
    case 415: return 'badMediaType';
    case 501: return 'notImplemented';
    case 503: return 'serviceUnavailable';
    default: return 'computeFault';
  }
}

/**
 * The error body of an API. Glance negotiates on Accept: `application/json` gets webob's flat JSON
 * (`{"message", "code": "404 Not Found", "title"}`, what Tempest asks for); anything else gets, instead
 * of Glance's HTML page, the same fields nested under "error".
 * NOTE(openstack): glanceclient (glanceclient/exc.py from_response) reads `.get('message')` on every
 * top-level value of a JSON error, so the flat form would crash it; the SDK reads either form.
 */
export function errorBody(api: ApiName, err: DomainError, accept = ''): unknown {
  const status = statusOf(err);
  const title = http.STATUS_CODES[status] ?? 'Error';
  switch (api) {
    case 'identity':
      return { error: { code: status, title, message: err.message } };
    case 'compute':
      return { [novaFaultName(status)]: { code: status, message: err.message } };
    case 'network':
      // Neutron's fault wrapper: the exception's class name as `type`, no detail.
      return { NeutronError: { type: err instanceof NeutronError ? err.type : neutronTypeOf(status), message: err.message, detail: '' } };
    case 'image': {
      // webob's titles (Node calls 413 "Payload Too Large").
      const t = status === 413 ? 'Request Entity Too Large' : title;
      const code = `${status} ${t}`;
      if (/application\/json/i.test(accept)) return { message: err.message, code, title: t };
      // glanceclient prints "HTTP <message>": lead with the status line, as Glance's HTML page does.
      return { error: { message: `${code}: ${err.message}`, code, title: t } };
    }
  }
}

export function errorHandler(api: ApiName, log: Logger, publicUrl: string): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiErr = toDomainError(err);
    const status = statusOf(apiErr);
    if (status >= 500) log.error({ err, req_id: req.id, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) {
      // A streamed response broke mid-way: nothing can be said any more, close the connection.
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(apiErr.headers)) res.setHeader(k, v);
    if (status === 401) res.setHeader('WWW-Authenticate', `Keystone uri="${publicUrl}/identity"`);
    // An unread request body (e.g. an upload refused before reading) must not be parsed as the next request.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.status(status).type('application/json').send(JSON.stringify(errorBody(api, apiErr, req.header('accept'))));
  };
}

/** 404 for any path an API does not serve, in that API's shape. */
export function notFoundHandler(): RequestHandler {
  return (_req, _res, next) => next(notFound(msg.resourceNotFound()));
}

/** 405 for a known path with a method it does not serve. */
export function methodNotAllowed(): RequestHandler {
  return (req, _res, next) => next(methodNotAllowedError(`The method ${req.method} is not allowed for this resource.`));
}
