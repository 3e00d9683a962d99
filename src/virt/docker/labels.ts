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

export const CONTAINER_PREFIX = 'novadock-';

/** Container name of a server (the server id is a UUID, which is a valid container name). */
export const containerName = (serverId: string): string => CONTAINER_PREFIX + serverId;
