/**
 * The embedded registry's pieces, built for the composition root: repository, blob store under
 * <dataDir>/registry, pushed content, Glance catalogue, auth, service, and the sweep of abandoned
 * uploads (a timer `stop()` ends).
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config';
import type { Db } from '../db/knex';
import type { IdentityRepository } from '../db/identity-repo';
import type { ImageRepository } from '../db/image-repo';
import { RegistryRepository } from '../db/registry-repo';
import type { TokenService } from '../identity/token-service';
import type { ImageService } from '../image/image-service';
import { REGISTRY_PROPERTIES, RegistryImages } from '../image/registry-images';
import type { HostImages } from '../virt/host-images';
import { ArchiveIndexRepository } from '../db/archive-index-repo';
import type { ImageUploads } from '../image/image-upload';
import type { ImageStore } from '../store/image-store';
import { ArchiveIndexes } from './archive-indexes';
import { GlanceArchiveContent } from './glance-content';
import { pushedArchive } from './pushed-archive';
import { BlobStore } from './blob-store';
import { PushedContent } from './pushed-content';
import { RegistryAuth } from './registry-auth';
import { RegistryService } from './registry-service';

export interface RegistryParts {
  service: RegistryService;
  auth: RegistryAuth;
  stop(): void;
}

/** Registry tokens live this long (distribution's token servers hand out 5 minutes). */
const TOKEN_TTL_SECONDS = 300;
/** How often abandoned uploads are looked for. */
const SWEEP_INTERVAL_MS = 60_000;

export function buildRegistry(deps: {
  config: Config; db: Db; identity: IdentityRepository; tokens: TokenService; images: ImageService; imageRepo: ImageRepository; hostImages: HostImages; secret: string; log: Logger;
  store: ImageStore; imageUploads: ImageUploads;
}): RegistryParts {
  const { config, log } = deps;
  const repo = new RegistryRepository(deps.db);
  const blobs = new BlobStore(path.join(config.dataDir, 'registry'), config.registryMaxBlobSize ?? config.maxImageSize);
  const catalogue = new RegistryImages(deps.imageRepo, (id) => deps.images.discard(id), log);
  const service = new RegistryService({
    repo, blobs, pushed: new PushedContent(repo, blobs), catalogue, uploadTimeoutMs: (config.registryUploadTimeoutSeconds ?? 3600) * 1000, log,
  });
  // Glance's own docker images (uploaded tarballs, snapshots) are pullable too, from their stored archives.
  const glance = new GlanceArchiveContent({
    images: deps.imageRepo, identity: deps.identity, indexes: new ArchiveIndexes({ repo: new ArchiveIndexRepository(deps.db), store: deps.store, log }), log,
  });
  service.addSource(glance);
  const auth = new RegistryAuth({
    identity: deps.identity,
    tokens: deps.tokens,
    secret: deps.secret,
    publicUrl: config.publicUrl,
    ttlSeconds: TOKEN_TTL_SECONDS,
    anonymousPull: config.registryAnonymousPull ?? false,
    isPublic: async (repository) => catalogue.anyPublic([...(await repo.imageIds(repository)), ...(await glance.imageIds(repository))]),
  });
  deps.images.whenDeleted((image) => service.imageDeleted(image, REGISTRY_PROPERTIES));
  // A pushed image has no archive in the store: a compute host lacking it pulls it from here, by
  // digest, at the address that host's engine reaches novadock at.
  const registryHost = new URL(config.publicUrl).host;
  const withPort = (a: string) => (/:\d+$/.test(a) ? a : `${a}:${config.port}`);
  const addressOf = (host: string) => {
    const a = config.seed.compute_hosts.find((h) => h.name === host)?.registry_address ?? config.registryAddress;
    return a ? withPort(a) : registryHost;
  };
  deps.hostImages.usePulls(async (image, host) => {
    const repository = image.properties?.[REGISTRY_PROPERTIES.repository];
    const digest = image.properties?.[REGISTRY_PROPERTIES.manifestDigest];
    if (!repository || !digest || !image.engine_image_id) return undefined;
    return { reference: `${addressOf(host)}/${repository}@${digest}`, token: auth.pullToken(repository), imageId: image.engine_image_id };
  });
  // ...and `openstack image save` of a pushed image writes its archive from the blobs.
  deps.imageUploads.useArchiveSource((image) => pushedArchive(service, image, registryHost, log));
  const timer = setInterval(() => {
    service.sweep().catch((err) => log.warn({ err }, 'registry upload sweep failed'));
  }, SWEEP_INTERVAL_MS);
  timer.unref();
  return { service, auth, stop: () => clearInterval(timer) };
}
