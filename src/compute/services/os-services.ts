/**
 * os-services (nova/api/openstack/compute/services.py, compute/api.py HostAPI.service_*): the
 * services a Nova deployment would list, as novadock runs them:
 *
 *   nova-compute     one per configured compute host (a Docker engine), in its availability zone;
 *                    up while the engine answers and no admin forced it down; an admin may
 *                    disable it (the scheduler then places nothing there) or force it down.
 *   nova-scheduler,  one each per machine running novadock processes (they schedule and conduct
 *   nova-conductor   in-process), zone "internal", up while a process there beats.
 *
 * Ids: an integer below 2.53 (compute hosts by configuration position, as os-hypervisors shows
 * them in `service.id`, then the internal services), a stable UUID from 2.53.
 */
import { badRequest, conflict, notFound } from '../../errors';
import type { ComputeServiceChanges, ComputeServiceRepository } from '../../db/compute-service-repo';
import { stableUuid } from '../networks';
import type { HostService } from './hosts';
import { DEFAULT_ZONE, HostSettingsService, INTERNAL_ZONE } from './host-settings';

export const COMPUTE_BINARY = 'nova-compute';
const INTERNAL_BINARIES = ['nova-scheduler', 'nova-conductor'] as const;

/** One service as os-services shows it. */
export interface ServiceRecord {
  /** Integer id (below 2.53). */
  id: number;
  /** UUID (from 2.53). */
  uuid: string;
  binary: string;
  host: string;
  zone: string;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** Heard recently and not forced down (Nova's servicegroup service_is_up). */
  up: boolean;
  /** Last heard or last changed (ISO), null when neither. */
  updatedAt: string | null;
}

/** A novadock process that is running (its machine's name and its last heartbeat, ISO). */
export interface ControlProcess { hostname: string; heartbeatAt: string }

/** The running novadock processes (the workers table, issue 16). */
export interface ControlPlanePort {
  processes(): Promise<ControlProcess[]>;
}

/** A 2.53 update (PUT /os-services/{uuid}). */
export interface ServiceUpdate {
  status?: 'enabled' | 'disabled';
  disabledReason?: string;
  forcedDown?: boolean;
}

export interface OsServicesDeps {
  hosts: Pick<HostService, 'hosts'>;
  settings: HostSettingsService;
  repo: ComputeServiceRepository;
  control: ControlPlanePort;
  /** Servers (not deleted) recorded on a host. */
  instancesOn(host: string): Promise<number>;
}

const later = (a: string | null, b: string | null) => (a === null ? b : b === null ? a : a > b ? a : b);

/** nova.exception.ServiceNotFound, as PUT words it. */
const serviceNotFound = (id: string) => notFound(`Service ${id} could not be found.`);

export class OsServices {
  constructor(private readonly deps: OsServicesDeps) {}

  /** Every service, compute hosts first (by configuration), then the internal services by host. */
  async list(filter: { host?: string; binary?: string } = {}): Promise<ServiceRecord[]> {
    const [hosts, settings, rows, processes] = await Promise.all([
      this.deps.hosts.hosts(), this.deps.settings.all(), this.deps.repo.all(), this.deps.control.processes(),
    ]);
    const settingOf = new Map(settings.map((s) => [s.host, s]));
    const changedAt = new Map(rows.map((r) => [r.host, r.updatedAt]));
    const all: ServiceRecord[] = hosts.map((h) => {
      const s = settingOf.get(h.host);
      const forcedDown = s?.forcedDown ?? false;
      return {
        id: h.index,
        uuid: h.serviceUuid,
        binary: COMPUTE_BINARY,
        host: h.host,
        zone: s?.zone ?? DEFAULT_ZONE,
        disabled: s?.disabled ?? false,
        disabledReason: s?.disabledReason ?? null,
        forcedDown,
        up: h.state === 'up' && !forcedDown,
        updatedAt: later(h.updatedAt, changedAt.get(h.host) ?? null),
      };
    });
    const machines = new Map<string, string>();
    for (const p of processes) machines.set(p.hostname, later(machines.get(p.hostname) ?? null, p.heartbeatAt)!);
    let next = hosts.length + 1;
    for (const [hostname, beat] of [...machines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      for (const binary of INTERNAL_BINARIES) {
        all.push({
          id: next++,
          uuid: stableUuid('service', `${binary}@${hostname}`),
          binary,
          host: hostname,
          zone: INTERNAL_ZONE,
          disabled: false,
          disabledReason: null,
          forcedDown: false,
          up: true,
          updatedAt: beat,
        });
      }
    }
    return all.filter((s) => (!filter.host || s.host === filter.host) && (!filter.binary || s.binary === filter.binary));
  }

  /** The service with this integer id (below 2.53) or UUID (from 2.53), if any. */
  async find(ref: { id: number } | { uuid: string }): Promise<ServiceRecord | undefined> {
    const all = await this.list();
    return 'id' in ref ? all.find((s) => s.id === ref.id) : all.find((s) => s.uuid === ref.uuid.toLowerCase());
  }

  /**
   * Below 2.53: sets fields of the service named by host and binary
   * (HostAPI.service_update_by_host_and_binary). Only nova-compute can be changed (400); an
   * unknown host is Nova's HostMappingNotFound (404).
   */
  async updateByHost(host: string, binary: string, changes: ComputeServiceChanges): Promise<void> {
    assertCompute(binary);
    const known = (await this.deps.hosts.hosts()).some((h) => h.host === host);
    if (!known) throw notFound(`Host '${host}' is not mapped to any cell`);
    await this.deps.repo.update(host, changes);
  }

  /** From 2.53: PUT /os-services/{uuid} (status and disabled_reason, forced_down); the service as it now is. */
  async update(uuid: string, u: ServiceUpdate): Promise<ServiceRecord> {
    const svc = await this.find({ uuid });
    if (!svc) throw serviceNotFound(uuid);
    assertCompute(svc.binary);
    const changes: ComputeServiceChanges = {};
    if (u.status === 'enabled') {
      if (u.disabledReason) throw badRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.");
      changes.disabled = false;
      changes.disabledReason = null;
    } else if (u.status === 'disabled') {
      changes.disabled = true;
      changes.disabledReason = u.disabledReason ?? null;
    }
    if (u.forcedDown !== undefined) changes.forcedDown = u.forcedDown;
    if (Object.keys(changes).length === 0) throw badRequest("No updates were requested. Fields 'status' or 'forced_down' should be specified.");
    await this.deps.repo.update(svc.host, changes);
    return (await this.find({ uuid }))!;
  }

  /**
   * DELETE /os-services/{id}. Nothing novadock lists can be deleted: a compute host is in the
   * configuration (it would be back at once), an internal service is a running process. Each is
   * answered with Nova's 409, in Nova's words when the host holds servers.
   */
  async delete(ref: { id: number } | { uuid: string }, shown: string): Promise<void> {
    const svc = await this.find(ref);
    if (!svc) throw notFound(`Service ${shown} not found.`);
    if (svc.binary !== COMPUTE_BINARY) {
      throw conflict(`Unable to delete the ${svc.binary} service of ${svc.host}: it is part of a running novadock process.`);
    }
    if (await this.deps.instancesOn(svc.host) > 0) {
      throw conflict('Unable to delete compute service that is hosting instances. Migrate or delete the instances first.');
    }
    throw conflict(`Unable to delete compute service ${svc.host}: it is a configured compute host. Remove it from compute_hosts and restart novadock instead.`);
  }
}

function assertCompute(binary: string): void {
  if (binary !== COMPUTE_BINARY) {
    throw badRequest(`Updating a ${binary} service is not supported. Only nova-compute services can be updated.`);
  }
}
