/**
 * Interfaces attached and detached while the instance exists (issue 17: os-interface): the
 * engine's network connect and disconnect, live on a running container, taking effect at the
 * next start on a stopped one. The interface keeps the port's address; the network is made on
 * first use and goes from this host with its last instance (networks.ts).
 */
import type Docker from 'dockerode';
import { InstanceNic, SpawnFailed } from '../driver';
import { engineMessage, statusOf, translate } from './client';
import { endpointConfig } from './containers';
import { nicNetworkNames, nicTarget, ProjectNetworks } from './networks';
import type { DockerSpawner } from './spawner';

export class DockerInterfaces {
  constructor(private readonly docker: Docker, private readonly host: string, private readonly networks: ProjectNetworks, private readonly spawner: DockerSpawner) {}

  /** Connects `container` (inspected) to `nic`'s network; already connected is success. */
  async attach(container: Docker.ContainerInspectInfo, projectId: string, nic: InstanceNic): Promise<void> {
    const target = nicTarget(nic, projectId);
    await this.networks.useAll([target.key], async () => {
      for (let attempt = 1; ; attempt++) {
        const net = await this.spawner.ensureTarget(target, attempt > 1);
        if (container.NetworkSettings?.Networks?.[net.name]) return;
        try {
          await this.docker.getNetwork(net.id).connect({ Container: container.Id, EndpointConfig: endpointConfig({ name: net.name, ip: nic.ip, mac: nic.mac }) });
          return;
        } catch (e) {
          const msg = engineMessage(e);
          if (/already exists in network|is already attached/i.test(msg)) return;
          // The network went from under us (removed with its last instance meanwhile): make it again.
          if (attempt < 2 && statusOf(e) === 404 && /network/i.test(msg)) continue;
          if (statusOf(e) === 404 || statusOf(e) === 500 || statusOf(e) === 403 || statusOf(e) === 409) {
            throw new SpawnFailed(`The interface could not be attached: ${msg}`);
          }
          throw translate(this.host, e);
        }
      }
    });
  }

  /** Disconnects `container` from `nic`'s network; not connected is success. The network goes when unused. */
  async detach(container: Docker.ContainerInspectInfo, projectId: string, nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>): Promise<void> {
    const target = nicNetworkNames(nic, projectId);
    const name = [target.bridge, target.overlay].find((n) => container.NetworkSettings?.Networks?.[n]);
    if (!name) return;
    try {
      await this.docker.getNetwork(name).disconnect({ Container: container.Id, Force: true });
    } catch (e) {
      if (statusOf(e) !== 404 && !/is not connected/i.test(engineMessage(e))) throw translate(this.host, e);
    }
    await this.networks.releaseIfUnused([name]);
  }
}
