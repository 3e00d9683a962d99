import crypto from 'node:crypto';
/** An image as the services see it (the repository parses rows into this). */

/** Glance's image statuses (glance/domain/__init__.py). */
export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated' | 'uploading' | 'importing';
export type Visibility = 'public' | 'private' | 'shared' | 'community';

export interface ImageRecord {
  id: string;
  name: string | null;
  status: ImageStatus;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  /** Owning project id. */
  owner: string | null;
  size: number | null;
  virtual_size: number | null;
  container_format: string | null;
  disk_format: string | null;
  min_ram: number;
  min_disk: number;
  /** Engine id (`sha256:…`) of a docker-format image, recorded at upload; never matched by name. */
  engine_image_id: string | null;
  /** Custom properties: string values only (glanceclient validates them as strings). */
  properties: Record<string, string>;
  tags: string[];
  created_at: string;
  updated_at: string;
}

/** The image property under which the engine id is shown to users. */
export const DOCKER_IMAGE_ID_PROPERTY = 'docker_image_id';

/** Glance's image member statuses: a consumer project's answer to an image shared with it. */
export type MemberStatus = 'pending' | 'accepted' | 'rejected';
export const MEMBER_STATUSES: readonly MemberStatus[] = ['pending', 'accepted', 'rejected'];

/** One project a `shared` image is offered to (Glance's ImageMembership). */
export interface ImageMember {
  image_id: string;
  /** The consumer's project id. */
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}

/**
 * A new private docker/raw image with no data yet, as the compute side makes them: a server
 * snapshot, or a tag pushed to the registry (Glance's own create takes every field from the body).
 */
export function newDockerImage(f: { name: string; owner: string; properties: Record<string, string>; min_ram?: number; min_disk?: number }, at: string): Omit<ImageRecord, 'status'> {
  return {
    id: crypto.randomUUID(),
    name: f.name,
    visibility: 'private',
    protected: false,
    os_hidden: false,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    owner: f.owner,
    size: null,
    virtual_size: null,
    container_format: 'docker',
    disk_format: 'raw',
    min_ram: f.min_ram ?? 0,
    min_disk: f.min_disk ?? 0,
    engine_image_id: null,
    properties: f.properties,
    tags: [],
    created_at: at,
    updated_at: at,
  };
}
