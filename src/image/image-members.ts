/**
 * ImageMembers: image sharing (Glance's image members API).
 *
 * Glance's default policy (glance/policies/image.py): the owning project (or an admin) adds
 * and removes members; only the member project itself answers (accepts/rejects); the owner
 * sees every member, a member sees only its own membership (glance/db/sqlalchemy/api.py
 * `_image_member_find`). Members exist only on `shared` images.
 */
import { conflict, forbidden, msg, notFound } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository } from '../db/image-repo';
import type { ImageAccess } from './image-access';
import type { ImageMember, MemberStatus } from './image-record';

export interface ImageMembersDeps {
  repo: ImageRepository;
  access: ImageAccess;
}

const memberNotFound = (memberId: string, id: string) => notFound(`Member ${memberId} not found for image ${id}.`);

export class ImageMembers {
  private readonly repo: ImageRepository;
  private readonly access: ImageAccess;

  constructor(deps: ImageMembersDeps) {
    this.repo = deps.repo;
    this.access = deps.access;
  }

  /** GET …/members: every member for the owner or an admin; a member sees only itself. */
  async members(ctx: RequestContext, id: string): Promise<ImageMember[]> {
    const img = await this.access.get(ctx, id);
    if (this.access.owns(ctx, img)) return this.repo.listMembers(id);
    return this.repo.listMembers(id, ctx.projectId);
  }

  /** GET …/members/{member_id}: not found when unknown or not ctx's to see. */
  async member(ctx: RequestContext, id: string, memberId: string): Promise<ImageMember> {
    const img = await this.access.get(ctx, id);
    const m = this.access.owns(ctx, img) || memberId === ctx.projectId ? await this.repo.getMember(id, memberId) : undefined;
    if (!m) throw memberNotFound(memberId, id);
    return m;
  }

  /** POST …/members: a pending membership; owner or admin only, shared images only, a conflict if present. */
  async addMember(ctx: RequestContext, id: string, memberId: string): Promise<ImageMember> {
    const img = await this.access.get(ctx, id);
    if (!this.access.owns(ctx, img)) throw forbidden(`Not allowed to create members for image ${id}.`);
    if (img.visibility !== 'shared') throw forbidden('Only shared images have members.');
    const m = await this.repo.addMember(id, memberId);
    if (m) return m;
    if (!(await this.repo.get(id))) throw notFound(msg.imageNotFound(id));
    throw conflict(`Member ${memberId} is duplicated for image ${id}`);
  }

  /** PUT …/members/{member_id}: only the member project itself may answer (the owner is forbidden). */
  async setMemberStatus(ctx: RequestContext, id: string, memberId: string, status: MemberStatus): Promise<ImageMember> {
    await this.access.get(ctx, id);
    const existing = await this.member(ctx, id, memberId);
    if (existing.member_id !== ctx.projectId) throw forbidden(`Not allowed to update members for image ${id}.`);
    const m = await this.repo.setMemberStatus(id, memberId, status);
    if (!m) throw memberNotFound(memberId, id);
    return m;
  }

  /** DELETE …/members/{member_id}: owner or admin only; the image disappears for that project. */
  async removeMember(ctx: RequestContext, id: string, memberId: string): Promise<void> {
    const img = await this.access.get(ctx, id);
    if (!this.access.owns(ctx, img)) {
      // A member may learn that it is one, but not remove itself (Glance: delete_member is the owner's).
      await this.member(ctx, id, memberId);
      throw forbidden(`Not allowed to delete members for image ${id}.`);
    }
    if (!(await this.repo.deleteMember(id, memberId))) throw memberNotFound(memberId, id);
  }
}
