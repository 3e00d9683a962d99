/**
 * Glance's image statuses and the moves between them, as one table
 * (glance/domain/__init__.py `Image.valid_state_targets`). This table is the only place that
 * knows which moves are legal: ImageRepository.transition, the only writer of the status,
 * refuses any other (invalidState), and makes the legal ones by compare-and-set
 * (`UPDATE … WHERE status = <from>`). So the table says what may be asked for and the database
 * says who got there first.
 */
import type { ImageStatus } from './image-record';
import { msg } from '../errors';

/** Every status, one comment each. */
export const IMAGE_STATUSES: Record<ImageStatus, string> = {
  queued: 'The record exists; no data has been uploaded yet (or an upload failed and may be retried).',
  saving: 'Data is being uploaded right now; a second upload is refused.',
  active: 'Data is stored (and, for docker images, loaded in the engine): the image can be booted and downloaded.',
  killed: 'Legacy terminal failure state; only DELETE is possible. novadock never enters it (failed uploads go back to queued).',
  deleted: 'Gone. novadock removes the row instead, so this is never shown.',
  pending_delete: 'Delayed delete (Glance scrubber). Never entered by novadock.',
  deactivated: 'An admin hid the data: it cannot be downloaded or booted by non-admins until reactivated.',
  uploading: 'Interoperable import: data staged. Never entered by novadock (import is not offered).',
  importing: 'Interoperable import in progress. Never entered by novadock.',
};

/** From each status, the statuses it may move to. */
export const VALID_STATE_TARGETS: Readonly<Record<ImageStatus, readonly ImageStatus[]>> = {
  // NOTE(openstack): Glance v2 lets a failed upload go back from saving to queued (instead of
  // killed) so that the upload can simply be retried; novadock always does that.
  queued: ['saving', 'uploading', 'importing', 'active', 'deleted'],
  saving: ['active', 'killed', 'deleted', 'queued'],
  uploading: ['importing', 'queued', 'deleted'],
  importing: ['active', 'deleted', 'queued'],
  active: ['pending_delete', 'deleted', 'deactivated'],
  killed: ['deleted'],
  pending_delete: ['deleted'],
  deleted: [],
  deactivated: ['active', 'deleted'],
};

export function canTransition(from: ImageStatus, to: ImageStatus): boolean {
  return VALID_STATE_TARGETS[from]?.includes(to) ?? false;
}

/** Glance's wording for a refused move (glance/common/exception.py InvalidImageStatusTransition). */
export function transitionMessage(from: ImageStatus, to: ImageStatus): string {
  return msg.imageStatusTransition(from, to);
}

export function isImageStatus(s: string): s is ImageStatus {
  return Object.prototype.hasOwnProperty.call(IMAGE_STATUSES, s);
}
