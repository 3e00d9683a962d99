/**
 * Names and make-up of the engine networks the driver makes: a project's own network (today's
 * per-project bridge or overlay, the network service's default network `private`) and the
 * network service's networks (issue 17), each as a NetworkTarget that networks.ts makes.
 */
import type { InstanceNic, ProjectNetworkSpec } from '../driver';
import { LABEL_MANAGED, LABEL_NETWORK_ID, LABEL_NETWORK_NAME, LABEL_PROJECT } from './labels';
import { hostAddress } from './addresses';

/** Host-local project networks (bridges); also the name older versions gave every project network. */
export const NETWORK_PREFIX = 'novadock-net-';
/** Project networks that span hosts (swarm overlays). */
export const OVERLAY_PREFIX = 'novadock-ovl-';
/** What an engine network of ours is: `project`, `neutron` or (older versions) `probe`. */
export const LABEL_NETWORK = 'novadock.network';

/** Networks of the network service (issue 17): host-local bridges and overlays spanning hosts. */
export const NEUTRON_PREFIX = 'novadock-n-';
export const NEUTRON_OVERLAY_PREFIX = 'novadock-no-';

/** Whether an engine network name is a project network's (its addresses are the server's). */
export const isProjectNetworkName = (name: string): boolean => name.startsWith(NETWORK_PREFIX) || name.startsWith(OVERLAY_PREFIX);
/** Whether an engine network name is a network-service network's. */
export const isNeutronNetworkName = (name: string): boolean => name.startsWith(NEUTRON_PREFIX) || name.startsWith(NEUTRON_OVERLAY_PREFIX);


/** Network names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; project ids are hex in practice. */
const safe = (projectId: string) => projectId.replace(/[^a-zA-Z0-9_.-]/g, '_');
export const networkName = (projectId: string): string => NETWORK_PREFIX + safe(projectId);
export const overlayName = (projectId: string): string => OVERLAY_PREFIX + safe(projectId);

/**
 * An engine network to make: its names as a bridge and as an overlay, its subnet and gateway, and
 * its labels. `key` (the bridge name) keys every per-network map below.
 */
export interface NetworkTarget {
  key: string;
  bridge: string;
  overlay: string;
  subnet: string;
  gateway: string;
  labels: Record<string, string>;
}

/** The project's own network (the default network `private`). */
export function projectTarget(spec: Pick<ProjectNetworkSpec, 'projectId' | 'subnet'>): NetworkTarget {
  const bridge = networkName(spec.projectId);
  return {
    key: bridge, bridge, overlay: overlayName(spec.projectId), subnet: spec.subnet, gateway: hostAddress(spec.subnet, 1),
    labels: { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: spec.projectId, [LABEL_NETWORK]: 'project' },
  };
}

/** The engine network names (bridge, overlay) of an interface's network. */
export function nicNetworkNames(nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>, projectId: string): { key: string; bridge: string; overlay: string } {
  if (nic.projectDefault) return { key: networkName(projectId), bridge: networkName(projectId), overlay: overlayName(projectId) };
  const bridge = NEUTRON_PREFIX + safe(nic.networkId);
  return { key: bridge, bridge, overlay: NEUTRON_OVERLAY_PREFIX + safe(nic.networkId) };
}

/** The engine network of an interface: the project's network for the default one, else the network service's. */
export function nicTarget(nic: InstanceNic, projectId: string): NetworkTarget {
  if (nic.projectDefault) return projectTarget({ projectId, subnet: nic.subnet });
  return {
    ...nicNetworkNames(nic, projectId), subnet: nic.subnet, gateway: nic.gateway ?? hostAddress(nic.subnet, 1),
    labels: { [LABEL_MANAGED]: 'true', [LABEL_NETWORK]: 'neutron', [LABEL_NETWORK_ID]: nic.networkId, [LABEL_NETWORK_NAME]: nic.label },
  };
}
