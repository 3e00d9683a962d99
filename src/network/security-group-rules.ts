/**
 * A security group rule's attributes as Neutron checks and normalises them, in Neutron's order
 * (neutron/api/v2/base.py prepare_request_body, then neutron/db/securitygroups_db.py
 * _validate_security_group_rule), with neutron-lib's errors. Pure: the service adds what needs the
 * database (the groups named exist and are visible, duplicates, quotas).
 *
 *   body ─ unknown attributes, required ones ─ converters (protocol, ports, ethertype, prefix)
 *        ─ canonical forms (legacy IPv6 ICMP names, the whole port range = no range)
 *        ─ port range per protocol ─ prefix's family = ethertype ─ protocol's family ─ one remote
 */
import ipaddr from 'ipaddr.js';
import { neutronSg } from './errors';
import type { SecurityGroupRuleRow } from '../db/security-group-repo';

/** neutron-lib's IP_PROTOCOL_MAP (names → numbers), in its order, as the API accepts and the firewall uses them. */
export const IP_PROTOCOLS: Readonly<Record<string, number>> = {
  ah: 51, dccp: 33, egp: 8, esp: 50, gre: 47, hopopt: 0, icmp: 1, igmp: 2, ip: 0, ipip: 4, 'ipv6-encap': 41,
  'ipv6-frag': 44, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, 'ipv6-route': 43, ospf: 89,
  pgm: 113, rsvp: 46, sctp: 132, tcp: 6, udp: 17, udplite: 136, vrrp: 112,
};

/** Protocols whose rules may name ports (neutron/common/_constants.py SG_PORT_PROTO_NUMS). */
const PORT_PROTOCOLS = new Set([33, 132, 6, 17, 136]);
/** Protocols only IPv6 carries (securitygroups_db.py _validate_ethertype_and_protocol). */
const IPV6_ONLY = new Set(['ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', '41', '44', '58', '59', '60', '43']);

/** How Neutron's message prints its supported protocols: a Python tuple's repr. */
const SUPPORTED = `(None, 'any', ${Object.keys(IP_PROTOCOLS).map((p) => `'${p}'`).join(', ')})`;

/** A rule as the API gives it: the row's own fields, the project only when asked for in the body. */
export type RuleAttributes = Pick<SecurityGroupRuleRow, 'security_group_id' | 'direction' | 'ethertype' | 'protocol' | 'port_range_min'
  | 'port_range_max' | 'remote_ip_prefix' | 'remote_group_id' | 'description'> & {
  /** Asked for in the body (tenant_id or project_id), else undefined: the caller's. */
  project_id?: string;
};

const ALLOWED = new Set(['security_group_id', 'direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max',
  'remote_ip_prefix', 'remote_group_id', 'description', 'project_id', 'tenant_id']);

const pyRepr = (v: unknown): string => (v === null || v === undefined ? 'None' : typeof v === 'string' ? `'${v}'` : typeof v === 'boolean' ? (v ? 'True' : 'False') : JSON.stringify(v));

/** neutron-lib validate_string(max_len): the reason, or undefined when valid. */
export function stringProblem(value: unknown, maxLen: number): string | undefined {
  if (typeof value !== 'string') return `${pyRepr(value)} is not a valid string`;
  if (value.length > maxLen) return `'${value}' exceeds maximum length of ${maxLen}`;
  return undefined;
}

/** Attribute checks Neutron makes before any converter: unknown names, then the required ones. */
export function checkAttributes(body: Record<string, unknown>, allowed: ReadonlySet<string>, required: string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.has(k));
  if (unknown.length) throw neutronSg.badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  for (const r of required) {
    if (!(r in body)) throw neutronSg.badRequest(`Failed to parse request. Required attribute '${r}' not specified`);
  }
}

export function invalidAttribute(attr: string, reason: string): Error {
  return neutronSg.badRequest(`Invalid input for ${attr}. Reason: ${reason}.`);
}

/** convert_protocol: 'any'/null → null; a number 0..255 (kept as given, as a string); a known name, lower-cased. */
export function convertProtocol(value: unknown): string | null {
  if (value === null || value === undefined || value === 'any') return null;
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value))) {
    const n = Number(value);
    if (Number.isInteger(n) && n >= 0 && n <= 255) return String(value).trim();
    throw neutronSg.invalidProtocol(value, SUPPORTED);
  }
  if (typeof value === 'string' && value.toLowerCase() in IP_PROTOCOLS) return value.toLowerCase();
  throw neutronSg.invalidProtocol(typeof value === 'string' ? value : pyRepr(value), SUPPORTED);
}

/** convert_validate_port_value: null, or an integer 0..65535 (a numeric string is accepted). */
function convertPort(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const ok = (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^\s*\d+\s*$/.test(value));
  const n = ok ? Number(value) : NaN;
  if (ok && n >= 0 && n <= 65535) return n;
  throw neutronSg.invalidPortValue(typeof value === 'string' ? value : pyRepr(value));
}

function convertEthertype(value: unknown): 'IPv4' | 'IPv6' {
  if (typeof value === 'string') {
    if (value.toLowerCase() === 'ipv4') return 'IPv4';
    if (value.toLowerCase() === 'ipv6') return 'IPv6';
  }
  throw neutronSg.invalidEtherType(typeof value === 'string' ? value : pyRepr(value));
}

/** A prefix with its mask (an address alone is a host: /32 or /128), as netaddr prints it. */
export function parsePrefix(input: string): { text: string; family: 4 | 6; network: string; length: number } | undefined {
  // Dotted quads only: ipaddr.js also reads '256' or '10.1' as IPv4 addresses, which Neutron refuses.
  const text = input.split('/')[0];
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  try {
    const [addr, len] = input.includes('/') ? ipaddr.parseCIDR(input) : [ipaddr.parse(input), -1];
    const family = addr.kind() === 'ipv4' ? 4 : 6;
    const length = len === -1 ? (family === 4 ? 32 : 128) : len;
    const network = family === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${length}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${length}`).toString();
    return { text: `${addr.toString()}/${length}`, family, network: `${network}/${length}`, length };
  } catch {
    return undefined;
  }
}

function convertPrefix(value: unknown): string | null {
  if (value === null || value === undefined || value === '') return null;
  const p = typeof value === 'string' ? parsePrefix(value) : undefined;
  if (!p) throw neutronSg.invalidCidr(typeof value === 'string' ? value : pyRepr(value));
  return p.text;
}

/** A protocol as its number (undefined for any). */
export function protocolNumber(protocol: string | null): number | undefined {
  if (protocol === null) return undefined;
  return /^\d+$/.test(protocol) ? Number(protocol) : IP_PROTOCOLS[protocol];
}

/** The port range's rules per protocol (securitygroups_db.py _validate_port_range). */
function checkPortRange(rule: RuleAttributes): void {
  const { port_range_min: min, port_range_max: max } = rule;
  if (min === null && max === null) return;
  if (rule.protocol === null) throw neutronSg.protocolRequiredWithPorts();
  const proto = protocolNumber(rule.protocol)!;
  if (PORT_PROTOCOLS.has(proto)) {
    if (min === 0 || max === 0) throw neutronSg.invalidPortValue(0);
    if (!(min !== null && max !== null && min <= max)) throw neutronSg.invalidPortRange();
  } else if (proto === 1 || proto === 58) {
    for (const [value, attr, field] of [[min, 'port_range_min', 'type'], [max, 'port_range_max', 'code']] as const) {
      if (value !== null && !(value >= 0 && value <= 255)) throw neutronSg.invalidIcmpValue(field, attr, value);
    }
    if (min === null && max !== null) throw neutronSg.missingIcmpType(max);
  } else {
    throw neutronSg.invalidProtocolForPort(proto);
  }
}

/**
 * A new rule's attributes from the body's `security_group_rule`, checked and in canonical form, or
 * Neutron's error. Remote groups and the group itself are the service's to look up.
 */
export function ruleFromBody(body: Record<string, unknown>): RuleAttributes {
  checkAttributes(body, ALLOWED, ['security_group_id', 'direction']);
  const sg = body.security_group_id;
  const sgProblem = stringProblem(sg, 36);
  if (sgProblem) throw invalidAttribute('security_group_id', sgProblem);
  const remoteGroup = body.remote_group_id ?? null;
  if (remoteGroup !== null && typeof remoteGroup !== 'string') throw neutronSg.badRequest(`Invalid input for remote_group_id. Reason: ${pyRepr(remoteGroup)} is not a valid string.`);
  if (body.direction !== 'ingress' && body.direction !== 'egress') throw invalidAttribute('direction', `${body.direction === undefined || body.direction === null ? 'None' : String(body.direction)} is not in ['ingress', 'egress']`);
  const rule: RuleAttributes = {
    security_group_id: sg as string,
    direction: body.direction,
    protocol: convertProtocol(body.protocol),
    port_range_min: convertPort(body.port_range_min),
    port_range_max: convertPort(body.port_range_max),
    ethertype: 'ethertype' in body ? convertEthertype(body.ethertype) : 'IPv4',
    remote_ip_prefix: convertPrefix(body.remote_ip_prefix),
    remote_group_id: remoteGroup as string | null,
    description: '',
  };
  for (const attr of ['project_id', 'tenant_id'] as const) {
    if (attr in body) {
      const problem = stringProblem(body[attr], 255);
      if (problem) throw invalidAttribute(attr, problem);
      rule.project_id = body[attr] as string;
    }
  }
  if ('description' in body) {
    const problem = stringProblem(body.description, 255);
    if (problem) throw invalidAttribute('description', problem);
    rule.description = body.description as string;
  }
  // Canonical forms: legacy IPv6 ICMP spellings, and the whole port range as no range.
  if (rule.ethertype === 'IPv6') {
    if (rule.protocol === 'icmp' || rule.protocol === 'icmpv6') rule.protocol = 'ipv6-icmp';
    else if (rule.protocol === '1') rule.protocol = '58';
  }
  if (rule.port_range_min === 1 && rule.port_range_max === 65535) rule.port_range_min = rule.port_range_max = null;
  checkPortRange(rule);
  if (rule.remote_ip_prefix !== null) {
    const family = parsePrefix(rule.remote_ip_prefix)!.family;
    if (rule.ethertype !== `IPv${family}`) throw neutronSg.parameterConflict(rule.ethertype, String(body.remote_ip_prefix));
  }
  if (rule.protocol !== null && IPV6_ONLY.has(rule.protocol) && rule.ethertype === 'IPv4') throw neutronSg.ethertypeConflictWithProtocol(rule.ethertype, rule.protocol);
  if (rule.remote_ip_prefix !== null && rule.remote_group_id !== null) throw neutronSg.multipleRemotes();
  return rule;
}

type RuleLike = Pick<RuleAttributes, 'security_group_id' | 'direction' | 'ethertype' | 'protocol' | 'port_range_min' | 'port_range_max' | 'remote_ip_prefix' | 'remote_group_id'>;

/**
 * Two rules are the same when this key is (securitygroups_db.py _rule_to_key): a protocol's name and
 * number are one, and a prefix of everything is no prefix.
 */
export function ruleKey(rule: RuleLike): string {
  const any = (v: unknown) => (v === null || v === undefined ? '+' : String(v));
  const prefix = rule.remote_ip_prefix === null || rule.remote_ip_prefix === '0.0.0.0/0' || rule.remote_ip_prefix === '::/0' ? '+' : rule.remote_ip_prefix;
  const proto = rule.protocol === null ? '+' : String(protocolNumber(rule.protocol) ?? rule.protocol);
  return [rule.direction, rule.ethertype, any(rule.port_range_max), any(rule.port_range_min), proto, any(rule.remote_group_id), prefix, rule.security_group_id].join('_');
}

/** The prefix's network (host bits cleared), as Neutron's `normalized_cidr`. */
export function normalizedCidr(prefix: string | null): string | null {
  return prefix === null ? null : parsePrefix(prefix)?.network ?? null;
}
