/**
 * IPv4 arithmetic for subnets, pools and addresses (ipaddr.js parses; numbers do the rest).
 * Neutron's validators answer for what these refuse; see src/network/subnets.ts.
 */
import ipaddr from 'ipaddr.js';

/** [first, last] address of a range as numbers. */
export type Span = [number, number];

export const toInt = (a: string): number => ipaddr.IPv4.parse(a).octets.reduce((acc, o) => acc * 256 + o, 0);
export const fromInt = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** True for a dotted-quad IPv4 address (no shorthand forms). */
export function isIpv4(s: unknown): s is string {
  return typeof s === 'string' && ipaddr.IPv4.isValidFourPartDecimal(s);
}

/** True for an IPv6 address. */
export function isIpv6(s: unknown): s is string {
  return typeof s === 'string' && s.includes(':') && ipaddr.IPv6.isValid(s);
}

/**
 * The IPv4 CIDR `s` normalized to its network address (`10.0.0.5/24` → `10.0.0.0/24`, as Neutron
 * stores it), or undefined when it is not IPv4 CIDR.
 */
export function parseCidr(s: unknown): string | undefined {
  if (typeof s !== 'string' || !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s)) return undefined;
  try {
    const [addr, prefix] = ipaddr.IPv4.parseCIDR(s);
    if (!ipaddr.IPv4.isValidFourPartDecimal(addr.toString())) return undefined;
    return `${ipaddr.IPv4.networkAddressFromCIDR(s).toString()}/${prefix}`;
  } catch {
    return undefined;
  }
}

/** True for IPv6 CIDR notation (answered with Neutron's IPv6 refusal, not a parse error). */
export function isIpv6Cidr(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  try {
    ipaddr.IPv6.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}

export function spanOf(cidr: string): Span {
  const [addr, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const size = 2 ** (32 - prefix);
  const start = Math.floor(toInt(addr.toString()) / size) * size;
  return [start, start + size - 1];
}

export const overlaps = (a: Span, b: Span): boolean => a[0] <= b[1] && b[0] <= a[1];

export function inCidr(cidr: string, ip: string): boolean {
  if (!isIpv4(ip)) return false;
  const [a, b] = spanOf(cidr);
  const n = toInt(ip);
  return n >= a && n <= b;
}
