/**
 * A stand-in PlacementPort for tests, until the scheduler's is merged: the first configured host
 * that is not excluded (nor the server's own, nor marked down here), no capacity; every call is
 * recorded so a test can check what a move asked of the placement.
 */
import { NoValidHost, PlacementPort, RequestSpec } from '../../src/compute/scheduler/types';
import type { ServerRecord } from '../../src/compute/server-record';

export class StandInPlacement implements PlacementPort {
  /** Calls, in order: `placeMove <server> <migration>`, `confirmMove <migration>`, … */
  readonly calls: string[] = [];
  /** Hosts never chosen (as if their filters failed). */
  readonly refused = new Set<string>();
  /** While set, placeMove waits for it (a test looks at a move before it is placed). */
  gate: Promise<void> | undefined;

  constructor(private readonly hosts: string[]) {}

  async placeBoot(servers: ServerRecord[], spec: RequestSpec): Promise<string[]> {
    const host = this.choose(spec, []);
    return servers.map(() => host);
  }

  async placeMove(server: ServerRecord, spec: RequestSpec, migrationUuid: string): Promise<string> {
    this.calls.push(`placeMove ${server.id} ${migrationUuid}`);
    await this.gate;
    return this.choose(spec, server.host ? [server.host] : []);
  }

  async confirmMove(migrationUuid: string): Promise<void> {
    this.calls.push(`confirmMove ${migrationUuid}`);
  }

  async revertMove(serverId: string, migrationUuid: string): Promise<void> {
    this.calls.push(`revertMove ${serverId} ${migrationUuid}`);
  }

  async release(consumerId: string): Promise<void> {
    this.calls.push(`release ${consumerId}`);
  }

  private choose(spec: RequestSpec, never: string[]): string {
    const skip = new Set([...never, ...(spec.ignoreHosts ?? [])]);
    const candidates = spec.forcedHost !== undefined ? [spec.forcedHost] : this.hosts.filter((h) => !skip.has(h));
    const host = candidates.find((h) => !this.refused.has(h));
    if (!host) throw new NoValidHost('There are not enough hosts available.');
    return host;
  }
}
