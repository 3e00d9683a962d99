/**
 * The compute API's periphery, mounted by computeRouter at /compute/v2.1 after the token,
 * microversion and JSON-body middleware:
 *
 *   GET  /limits                              quotas and usage                     everyone (tenant_id=: admin)
 *   GET  /os-availability-zone                zones                                everyone
 *   GET  /os-availability-zone/detail         zones with hosts and services        admin
 *   GET  /os-networks[/{id}]                  the pseudo network (every version)    everyone
 *   GET  /os-security-groups[/{id}]           the project's default group (< 2.36) everyone
 *   GET  /os-hypervisors[/detail|/statistics|/{id}|/{id}/uptime|/{pattern}/search|/{pattern}/servers]  admin
 *   GET  /images[/detail|/{id}], DELETE /images/{id}   compute image proxy (< 2.36)   everyone
 *
 * Nova removed the network, security group and image proxies at 2.36 (they answer 404 there);
 * OSC's own lookups (`--network`, `--security-group`) send no microversion, so they get 2.1.
 */
import net from 'node:net';
import { Router, Request, RequestHandler } from 'express';
import type { Services } from '../compose';
import { DomainError, badRequest, msg, notFound, notImplemented } from '../errors';
import { handle } from '../http/async';
import { ctxOf, requireAdmin } from '../http/auth';
import type { RequestContext } from '../http/context';
import { methodNotAllowed } from '../http/errors';
import type { ServerRecord } from './server-record';
import { atLeast, atMost } from './microversion';
import { nextPageLinks, novaTime } from './views/common';
import { boolParam, limitParam, queryParam } from '../http/query';
import { UUID_RE } from '../http/validation';
import { MAX_LIMIT } from './max-limit';
import { HostState, hostInfoFor } from './host-info';
import { PRIVATE_NETWORK_ID, PROJECT_NETWORK_LABEL, defaultSecurityGroup } from './networks';
import type { ImageRecord } from '../image/image-record';

/** Nova's default quotas for what novadock has no config for (nova/conf/quota.py). */
export const NOVA_DEFAULT_QUOTAS = {
  floating_ips: 10,
  security_groups: 10,
  security_group_rules: 20,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  server_groups: 10,
  server_group_members: 10,
} as const;

/** The only availability zone (Nova's default_availability_zone). */
export const AVAILABILITY_ZONE = 'nova';

/** 404 for APIs Nova removed at `lastVersion` + 1 (its VersionNotFoundForAPIMethod). */
function untilVersion(lastVersion: string): RequestHandler {
  return (req, _res, next) => (atMost(req, lastVersion) ? next() : next(notFound(msg.resourceNotFound())));
}

export function miscRouter(services: Services): Router {
  const router = Router();

  // ---------------------------------------------------------------- limits (nova limits.py)
  router.get('/limits', handle(async (req, res) => {
    const ctx = ctxOf(req);
    let projectId = ctx.projectId;
    const tenant = queryParam(req, 'tenant_id');
    if (tenant !== undefined && tenant !== ctx.projectId) {
      requireAdmin(ctx, 'os_compute_api:limits:other_project');
      projectId = tenant;
    }
    const q = services.config.seed.quotas;
    const used = await services.compute.usage(projectId);
    const absolute: Record<string, number> = {
      maxTotalInstances: q.instances,
      maxTotalCores: q.cores,
      maxTotalRAMSize: q.ram,
      maxServerMeta: q.metadata_items,
      maxImageMeta: q.metadata_items,
      maxPersonality: NOVA_DEFAULT_QUOTAS.injected_files,
      maxPersonalitySize: NOVA_DEFAULT_QUOTAS.injected_file_content_bytes,
      maxTotalKeypairs: q.key_pairs,
      maxSecurityGroups: NOVA_DEFAULT_QUOTAS.security_groups,
      maxSecurityGroupRules: NOVA_DEFAULT_QUOTAS.security_group_rules,
      maxTotalFloatingIps: NOVA_DEFAULT_QUOTAS.floating_ips,
      maxServerGroups: NOVA_DEFAULT_QUOTAS.server_groups,
      maxServerGroupMembers: NOVA_DEFAULT_QUOTAS.server_group_members,
      totalInstancesUsed: used.instances,
      totalCoresUsed: used.cores,
      totalRAMUsed: used.ram,
      // NOTE(openstack): with neutron, Nova reports 0 for what the network service counts.
      totalSecurityGroupsUsed: 0,
      totalFloatingIpsUsed: 0,
      totalServerGroupsUsed: 0,
    };
    // Network quotas left the compute API at 2.36, image metadata at 2.39, personality at 2.57.
    if (atLeast(req, '2.36')) {
      for (const k of ['maxSecurityGroups', 'maxSecurityGroupRules', 'maxTotalFloatingIps', 'totalSecurityGroupsUsed', 'totalFloatingIpsUsed']) delete absolute[k];
    }
    if (atLeast(req, '2.39')) delete absolute.maxImageMeta;
    if (atLeast(req, '2.57')) {
      delete absolute.maxPersonality;
      delete absolute.maxPersonalitySize;
    }
    res.status(200).json({ limits: { rate: [], absolute } });
  }));
  router.all('/limits', methodNotAllowed());

  // ---------------------------------------------------------------- os-quota-sets (read-only)
  // Quotas come from the config (one set for every project); they are shown, not changed here.
  const quotaSet = (req: Request) => {
    const q = services.config.seed.quotas;
    const set: Record<string, number> = {
      instances: q.instances, cores: q.cores, ram: q.ram, metadata_items: q.metadata_items, key_pairs: q.key_pairs,
      floating_ips: NOVA_DEFAULT_QUOTAS.floating_ips, fixed_ips: -1,
      security_groups: NOVA_DEFAULT_QUOTAS.security_groups, security_group_rules: NOVA_DEFAULT_QUOTAS.security_group_rules,
      server_groups: NOVA_DEFAULT_QUOTAS.server_groups, server_group_members: NOVA_DEFAULT_QUOTAS.server_group_members,
      injected_files: NOVA_DEFAULT_QUOTAS.injected_files, injected_file_content_bytes: NOVA_DEFAULT_QUOTAS.injected_file_content_bytes,
      injected_file_path_bytes: 255,
    };
    if (atLeast(req, '2.36')) for (const k of ['floating_ips', 'fixed_ips', 'security_groups', 'security_group_rules']) delete set[k];
    if (atLeast(req, '2.57')) for (const k of ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes']) delete set[k];
    return set;
  };
  /** Own project for everyone; another project's only for admins (Nova's os-quota-sets:show policy). */
  const quotaProject = (req: Request) => {
    const ctx = ctxOf(req);
    const projectId = String(req.params.projectId);
    if (projectId !== ctx.projectId) requireAdmin(ctx, 'os_compute_api:os-quota-sets:show');
    return projectId;
  };
  router.get('/os-quota-sets/:projectId', handle(async (req, res) => {
    const id = quotaProject(req);
    res.status(200).json({ quota_set: { id, ...quotaSet(req) } });
  }));
  router.get('/os-quota-sets/:projectId/defaults', handle(async (req, res) => {
    res.status(200).json({ quota_set: { id: String(req.params.projectId), ...quotaSet(req) } });
  }));
  router.get('/os-quota-sets/:projectId/detail', handle(async (req, res) => {
    const id = quotaProject(req);
    const used = await services.compute.usage(id);
    const inUse: Record<string, number> = { instances: used.instances, cores: used.cores, ram: used.ram };
    const detail: Record<string, unknown> = { id };
    for (const [k, limit] of Object.entries(quotaSet(req))) detail[k] = { limit, in_use: inUse[k] ?? 0, reserved: 0 };
    res.status(200).json({ quota_set: detail });
  }));
  router.put('/os-quota-sets/:projectId', handle(async (req) => {
    requireAdmin(ctxOf(req), 'os_compute_api:os-quota-sets:update');
    throw notImplemented('Quotas are set in the novadock config file (NOVADOCK_CONFIG "quotas"), not through the API.');
  }));
  router.all(['/os-quota-sets/:projectId', '/os-quota-sets/:projectId/defaults', '/os-quota-sets/:projectId/detail'], methodNotAllowed());

  // ---------------------------------------------------------------- availability zones
  router.get('/os-availability-zone', (_req, res) => {
    res.status(200).json({ availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true }, hosts: null }] });
  });
  router.get('/os-availability-zone/detail', handle(async (req, res) => {
    requireAdmin(ctxOf(req), 'os_compute_api:os-availability-zone:detail');
    const hosts: Record<string, unknown> = {};
    for (const h of await hostInfoFor(services.drivers).hosts()) {
      hosts[h.host] = { 'nova-compute': { available: h.state === 'up', active: true, updated_at: h.updatedAt ? novaTime(h.updatedAt) : null } };
    }
    res.status(200).json({ availabilityZoneInfo: [{ zoneName: AVAILABILITY_ZONE, zoneState: { available: true }, hosts }] });
  }));
  router.all(['/os-availability-zone', '/os-availability-zone/detail'], methodNotAllowed());

  // ---------------------------------------------------------------- os-networks
  // NOTE(openstack): Nova answers 404 from 2.36 on; novadock keeps this read-only proxy at every
  // version because Tempest's microversioned classes resolve fixed_network_name through it with
  // their own microversion (there is no network service to ask instead).
  /** Nova's neutron-proxied network_dict: id and label, every nova-network field null. */
  const networkView = (ctx: RequestContext) => {
    const v: Record<string, unknown> = { id: PRIVATE_NETWORK_ID };
    for (const f of ['cidr', 'netmask', 'gateway', 'broadcast', 'dns1', 'dns2', 'cidr_v6', 'gateway_v6']) v[f] = null;
    v.label = PROJECT_NETWORK_LABEL;
    v.netmask_v6 = null;
    if (ctx.isAdmin) {
      for (const f of ['created_at', 'updated_at', 'deleted_at', 'deleted', 'injected', 'bridge', 'vlan', 'vpn_public_address',
        'vpn_public_port', 'vpn_private_address', 'dhcp_start', 'project_id', 'host', 'bridge_interface', 'multi_host',
        'priority', 'rxtx_base', 'mtu', 'dhcp_server', 'enable_dhcp', 'share_address']) v[f] = null;
    }
    return v;
  };
  router.get('/os-networks', (req, res) => {
    res.status(200).json({ networks: [networkView(ctxOf(req))] });
  });
  router.get('/os-networks/:id', handle(async (req, res) => {
    const ctx = ctxOf(req);
    // NOTE(openstack): a name is a 404 here, so OSC's APIv2.find falls back to listing and
    // matching `label` (openstackclient/api/compute_v2.py network_find).
    if (req.params.id !== PRIVATE_NETWORK_ID) throw notFound(msg.networkNotFound(req.params.id));
    res.status(200).json({ network: networkView(ctx) });
  }));
  router.all(['/os-networks', '/os-networks/:id'], methodNotAllowed());

  // ---------------------------------------------------------------- os-security-groups (< 2.36)
  const securityGroupView = defaultSecurityGroup;
  router.get('/os-security-groups', untilVersion('2.35'), (req, res) => {
    res.status(200).json({ security_groups: [securityGroupView(ctxOf(req).projectId)] });
  });
  router.get('/os-security-groups/:id', untilVersion('2.35'), handle(async (req, res) => {
    const { projectId } = ctxOf(req);
    const { id } = req.params;
    // NOTE(openstack): Nova refuses a non-UUID id with 400 before asking neutron; OSC's
    // APIv2.find treats 400 like 404 and falls back to the list, matching `name`.
    if (!UUID_RE.test(id)) throw badRequest('Security group id should be uuid');
    const group = securityGroupView(projectId);
    if (id.toLowerCase() !== group.id) throw notFound(`Security group ${id} not found.`);
    res.status(200).json({ security_group: group });
  }));
  router.all(['/os-security-groups', '/os-security-groups/:id'], untilVersion('2.35'), methodNotAllowed());

  // ---------------------------------------------------------------- os-hypervisors (admin)
  router.use('/os-hypervisors', hypervisorsRouter(services));

  // ---------------------------------------------------------------- compute image proxy (< 2.36)
  router.use('/images', untilVersion('2.35'), imagesProxyRouter(services));

  return router;
}

// ==================================================================================================
// os-hypervisors (nova/api/openstack/compute/hypervisors.py + views/hypervisors.py)
// ==================================================================================================

interface HostUsage { vcpusUsed: number; memoryMbUsed: number; localGbUsed: number; servers: ServerRecord[] }

function hypervisorsRouter(services: Services): Router {
  const router = Router();
  const cache = () => hostInfoFor(services.drivers);

  const admin = (req: Request, action: string) => requireAdmin(ctxOf(req), `os_compute_api:os-hypervisors:${action}`);

  /** What a host's servers hold, from the database (never from the engine). */
  const usageOf = async (host: string): Promise<HostUsage> => {
    const list = await services.compute.serversOnHost(host);
    let vcpusUsed = 0;
    let memoryMbUsed = 0;
    let localGbUsed = 0;
    for (const s of list) {
      vcpusUsed += s.flavor.vcpus;
      memoryMbUsed += s.flavor.ram;
      localGbUsed += s.flavor.disk + s.flavor.ephemeral;
    }
    return { vcpusUsed, memoryMbUsed, localGbUsed, servers: list };
  };

  const idOf = (req: Request, h: HostState): string | number => (atLeast(req, '2.53') ? h.uuid : h.index);
  const hostnameOf = (h: HostState) => h.info?.hostname || h.host;

  /** Summary: {id, hypervisor_hostname, state, status}, plus servers when asked (2.53 with_servers, search/servers). */
  const summary = (req: Request, h: HostState, withServers?: ServerRecord[]) => {
    const v: Record<string, unknown> = { id: idOf(req, h), hypervisor_hostname: hostnameOf(h), state: h.state, status: 'enabled' };
    if (withServers && withServers.length > 0) {
      v.servers = withServers.map((s) => ({ uuid: s.id, name: instanceName(s) }));
    }
    return v;
  };

  const detail = (req: Request, h: HostState, u: HostUsage, withServers?: boolean) => {
    const info = h.info;
    const v: Record<string, unknown> = {
      id: idOf(req, h),
      hypervisor_hostname: hostnameOf(h),
      state: h.state,
      status: 'enabled',
      hypervisor_type: info?.hypervisorType ?? 'docker',
      hypervisor_version: info?.hypervisorVersion ?? 0,
      host_ip: info?.hostIp && net.isIP(info.hostIp) ? info.hostIp : null,
      service: { host: h.host, id: atLeast(req, '2.53') ? h.serviceUuid : h.index, disabled_reason: null },
    };
    if (!atLeast(req, '2.88')) {
      const vcpus = info?.vcpus ?? 0;
      const memoryMb = info?.memoryMb ?? 0;
      // Containers share the engine's disk: no per-host disk inventory is reported.
      const localGb = 0;
      const cpuInfo = { arch: process.arch === 'x64' ? 'x86_64' : process.arch, topology: { sockets: 1, cores: vcpus, threads: 1 } };
      Object.assign(v, {
        // NOTE(openstack): a JSON string below 2.28, an object from 2.28 (hypervisors.py).
        cpu_info: atLeast(req, '2.28') ? cpuInfo : JSON.stringify(cpuInfo),
        vcpus,
        vcpus_used: u.vcpusUsed,
        memory_mb: memoryMb,
        memory_mb_used: u.memoryMbUsed,
        free_ram_mb: memoryMb - u.memoryMbUsed,
        local_gb: localGb,
        local_gb_used: u.localGbUsed,
        free_disk_gb: localGb - u.localGbUsed,
        disk_available_least: 0,
        current_workload: 0,
        running_vms: info?.runningInstances ?? u.servers.length,
      });
    }
    if (withServers && u.servers.length > 0) v.servers = u.servers.map((s) => ({ uuid: s.id, name: instanceName(s) }));
    return v;
  };

  /** Hosts after 2.53's hypervisor_hostname_pattern and 2.33's limit/marker. */
  const selected = async (req: Request): Promise<{ hosts: HostState[]; links: unknown[] }> => {
    let hosts = await cache().hosts();
    if (atLeast(req, '2.53')) {
      const pattern = queryParam(req, 'hypervisor_hostname_pattern');
      if (pattern !== undefined) {
        hosts = hosts.filter((h) => hostnameOf(h).includes(pattern));
        // NOTE(openstack): Nova answers an empty match with 404, not an empty list.
        if (hosts.length === 0) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
        return { hosts, links: [] };
      }
    }
    if (!atLeast(req, '2.33')) return { hosts, links: [] };
    const limit = limitParam(req, MAX_LIMIT) ?? MAX_LIMIT;
    const marker = queryParam(req, 'marker');
    let start = 0;
    if (marker !== undefined) {
      const at = hosts.findIndex((h) => String(idOf(req, h)) === marker);
      if (at < 0) throw badRequest(`marker [${marker}] not found`);
      start = at + 1;
    }
    const page = hosts.slice(start, start + limit);
    const last = page[page.length - 1];
    return { hosts: page, links: nextPageLinks(services.config.publicUrl, req.path.endsWith('/detail') ? 'os-hypervisors/detail' : 'os-hypervisors', req.query, page.length, last ? String(idOf(req, last)) : undefined) };
  };

  /** The host named by a path id: an integer below 2.53, a UUID from 2.53. */
  const byId = async (req: Request, id: string): Promise<HostState> => {
    const hosts = await cache().hosts();
    if (atLeast(req, '2.53')) {
      if (!UUID_RE.test(id)) throw badRequest(`Invalid uuid ${id}`);
      const h = hosts.find((x) => x.uuid === id.toLowerCase());
      if (h) return h;
    } else {
      const h = /^[0-9]+$/.test(id) ? hosts.find((x) => x.index === Number(id)) : undefined;
      if (h) return h;
    }
    throw notFound(msg.hypervisorNotFound(id));
  };

  const withServersParam = (req: Request) => (atLeast(req, '2.53') ? boolParam(req, 'with_servers') ?? false : false);

  router.get('/', handle(async (req, res) => {
    admin(req, 'list');
    const { hosts, links } = await selected(req);
    const withServers = withServersParam(req);
    const items = await Promise.all(hosts.map(async (h) => summary(req, h, withServers ? (await usageOf(h.host)).servers : undefined)));
    const body: Record<string, unknown> = { hypervisors: items };
    if (links.length) body.hypervisors_links = links;
    res.status(200).json(body);
  }));

  router.get('/detail', handle(async (req, res) => {
    admin(req, 'list-detail');
    const { hosts, links } = await selected(req);
    const withServers = withServersParam(req);
    const items = await Promise.all(hosts.map(async (h) => detail(req, h, await usageOf(h.host), withServers)));
    const body: Record<string, unknown> = { hypervisors: items };
    if (links.length) body.hypervisors_links = links;
    res.status(200).json(body);
  }));

  // Nova removed /statistics and /{id}/uptime at 2.88, /search and /servers at 2.53: 404 there.
  const gone = () => notFound(msg.resourceNotFound());

  router.get('/statistics', handle(async (req, res) => {
    if (atLeast(req, '2.88')) throw gone();
    admin(req, 'statistics');
    const hosts = await cache().hosts();
    const stats = { count: hosts.length, vcpus: 0, vcpus_used: 0, memory_mb: 0, memory_mb_used: 0, free_ram_mb: 0, local_gb: 0, local_gb_used: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0 };
    for (const h of hosts) {
      const d = detail(req, h, await usageOf(h.host)) as Record<string, number>;
      for (const k of Object.keys(stats) as (keyof typeof stats)[]) if (k !== 'count') stats[k] += d[k] ?? 0;
    }
    res.status(200).json({ hypervisor_statistics: stats });
  }));

  // Below 2.53: search by hostname substring, and the servers of matching hypervisors.
  router.get('/:pattern/search', handle(async (req, res) => {
    if (atLeast(req, '2.53')) throw gone();
    admin(req, 'search');
    const hosts = (await cache().hosts()).filter((h) => hostnameOf(h).includes(req.params.pattern));
    if (hosts.length === 0) throw notFound(`No hypervisor matching '${req.params.pattern}' could be found.`);
    res.status(200).json({ hypervisors: hosts.map((h) => summary(req, h)) });
  }));
  router.get('/:pattern/servers', handle(async (req, res) => {
    if (atLeast(req, '2.53')) throw gone();
    admin(req, 'servers');
    const hosts = (await cache().hosts()).filter((h) => hostnameOf(h).includes(req.params.pattern));
    if (hosts.length === 0) throw notFound(`No hypervisor matching '${req.params.pattern}' could be found.`);
    const items = await Promise.all(hosts.map(async (h) => summary(req, h, (await usageOf(h.host)).servers)));
    res.status(200).json({ hypervisors: items });
  }));

  router.get('/:id/uptime', handle(async (req) => {
    if (atLeast(req, '2.88')) throw gone();
    admin(req, 'uptime');
    await byId(req, req.params.id);
    // The engines do not report their uptime; Nova's virt drivers without one answer 501 too.
    throw uptimeNotImplemented();
  }));

  router.get('/:id', handle(async (req, res) => {
    admin(req, 'show');
    const h = await byId(req, req.params.id);
    const body = detail(req, h, await usageOf(h.host), withServersParam(req));
    // From 2.88 show carries the uptime; Nova puts null there when the driver has none.
    if (atLeast(req, '2.88')) body.uptime = null;
    res.status(200).json({ hypervisor: body });
  }));

  router.all(['/', '/detail', '/statistics', '/:id', '/:id/uptime', '/:pattern/search', '/:pattern/servers'], methodNotAllowed());
  return router;
}

/** Nova's OS-EXT-SRV-ATTR:instance_name template. */
function instanceName(s: ServerRecord): string {
  return `instance-${s.sequence.toString(16).padStart(8, '0')}`;
}

/** Nova's 501 for a virt driver without uptime (the engines do not report theirs). */
function uptimeNotImplemented() {
  return notImplemented('Virt driver does not implement uptime function.');
}

// ==================================================================================================
// Compute image proxy (nova/api/openstack/compute/images.py + views/images.py), deprecated and
// removed at 2.36; Tempest's createImage test polls GET /images/{id} at 2.1. Images come from
// the image service, with the caller's visibility.
// ==================================================================================================

/** What the proxy needs from the image service (ImageService implements it). */
export interface ImageProxyPort {
  /** Every image the caller may see (Glance's default listing: hidden ones excluded). */
  list(ctx: RequestContext, query: Record<string, never>): Promise<{ images: ImageRecord[] }>;
  /** The image, or a 404 DomainError when unknown or invisible. */
  get(ctx: RequestContext, id: string): Promise<ImageRecord>;
  /** Deletes as Glance would (403 for protected images, 404 when unknown). */
  delete(ctx: RequestContext, id: string): Promise<unknown>;
}

/** Glance status → Nova's image status (views/images.py). */
const IMAGE_STATUS: Record<string, string> = {
  active: 'ACTIVE',
  queued: 'SAVING',
  saving: 'SAVING',
  uploading: 'SAVING',
  importing: 'SAVING',
  deleted: 'DELETED',
  pending_delete: 'DELETED',
  killed: 'ERROR',
};
const IMAGE_PROGRESS: Record<string, number> = { queued: 25, saving: 50, uploading: 50, importing: 50, active: 100 };

/** Nova's image timestamps: second precision, Z. */
function isoSeconds(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19)}Z`;
}

function imageLinks(publicUrl: string, id: string) {
  const enc = encodeURIComponent(id);
  return [
    { rel: 'self', href: `${publicUrl}/compute/v2.1/images/${enc}` },
    { rel: 'bookmark', href: `${publicUrl}/compute/images/${enc}` },
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${publicUrl}/image/images/${enc}` },
  ];
}

function imageSummary(publicUrl: string, i: ImageRecord) {
  return { id: i.id, name: i.name, links: imageLinks(publicUrl, i.id) };
}

function imageDetail(publicUrl: string, i: ImageRecord) {
  const v: Record<string, unknown> = {
    id: i.id,
    name: i.name,
    minRam: i.min_ram,
    minDisk: i.min_disk,
    metadata: { ...i.properties },
    created: isoSeconds(i.created_at),
    updated: isoSeconds(i.updated_at),
    status: IMAGE_STATUS[i.status] ?? 'UNKNOWN',
    progress: IMAGE_PROGRESS[i.status] ?? 0,
    links: imageLinks(publicUrl, i.id),
    'OS-EXT-IMG-SIZE:size': i.size,
  };
  // A snapshot names the server it was taken from (the instance_uuid property Nova sets).
  const server = i.properties.instance_uuid;
  if (server) {
    v.server = {
      id: server,
      links: [
        { rel: 'self', href: `${publicUrl}/compute/v2.1/servers/${encodeURIComponent(server)}` },
        { rel: 'bookmark', href: `${publicUrl}/compute/servers/${encodeURIComponent(server)}` },
      ],
    };
  }
  return v;
}

/** Nova's compute image filters, applied to what the image service lists for the caller. */
function imageFilter(req: Request): (i: ImageRecord) => boolean {
  const name = queryParam(req, 'name');
  const status = queryParam(req, 'status');
  const server = queryParam(req, 'server');
  const type = queryParam(req, 'type');
  const minRam = queryParam(req, 'minRam');
  const minDisk = queryParam(req, 'minDisk');
  const since = queryParam(req, 'changes-since');
  const intOf = (raw: string | undefined, what: string) => {
    if (raw === undefined) return undefined;
    if (!/^[0-9]+$/.test(raw)) throw badRequest(`Invalid ${what} filter [${raw}]`);
    return Number(raw);
  };
  const ram = intOf(minRam, 'minRam');
  const disk = intOf(minDisk, 'minDisk');
  let sinceMs: number | undefined;
  if (since !== undefined) {
    sinceMs = Date.parse(since);
    if (Number.isNaN(sinceMs)) throw badRequest(`Invalid filter field: changes-since.`);
  }
  return (i) =>
    (name === undefined || i.name === name)
    && (status === undefined || (IMAGE_STATUS[i.status] ?? 'UNKNOWN') === status.toUpperCase())
    && (server === undefined || i.properties.instance_uuid === server)
    && (type === undefined || i.properties.image_type === type)
    && (ram === undefined || i.min_ram >= ram)
    && (disk === undefined || i.min_disk >= disk)
    && (sinceMs === undefined || Date.parse(i.updated_at) >= sinceMs);
}

function imagesProxyRouter(services: Services): Router {
  const router = Router();
  const { publicUrl } = services.config;
  const port = (): ImageProxyPort => services.images;

  const list = (detail: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const all = (await port().list(ctx, {})).images.filter(imageFilter(req));
    // Glance's default order: newest first.
    all.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1));
    let start = 0;
    const marker = queryParam(req, 'marker');
    if (marker !== undefined) {
      const at = all.findIndex((i) => i.id === marker);
      if (at < 0) throw badRequest(`marker [${marker}] not found`);
      start = at + 1;
    }
    const limit = limitParam(req, MAX_LIMIT) ?? MAX_LIMIT;
    const page = all.slice(start, start + limit);
    const body: Record<string, unknown> = { images: page.map((i) => (detail ? imageDetail(publicUrl, i) : imageSummary(publicUrl, i))) };
    const links = nextPageLinks(publicUrl, detail ? 'images/detail' : 'images', req.query, page.length, page[page.length - 1]?.id);
    if (links.length) body.images_links = links;
    res.status(200).json(body);
  });

  router.get('/', list(false));
  router.get('/detail', list(true));
  router.get('/:id', handle(async (req, res) => {
    const image = await port().get(ctxOf(req), req.params.id).catch((e) => {
      throw toImageNotFound(e, req.params.id);
    });
    res.status(200).json({ image: imageDetail(publicUrl, image) });
  }));
  router.delete('/:id', handle(async (req, res) => {
    await port().delete(ctxOf(req), req.params.id).catch((e) => {
      throw toImageNotFound(e, req.params.id);
    });
    res.status(204).end();
  }));
  router.all(['/', '/detail', '/:id'], methodNotAllowed());
  return router;
}

/** The image service's 404 in Nova's words ("Image not found."); other errors pass unchanged. */
function toImageNotFound(e: unknown, _id: string): unknown {
  if (e instanceof DomainError && e.kind === 'notFound') return notFound(msg.computeImageNotFound());
  return e;
}
