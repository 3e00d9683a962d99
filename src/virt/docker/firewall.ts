/**
 * Security groups enforced in each container's own network namespace (issue 17).
 *
 * Why there and not on the engine's bridge: a container's namespace holds exactly its traffic, on
 * every network it is attached to (bridge, overlay, an engine in another namespace on this
 * machine), so its rules need no interface or address bookkeeping on the bridge, never meet the
 * engine's own chains (DOCKER, DOCKER-ISOLATION…) or another server's, and go away with the
 * container: nothing is left behind when a server goes. Traffic to the host's own services
 * leaves through the container's OUTPUT chain, so egress rules decide it too. The price: a
 * restarted container has a new namespace, so rules are applied again at each start (the
 * enforcement listens for starts) and after an engine restart (the reconciler's sweep).
 *
 * How: the container's pid from the engine's inspect, then `nsenter --net=/proc/<pid>/ns/net
 * iptables-restore` (the host's iptables, nft-backed on Debian) with the whole filter table on
 * stdin: atomic, replacing what was there. The container itself needs no tools or privileges.
 */
import type { FirewallPolicy, ServerFirewall } from '../firewall';
import { renderIptables } from '../iptables';
import { containerName } from './labels';
import { containerNetns, HostCommandOptions, HostCommands } from './netns';

export type DockerFirewallOptions = HostCommandOptions;

export class DockerFirewall extends HostCommands implements ServerFirewall {
  async apply(host: string, serverId: string, policy: FirewallPolicy): Promise<'applied' | 'notRunning'> {
    const ns = await containerNetns(this.engines.of(host), containerName(serverId));
    if (!ns) return 'notRunning';
    await this.run(['nsenter', ns, 'iptables-restore'], renderIptables(policy, 4));
    await this.run(['nsenter', ns, 'ip6tables-restore'], renderIptables(policy, 6));
    return 'applied';
  }
}
