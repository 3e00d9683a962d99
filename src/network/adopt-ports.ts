/**
 * Servers made before the network service had ports (issue 17 upgrade): each gets one now, on its
 * project's default network, with the address and MAC its container has and the groups its row
 * names, so that it is like every other server — it can get a floating IP, join groups, and the
 * addresses of new servers' ports cannot collide with its own. Run once at start-up, before the
 * API answers; idempotent (a server with a port is skipped, and the address key decides races
 * between processes starting together). A server without an address (never built, shelved,
 * `networks: none`) keeps none: it gets its ports when it is next spawned, as a new one would.
 */
import type { Logger } from 'pino';
import type { ServerRecord } from '../compute/server-record';
import type { SecurityGroupRepository } from '../db/security-group-repo';
import type { DefaultNetworks } from './default-network';
import type { PortService } from './port-service';
import { PowerStates } from '../compute/power-state';

export interface AdoptDeps {
  servers: { withoutPorts(): Promise<string[]>; get(id: string): Promise<ServerRecord | undefined> };
  defaults: Pick<DefaultNetworks, 'ensure'>;
  ports: Pick<PortService, 'make'>;
  bind(serverId: string, host: string, status: 'ACTIVE' | 'DOWN'): Promise<void>;
  groups: Pick<SecurityGroupRepository, 'ensureDefault' | 'findInProject'>;
  log: Logger;
}

/** Gives each port-less server with an address on its project network a port; returns how many got one. */
export async function adoptPortlessServers(d: AdoptDeps): Promise<number> {
  let adopted = 0;
  for (const id of await d.servers.withoutPorts()) {
    const s = await d.servers.get(id);
    const address = s?.addresses.private?.find((a) => a.version === 4);
    if (!s || !address || s.requested_networks === 'none') continue;
    try {
      const groups: string[] = [];
      for (const name of s.security_groups) {
        const g = name === 'default' ? await d.groups.ensureDefault(s.project_id) : await d.groups.findInProject(s.project_id, name);
        if (g && !groups.includes(g.id)) groups.push(g.id);
      }
      await d.ports.make({
        projectId: s.project_id, network: await d.defaults.ensure(s.project_id), fixedIps: [{ ip_address: address.addr }], groups,
        ...(address.mac && { mac: address.mac }), deviceId: s.id, deviceOwner: `compute:${s.availability_zone}`, autoDelete: true,
        host: s.host ?? '', attachSeq: Date.parse(s.created_at) * 1000 || 0,
      });
      if (s.host) await d.bind(s.id, s.host, s.power_state === PowerStates.RUNNING ? 'ACTIVE' : 'DOWN');
      adopted++;
    } catch (err) {
      d.log.warn({ err, server_id: id, address: address.addr }, 'a server from before the network service could not be given its port');
    }
  }
  if (adopted > 0) d.log.info({ servers: adopted }, 'servers from before the network service were given their ports');
  return adopted;
}
