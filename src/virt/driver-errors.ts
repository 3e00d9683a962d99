/**
 * What a ComputeDriver throws (src/virt/driver.ts re-exports them): the failures its callers tell
 * apart — an instance that is not there, a spawn refused (and why: a subnet, a missing image), an
 * engine that does not answer, bytes that are no image archive.
 */

/** The instance does not exist on this host. */
export class InstanceNotFound extends Error {
  constructor(readonly serverId: string) {
    super(`Instance ${serverId} could not be found on the hypervisor.`);
    this.name = 'InstanceNotFound';
  }
}

/** Spawn failed; `reason` is for the server's fault, written for a user. */
export class SpawnFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SpawnFailed';
  }
}

/**
 * Spawn failed because the engine refused the project's subnet: it overlaps a network that already
 * exists there (another deployment's, a user's). `inUse` lists the subnets of that engine's
 * networks, so the caller can choose one clear of them and spawn again.
 */
export class SubnetUnavailable extends SpawnFailed {
  constructor(readonly subnet: string, readonly host: string, readonly engineReason: string, readonly inUse: string[]) {
    super(`The project network could not be created on compute host ${host} with subnet ${subnet}: ${engineReason}`);
    this.name = 'SubnetUnavailable';
  }
}

/**
 * Spawn failed because an interface's address is held on the engine's network: by a container
 * this engine cannot see (a swarm overlay's attachment of an instance on a host that is gone,
 * say an evacuated server's old container) or by the swarm's own load balancer. The caller gives
 * the ports another address and spawns again.
 */
export class AddressUnavailable extends SpawnFailed {
  constructor(readonly addresses: string[], readonly host: string, readonly engineReason: string) {
    super(`The instance could not be started on compute host ${host}: its address ${addresses.join(', ')} is held on the network (${engineReason})`);
    this.name = 'AddressUnavailable';
  }
}

/** Spawn failed because the engine does not have the image (someone removed it): load it, try again. */
export class ImageNotOnHost extends SpawnFailed {
  constructor(readonly imageRef: string, readonly host: string) {
    super(`Image ${imageRef} is not on compute host ${host}.`);
    this.name = 'ImageNotOnHost';
  }
}

/** The engine did not answer (down, socket gone): reads go on from the database, writes get 503. */
export class HypervisorUnavailable extends Error {
  constructor(readonly host: string, cause?: unknown) {
    super(`Compute host ${host} is unavailable: ${cause instanceof Error ? cause.message : String(cause ?? 'no answer')}`);
    this.name = 'HypervisorUnavailable';
  }
}

/** The bytes are not a loadable image archive; `reason` says why, for a 400. */
export class InvalidImageArchive extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidImageArchive';
  }
}
