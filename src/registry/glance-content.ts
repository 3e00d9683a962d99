/**
 * RegistryContent of the images Glance holds as `docker save` archives — uploaded tarballs and
 * server snapshots — so `docker pull <host>/<project>/<name>:<tag>` (or `@<manifest digest>`)
 * fetches them with no second copy: the manifest is the one ArchiveIndexes made of the stored
 * archive, and every blob is a byte range of that archive.
 *
 * Naming: an image of project P named `N:T` is `P/N:T`; one named `N` (no colon) is `P/N:latest`.
 * P is the project's name (or its id). A name that is not a valid repository (upper case, spaces…)
 * is simply not served. Of several images answering one tag, the newest visible one wins; by
 * digest, hidden ones (an older image a re-upload replaced) still answer.
 * Access is decided before this is asked (RegistryAuth, with `imageIds` for public images).
 */
import { PassThrough, Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { IdentityRepository, ProjectRow } from '../db/identity-repo';
import type { ImageRepository } from '../db/image-repo';
import type { ImageRecord } from '../image/image-record';
import { REGISTRY_PROPERTIES } from '../image/registry-images';
import { findBlob, type ArchiveIndex } from './archive-index';
import type { ArchiveIndexes } from './archive-indexes';
import { DIGEST_PATTERN } from './blob-store';
import type { BlobContent, ManifestContent, RegistryContent } from './content';
import { validRepositoryName } from './registry-auth';

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** The repository path and tag a Glance image name gives, within its project; undefined if none. */
export function registryNameOf(imageName: string | null): { name: string; tag: string } | undefined {
  if (!imageName) return undefined;
  const colon = imageName.lastIndexOf(':');
  // A colon inside the path part (`a:b/c`) is no tag separator.
  const tagged = colon > 0 && !imageName.slice(colon + 1).includes('/');
  const name = tagged ? imageName.slice(0, colon) : imageName;
  const tag = tagged ? imageName.slice(colon + 1) : 'latest';
  return TAG_PATTERN.test(tag) ? { name, tag } : undefined;
}

export interface GlanceContentDeps {
  images: ImageRepository;
  identity: IdentityRepository;
  indexes: ArchiveIndexes;
  log: Logger;
}

interface Candidate { image: ImageRecord; tag: string }

export class GlanceArchiveContent implements RegistryContent {
  constructor(private readonly deps: GlanceContentDeps) {}

  async manifest(repository: string, reference: string): Promise<ManifestContent | undefined> {
    const candidates = await this.candidates(repository);
    const byDigest = DIGEST_PATTERN.test(reference);
    const ordered = byDigest ? candidates : candidates.filter((c) => c.tag === reference && !c.image.os_hidden);
    for (const c of ordered) {
      const index = await this.indexOf(c.image);
      if (!index) continue;
      if (byDigest && index.manifest.digest !== reference) continue;
      return { digest: index.manifest.digest, mediaType: index.manifest.mediaType, body: index.manifest.bytes };
    }
    return undefined;
  }

  async blob(repository: string, digest: string): Promise<BlobContent | undefined> {
    if (!DIGEST_PATTERN.test(digest)) return undefined;
    for (const c of await this.candidates(repository)) {
      const index = await this.indexOf(c.image);
      const blob = index && findBlob(index, digest);
      if (!blob) continue;
      const imageId = c.image.id;
      return {
        digest,
        size: blob.size,
        open: (range) => deferred(() => this.deps.indexes.openBlob(imageId, blob, range)),
      };
    }
    return undefined;
  }

  async tags(repository: string): Promise<string[]> {
    return [...new Set((await this.candidates(repository)).filter((c) => !c.image.os_hidden).map((c) => c.tag))];
  }

  async repositories(): Promise<string[]> {
    const images = await this.deps.images.list({ projectId: '', isAdmin: true }, this.conditions());
    const names = new Map<string, string | undefined>();
    const out = new Set<string>();
    for (const image of images) {
      if (!image.owner || isPushed(image)) continue;
      if (!names.has(image.owner)) names.set(image.owner, (await this.deps.identity.projectById(image.owner))?.name);
      const project = names.get(image.owner);
      const n = registryNameOf(image.name);
      if (project && n && validRepositoryName(`${project}/${n.name}`)) out.add(`${project}/${n.name}`);
    }
    return [...out];
  }

  /** Ids of the Glance images a repository serves (for RegistryAuth's public-image rule). */
  async imageIds(repository: string): Promise<string[]> {
    return (await this.candidates(repository)).map((c) => c.image.id);
  }

  /** The project's docker images whose name maps to `repository`, newest first. */
  private async candidates(repository: string): Promise<Candidate[]> {
    const slash = repository.indexOf('/');
    if (slash <= 0) return [];
    const project = await this.projectOf(repository.slice(0, slash));
    if (!project) return [];
    const wanted = repository.slice(slash + 1);
    const images = await this.deps.images.list({ projectId: project.id, isAdmin: true }, [...this.conditions(), { column: 'owner', op: 'eq', value: project.id }]);
    const out: Candidate[] = [];
    for (const image of images) {
      const n = registryNameOf(image.name);
      if (n && n.name === wanted && !isPushed(image)) out.push({ image, tag: n.tag });
    }
    return out.sort((a, b) => (a.image.created_at < b.image.created_at ? 1 : a.image.created_at > b.image.created_at ? -1 : 0));
  }

  private conditions() {
    return [
      { column: 'container_format' as const, op: 'eq' as const, value: 'docker' },
      { column: 'status' as const, op: 'eq' as const, value: 'active' },
    ];
  }

  private async projectOf(first: string): Promise<ProjectRow | undefined> {
    return (await this.deps.identity.projectByName('default', first)) ?? (await this.deps.identity.projectById(first));
  }

  /** The image's archive index, or undefined when its data cannot be served by ranges. */
  private async indexOf(image: ImageRecord): Promise<ArchiveIndex | undefined> {
    try {
      return await this.deps.indexes.of(image.id);
    } catch (err) {
      this.deps.log.info({ err, image_id: image.id }, 'image archive not servable by the registry');
      return undefined;
    }
  }
}

/** Pushed through /v2/ (PushedContent serves those). */
function isPushed(image: ImageRecord): boolean {
  return typeof image.properties?.[REGISTRY_PROPERTIES.repository] === 'string';
}

/** A stream now for one that opens later: errors of the opening end it with that error. */
function deferred(open: () => Promise<Readable>): Readable {
  const out = new PassThrough();
  open().then(
    (src) => {
      src.on('error', (err) => out.destroy(err));
      out.on('close', () => src.destroy());
      src.pipe(out);
    },
    (err) => out.destroy(err),
  );
  return out;
}
