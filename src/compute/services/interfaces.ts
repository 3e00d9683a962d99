/**
 * os-interface (nova/api/openstack/compute/attach_interfaces.py, issue 17): a server's interfaces
 * are its ports. Attach makes (or takes) a port and connects the instance to its network, live
 * when it runs, from its next start when stopped; detach disconnects it and lets the port go.
 *
 *   attach   state check (ACTIVE, PAUSED, SHUTOFF; no task) → port (the network service)
 *            → driver.attachInterface → addresses (compare-and-set on no task) → ports bound
 *            a refused attach lets the port go again: 500 "Failed to attach network adapter device to <id>"
 *   detach   state check → the server's port, else 404 → driver.detachInterface → port let go
 */
import type { RequestContext } from '../../http/context';
import { DomainError, conflict, notFound } from '../../errors';
import type { ServerRepository } from '../../db/server-repo';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { PowerStates } from '../power-state';
import { addressesOf } from '../sync-rules';
import { AVAILABILITY_ZONE, HostService } from './hosts';
import type { ServerQueries } from './server-queries';
import type { PortWithIps, ServerNetworking, ServerNic } from './server-ports';
import { SpawnFailed } from '../../virt/driver';

export interface InterfaceRequest { netId?: string; portId?: string; fixedIp?: string }

export interface InterfacesDeps {
  servers: ServerRepository;
  queries: ServerQueries;
  hosts: HostService;
  networking?: ServerNetworking;
}

/** nova's check_instance_state for attach_interface / detach_interface. */
const ATTACHABLE: string[] = [VmStates.ACTIVE, VmStates.PAUSED, VmStates.STOPPED];

export class ServerInterfaces {
  constructor(private readonly d: InterfacesDeps) {}

  private net(): ServerNetworking {
    // NOTE(openstack): Nova without a network service answers os-interface with 501 (nova-network).
    if (!this.d.networking) throw new DomainError('notImplemented', 'Network driver does not support this function.');
    return this.d.networking;
  }

  async list(ctx: RequestContext, serverId: string): Promise<PortWithIps[]> {
    await this.d.queries.get(ctx, serverId);
    // Without the network service a server has no ports.
    return this.d.networking ? this.d.networking.portsOf(serverId) : [];
  }

  async show(ctx: RequestContext, serverId: string, portId: string): Promise<PortWithIps> {
    const p = (await this.list(ctx, serverId)).find((x) => x.port.id === portId);
    if (!p) throw notFound(`Instance ${serverId} does not have a port with id ${portId}`);
    return p;
  }

  async attach(ctx: RequestContext, serverId: string, req: InterfaceRequest): Promise<PortWithIps> {
    const server = await this.attachable(ctx, serverId, 'attach_interface');
    const net = this.net();
    const nic: ServerNic | 'auto' = req.portId ? { portId: req.portId } : req.netId ? { networkId: req.netId, ...(req.fixedIp && { fixedIp: req.fixedIp }) } : 'auto';
    const port = await net.attach(ctx, serverId, server.availability_zone ?? AVAILABILITY_ZONE, nic, server.security_groups);
    const driver = this.d.hosts.driverAt(server.host);
    const instanceNic = await net.nicOf(port);
    if (driver && instanceNic) {
      try {
        const info = await driver.attachInterface(serverId, instanceNic);
        await this.d.servers.update(serverId, { addresses: addressesOf(info) }, { taskStates: [null] });
      } catch (e) {
        await net.detach(serverId, port.port.id).catch(() => undefined);
        if (e instanceof SpawnFailed) throw new DomainError('internal', `Failed to attach network adapter device to ${serverId}`);
        throw e;
      }
      await net.bind(serverId, driver.host, server.power_state === PowerStates.RUNNING);
    }
    return (await net.portsOf(serverId)).find((p) => p.port.id === port.port.id) ?? port;
  }

  async detach(ctx: RequestContext, serverId: string, portId: string): Promise<void> {
    const server = await this.attachable(ctx, serverId, 'detach_interface');
    const net = this.net();
    const port = (await net.portsOf(serverId)).find((p) => p.port.id === portId);
    if (!port) throw notFound(`Instance ${serverId} does not have a port with id ${portId}`);
    const driver = this.d.hosts.driverAt(server.host);
    if (driver) {
      const info = await driver.detachInterface(serverId, { networkId: port.network.id, ...(port.network.default_for && { projectDefault: true }) });
      await this.d.servers.update(serverId, { addresses: addressesOf(info) }, { taskStates: [null] });
    }
    await net.detach(serverId, portId);
  }

  private async attachable(ctx: RequestContext, serverId: string, action: string): Promise<ServerRecord> {
    const server = await this.d.queries.get(ctx, serverId);
    if (!ATTACHABLE.includes(server.vm_state)) throw conflict(`Cannot '${action}' instance ${serverId} while it is in vm_state ${server.vm_state}`);
    if (server.task_state !== null) throw conflict(`Cannot '${action}' instance ${serverId} while it is in task_state ${server.task_state}`);
    return server;
  }
}
