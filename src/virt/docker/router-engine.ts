/**
 * RouterEngine on Docker engines (issue 17; the why is in src/virt/routers.ts).
 *
 * A router is a container `novadock-router-<router id>` of the pause image (pause-image.ts) with
 * IPv4 forwarding on in its namespace, attached to the overlay of each of its subnets' networks.
 * It takes no address of the subnet's own: the engine gives it one from the overlay's own
 * allocation range (its first quarter, never handed to ports; networks.ts), so it needs no port.
 * It is labelled with its router, project and compute host (never a server), so the driver's
 * listings and events pass it by, and only this host's routers are ever pruned.
 *
 * A server's routes are set in its namespace with the host's `ip`, tagged with a routing protocol
 * number of novadock's own (ROUTE_PROTO): each call flushes those and adds the wanted ones in one
 * `ip -batch`, so routes of the image's or the user's own are never touched.
 *
 * A way out through a router (`exitVia`) is two routes, 0.0.0.0/1 and 128.0.0.0/1, through the
 * router: more specific than the engine's default route (left as it is, so taking them away
 * restores it), less specific than any network of the server's. What the server answers from its
 * address on its host's gateway bridge (a floating IP's forward arrives there) keeps leaving by
 * that bridge: a rule of the same protocol number sends that source to table ROUTE_PROTO, which
 * holds the engine's default route. The router's exit is its own leg on its host's gateway bridge.
 */
import type Docker from 'dockerode';
import type { RouterEngine, RouterIdentity, RouterLeg, ServerRoute } from '../routers';
import { statusOf } from './client';
import { LABEL_HOST, LABEL_MANAGED, LABEL_PROJECT, containerName } from './labels';
import { NEUTRON_OVERLAY_PREFIX, OVERLAY_PREFIX, nicNetworkNames } from './network-targets';
import { containerNetns, HostCommandOptions, HostCommands } from './netns';
import { IPV4, ROUTE_PROTO, routeLines } from '../nat';
import { ensurePauseImage, PAUSE_IMAGE, PAUSE_PATH } from './pause-image';
import { inSwarm, swarmInfo } from './swarm';

/** A router container's router. */
export const LABEL_ROUTER = 'novadock.router_id';
export const routerContainerName = (routerId: string): string => `novadock-router-${routerId}`;
/** The `proto` of the routes novadock sets in servers (unnamed in iproute2's rt_protos). */
export { ROUTE_PROTO };

const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;
/** The engine's bridge a swarm host's containers leave by (the routers' exits are on it). */
export const GATEWAY_BRIDGE = 'docker_gwbridge';
/** The priority of the rule keeping a server's replies from its gateway-bridge address on its own host. */
const REPLY_RULE_PRIORITY = 17300;

/** The engine's way out of a server's namespace: its default route, and its address on that route's device. */
export interface WayOut {
  gateway: string;
  dev: string;
  address: string;
}
const SWARM_INFO_TIMEOUT_MS = 2000;

/** The engine network of a leg (its overlay; a project's default network has the project's). */
const overlayOf = (leg: RouterLeg): string => nicNetworkNames({ networkId: leg.networkId, projectDefault: leg.defaultFor !== undefined }, leg.defaultFor ?? '').overlay;
const isOverlay = (name: string) => name.startsWith(OVERLAY_PREFIX) || name.startsWith(NEUTRON_OVERLAY_PREFIX);

/**
 * The lines of one `ip -batch` that leave exactly `routes` among novadock's routes, and the way out
 * through `exit.via` (keeping replies from `exit.out.address` on the engine's way) when given.
 */
export function routeBatch(routes: ServerRoute[], exit?: { via: string; out: WayOut }): string {
  const all = exit ? [...routes, { cidr: '0.0.0.0/1', via: exit.via }, { cidr: '128.0.0.0/1', via: exit.via }] : routes;
  const lines = [`rule flush protocol ${ROUTE_PROTO}`, `route flush table ${ROUTE_PROTO}`, `route flush proto ${ROUTE_PROTO}`, ...routeLines(all)];
  if (exit) {
    const { gateway, dev, address } = exit.out;
    if (!IPV4.test(gateway) || !IPV4.test(address) || !IFNAME.test(dev)) throw new Error(`not a way out: ${JSON.stringify(exit.out)}`);
    lines.push(
      `route replace default via ${gateway} dev ${dev} table ${ROUTE_PROTO} proto ${ROUTE_PROTO}`,
      `rule add from ${address} lookup ${ROUTE_PROTO} priority ${REPLY_RULE_PRIORITY} protocol ${ROUTE_PROTO}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** The engine's way out in a namespace, from `ip -j -batch` of `route show default` and `addr show` (one JSON array a line). */
export function wayOutOf(output: string): WayOut | undefined {
  const [routes, links] = output.split('\n').filter((l) => l.trim().startsWith('[')).map((l) => JSON.parse(l) as unknown[]);
  const def = (routes as { dst?: string; gateway?: string; dev?: string; protocol?: string }[] | undefined)?.find((r) => r.dst === 'default' && r.gateway && r.dev);
  if (!def) return undefined;
  const link = (links as { ifname?: string; addr_info?: { family?: string; local?: string }[] }[] | undefined)?.find((l) => l.ifname === def.dev);
  const address = link?.addr_info?.find((a) => a.family === 'inet')?.local;
  return address ? { gateway: def.gateway!, dev: def.dev!, address } : undefined;
}

export type DockerRouterEngineOptions = HostCommandOptions;

export class DockerRouterEngine extends HostCommands implements RouterEngine {
  async spansHosts(host: string): Promise<boolean> {
    return inSwarm(await swarmInfo(this.engines.of(host), SWARM_INFO_TIMEOUT_MS));
  }

  async ensure(host: string, router: RouterIdentity, legs: RouterLeg[]): Promise<Record<string, string>> {
    const docker = this.engines.of(host);
    const name = routerContainerName(router.id);
    const wanted = new Map(legs.map((l) => [overlayOf(l), l.networkId]));
    let info = await inspect(docker, name);
    if (!info) {
      if (!(await this.create(docker, host, router, [...wanted.keys()]))) return {};
      info = await inspect(docker, name);
      if (!info) return {};
    }
    if (!info.State.Running) await startIt(docker, name);
    const attached = Object.keys(info.NetworkSettings?.Networks ?? {});
    for (const net of wanted.keys()) {
      if (attached.includes(net)) continue;
      try {
        await docker.getNetwork(net).connect({ Container: name });
      } catch (e) {
        // Not made yet (no server has booted on it), or attached meanwhile by a sync of another process.
        if (statusOf(e) !== 404 && !/already exists/i.test(String((e as Error).message))) throw e;
      }
    }
    for (const net of attached) {
      if (!isOverlay(net) || wanted.has(net)) continue;
      await docker.getNetwork(net).disconnect({ Container: name, Force: true }).catch((e) => {
        if (statusOf(e) !== 404) throw e;
      });
    }
    const now = (await inspect(docker, name))?.NetworkSettings?.Networks ?? {};
    const out: Record<string, string> = {};
    for (const [net, networkId] of wanted) if (now[net]?.IPAddress) out[networkId] = now[net].IPAddress;
    return out;
  }

  async prune(host: string, keep: ReadonlySet<string>): Promise<void> {
    const docker = this.engines.of(host);
    const list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`, `${LABEL_HOST}=${host}`, LABEL_ROUTER] } });
    for (const c of list) {
      const id = c.Labels?.[LABEL_ROUTER];
      if (!id || keep.has(id) || c.Labels?.[LABEL_HOST] !== host) continue;
      await docker.getContainer(c.Id).remove({ force: true, v: true }).catch((e) => {
        if (statusOf(e) !== 404 && statusOf(e) !== 409) throw e;
      });
    }
  }

  async setRoutes(host: string, serverId: string, routes: ServerRoute[], exitVia?: string): Promise<'applied' | 'notRunning'> {
    routeBatch(routes); // refused before anything is asked of the engine
    const ns = await containerNetns(this.engines.of(host), containerName(serverId));
    if (!ns) return 'notRunning';
    // Without a default route of the engine's (a server on no network with a way out) there is no way out to keep.
    const out = exitVia ? wayOutOf(await this.read(['nsenter', ns, 'ip', '-j', '-batch', '-'], 'route show default\naddr show\n')) : undefined;
    await this.run(['nsenter', ns, 'ip', '-force', '-batch', '-'], routeBatch(routes, exitVia && out ? { via: exitVia, out } : undefined));
    return 'applied';
  }

  async exitAddress(host: string, routerId: string): Promise<string | undefined> {
    const docker = this.engines.of(host);
    const info = await inspect(docker, routerContainerName(routerId));
    if (!info) return undefined;
    try {
      const bridge = await docker.getNetwork(GATEWAY_BRIDGE).inspect() as { Containers?: Record<string, { IPv4Address?: string }> };
      const at = bridge.Containers?.[info.Id]?.IPv4Address?.split('/')[0];
      return at && IPV4.test(at) ? at : undefined;
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw e;
    }
  }

  /** Makes and starts the router on the first of `networks` that exists; false when none does yet. */
  private async create(docker: Docker, host: string, router: RouterIdentity, networks: string[]): Promise<boolean> {
    await ensurePauseImage(docker);
    const name = routerContainerName(router.id);
    for (const net of networks) {
      try {
        await docker.createContainer({
          name, Image: PAUSE_IMAGE, Entrypoint: [PAUSE_PATH], Cmd: [],
          Labels: { [LABEL_MANAGED]: 'true', [LABEL_HOST]: host, [LABEL_PROJECT]: router.projectId, [LABEL_ROUTER]: router.id },
          HostConfig: {
            NetworkMode: net,
            Sysctls: { 'net.ipv4.ip_forward': '1' },
            RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
            ReadonlyRootfs: true, CapDrop: ['ALL'], LogConfig: { Type: 'none', Config: {} },
          },
        });
      } catch (e) {
        if (statusOf(e) === 404) continue; // this network is not made yet
        if (statusOf(e) !== 409) throw e; // 409: made meanwhile
      }
      await startIt(docker, name);
      return true;
    }
    return false;
  }
}

async function inspect(docker: Docker, name: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(name).inspect();
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}

async function startIt(docker: Docker, name: string): Promise<void> {
  await docker.getContainer(name).start().catch((e) => {
    if (statusOf(e) !== 304) throw e; // 304: already running
  });
}
