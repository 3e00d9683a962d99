/**
 * The Networking API's errors. Neutron answers `{"NeutronError": {"type", "message", "detail"}}`
 * where `type` names the neutron-lib exception (NetworkNotFound, PortNotFound, InUse…); clients
 * (openstacksdk, neutronclient, Tempest) read `type` and `message`. A NeutronError is a
 * DomainError of a kind (so the HTTP layer maps the status) with Neutron's type beside it;
 * src/http/errors.ts renders it for the 'network' API. Messages are spelled as neutron-lib's.
 */
import { DomainError, ErrorKind } from '../errors';

export class NeutronError extends DomainError {
  constructor(kind: ErrorKind, readonly type: string, message: string, headers: Record<string, string> = {}) {
    super(kind, message, headers);
    this.name = 'NeutronError';
  }
}

/** Neutron's type for an error that is not a NeutronError (webob's, as Neutron's fault wrapper names it). */
export function neutronTypeOf(status: number): string {
  switch (status) {
    case 400: return 'HTTPBadRequest';
    case 401: return 'HTTPUnauthorized';
    case 403: return 'HTTPForbidden';
    case 404: return 'HTTPNotFound';
    case 405: return 'HTTPMethodNotAllowed';
    case 409: return 'HTTPConflict';
    case 413: return 'HTTPRequestEntityTooLarge';
    case 415: return 'HTTPUnsupportedMediaType';
    case 501: return 'HTTPNotImplemented';
    case 503: return 'HTTPServiceUnavailable';
    default: return 'HTTPInternalServerError';
  }
}

/** neutron-lib's exceptions the parts share, one home each. */
export const neutron = {
  invalidInput: (message: string) => new NeutronError('invalid', 'InvalidInput', `Invalid input for operation: ${message}.`),
  networkNotFound: (id: string) => new NeutronError('notFound', 'NetworkNotFound', `Network ${id} could not be found.`),
  subnetNotFound: (id: string) => new NeutronError('notFound', 'SubnetNotFound', `Subnet ${id} could not be found.`),
  portNotFound: (id: string) => new NeutronError('notFound', 'PortNotFound', `Port ${id} could not be found.`),
  securityGroupNotFound: (id: string) => new NeutronError('notFound', 'SecurityGroupNotFound', `Security group ${id} does not exist`),
  floatingIpNotFound: (id: string) => new NeutronError('notFound', 'FloatingIPNotFound', `Floating IP ${id} could not be found`),
  routerNotFound: (id: string) => new NeutronError('notFound', 'RouterNotFound', `Router ${id} could not be found`),
  networkInUse: (id: string) => new NeutronError('conflict', 'NetworkInUse', `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`),
  subnetInUse: (id: string) => new NeutronError('conflict', 'SubnetInUse', `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`),
  ipAddressInUse: (ip: string, networkId: string) => new NeutronError('conflict', 'IpAddressAlreadyAllocated', `IP address ${ip} already allocated in subnet ${networkId}`),
  ipAddressGenerationFailure: (networkId: string) => new NeutronError('conflict', 'IpAddressGenerationFailure', `No more IP addresses available on network ${networkId}.`),
  policy: (rule: string) => new NeutronError('forbidden', 'PolicyNotAuthorized', `(rule:${rule}) is disallowed by policy`),
  overQuota: (resource: string) => new NeutronError('conflict', 'OverQuota', `Quota exceeded for resources: ['${resource}'].`),
};

// --- net-core: networks, subnets, ports, quotas (neutron-lib's texts) ---
export const neutronCore = {
  /** An attribute's value failed its validator (neutron-lib api/attributes.py convert_values). */
  badAttribute: (attr: string, reason: string) => new NeutronError('invalid', 'HTTPBadRequest', `Invalid input for ${attr}. Reason: ${reason}.`),
  badRequest: (message: string) => new NeutronError('invalid', 'HTTPBadRequest', message),
  invalidIpForSubnet: (ip: string) => new NeutronError('invalid', 'InvalidIpForSubnet', `IP address ${ip} is not a valid IP for the specified subnet.`),
  invalidIpForNetwork: (ip: string) => new NeutronError('invalid', 'InvalidIpForNetwork', `IP address ${ip} is not a valid IP for any of the subnets on the specified network.`),
  invalidAllocationPool: (pool: string) => new NeutronError('invalid', 'InvalidAllocationPool', `The allocation pool ${pool} is not valid.`),
  outOfBoundsAllocationPool: (pool: string, cidr: string) => new NeutronError('invalid', 'OutOfBoundsAllocationPool', `The allocation pool ${pool} spans beyond the subnet cidr ${cidr}.`),
  overlappingAllocationPools: (a: string, b: string, cidr: string) => new NeutronError('conflict', 'OverlappingAllocationPools', `Found overlapping allocation pools: ${a} ${b} for subnet ${cidr}.`),
  gatewayConflict: (ip: string, pool: string) => new NeutronError('conflict', 'GatewayConflictWithAllocationPools', `Gateway ip ${ip} conflicts with allocation pool ${pool}.`),
  macInUse: (networkId: string, mac: string) => new NeutronError('conflict', 'MacAddressInUse', `Unable to complete operation for network ${networkId}. The mac address ${mac} is in use.`),
  portInUse: (portId: string, networkId: string, deviceId: string) => new NeutronError('conflict', 'PortInUse', `Unable to complete operation on port ${portId} for network ${networkId}. Port already has an attached device ${deviceId}.`),
  securityGroupsNeedPortSecurity: () => new NeutronError('invalid', 'PortSecurityAndIPRequiredForSecurityGroups', 'Port security must be enabled and port must have an IP address in order to use security groups.'),
};
