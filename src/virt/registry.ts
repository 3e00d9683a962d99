/** The compute hosts: one ComputeDriver per configured Docker engine. Servers record their host. */
import type { ComputeDriver } from './driver';

export class DriverRegistry {
  private readonly byHost = new Map<string, ComputeDriver>();

  constructor(drivers: ComputeDriver[]) {
    if (drivers.length === 0) throw new Error('at least one compute host is required');
    for (const d of drivers) this.byHost.set(d.host, d);
  }

  /** The host new images are loaded into first, and the default place to boot. */
  primary(): ComputeDriver {
    return this.byHost.values().next().value as ComputeDriver;
  }

  get(host: string | null | undefined): ComputeDriver | undefined {
    return host ? this.byHost.get(host) : undefined;
  }

  all(): ComputeDriver[] {
    return [...this.byHost.values()];
  }
}
