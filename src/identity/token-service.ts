/**
 * Keystone v3 password and token authentication, project scoped.
 * Tokens are JWTs signed with a secret kept in the data directory; a token's audit id is its
 * identity for revocation, and revocations are kept in the database (they survive restarts).
 */
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import { IdentityRepository, ProjectRow, UserRow } from '../db/identity-repo';
import { unauthorized, badRequest, notFound } from '../errors';
import type { LoginGuard } from './login-guard';
import type { RequestContext } from '../http/context';
import { buildCatalog } from './catalog';

export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' };

interface Claims {
  sub: string; // user id
  pid?: string; // project id (absent: unscoped)
  aid: string; // audit id
  mth: string[]; // methods
  iat: number;
  exp: number;
}

export interface IssuedToken {
  token: string;
  body: unknown;
}

type DomainRef = { id?: string; name?: string } | undefined;

/** Shapes of the auth request we read; ajv-free because Keystone's own errors are 400/401 by field. */
interface AuthBody {
  auth?: {
    identity?: {
      methods?: unknown;
      password?: { user?: { id?: string; name?: string; domain?: DomainRef; password?: string } };
      token?: { id?: string };
    };
    scope?: unknown;
  };
}

const domainIdOf = (d: DomainRef): string | undefined => {
  if (!d) return undefined;
  if (typeof d.id === 'string') return d.id;
  if (typeof d.name === 'string') return d.name === DEFAULT_DOMAIN.name ? DEFAULT_DOMAIN.id : d.name.toLowerCase();
  return undefined;
};

/**
 * How long a validated token's request context is reused, as keystonemiddleware's
 * token_cache_time does (300 s there). Revocation and expiry are still checked on every request;
 * what is reused is the signature check and the user/project/roles lookup, which change when the
 * seed is applied at start-up, or when an admin disables a user (forgetUser, in this process).
 */
const CONTEXT_CACHE_MS = 60_000;
const CONTEXT_CACHE_MAX = 1000;

export class TokenService {
  private revoked = new Set<string>();
  /**
   * The signing key as a KeyObject: given the secret as a string, jsonwebtoken first tries to
   * read it as a public key on every call, which costs more than the HMAC itself.
   */
  private readonly key: crypto.KeyObject;
  /** Token → its claims and request context (without the request id), in insertion order. */
  private readonly contexts = new Map<string, { claims: Claims; ctx: Omit<RequestContext, 'requestId'>; until: number }>();

  constructor(
    private readonly repo: IdentityRepository,
    secret: string,
    private readonly ttlSeconds: number,
    private readonly publicUrl: string,
    /** Checks passwords off the event loop, with Keystone's lockout (issue 18 part 4). */
    private readonly logins: LoginGuard,
  ) {
    this.key = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
  }

  /**
   * Reads the revocations in the database into memory: at start-up, and on every heartbeat so
   * that a token revoked through another process is refused here within about a second.
   * Additive: a revocation made here meanwhile is never dropped by a read that began before it.
   */
  async loadRevocations(): Promise<void> {
    for (const id of await this.repo.liveRevocations()) this.revoked.add(id);
  }

  /** POST /v3/auth/tokens */
  async issue(body: AuthBody): Promise<IssuedToken> {
    const identity = body?.auth?.identity;
    if (!identity || typeof identity !== 'object') throw badRequest("Invalid input for field 'identity': 'identity' is a required property");
    const methods = identity.methods;
    if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
      throw badRequest("Invalid input for field 'identity/methods': a non-empty list of strings is required");
    }
    let user: UserRow | undefined;
    let inherited: Claims | undefined;
    if (methods.includes('password')) {
      const u = identity.password?.user;
      if (!u || typeof u !== 'object' || typeof u.password !== 'string') throw badRequest("Invalid input for field 'identity/password/user': a user with a password is required");
      if (typeof u.id === 'string') user = await this.repo.userById(u.id);
      else if (typeof u.name === 'string') {
        const domainId = domainIdOf(u.domain);
        if (!domainId) throw badRequest('Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect.');
        user = await this.repo.userByName(domainId, u.name);
      } else throw badRequest("Invalid input for field 'identity/password/user': an id or a name is required");
      user = await this.logins.authenticate(user, u.password);
    } else if (methods.includes('token')) {
      const id = identity.token?.id;
      if (typeof id !== 'string') throw badRequest("Invalid input for field 'identity/token': 'id' is a required property");
      inherited = this.verify(id);
      user = await this.repo.userById(inherited.sub);
      if (!user || !user.enabled) throw unauthorized();
    } else {
      throw unauthorized('Attempted to authenticate with an unsupported method.');
    }
    const project = await this.resolveScope(body.auth!.scope, user);
    if (project !== undefined && (await this.repo.rolesOf(user.id, project.id)).length === 0) throw unauthorized();
    const iat = Math.floor(Date.now() / 1000);
    // A token made from a token never outlives it (Keystone semantics).
    const exp = inherited ? inherited.exp : iat + this.ttlSeconds;
    const claims: Claims = { sub: user.id, aid: crypto.randomBytes(16).toString('base64url'), mth: methods as string[], iat, exp };
    if (project) claims.pid = project.id;
    // jsonwebtoken keeps our iat (it would drop it under noTimestamp).
    const token = jwt.sign(claims, this.key, { algorithm: 'HS256' });
    return { token, body: await this.render(claims, user, project) };
  }

  private async resolveScope(scope: unknown, user: UserRow): Promise<ProjectRow | undefined> {
    if (scope === undefined || scope === null) {
      if (!user.default_project_id) return undefined;
      return this.repo.projectById(user.default_project_id);
    }
    if (scope === 'unscoped') return undefined;
    const s = scope as { project?: { id?: string; name?: string; domain?: DomainRef }; domain?: unknown; system?: unknown };
    if (typeof s !== 'object') throw badRequest('Invalid scope');
    // A domain or system scope: no one holds a role on either here, and Keystone answers a scope
    // without a role with its plain 401 (Horizon's login tries the user's domain, then goes on).
    if (!s.project) throw unauthorized();
    let project: ProjectRow | undefined;
    if (typeof s.project.id === 'string') project = await this.repo.projectById(s.project.id);
    else if (typeof s.project.name === 'string') {
      const domainId = domainIdOf(s.project.domain);
      if (!domainId) throw badRequest('Expecting to find domain in project.');
      project = await this.repo.projectByName(domainId, s.project.name);
    } else throw badRequest("Invalid input for field 'scope/project': an id or a name is required");
    if (!project || !project.enabled) throw unauthorized();
    return project;
  }

  /** Checks signature, expiry and revocation; 401 otherwise. */
  verify(token: string): Claims {
    let claims: Claims;
    try {
      claims = jwt.verify(token, this.key, { algorithms: ['HS256'] }) as Claims;
    } catch {
      throw unauthorized();
    }
    if (typeof claims.sub !== 'string' || typeof claims.aid !== 'string' || this.revoked.has(claims.aid)) throw unauthorized();
    return claims;
  }

  /** Drops the cached contexts of a user's tokens (the user was disabled or enabled). */
  forgetUser(userId: string): void {
    for (const [token, hit] of this.contexts) if (hit.ctx.userId === userId) this.contexts.delete(token);
  }

  /** The request context of a token (auth middleware). */
  async context(token: string, requestId: string): Promise<RequestContext> {
    const now = Date.now();
    const hit = this.contexts.get(token);
    if (hit && hit.until > now && hit.claims.exp * 1000 > now && !this.revoked.has(hit.claims.aid)) return { requestId, ...hit.ctx, roles: [...hit.ctx.roles] };
    if (hit) this.contexts.delete(token);
    const { claims, ctx } = await this.freshContext(token);
    if (this.contexts.size >= CONTEXT_CACHE_MAX) this.contexts.delete(this.contexts.keys().next().value!);
    this.contexts.set(token, { claims, ctx, until: now + CONTEXT_CACHE_MS });
    return { requestId, ...ctx };
  }

  private async freshContext(token: string): Promise<{ claims: Claims; ctx: Omit<RequestContext, 'requestId'> }> {
    const claims = this.verify(token);
    if (!claims.pid) throw unauthorized('The request you have made requires a project-scoped token.');
    const [user, project, roles] = await Promise.all([
      this.repo.userById(claims.sub),
      this.repo.projectById(claims.pid),
      this.repo.rolesOf(claims.sub, claims.pid),
    ]);
    if (!user || !user.enabled || !project || !project.enabled || roles.length === 0) throw unauthorized();
    const names = roles.map((r) => r.name);
    const ctx = {
      userId: user.id,
      userName: user.name,
      userDomainId: user.domain_id,
      projectId: project.id,
      projectName: project.name,
      projectDomainId: project.domain_id,
      roles: names,
      isAdmin: names.includes('admin'),
      auditId: claims.aid,
    };
    return { claims, ctx };
  }

  /** GET /v3/auth/tokens: the body of the subject token. */
  async validate(subject: string): Promise<unknown> {
    let claims: Claims;
    try {
      claims = this.verify(subject);
    } catch {
      throw notFound('Could not find token.');
    }
    const user = await this.repo.userById(claims.sub);
    if (!user) throw notFound('Could not find token.');
    const project = claims.pid ? await this.repo.projectById(claims.pid) : undefined;
    return this.render(claims, user, project);
  }

  /** DELETE /v3/auth/tokens: revoked for good, across restarts. */
  async revoke(subject: string): Promise<void> {
    let claims: Claims;
    try {
      claims = this.verify(subject);
    } catch {
      throw notFound('Could not find token.');
    }
    await this.repo.revoke(claims.aid, new Date(claims.exp * 1000).toISOString());
    this.revoked.add(claims.aid);
  }

  private async render(c: Claims, user: UserRow, project: ProjectRow | undefined) {
    const domainName = (id: string) => (id === DEFAULT_DOMAIN.id ? DEFAULT_DOMAIN.name : id);
    const ts = (secs: number) => new Date(secs * 1000).toISOString().replace(/\.\d+Z$/, '.000000Z');
    const token: Record<string, unknown> = {
      methods: c.mth,
      user: { id: user.id, name: user.name, domain: { id: user.domain_id, name: domainName(user.domain_id) }, password_expires_at: null },
      audit_ids: [c.aid],
      issued_at: ts(c.iat),
      expires_at: ts(c.exp),
    };
    if (project) {
      const roles = await this.repo.rolesOf(user.id, project.id);
      token.project = { id: project.id, name: project.name, domain: { id: project.domain_id, name: domainName(project.domain_id) } };
      token.is_domain = false;
      token.roles = roles.map((r) => ({ id: r.id, name: r.name }));
      token.catalog = buildCatalog(this.publicUrl);
    }
    return { token };
  }
}
