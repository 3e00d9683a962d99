/** RegistryContent of what was pushed through /v2/: manifests and tags in the database, blobs in the BlobStore. */
import type { RegistryRepository } from '../db/registry-repo';
import type { BlobStore } from './blob-store';
import type { BlobContent, ManifestContent, RegistryContent } from './content';
import { DIGEST_PATTERN } from './blob-store';

export class PushedContent implements RegistryContent {
  constructor(private readonly repo: RegistryRepository, private readonly blobs: BlobStore) {}

  async manifest(repository: string, reference: string): Promise<ManifestContent | undefined> {
    let digest = reference;
    if (!DIGEST_PATTERN.test(reference)) {
      const t = await this.repo.tag(repository, reference);
      if (!t) return undefined;
      digest = t.digest;
    }
    const m = await this.repo.manifest(repository, digest);
    return m ? { digest: m.digest, mediaType: m.media_type, body: m.body } : undefined;
  }

  async blob(repository: string, digest: string): Promise<BlobContent | undefined> {
    if (!DIGEST_PATTERN.test(digest) || !(await this.repo.linked(repository, digest))) return undefined;
    const size = await this.repo.blobSize(digest);
    if (size === undefined) return undefined;
    return { digest, size, open: (range) => this.blobs.open(digest, range) };
  }

  async tags(repository: string): Promise<string[]> {
    return this.repo.tags(repository, undefined, Number.MAX_SAFE_INTEGER);
  }

  repositories(): Promise<string[]> {
    return this.repo.repositories();
  }
}
