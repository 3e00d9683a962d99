/**
 * Registry auth through Keystone, as Docker's token authentication specification has it:
 *
 *   GET /v2/… without credentials ─▶ 401 WWW-Authenticate: Bearer realm="<public url>/v2/token",
 *   service="novadock",scope="repository:<name>:pull,push"
 *   GET /v2/token (Basic: a Keystone user and password; scope=…) ─▶ a short-lived JWT whose
 *   `access` claim lists, per repository asked for, what the user may do there:
 *     pull  for readers (any role) of the project the repository's first path component names,
 *           and for anyone when the repository holds a public or community Glance image;
 *     push  (and delete) for members and admins of that project;
 *     all three in every project's repository for an admin (the admin role on any project, as
 *     Keystone's default policy reads `role:admin`): Glance's admin sees and changes every image.
 *   Requests carry it as `Authorization: Bearer`. A Keystone token (X-Auth-Token, or Bearer)
 *   is accepted too; its grants are worked out per request.
 *
 * The JWT is signed with a key derived from the token secret, so Keystone tokens and registry
 * tokens cannot stand in for each other.
 */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { IdentityRepository, ProjectRow } from '../db/identity-repo';
import type { TokenService } from '../identity/token-service';
import { verifyPassword } from '../identity/passwords';
import { RegistryError } from './errors';

export const REGISTRY_SERVICE = 'novadock';
export type Action = 'pull' | 'push' | 'delete';

export interface Access {
  type: 'repository' | 'registry';
  name: string;
  actions: string[];
}

/** Who a request is, and what it may do where. */
export interface Grant {
  userId: string;
  /** Per repository (or 'catalog'), the actions decided; a repository absent was never asked about. */
  access: Map<string, Set<string>>;
  /** Keystone callers are judged per request: every repository can be asked about. */
  live: boolean;
}

interface RegistryClaims {
  sub: string;
  aud: string;
  access: Access[];
  iat: number;
  exp: number;
}

export interface RegistryAuthDeps {
  identity: IdentityRepository;
  tokens: TokenService;
  secret: string;
  publicUrl: string;
  ttlSeconds: number;
  /** Anonymous pulls of repositories holding public images. */
  anonymousPull: boolean;
  /** Whether a repository holds a public or community Glance image (absent: none does). */
  isPublic?: (repository: string) => Promise<boolean>;
}

const REPO_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function validRepositoryName(name: string): boolean {
  return name.length <= 255 && REPO_PATTERN.test(name);
}

/** Parses `repository:<name>:<actions>` scopes (several, space- or parameter-separated). */
export function parseScopes(scopes: string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
    const first = s.indexOf(':');
    const last = s.lastIndexOf(':');
    if (first < 0 || last === first) continue;
    const type = s.slice(0, first);
    const name = s.slice(first + 1, last);
    const actions = s.slice(last + 1).split(',').filter(Boolean);
    if (type === 'repository' && validRepositoryName(name)) out.push({ type, name, actions });
    else if (type === 'registry' && name === 'catalog') out.push({ type, name, actions });
  }
  return out;
}

export class RegistryAuth {
  private readonly key: crypto.KeyObject;

  constructor(private readonly deps: RegistryAuthDeps) {
    this.key = crypto.createSecretKey(crypto.createHmac('sha256', deps.secret).update('novadock registry tokens').digest());
  }

  get anonymousPull(): boolean {
    return this.deps.anonymousPull;
  }

  /** The WWW-Authenticate challenge for a scope (none for /v2/ itself). */
  challenge(scope?: string, error?: string): string {
    let c = `Bearer realm="${this.deps.publicUrl}/v2/token",service="${REGISTRY_SERVICE}"`;
    if (scope) c += `,scope="${scope}"`;
    if (error) c += `,error="${error}"`;
    return c;
  }

  /** The project a repository belongs to: its first path component, a project name (default domain) or id. */
  async projectOf(repository: string): Promise<ProjectRow | undefined> {
    const first = repository.split('/')[0];
    if (!repository.includes('/')) return undefined;
    const p = (await this.deps.identity.projectByName('default', first)) ?? (await this.deps.identity.projectById(first));
    return p && p.enabled ? p : undefined;
  }

  /** What `userId` (undefined: anonymous) may do in `repository`. */
  async allowed(userId: string | undefined, repository: string): Promise<Set<string>> {
    const out = new Set<string>();
    const project = await this.projectOf(repository);
    if (userId && project && (await this.deps.identity.hasRoleAnywhere(userId, 'admin'))) return new Set(['pull', 'push', 'delete']);
    if (userId && project) {
      const roles = (await this.deps.identity.rolesOf(userId, project.id)).map((r) => r.name);
      if (roles.length > 0) out.add('pull');
      if (roles.includes('member') || roles.includes('admin')) {
        out.add('push');
        out.add('delete');
      }
    }
    if (!out.has('pull') && (userId || this.deps.anonymousPull) && (await this.deps.isPublic?.(repository))) out.add('pull');
    return out;
  }

  /**
   * GET /v2/token: checks Basic credentials (none: anonymous, when allowed) and issues a token for
   * the scopes asked, each narrowed to what the user may do. A wrong password is UNAUTHORIZED.
   */
  async issue(basic: { user: string; password: string } | undefined, scopes: string[]): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    let userId: string | undefined;
    if (basic) {
      const user = await this.deps.identity.userByName('default', basic.user);
      if (!user || !user.enabled || !(await verifyPassword(basic.password, user.password_hash))) {
        throw new RegistryError('UNAUTHORIZED', 'authentication required', { reason: 'invalid username or password' });
      }
      userId = user.id;
    } else if (!this.deps.anonymousPull) {
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
    const access: Access[] = [];
    for (const a of parseScopes(scopes)) {
      if (a.type === 'registry') {
        access.push({ ...a, actions: userId && a.actions.includes('*') ? ['*'] : [] });
        continue;
      }
      const may = await this.allowed(userId, a.name);
      access.push({ ...a, actions: a.actions.flatMap((x) => (x === '*' ? [...may] : may.has(x) ? [x] : [])) });
    }
    const iat = Math.floor(Date.now() / 1000);
    const claims: RegistryClaims = { sub: userId ?? '', aud: REGISTRY_SERVICE, access, iat, exp: iat + this.deps.ttlSeconds };
    return { token: jwt.sign(claims, this.key, { algorithm: 'HS256' }), expiresIn: this.deps.ttlSeconds, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** A token for a compute host's engine to pull `repository` (X-Registry-Auth), short-lived like the others. */
  pullToken(repository: string): string {
    const iat = Math.floor(Date.now() / 1000);
    const claims: RegistryClaims = { sub: '', aud: REGISTRY_SERVICE, access: [{ type: 'repository', name: repository, actions: ['pull'] }], iat, exp: iat + this.deps.ttlSeconds };
    return jwt.sign(claims, this.key, { algorithm: 'HS256' });
  }

  /**
   * The grant of a request: a registry token (Bearer), a Keystone token (X-Auth-Token or
   * Bearer), or none (undefined: anonymous). A token that is neither is UNAUTHORIZED.
   */
  async grantOf(bearer: string | undefined, keystoneToken: string | undefined, requestId: string): Promise<Grant | undefined> {
    if (bearer) {
      try {
        const c = jwt.verify(bearer, this.key, { algorithms: ['HS256'], audience: REGISTRY_SERVICE }) as RegistryClaims;
        const access = new Map<string, Set<string>>();
        for (const a of c.access ?? []) access.set(a.name, new Set([...(access.get(a.name) ?? []), ...a.actions]));
        return { userId: c.sub, access, live: false };
      } catch {
        keystoneToken ??= bearer;
      }
    }
    if (keystoneToken) {
      let ctx;
      try {
        ctx = await this.deps.tokens.context(keystoneToken, requestId);
      } catch {
        throw new RegistryError('UNAUTHORIZED', 'authentication required');
      }
      return { userId: ctx.userId, access: new Map(), live: true };
    }
    return undefined;
  }

  /**
   * Whether a grant allows `action` on `repository`: 'yes', 'ask' (the token never asked about
   * this repository: the client should fetch one that does) or 'no'.
   */
  async decide(grant: Grant | undefined, repository: string, action: Action): Promise<'yes' | 'ask' | 'no'> {
    if (!grant) {
      if (action === 'pull' && this.deps.anonymousPull && (await this.allowed(undefined, repository)).has('pull')) return 'yes';
      return 'ask';
    }
    if (grant.live) return (await this.allowed(grant.userId, repository)).has(action) ? 'yes' : 'no';
    const decided = grant.access.get(repository);
    if (!decided) return 'ask';
    return decided.has(action) || decided.has('*') ? 'yes' : 'no';
  }
}
