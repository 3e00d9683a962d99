/**
 * RegistryContent: where the registry finds what it serves. The pushed content (blobs and
 * manifests pushed through /v2/, pushed-content.ts) is one source; another — images in Glance as
 * `docker save` archives, served from the bytes the image store holds — plugs in beside it.
 * The registry asks the sources in order; the first that knows a reference answers.
 */
import type { Readable } from 'node:stream';

export interface ManifestContent {
  digest: string;
  mediaType: string;
  /** The manifest's exact bytes (its digest is of these). */
  body: Buffer;
}

export interface BlobContent {
  digest: string;
  size: number;
  /** The bytes, whole or from `start` to `end` inclusive. */
  open(range?: { start: number; end: number }): Readable;
}

export interface RegistryContent {
  /** The manifest a tag or a digest (`sha256:…`) names in `repository`, if this source has it. */
  manifest(repository: string, reference: string): Promise<ManifestContent | undefined>;
  /** A blob of `repository` (only one the repository's manifests or uploads hold). */
  blob(repository: string, digest: string): Promise<BlobContent | undefined>;
  /** Every tag of `repository` this source knows (sorted or not: the registry merges and sorts). */
  tags(repository: string): Promise<string[]>;
  /** Repositories this source holds. */
  repositories(): Promise<string[]>;
}

/** Tags from several sources, merged, byte-sorted, after `last`, at most `n`. */
export function pageTags(all: string[][], last: string | undefined, n: number): { tags: string[]; more: boolean } {
  const sorted = [...new Set(all.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const after = last === undefined ? sorted : sorted.filter((t) => t > last);
  return { tags: after.slice(0, n), more: after.length > n };
}
