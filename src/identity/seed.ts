/**
 * Idempotent seeding of projects, users and role assignments from the config.
 * Defaults: project `admin` with user `admin` (admin role), project `demo` with user `demo` (member).
 * Passwords come from the environment or config; if none is given for the default users one is
 * generated once, kept (0600) in the data directory and printed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { IdentityRepository } from '../db/identity-repo';
import type { SeedConfig } from '../config';
import { generatePassword, hashPassword, verifyPassword } from './passwords';
import { DEFAULT_DOMAIN } from './token-service';

/** Keystone's implied roles: admin implies member implies reader. */
export const IMPLIED_ROLES: Record<string, string[]> = {
  admin: ['admin', 'member', 'reader'],
  member: ['member', 'reader'],
  reader: ['reader'],
};

const newId = () => crypto.randomUUID().replace(/-/g, '');

const domainIdOf = (name?: string) => (!name || name === DEFAULT_DOMAIN.name || name === DEFAULT_DOMAIN.id ? DEFAULT_DOMAIN.id : name.toLowerCase());

/** A password kept in the data directory, generated the first time. */
function keptPassword(dataDir: string, user: string, log: Logger): string {
  const file = path.join(dataDir, `${user}-password`);
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const pw = generatePassword();
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${pw}\n`, { mode: 0o600 });
    log.warn({ user, file }, `generated a password for user '${user}': ${pw} (kept in ${file})`);
    return pw;
  }
}

export async function seedIdentity(repo: IdentityRepository, seed: SeedConfig, opts: { dataDir: string; adminPassword?: string; demoPassword?: string; log: Logger }): Promise<void> {
  const roles: Record<string, string> = {};
  for (const name of ['admin', 'member', 'reader']) roles[name] = (await repo.upsertRole(newId(), name)).id;

  const projects = [{ name: 'admin' }, { name: 'demo' }, ...seed.projects];
  const projectIds = new Map<string, string>();
  for (const p of projects) {
    const domainId = domainIdOf(p.domain);
    const row = await repo.upsertProject({ id: newId(), name: p.name, domain_id: domainId, description: p.description });
    projectIds.set(`${domainId}/${p.name}`, row.id);
  }

  const users = [
    { name: 'admin', password: opts.adminPassword, project: 'admin', roles: ['admin'] },
    { name: 'demo', password: opts.demoPassword, project: 'demo', roles: ['member'] },
    ...seed.users,
  ];
  for (const u of users) {
    const domainId = domainIdOf((u as { domain?: string }).domain);
    const projectId = projectIds.get(`${domainId}/${u.project}`) ?? projectIds.get(`default/${u.project}`);
    if (!projectId) throw new Error(`NOVADOCK_CONFIG: user ${u.name} names project ${u.project}, which is not declared`);
    const existing = await repo.userByName(domainId, u.name);
    const password = u.password ?? (existing ? undefined : keptPassword(opts.dataDir, u.name, opts.log));
    // Re-hash only when the password changed, so restarts keep the same hash.
    const passwordHash = password !== undefined && !(existing && (await verifyPassword(password, existing.password_hash))) ? await hashPassword(password) : undefined;
    const row = await repo.upsertUser({ id: newId(), name: u.name, domain_id: domainId, password_hash: passwordHash, default_project_id: projectId });
    for (const role of u.roles ?? ['member']) {
      const implied = IMPLIED_ROLES[role];
      if (!implied) throw new Error(`NOVADOCK_CONFIG: user ${u.name} has unknown role ${role} (admin, member, reader)`);
      for (const r of implied) await repo.assignRole(row.id, projectId, roles[r]);
    }
  }
}
