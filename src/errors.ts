/**
 * Errors carry a kind; one place (src/http/errors.ts) renders them per API.
 * Messages are templates that name the thing and its state, after nova/exception.py.
 */

export type ErrorKind =
  | 'badRequest'
  | 'unauthorized'
  | 'forbidden'
  | 'itemNotFound'
  | 'badMethod'
  | 'notAcceptable'
  | 'conflictingRequest'
  | 'gone'
  | 'overLimit'
  | 'requestEntityTooLarge'
  | 'badMediaType'
  | 'notImplemented'
  | 'serviceUnavailable'
  | 'computeFault';

export const STATUS_OF: Record<ErrorKind, number> = {
  badRequest: 400,
  unauthorized: 401,
  forbidden: 403,
  itemNotFound: 404,
  badMethod: 405,
  notAcceptable: 406,
  conflictingRequest: 409,
  gone: 410,
  overLimit: 403,
  requestEntityTooLarge: 413,
  badMediaType: 415,
  notImplemented: 501,
  serviceUnavailable: 503,
  computeFault: 500,
};

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Overrides the status of the kind (e.g. overLimit is 403 for quotas, 413 for sizes). */
    readonly status: number = STATUS_OF[kind],
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (m: string) => new ApiError('badRequest', m);
export const unauthorized = (m = 'The request you have made requires authentication.') => new ApiError('unauthorized', m);
export const forbidden = (m: string) => new ApiError('forbidden', m);
export const notFound = (m: string) => new ApiError('itemNotFound', m);
export const conflict = (m: string) => new ApiError('conflictingRequest', m);
export const gone = (m: string) => new ApiError('gone', m);
export const tooLarge = (m: string) => new ApiError('requestEntityTooLarge', m);
export const badMediaType = (m: string) => new ApiError('badMediaType', m);
export const notAcceptable = (m: string) => new ApiError('notAcceptable', m, 406);
export const quotaExceeded = (m: string) => new ApiError('overLimit', m, 403);
export const unavailable = (m: string) => new ApiError('serviceUnavailable', m);
export const notImplemented = (m: string) => new ApiError('notImplemented', m);

/** The Docker engine (or another backend) did not answer: writes fail with 503, reads go on. */
export class BackendUnavailable extends ApiError {
  constructor(what: string, cause?: unknown) {
    super('serviceUnavailable', `${what} is unavailable: ${cause instanceof Error ? cause.message : String(cause ?? 'no answer')}`);
  }
}
