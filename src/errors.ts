/**
 * Domain errors: services and repositories throw an error of a kind (not found, conflict, invalid
 * state, over quota, forbidden, …), never a status code. The HTTP layer alone (src/http/errors.ts)
 * maps each kind to a status and each API's body shape.
 * The message templates below are spelled as Nova (nova/exception.py) and Glance
 * (glance/common/exception.py) spell them, so one wording has one home.
 */

export type ErrorKind =
  /** The request is malformed or names something that does not fit (400). */
  | 'invalid'
  /** No valid credentials (401). */
  | 'unauthorized'
  /** The caller may not do this (403). */
  | 'forbidden'
  /** The thing asked for does not exist, or is not the caller's to see (404). */
  | 'notFound'
  /** The path exists, the method does not (405). */
  | 'methodNotAllowed'
  /** No representation or API version the client accepts (406). */
  | 'notAcceptable'
  /** A uniqueness or concurrency clash: someone else got there first (409). */
  | 'conflict'
  /** The resource is in a state that refuses this (Nova's InstanceInvalidState, a task in flight) (409). */
  | 'invalidState'
  /** The thing went away while being worked on (410). */
  | 'gone'
  /** A quota would be exceeded (Nova: 403 forbidden). */
  | 'overQuota'
  /** A size or count limit of the request itself (413). */
  | 'tooLarge'
  /** The body's media type is not served here (415). */
  | 'unsupportedMediaType'
  /** Too many requests (here: failed logins) from one client; a Retry-After goes with it (429). */
  | 'tooManyRequests'
  /** Recognised, deliberately not offered (501). */
  | 'notImplemented'
  /** A backend (a Docker engine, the database) did not answer (503). */
  | 'unavailable'
  /** A bug: nothing of it reaches the client (500). */
  | 'internal';

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    /** Extra response headers the HTTP layer sends with it (e.g. Accept-Patch, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const badRequest = (m: string) => new DomainError('invalid', m);
export const unauthorized = (m = 'The request you have made requires authentication.') => new DomainError('unauthorized', m);
export const forbidden = (m: string) => new DomainError('forbidden', m);
export const notFound = (m: string) => new DomainError('notFound', m);
export const conflict = (m: string) => new DomainError('conflict', m);
export const invalidState = (m: string) => new DomainError('invalidState', m);
export const gone = (m: string) => new DomainError('gone', m);
export const tooLarge = (m: string) => new DomainError('tooLarge', m);
export const unsupportedMediaType = (m: string, headers: Record<string, string> = {}) => new DomainError('unsupportedMediaType', m, headers);
export const notAcceptable = (m: string) => new DomainError('notAcceptable', m);
export const quotaExceeded = (m: string) => new DomainError('overQuota', m);
export const unavailable = (m: string) => new DomainError('unavailable', m);
export const notImplemented = (m: string) => new DomainError('notImplemented', m);
export const methodNotAllowed = (m: string) => new DomainError('methodNotAllowed', m);

/** Message templates, one home each. */
export const msg = {
  /** nova.exception.InstanceNotFound */
  instanceNotFound: (id: string) => `Instance ${id} could not be found.`,
  /** nova.exception.FlavorNotFound */
  flavorNotFound: (id: string) => `Flavor ${id} could not be found.`,
  /** nova.exception.NetworkNotFound */
  networkNotFound: (id: string) => `Network ${id} could not be found.`,
  /** nova.exception.PortNotFound */
  portNotFound: (id: string) => `Port ${id} could not be found.`,
  /** nova.exception.ComputeHostNotFound */
  computeHostNotFound: (host: string) => `Compute host ${host} could not be found.`,
  /** nova.exception.HypervisorNotFound (as the API spells it) */
  hypervisorNotFound: (id: string) => `Hypervisor with ID ${id} could not be found.`,
  /** nova.exception.KeypairNotFound */
  keypairNotFound: (name: string, userId: string) => `Keypair ${name} not found for user ${userId}`,
  /** nova.exception.InstanceIsLocked */
  instanceLocked: (id: string) => `Instance ${id} is locked`,
  /** nova.exception.InstanceInvalidState, as the API words it (common.raise_http_conflict_for_instance_invalid_state) */
  instanceInvalidState: (action: string, id: string, attr: string, state: string) => `Cannot '${action}' instance ${id} while it is in ${attr} ${state}`,
  /** nova.exception.OverQuota, as the API words it */
  quotaExceeded: (resource: string, requested: number, used: number, allowed: number) =>
    `Quota exceeded for ${resource}: Requested ${requested}, but already used ${used} of ${allowed} ${resource}`,
  /** The default 404 of a path no API serves (webob's). */
  resourceNotFound: () => 'The resource could not be found.',
  /** nova.api.openstack.compute.images: the compute API's image proxy */
  computeImageNotFound: () => 'Image not found.',
  /** glance.common.exception.ImageNotFound, as the v2 API words it */
  imageNotFound: (id: string) => `No image found with ID ${id}`,
  /** glance.common.exception.InvalidImageStatusTransition */
  imageStatusTransition: (from: string, to: string) => `Image status transition from ${from} to ${to} is not allowed`,
};

/** The Docker engine (or another backend) did not answer: writes fail with 503, reads go on. */
export class BackendUnavailable extends DomainError {
  constructor(what: string, cause?: unknown) {
    super('unavailable', `${what} is unavailable: ${cause instanceof Error ? cause.message : String(cause ?? 'no answer')}`);
  }
}
