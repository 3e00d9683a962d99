/** Who is asking: the token's user, project and roles, attached by the auth middleware. */
export interface RequestContext {
  requestId: string;
  userId: string;
  userName: string;
  userDomainId: string;
  projectId: string;
  projectName: string;
  projectDomainId: string;
  roles: string[];
  isAdmin: boolean;
  /** The token's audit id: revocation works on it. */
  auditId: string;
}

export function canWrite(ctx: RequestContext): boolean {
  return ctx.roles.includes('admin') || ctx.roles.includes('member');
}

declare global {
  namespace Express {
    interface Request {
      id: string;
      context?: RequestContext;
      /** Compute microversion of this request, set by the compute version middleware. */
      apiVersion?: { major: number; minor: number };
    }
  }
}
