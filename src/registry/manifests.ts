/**
 * Manifest validation: Docker image manifest v2 schema 2, Docker manifest lists, OCI image
 * manifests and OCI image indexes (image-spec manifest.md / image-index.md; distribution's
 * manifest/schema2 and manifest/manifestlist). Schemas are checked with ajv; what a manifest
 * references (config and layers, or child manifests) is returned for the service to check exists.
 * Schema 1 manifests are refused (UNSUPPORTED would be distribution's answer; Docker stopped
 * pushing them in 2019).
 */
import Ajv from 'ajv';
import { RegistryError } from './errors';
import { DIGEST_PATTERN } from './blob-store';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.values(MEDIA);

/** Largest manifest accepted (distribution's default limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const descriptor = {
  type: 'object',
  required: ['mediaType', 'digest', 'size'],
  properties: {
    mediaType: { type: 'string', minLength: 1 },
    digest: { type: 'string', pattern: DIGEST_PATTERN.source },
    size: { type: 'integer', minimum: 0 },
    urls: { type: 'array', items: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
    platform: { type: 'object' },
  },
};

const imageManifest = {
  type: 'object',
  required: ['schemaVersion', 'config', 'layers'],
  properties: {
    schemaVersion: { const: 2 },
    mediaType: { type: 'string' },
    config: descriptor,
    layers: { type: 'array', items: descriptor },
    subject: descriptor,
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const imageIndex = {
  type: 'object',
  required: ['schemaVersion', 'manifests'],
  properties: {
    schemaVersion: { const: 2 },
    mediaType: { type: 'string' },
    manifests: { type: 'array', items: descriptor },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

const ajv = new Ajv({ allErrors: false, strict: false });
const validateManifest = ajv.compile(imageManifest);
const validateIndex = ajv.compile(imageIndex);

interface Descriptor { mediaType: string; digest: string; size: number; platform?: { os?: unknown; architecture?: unknown; variant?: unknown } }

/** The platform the compute hosts run, as image indexes name platforms (GOARCH words). */
export const HOST_PLATFORM = { os: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch } as const;

/** The child of an index for `platform` (the first, as an engine picks), if there is one. */
export function platformChild(m: ParsedManifest, platform: { os: string; architecture: string } = HOST_PLATFORM): Descriptor | undefined {
  return m.manifests.find((c) => c.platform?.os === platform.os && c.platform?.architecture === platform.architecture
    && (c.mediaType === MEDIA.dockerManifest || c.mediaType === MEDIA.ociManifest));
}

export interface ParsedManifest {
  mediaType: string;
  /** An image manifest's config blob; undefined for an index. */
  config?: Descriptor;
  /** Blobs the manifest needs in the repository (config and layers). */
  blobs: Descriptor[];
  /** Child manifests (an index or manifest list). */
  manifests: Descriptor[];
}

const invalid = (reason: string) => new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason });

/**
 * Parses and checks a manifest body sent with `contentType`. The media type is the body's
 * `mediaType`, else the Content-Type; when both are given they must agree.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  if (body.length > MAX_MANIFEST_BYTES) throw new RegistryError('SIZE_INVALID', 'manifest too large', { limit: MAX_MANIFEST_BYTES });
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('the manifest is not valid JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid('the manifest is not a JSON object');
  const declared = (doc as { mediaType?: unknown }).mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  const header = contentType?.split(';')[0].trim().toLowerCase();
  if ((doc as { schemaVersion?: unknown }).schemaVersion === 1) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: 'schema 1 manifests are not supported' });
  let mediaType = declared ?? (header && MANIFEST_MEDIA_TYPES.includes(header) ? header : undefined);
  if (!mediaType) mediaType = 'manifests' in doc ? MEDIA.ociIndex : MEDIA.ociManifest; // OCI allows mediaType to be left out
  if (declared && header && MANIFEST_MEDIA_TYPES.includes(header) && header !== declared) throw invalid(`mediaType ${declared} does not match Content-Type ${header}`);
  if (mediaType === MEDIA.dockerManifest || mediaType === MEDIA.ociManifest) {
    if (!validateManifest(doc)) throw invalid(schemaError(validateManifest.errors));
    const m = doc as { config: Descriptor; layers: Descriptor[] };
    return { mediaType, config: m.config, blobs: [m.config, ...m.layers], manifests: [] };
  }
  if (mediaType === MEDIA.dockerList || mediaType === MEDIA.ociIndex) {
    if (!validateIndex(doc)) throw invalid(schemaError(validateIndex.errors));
    return { mediaType, blobs: [], manifests: (doc as { manifests: Descriptor[] }).manifests };
  }
  throw invalid(`unsupported manifest media type ${mediaType}`);
}

function schemaError(errors: typeof validateManifest.errors): string {
  const e = errors?.[0];
  if (!e) return 'the manifest does not match its schema';
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`;
}
