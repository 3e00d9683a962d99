/**
 * The Glance v2 wire shapes (contract §6.1): the only place they live.
 *
 * An image is one flat object: the 22 core keys (null where unknown), then the custom
 * properties as top-level strings, then — for docker images — the engine id as the custom
 * property `docker_image_id`, so users can match it against `docker images`.
 */
import { isoSeconds } from '../http/wire-time';
import { DOCKER_IMAGE_ID_PROPERTY, ImageMember, ImageRecord } from './image-record';

export type ImageView = Record<string, string | number | boolean | string[] | null>;



export function imageView(img: ImageRecord): ImageView {
  const view: ImageView = {
    id: img.id,
    name: img.name,
    status: img.status,
    visibility: img.visibility,
    protected: img.protected,
    os_hidden: img.os_hidden,
    checksum: img.checksum,
    os_hash_algo: img.os_hash_algo,
    os_hash_value: img.os_hash_value,
    owner: img.owner,
    size: img.size,
    virtual_size: img.virtual_size,
    container_format: img.container_format,
    disk_format: img.disk_format,
    created_at: isoSeconds(img.created_at),
    updated_at: isoSeconds(img.updated_at),
    tags: [...img.tags],
    min_ram: img.min_ram,
    min_disk: img.min_disk,
    self: `/v2/images/${img.id}`,
    file: `/v2/images/${img.id}/file`,
    schema: '/v2/schemas/image',
  };
  for (const [k, v] of Object.entries(img.properties)) {
    // Custom properties never shadow a core key (create/PATCH route those to columns anyway).
    if (!(k in view) && typeof v === 'string') view[k] = v;
  }
  if (img.engine_image_id) view[DOCKER_IMAGE_ID_PROPERTY] = img.engine_image_id;
  return view;
}

export interface ImagesPage {
  images: ImageView[];
  first: string;
  schema: string;
  next?: string;
}

/**
 * The list body. NOTE(openstack): `first`/`next` repeat the request's query parameters
 * (minus marker) in Glance's `/v2/images?…` form; the SDK strips `/v2` and glanceclient
 * resolves it against the image endpoint (openstack/resource.py `_get_next_link`).
 */
export function imagesPage(images: ImageRecord[], query: URLSearchParams, nextMarker: string | undefined): ImagesPage {
  const params = new URLSearchParams(query);
  params.delete('marker');
  const qs = params.toString();
  const page: ImagesPage = {
    images: images.map(imageView),
    first: qs ? `/v2/images?${qs}` : '/v2/images',
    schema: '/v2/schemas/images',
  };
  if (nextMarker) {
    params.append('marker', nextMarker);
    page.next = `/v2/images?${params.toString()}`;
  }
  return page;
}

export interface MemberView {
  created_at: string;
  updated_at: string;
  image_id: string;
  member_id: string;
  schema: string;
  status: string;
}

/** One image member (glance/api/v2/image_members.py `ResponseSerializer._format_image_member`). */
export function memberView(m: ImageMember): MemberView {
  return {
    created_at: isoSeconds(m.created_at),
    updated_at: isoSeconds(m.updated_at),
    image_id: m.image_id,
    member_id: m.member_id,
    schema: '/v2/schemas/member',
    status: m.status,
  };
}

export function membersView(members: ImageMember[]): { members: MemberView[]; schema: string } {
  return { members: members.map(memberView), schema: '/v2/schemas/members' };
}

/** The version list served at /image and /image/versions (contract §4.2). */
export function versionsView(publicUrl: string): { versions: Array<{ id: string; status: string; links: Array<{ rel: string; href: string }> }> } {
  const href = `${publicUrl}/image/v2/`;
  const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href }] });
  return {
    // NOTE(openstack): the example of contract §4.2; every entry points at the same /v2/ base.
    versions: [v('v2.17', 'CURRENT'), v('v2.16', 'SUPPORTED'), v('v2.0', 'SUPPORTED')],
  };
}
