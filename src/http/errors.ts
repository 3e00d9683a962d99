/**
 * One place renders every error, in the shape of the API it belongs to:
 * Keystone `{"error": {code, title, message}}`, Nova `{"<faultName>": {code, message}}`,
 * Glance `{"message", "code": "404 Not Found", "title"}` (JSON, as Glance does for Accept: application/json).
 * Every 5xx is logged with its stack; nothing else leaks into the body.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import http from 'node:http';
import { ApiError, ErrorKind } from '../errors';
import type { Logger } from 'pino';

export type ApiName = 'identity' | 'compute' | 'image';

/** Turns whatever was thrown (ours, body-parser's, a bug) into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string; expose?: boolean };
  // body-parser / raw-body errors carry a status and a type
  if (e && typeof e === 'object' && typeof (e.status ?? e.statusCode) === 'number') {
    const status = (e.status ?? e.statusCode) as number;
    if (e.type === 'entity.parse.failed') return new ApiError('badRequest', 'Malformed request body: the body is not valid JSON.');
    if (e.type === 'entity.too.large') return new ApiError('requestEntityTooLarge', 'Request body is too large.', 413);
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new ApiError('badMediaType', e.message ?? 'Unsupported encoding', 415);
    if (e.type === 'request.aborted') return new ApiError('badRequest', 'The request was aborted by the client.');
    if (status >= 400 && status < 500) return new ApiError(kindOfStatus(status), e.expose && e.message ? e.message : http.STATUS_CODES[status] ?? 'Bad request', status);
  }
  return new ApiError('computeFault', 'The server has either erred or is incapable of performing the requested operation.', 500);
}

function kindOfStatus(status: number): ErrorKind {
  switch (status) {
    case 400: return 'badRequest';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'itemNotFound';
    case 405: return 'badMethod';
    case 406: return 'notAcceptable';
    case 409: return 'conflictingRequest';
    case 410: return 'gone';
    case 413: return 'requestEntityTooLarge';
    case 415: return 'badMediaType';
    default: return 'badRequest';
  }
}

/** Nova's fault names by status (nova/api/openstack/wsgi.py Fault._fault_names). */
function novaFaultName(err: ApiError): string {
  switch (err.status) {
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
export function errorBody(api: ApiName, err: ApiError, accept = ''): unknown {
  const title = http.STATUS_CODES[err.status] ?? 'Error';
  switch (api) {
    case 'identity':
      return { error: { code: err.status, title, message: err.message } };
    case 'compute':
      return { [novaFaultName(err)]: { code: err.status, message: err.message } };
    case 'image': {
      // webob's titles (Node calls 413 "Payload Too Large").
      const t = err.status === 413 ? 'Request Entity Too Large' : title;
      const code = `${err.status} ${t}`;
      if (/application\/json/i.test(accept)) return { message: err.message, code, title: t };
      // glanceclient prints "HTTP <message>": lead with the status line, as Glance's HTML page does.
      return { error: { message: `${code}: ${err.message}`, code, title: t } };
    }
  }
}

export function errorHandler(api: ApiName, log: Logger, publicUrl: string): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const apiErr = toApiError(err);
    if (apiErr.status >= 500) log.error({ err, req_id: req.id, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) {
      // A streamed response broke mid-way: nothing can be said any more, close the connection.
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(apiErr.headers)) res.setHeader(k, v);
    if (apiErr.status === 401) res.setHeader('WWW-Authenticate', `Keystone uri="${publicUrl}/identity"`);
    // An unread request body (e.g. an upload refused before reading) must not be parsed as the next request.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.status(apiErr.status).type('application/json').send(JSON.stringify(errorBody(api, apiErr, req.header('accept'))));
  };
}

/** 404 for any path an API does not serve, in that API's shape. */
export function notFoundHandler(api: ApiName): RequestHandler {
  return (req, _res, next) => next(new ApiError('itemNotFound', api === 'compute' ? 'The resource could not be found.' : `The resource could not be found.`));
}

/** 405 for a known path with a method it does not serve. */
export function methodNotAllowed(): RequestHandler {
  return (req, _res, next) => next(new ApiError('badMethod', `The method ${req.method} is not allowed for this resource.`, 405));
}
