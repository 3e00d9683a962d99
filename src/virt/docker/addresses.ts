/**
 * Addresses on project networks. They are requested, not left to the engine's allocator, so that
 * a server keeps its address across rebuild (destroy + spawn of the same server id) and across a
 * stop on a network spanning hosts (where a stopped container holds no address at all): the
 * preferred address is a hash of the server id inside the network's pick range, probing upwards
 * past addresses in use.
 *
 * Pick range: host numbers from the network's `firstHost` to the last before broadcast. On a
 * bridge that starts after the gateway (2); on an overlay the first quarter of the subnet is the
 * engine's own allocation range (networks.ts), where the swarm puts an address of its own for each
 * host that joins the network, so requested addresses never meet those.
 */
import crypto from 'node:crypto';
import ipaddr from 'ipaddr.js';

/** What pick needs of a network: its engine id, subnet, gateway and pick range. */
export interface AddressRange {
  /** The engine's network id (one id across hosts for a network spanning them). */
  id: string;
  /** IPv4 subnet in CIDR form. */
  subnet: string;
  gateway?: string;
  /** Lowest host number (offset in the subnet) requested addresses are taken from. */
  firstHost: number;
}

/** What is known of one network's addresses, shared by every driver of this process. */
interface AddressBook {
  /** Serializes picks, so two spawns in this process never pick alike. */
  picking: Promise<unknown>;
  /** Handed out, but the container may not exist yet. */
  reserved: Set<string>;
  /** Held on the engine when last asked, plus handed out since; undefined until first asked. */
  held: Set<string> | undefined;
}

/**
 * Keyed by the engine's network id, not by driver: two compute hosts of one process on one engine
 * share a project's bridge, and every host of a swarm shares its overlay (one id on all of them),
 * so none of them may hand out an address another has handed out.
 */
const books = new Map<string, AddressBook>();

function bookOf(networkId: string): AddressBook {
  let book = books.get(networkId);
  if (!book) {
    book = { picking: Promise.resolve(), reserved: new Set(), held: undefined };
    books.set(networkId, book);
  }
  return book;
}

export interface Picked {
  ip: string;
  /** Call once the container exists (or failed to be made). */
  release: () => void;
}

/**
 * Picks the address for `serverId` on `net`: the hash-preferred one, or the next free one.
 * `inUse` asks the engine which addresses the network's instances hold (running or stopped);
 * `exclude` lists addresses never to hand out: those a start failed on, and those the compute
 * service knows other servers hold elsewhere.
 *
 * The engine is asked only when its answer could change the pick: on a network's first pick,
 * when the preferred address looks taken (it may have been freed since: a rebuild takes its own
 * address back), or after a start failed on an address (someone outside this process holds it).
 * Otherwise the addresses last seen held, plus those handed out since, are enough: they can only
 * be stale by including an address freed since, which costs a skipped address.
 */
export function pickAddress(net: AddressRange, serverId: string, inUse: () => Promise<Set<string>>, exclude: Set<string> = new Set(), failed = false): Promise<Picked> {
  const book = bookOf(net.id);
  const run = book.picking.catch(() => undefined).then(async () => {
    const fixed = new Set([...book.reserved, ...exclude]);
    if (net.gateway) fixed.add(net.gateway);
    if (!book.held || failed || book.held.has(preferredAddress(net.subnet, serverId, fixed, net.firstHost))) {
      book.held = await inUse();
    }
    const ip = preferredAddress(net.subnet, serverId, new Set([...book.held, ...fixed]), net.firstHost);
    book.held.add(ip);
    book.reserved.add(ip);
    return { ip, release: () => book.reserved.delete(ip) };
  });
  book.picking = run;
  return run;
}

const toInt = (a: ipaddr.IPv4) => a.octets.reduce((acc, o) => acc * 256 + o, 0);
const fromInt = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** The address `offset` hosts into `cidr` (1: the usual gateway). */
export function hostAddress(cidr: string, offset: number): string {
  const [addr, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const size = 2 ** (32 - prefix);
  return fromInt(Math.floor(toInt(addr) / size) * size + offset);
}

/** Number of addresses in `cidr`. */
export function sizeOf(cidr: string): number {
  return 2 ** (32 - ipaddr.IPv4.parseCIDR(cidr)[1]);
}

/** Offset of `ip` inside `cidr`, or undefined when it is not inside. */
export function offsetOf(cidr: string, ip: string): number | undefined {
  const range = ipaddr.IPv4.parseCIDR(cidr);
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip) || !ipaddr.IPv4.parse(ip).match(range)) return undefined;
  return toInt(ipaddr.IPv4.parse(ip)) % 2 ** (32 - range[1]);
}

/**
 * A stable address for `serverId` inside `cidr`, from host number `firstHost` (default 2: after
 * the network address and the gateway) to the last before the broadcast address, probing upwards
 * (wrapping) past `used`.
 */
export function preferredAddress(cidr: string, serverId: string, used: Set<string>, firstHost = 2): string {
  const size = sizeOf(cidr);
  if (size < 8) throw new Error(`subnet ${cidr} is too small`);
  const span = size - 1 - firstHost;
  if (span <= 0) throw new Error(`subnet ${cidr} has no addresses from host ${firstHost}`);
  const h = crypto.createHash('sha256').update(serverId).digest().readUInt32BE(0);
  for (let i = 0; i < span; i++) {
    const ip = hostAddress(cidr, firstHost + ((h + i) % span));
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address left in ${cidr}`);
}
