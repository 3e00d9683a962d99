/**
 * Wire shapes of the compute image proxy (nova/api/openstack/compute/views/images.py): Glance's
 * image in Nova's older words — status in capitals, progress, minRam/minDisk, the server a
 * snapshot came from, and links to both APIs.
 */
import { isoSeconds } from '../../http/wire-time';
import type { Request } from 'express';
import type { ImageRecord } from '../../image/image-record';
import { nextPageLinks } from './common';

/** Glance status → Nova's image status (views/images.py). */
export const IMAGE_STATUS: Record<string, string> = {
  active: 'ACTIVE',
  queued: 'SAVING',
  saving: 'SAVING',
  uploading: 'SAVING',
  importing: 'SAVING',
  deleted: 'DELETED',
  pending_delete: 'DELETED',
  killed: 'ERROR',
};
const IMAGE_PROGRESS: Record<string, number> = { queued: 25, saving: 50, uploading: 50, importing: 50, active: 100 };

/** Nova's status of a Glance image ('UNKNOWN' for a status it has no word for). */
export const novaImageStatus = (i: ImageRecord): string => IMAGE_STATUS[i.status] ?? 'UNKNOWN';



function imageLinks(publicUrl: string, id: string) {
  const enc = encodeURIComponent(id);
  return [
    { rel: 'self', href: `${publicUrl}/compute/v2.1/images/${enc}` },
    { rel: 'bookmark', href: `${publicUrl}/compute/images/${enc}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${publicUrl}/image/images/${enc}` },
  ];
}

function imageSummary(publicUrl: string, i: ImageRecord) {
  return { id: i.id, name: i.name, links: imageLinks(publicUrl, i.id) };
}

function imageDetail(publicUrl: string, i: ImageRecord) {
  const v: Record<string, unknown> = {
    id: i.id,
    name: i.name,
    minRam: i.min_ram,
    minDisk: i.min_disk,
    metadata: { ...i.properties },
    created: isoSeconds(i.created_at),
    updated: isoSeconds(i.updated_at),
    status: novaImageStatus(i),
    progress: IMAGE_PROGRESS[i.status] ?? 0,
    links: imageLinks(publicUrl, i.id),
    'OS-EXT-IMG-SIZE:size': i.size,
  };
  // A snapshot names the server it was taken from (the instance_uuid property Nova sets).
  const server = i.properties.instance_uuid;
  if (server) {
    v.server = {
      id: server,
      links: [
        { rel: 'self', href: `${publicUrl}/compute/v2.1/servers/${encodeURIComponent(server)}` },
        { rel: 'bookmark', href: `${publicUrl}/compute/servers/${encodeURIComponent(server)}` },
      ],
    };
  }
  return v;
}

/** GET /images/{id}. */
export function imageView(publicUrl: string, i: ImageRecord) {
  return { image: imageDetail(publicUrl, i) };
}

/** GET /images[/detail]: one page, with `images_links` when it is full. */
export function imageListView(publicUrl: string, page: ImageRecord[], detail: boolean, query: Request['query']) {
  const body: Record<string, unknown> = { images: page.map((i) => (detail ? imageDetail(publicUrl, i) : imageSummary(publicUrl, i))) };
  const links = nextPageLinks(publicUrl, detail ? 'images/detail' : 'images', query, page.length, page[page.length - 1]?.id);
  if (links.length) body.images_links = links;
  return body;
}
