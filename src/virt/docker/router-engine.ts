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
 */
import type Docker from 'dockerode';
import type { RouterEngine, RouterIdentity, RouterLeg, ServerRoute } from '../routers';
import { statusOf } from './client';
import { LABEL_HOST, LABEL_MANAGED, LABEL_PROJECT, containerName } from './labels';
import { NEUTRON_OVERLAY_PREFIX, OVERLAY_PREFIX, nicNetworkNames } from './network-targets';
import { containerNetns, HostCommandOptions, HostCommands } from './netns';
import { ensurePauseImage, PAUSE_IMAGE, PAUSE_PATH } from './pause-image';
import { inSwarm, swarmInfo } from './swarm';

/** A router container's router. */
export const LABEL_ROUTER = 'novadock.router_id';
export const routerContainerName = (routerId: string): string => `novadock-router-${routerId}`;
/** The `proto` of the routes novadock sets in servers (unnamed in iproute2's rt_protos). */
export const ROUTE_PROTO = 173;

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const CIDR4 = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const SWARM_INFO_TIMEOUT_MS = 2000;

/** The engine network of a leg (its overlay; a project's default network has the project's). */
const overlayOf = (leg: RouterLeg): string => nicNetworkNames({ networkId: leg.networkId, projectDefault: leg.defaultFor !== undefined }, leg.defaultFor ?? '').overlay;
const isOverlay = (name: string) => name.startsWith(OVERLAY_PREFIX) || name.startsWith(NEUTRON_OVERLAY_PREFIX);

/** The lines of one `ip -batch` that leave exactly `routes` among novadock's routes. */
export function routeBatch(routes: ServerRoute[]): string {
  for (const r of routes) if (!CIDR4.test(r.cidr) || !IPV4.test(r.via)) throw new Error(`not an IPv4 route: ${JSON.stringify(r)}`);
  return [`route flush proto ${ROUTE_PROTO}`, ...routes.map((r) => `route replace ${r.cidr} via ${r.via} proto ${ROUTE_PROTO}`)].join('\n') + '\n';
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

  async setRoutes(host: string, serverId: string, routes: ServerRoute[]): Promise<'applied' | 'notRunning'> {
    const input = routeBatch(routes);
    const ns = await containerNetns(this.engines.of(host), containerName(serverId));
    if (!ns) return 'notRunning';
    await this.run(['nsenter', ns, 'ip', '-force', '-batch', '-'], input);
    return 'applied';
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
