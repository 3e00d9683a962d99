/**
 * How the driver recognises its own engine objects. Containers carry the server and project
 * ids and the compute host's name; everything else on the engine is never listed or touched.
 */
export const LABEL_MANAGED = 'novadock.managed';
export const LABEL_SERVER = 'novadock.server_id';
export const LABEL_PROJECT = 'novadock.project_id';
/**
 * The compute host that owns the container. Several novadock processes may share one engine
 * (a dev server and a test run, or two compute hosts configured on one engine): each lists,
 * hears and reconciles only the containers of its own host name.
 */
export const LABEL_HOST = 'novadock.host';

/** An engine network of the network service (issue 17): the network's id and name. */
export const LABEL_NETWORK_ID = 'novadock.network_id';
export const LABEL_NETWORK_NAME = 'novadock.network_name';

export const CONTAINER_PREFIX = 'novadock-';

/** Container name of a server (the server id is a UUID, which is a valid container name). */
export const containerName = (serverId: string): string => CONTAINER_PREFIX + serverId;

/** A move's image: the server it carries (inherited by the instance spawned from it). */
export const LABEL_MOVE_OF = 'novadock.move_of';
/** A move's image: the migration (uuid) that made it. */
export const LABEL_MIGRATION = 'novadock.migration';

/**
 * Our labels, blanked: a committed image would otherwise pass the container's labels on to
 * anything run from it (even outside novadock), making it look like ours or like a move's.
 */
export const BLANK_LABELS: Readonly<Record<string, string>> = {
  [LABEL_MANAGED]: '', [LABEL_SERVER]: '', [LABEL_PROJECT]: '', [LABEL_HOST]: '', [LABEL_MOVE_OF]: '', [LABEL_MIGRATION]: '',
};

/** The name a move's source instance is set aside under until confirm or revert (Nova's `_resize`). */
export const setAsideName = (serverId: string): string => `${containerName(serverId)}_resize`;
