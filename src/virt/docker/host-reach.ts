/**
 * Where a compute host's own network namespace reaches a server's fixed IPs (issue 17: a floating
 * IP is forwarded there). A bridge's addresses are routed in the host's namespace, so a fixed IP
 * on a bridge is reached as it is. An overlay's are not: the swarm keeps each overlay's segment in
 * a namespace of its own, and the host has no route into it. A container on an overlay also has an
 * endpoint on the host's `docker_gwbridge` (its default route: where its replies and its own
 * outgoing traffic leave by), so that endpoint's address is where the host reaches it.
 *
 * A server whose container is not there (stopped, gone, moving) or has no gateway endpoint yet is
 * reached at its fixed IPs: nothing answers there, and the next sync after its start finds the
 * endpoint.
 */
import type Docker from 'dockerode';
import { statusOf } from './client';
import { containerName } from './labels';
import { NEUTRON_OVERLAY_PREFIX, OVERLAY_PREFIX } from './network-targets';

/** The engine's bridge for overlay containers' traffic that leaves the host. */
export const GATEWAY_BRIDGE = 'docker_gwbridge';

const spansHosts = (networkName: string) => networkName.startsWith(OVERLAY_PREFIX) || networkName.startsWith(NEUTRON_OVERLAY_PREFIX);

/**
 * fixed IP → the address the host reaches it at, for each of `fixedIps` the server's container
 * holds on an overlay; the others are left out (reached as they are). Throws only when the engine
 * cannot be asked (any other answer is a fixed IP reached as it is).
 */
export async function overlayGateways(docker: Docker, serverId: string, fixedIps: string[]): Promise<Record<string, string>> {
  let info: Docker.ContainerInspectInfo;
  try {
    info = await docker.getContainer(containerName(serverId)).inspect();
  } catch (e) {
    if (statusOf(e) === 404) return {};
    throw e;
  }
  if (!info.State?.Running) return {};
  const networks = Object.entries(info.NetworkSettings?.Networks ?? {});
  const onOverlay = fixedIps.filter((ip) => networks.some(([name, n]) => spansHosts(name) && n.IPAddress === ip));
  if (onOverlay.length === 0) return {};
  let bridge: { Containers?: Record<string, { IPv4Address?: string }> };
  try {
    bridge = (await docker.getNetwork(GATEWAY_BRIDGE).inspect()) as typeof bridge;
  } catch (e) {
    if (statusOf(e) === 404) return {};
    throw e;
  }
  const address = bridge.Containers?.[info.Id]?.IPv4Address?.split('/')[0];
  return address ? Object.fromEntries(onOverlay.map((ip) => [ip, address])) : {};
}
