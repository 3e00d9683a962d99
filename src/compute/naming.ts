/** Names Nova derives for a server: hostname, instance name, reservation id, admin password, hostId. */
import crypto from 'node:crypto';

/**
 * nova/utils.py sanitize_hostname, restricted to ASCII (a container hostname must be one):
 * spaces, underscores and dots become '-', anything else outside [a-z0-9-] goes, at most 63
 * characters, no leading or trailing '-' or '.'; empty → `defaultName`.
 */
export function sanitizeHostname(name: string, defaultName: string): string {
  let h = name.slice(0, 63);
  h = h.replace(/[ _.]/g, '-');
  h = h.toLowerCase().replace(/[^a-z0-9-]+/g, '');
  h = h.replace(/^[.-]+|[.-]+$/g, '');
  return h === '' ? defaultName.slice(0, 63) : h;
}

/** OS-EXT-SRV-ATTR:instance_name: Nova's instance_name_template 'instance-%08x'. */
export function instanceName(sequence: number): string {
  return `instance-${sequence.toString(16).padStart(8, '0')}`;
}

/** Nova's reservation ids: 'r-' and 8 random characters. */
export function reservationId(): string {
  return `r-${crypto.randomBytes(6).toString('base64url').replace(/[-_]/g, 'x').slice(0, 8).toLowerCase()}`;
}

const PASSWORD_SYMBOLS = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** nova/utils.py generate_password: 12 characters from an unambiguous alphabet. */
export function generatePassword(length = 12): string {
  const bytes = crypto.randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_SYMBOLS[bytes[i] % PASSWORD_SYMBOLS.length];
  return out;
}

/** views/servers.py _get_host_id: sha224(project_id + host), '' while unscheduled. */
export function hostIdOf(projectId: string, host: string | null): string {
  return host ? crypto.createHash('sha224').update(projectId + host).digest('hex') : '';
}
