/**
 * The network service's core, built together (issue 17, net-core): networks, subnets, ports,
 * IP allocation, quotas, the port service the compute side uses, and the events its ports raise.
 * The other parts (security groups, floating IPs) build beside it from the same repositories.
 */
import type { Db } from '../db/knex';
import { NetworkRepository } from '../db/network-repo';
import { NetworkQuotaRepository } from '../db/network-quota-repo';
import { PortRepository } from '../db/port-repo';
import { QuotaRepository } from '../db/quota-repo';
import { SecurityGroupRepository } from '../db/security-group-repo';
import type { ProjectSubnets } from '../compute/services/project-subnets';
import { DefaultNetworks } from './default-network';
import { IpAllocator } from './ip-allocation';
import { NetworkBackend, NetworkService, NO_BACKEND } from './networks';
import { PortEvents } from './port-events';
import { PortService } from './port-service';
import { ServerPorts } from './ports';
import { QuotaApi } from './quota-api';
import { NetworkQuotas } from './quotas';
import { SubnetService } from './subnets';

export interface NetworkCore {
  repo: NetworkRepository;
  portRepo: PortRepository;
  defaults: DefaultNetworks;
  networks: NetworkService;
  subnets: SubnetService;
  ports: PortService;
  /** The port service the compute side uses (ComputePorts). */
  serverPorts: ServerPorts;
  quotas: NetworkQuotas;
  quotaApi: QuotaApi;
  events: PortEvents;
}

export interface NetworkCoreDeps {
  db: Db;
  projectSubnets: ProjectSubnets;
  /** NOVADOCK_PROJECT_NETWORK_RANGE */
  projectRange: string;
  projectHasServers(projectId: string): Promise<boolean>;
  projectExists(projectId: string): Promise<boolean>;
  /** The engine networks behind networks (net-compute's); absent: nothing to remove. */
  backend?: NetworkBackend;
}

export function buildNetworkCore(deps: NetworkCoreDeps): NetworkCore {
  const repo = new NetworkRepository(deps.db);
  const portRepo = new PortRepository(deps.db);
  const groups = new SecurityGroupRepository(deps.db);
  const quotaRepo = new NetworkQuotaRepository(deps.db);
  const quotas = new NetworkQuotas(quotaRepo, new QuotaRepository(deps.db));
  const defaults = new DefaultNetworks(repo, deps.projectSubnets);
  const events = new PortEvents();
  const networks = new NetworkService({ repo, defaults, backend: deps.backend ?? NO_BACKEND, quotas, projectHasServers: deps.projectHasServers });
  const subnets = new SubnetService({ repo, networks, quotas, quotaRepo, projectRange: deps.projectRange });
  const allocator = new IpAllocator(portRepo);
  const ports = new PortService({ ports: portRepo, networks: repo, networkService: networks, groups, allocator, quotas, events });
  const serverPorts = new ServerPorts({ ports: portRepo, networks: repo, networkService: networks, portService: ports, groups, defaults, events, allocator });
  return { repo, portRepo, defaults, networks, subnets, ports, serverPorts, quotas, quotaApi: new QuotaApi(quotas, deps.projectExists), events };
}
