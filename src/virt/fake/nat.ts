/** NatTable in memory for unit and integration tests: each host's last applied state, and every call. */
import { EMPTY_NAT, HostNat, NatTable } from '../nat';

export class FakeNat implements NatTable {
  readonly hosts = new Map<string, HostNat>();
  readonly calls: { host: string; op: 'apply' | 'clear' }[] = [];
  /** Hosts whose namespace "cannot be reached": apply rejects. */
  readonly unreachable = new Set<string>();

  async apply(host: string, nat: HostNat): Promise<void> {
    this.calls.push({ host, op: 'apply' });
    if (this.unreachable.has(host)) throw new Error(`host ${host} unreachable`);
    this.hosts.set(host, structuredClone(nat));
  }

  async clear(host: string): Promise<void> {
    this.calls.push({ host, op: 'clear' });
    this.hosts.delete(host);
  }

  /** The state a host holds now (empty when never applied). */
  of(host: string): HostNat {
    return this.hosts.get(host) ?? EMPTY_NAT;
  }
}
