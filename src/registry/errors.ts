/**
 * The distribution spec's error codes (OCI distribution-spec "Error Codes"; distribution's
 * registry/api/errcode), each with its HTTP status. Registry services throw RegistryError; the
 * registry router renders `{"errors":[{code,message,detail}]}`.
 */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN' | 'BLOB_UPLOAD_INVALID' | 'BLOB_UPLOAD_UNKNOWN' | 'DIGEST_INVALID' | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID' | 'MANIFEST_UNKNOWN' | 'NAME_INVALID' | 'NAME_UNKNOWN' | 'SIZE_INVALID' | 'UNAUTHORIZED'
  | 'DENIED' | 'UNSUPPORTED' | 'TOOMANYREQUESTS' | 'RANGE_INVALID';

export const REGISTRY_STATUS: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  // NOTE(distribution): an unsatisfiable Range is 416 with no spec code of its own.
  RANGE_INVALID: 416,
};

export class RegistryError extends Error {
  constructor(readonly code: RegistryErrorCode, message: string, readonly detail: unknown = undefined) {
    super(message);
    this.name = 'RegistryError';
  }

  get status(): number {
    return REGISTRY_STATUS[this.code];
  }
}

export const blobUnknown = (digest: string) => new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { digest });
export const uploadUnknown = (id: string) => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { id });
export const manifestUnknown = (reference: string) => new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { reference });
export const nameUnknown = (name: string) => new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { name });
export const digestInvalid = (digest: string) => new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { digest });
