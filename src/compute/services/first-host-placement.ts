/**
 * A stand-in PlacementPort, until the scheduler (filters, weighers, allocations) is wired in its
 * place: the first configured host that is not excluded, not forced down and whose engine
 * answers. It counts no capacity and holds no allocations, so confirm, revert and release have
 * nothing to do. Moves use it today; the composition root swaps in the real placement.
 */
import type { ServerRecord } from '../server-record';
import { HostSettingsPort, NoValidHost, PlacementPort, RequestSpec } from '../scheduler/types';

export interface PlacementHosts {
  /** Configured host names, in configuration order. */
  names(): string[];
  /** True when the host's engine answers now. */
  answers(host: string): Promise<boolean>;
}

export class FirstHostPlacement implements PlacementPort {
  constructor(private readonly hosts: PlacementHosts, private readonly settings?: HostSettingsPort) {}

  async placeBoot(servers: ServerRecord[], spec: RequestSpec): Promise<string[]> {
    const host = await this.choose(spec, []);
    return servers.map(() => host);
  }

  async placeMove(server: ServerRecord, spec: RequestSpec): Promise<string> {
    return this.choose(spec, server.host ? [server.host] : []);
  }

  async confirmMove(): Promise<void> {
    // No allocations are held.
  }

  async revertMove(): Promise<void> {
    // No allocations are held.
  }

  async release(): Promise<void> {
    // No allocations are held.
  }

  private async choose(spec: RequestSpec, never: string[]): Promise<string> {
    const forcedDown = new Set((await this.settings?.all())?.filter((s) => s.forcedDown).map((s) => s.host) ?? []);
    const excluded = new Set([...never, ...(spec.ignoreHosts ?? [])]);
    const candidates = spec.forcedHost !== undefined ? [spec.forcedHost] : this.hosts.names().filter((h) => !excluded.has(h));
    for (const host of candidates) {
      if (this.hosts.names().includes(host) && !forcedDown.has(host) && (await this.hosts.answers(host))) return host;
    }
    throw new NoValidHost('There are not enough hosts available.');
  }
}
