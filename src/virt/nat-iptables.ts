/**
 * NatTable over iptables and ip, run in each compute host's network namespace: the default engine
 * shares the host's (no `netns`), the engines of scripts/engines.sh each have their own and are
 * reached by `nsenter --net=<path>`. See src/virt/nat.ts for the state a host is given.
 *
 * apply = one `iptables-restore --noflush` for both tables (our chains replaced whole, atomically
 * per table), then one iptables-save to see which jumps into our chains are missing or have
 * slipped below Docker's rules (moved back first, once), and meanwhile the floating /32s on the
 * external interface made to match: four process starts when nothing is amiss, two after each
 * other. Routes to subnets behind a router's exit (SubnetSnat.via: overlays on a swarm host) are
 * tagged `proto` ROUTE_PROTO in the host's namespace and replaced whole in one `ip -batch`, when
 * there are any or were. Calls for one host run one after another. Connections through a floating IP whose
 * forward went or changed are then forgotten by the connection tracking (`conntrack -D`).
 */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { compileNat, floatingAddresses, HostNat, hostRouteBatch, NatChains, natChains, NatTable } from './nat';

export interface NatHost {
  /** Path of the host's network namespace (e.g. /run/netns/novadock-h1 or /proc/<pid>/ns/net); unset: this process's. */
  netns?: string;
}

export class IptablesNat implements NatTable {
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly chains: NatChains;
  /** Per host, each floating IP's target as last applied here (what a change of it must cut off). */
  private readonly applied = new Map<string, Map<string, string>>();
  /** Hosts given routes behind routers' exits by this process, and hosts seen (untagged: their routes of ours are all ours). */
  private readonly routedHosts = new Set<string>();
  private readonly seen = new Set<string>();

  /** `chainTag`: this novadock's suffix for its chains (see natChains), none by default. */
  constructor(private readonly hosts: (host: string) => NatHost = () => ({}), private readonly chainTag?: string) {
    this.chains = natChains(chainTag);
  }

  apply(host: string, nat: HostNat): Promise<void> {
    return this.serial(host, async () => {
      const ns = this.hosts(host).netns;
      const compiled = compileNat(nat, this.chains);
      // Both tables in one input: each COMMIT is still atomic for its table, and an association
      // waits for one process start instead of two (each costs tens of ms on a busy host).
      // The rules and the addresses do not depend on each other: made side by side, an
      // association waits for two process starts one after the other rather than four.
      const outcomes = await Promise.allSettled([
        run(ns, 'iptables-restore', ['--noflush', '-w'], compiled.nat + compiled.filter).then(() => ensureJumps(ns, this.chains)),
        syncAddresses(ns, nat.externalInterface, nat.ownedRanges, floatingAddresses(nat)),
        this.syncRoutes(host, ns, nat),
      ]);
      for (const o of outcomes) if (o.status === 'rejected') throw o.reason;
      await this.cutOff(host, ns, nat);
    });
  }

  /**
   * The host's routes to subnets behind routers' exits. Untagged (one novadock per namespace), the
   * first apply also removes what a previous process left; tagged (novadocks side by side), a
   * namespace is touched only while this process has routes there or had.
   */
  private async syncRoutes(host: string, ns: string | undefined, nat: HostNat): Promise<void> {
    const routes = nat.externalInterface ? nat.snat.filter((s) => s.via).map((s) => ({ cidr: s.cidr, via: s.via! })) : [];
    const first = !this.seen.has(host);
    this.seen.add(host);
    if (routes.length === 0 && !this.routedHosts.has(host) && (this.chainTag || !first)) return;
    await run(ns, 'ip', ['-force', '-batch', '-'], hostRouteBatch(routes));
    if (routes.length > 0) this.routedHosts.add(host);
    else this.routedHosts.delete(host);
  }

  /**
   * Connections through a floating IP that no longer leads where it did (disassociated, moved,
   * re-associated) are forgotten by the host's connection tracking, as Neutron's L3 agent does:
   * otherwise an established connection keeps its old translation and goes on after the
   * forward is gone. Needs `conntrack` (conntrack-tools); best effort (absent: only new
   * connections are cut off). The first apply of this process on a host knows no earlier state.
   */
  private async cutOff(host: string, ns: string | undefined, nat: HostNat): Promise<void> {
    const next = new Map(nat.externalInterface ? nat.forwards.map((f) => [f.floatingIp, f.fixedIp]) : []);
    const before = this.applied.get(host);
    this.applied.set(host, next);
    if (!before) return;
    const gone = [...before].filter(([ip, target]) => next.get(ip) !== target).map(([ip]) => ip);
    // -d: connections made to the address; -q: the server's own, SNATed to it on the way out.
    await Promise.all(gone.flatMap((ip) => [['-D', '-d', ip], ['-D', '-q', ip]].map((args) => ok(ns, 'conntrack', args))));
  }

  clear(host: string, externalInterface: string | undefined, ownedRanges: string[]): Promise<void> {
    return this.serial(host, async () => {
      const ns = this.hosts(host).netns;
      for (const [table, chains] of tables(this.chains)) {
        for (const [builtin, ours] of Object.entries(chains)) {
          const parent = table === 'filter' ? await forwardParent(ns) : builtin;
          while (await ok(ns, 'iptables', ['-w', '-t', table, '-D', parent, '-j', ours]));
          await ok(ns, 'iptables', ['-w', '-t', table, '-F', ours]);
          await ok(ns, 'iptables', ['-w', '-t', table, '-X', ours]);
        }
      }
      await syncAddresses(ns, externalInterface, ownedRanges, []);
      if (this.routedHosts.delete(host) || !this.chainTag) await run(ns, 'ip', ['-force', '-batch', '-'], hostRouteBatch([]));
    });
  }

  private serial<T>(host: string, work: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(host) ?? Promise.resolve();
    const next = prev.then(work, work);
    const settled = next.catch(() => undefined);
    this.queues.set(host, settled);
    void settled.then(() => { if (this.queues.get(host) === settled) this.queues.delete(host); });
    return next;
  }
}

/** [table, {built-in chain: ours}] pairs. */
const tables = (chains: NatChains) => Object.entries(chains) as [string, Record<string, string>][];

/** Docker's engines send forwarded traffic through DOCKER-USER first; without Docker, FORWARD. */
async function forwardParent(ns: string | undefined): Promise<string> {
  return (await ok(ns, 'iptables', ['-w', '-t', 'filter', '-S', 'DOCKER-USER'])) ? 'DOCKER-USER' : 'FORWARD';
}

/**
 * Each jump into our chains is its parent's first rule, once. What is there is read from one
 * iptables-save (not an `iptables -S`/`-C` per jump: process starts are most of an association's
 * time on a loaded host). Docker inserts its rules (a new network's MASQUERADE in POSTROUTING
 * among them) at the top when it makes a network: a jump that has slipped below them is moved
 * back first, or Docker's masquerade would rewrite the sources of floating IPs and of traffic
 * routed between subnets before our rules see it.
 */
async function ensureJumps(ns: string | undefined, all: NatChains): Promise<void> {
  const saved = parseSave(await run(ns, 'iptables-save', []));
  for (const [table, chains] of tables(all)) {
    const t = saved.get(table) ?? { chains: new Set<string>(), rules: new Set<string>(), lines: [] };
    for (const [builtin, ours] of Object.entries(chains)) {
      const parent = table === 'filter' && t.chains.has('DOCKER-USER') ? 'DOCKER-USER' : builtin;
      const jump = `-A ${parent} -j ${ours}`;
      const inParent = t.lines.filter((l) => l.startsWith(`-A ${parent} `));
      if (inParent[0] === jump && inParent.filter((l) => l === jump).length === 1) continue;
      while (await ok(ns, 'iptables', ['-w', '-t', table, '-D', parent, '-j', ours]));
      await run(ns, 'iptables', ['-w', '-t', table, '-I', parent, '1', '-j', ours]);
    }
  }
}

/** A table in iptables-save's output: its chains' names, its rules' lines (a set, and in order). */
export interface SavedTable { chains: Set<string>; rules: Set<string>; lines: string[] }

/** iptables-save output: per table, its chains' names and its rules' lines. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: new Set(), lines: [] };
      tables.set(line.slice(1).trim(), current);
    } else if (current && line.startsWith(':')) {
      current.chains.add(line.slice(1).split(' ')[0]);
    } else if (current && line.startsWith('-A ')) {
      current.rules.add(line.trim());
      current.lines.push(line.trim());
    }
  }
  return tables;
}

/** Makes the /32s inside `ownedRanges` on `iface` exactly `wanted`. */
async function syncAddresses(ns: string | undefined, iface: string | undefined, ownedRanges: string[], wanted: string[]): Promise<void> {
  if (!iface) return;
  const owned = new net.BlockList();
  for (const r of ownedRanges) {
    const [addr, prefix] = r.split('/');
    if (net.isIPv4(addr)) owned.addSubnet(addr, Number(prefix), 'ipv4');
  }
  const shown = JSON.parse(await run(ns, 'ip', ['-j', '-4', 'addr', 'show', 'dev', iface])) as { addr_info?: { local: string; prefixlen: number }[] }[];
  const present = new Set((shown[0]?.addr_info ?? []).filter((a) => a.prefixlen === 32 && owned.check(a.local, 'ipv4')).map((a) => a.local));
  for (const ip of wanted) {
    if (present.has(ip)) continue;
    await run(ns, 'ip', ['addr', 'add', `${ip}/32`, 'dev', iface]);
    announce(ns, iface, ip);
  }
  for (const ip of present) {
    if (!wanted.includes(ip)) await run(ns, 'ip', ['addr', 'del', `${ip}/32`, 'dev', iface]);
  }
}

/**
 * A gratuitous ARP for an address just added (as Neutron's L3 agent sends one): neighbours that
 * still hold the MAC of the host it was on before (a server that moved hosts) learn the new one at
 * once instead of after their cache times out. Best effort, not awaited: without `arping`
 * (iputils-arping) neighbours find the address when their entries expire.
 */
function announce(ns: string | undefined, iface: string, ip: string): void {
  const [file, argv] = command(ns, 'arping', ['-U', '-c', '1', '-I', iface, ip]);
  execFile(file, argv, { timeout: 5_000 }, () => undefined);
}

function command(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['nsenter', [`--net=${ns}`, '--', cmd, ...args]] : [cmd, args];
}

/** Runs a command (in the namespace), feeding `input`; resolves to its stdout, rejects with its stderr. */
function run(ns: string | undefined, cmd: string, args: string[], input?: string): Promise<string> {
  const [file, argv] = command(ns, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err.trim()}`));
    });
    if (input !== undefined) {
      // A command that dies early closes its stdin: its exit code tells why, not the broken pipe.
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(input);
    }
  });
}

/** Runs a command whose failure is an answer (iptables -C, -D of a rule that may be gone). */
function ok(ns: string | undefined, cmd: string, args: string[]): Promise<boolean> {
  const [file, argv] = command(ns, cmd, args);
  return new Promise((resolve) => execFile(file, argv, (e) => resolve(!e)));
}
