/**
 * The only place server wire shapes live (after nova/api/openstack/compute/views/servers.py,
 * views/addresses.py and instance_actions.py), including the derived `status` and every
 * microversion difference up to 2.92. Tempest validates these with strict schemas
 * (additionalProperties: false), so each variant emits exactly its keys.
 */
import { isoMicros, isoSeconds } from '../../http/wire-time';
import type { ServerAddress, ServerRecord } from '../server-record';
import type { InstanceActionRecord } from '../../db/action-repo';
import { statusOf, PROGRESS_STATUSES, FAULT_STATUSES } from '../status';
import { hostIdOf, instanceName } from '../naming';

/** What a view needs to know about the request. */
export interface ViewOptions {
  /** Externally visible scheme+authority (links are absolute). */
  publicUrl: string;
  /** True when the request's microversion is at least `version` (microversion.ts atLeast). */
  mv: (version: string) => boolean;
  isAdmin: boolean;
  /** host_status (2.16) of a compute host. */
  hostStatus: (host: string | null) => string;
}

type Json = Record<string, unknown>;
type Link = { rel: string; href: string };


export function serverLinks(publicUrl: string, id: string): Link[] {
  return [
    { rel: 'self', href: `${publicUrl}/compute/v2.1/servers/${id}` },
    { rel: 'bookmark', href: `${publicUrl}/compute/servers/${id}` },
  ];
}

/** OS-DCF:diskConfig as Nova's views derive it from auto_disk_config. */
const diskConfigOf = (s: Pick<ServerRecord, 'auto_disk_config'>): 'AUTO' | 'MANUAL' => (s.auto_disk_config ? 'AUTO' : 'MANUAL');

/** POST /servers body: exactly id, links, OS-DCF:diskConfig, security_groups, adminPass. */
export function createView(server: ServerRecord, adminPass: string, o: ViewOptions): Json {
  return {
    server: {
      id: server.id,
      links: serverLinks(o.publicUrl, server.id),
      'OS-DCF:diskConfig': diskConfigOf(server),
      security_groups: server.security_groups.map((name) => ({ name })),
      adminPass,
    },
  };
}

/** GET /servers item: exactly id, name, links. */
export function summaryView(server: ServerRecord, o: ViewOptions): Json {
  return { id: server.id, name: server.name, links: serverLinks(o.publicUrl, server.id) };
}

/** `addresses` (views/addresses.py): extended items carry the IP type and MAC. */
export function addressesView(addresses: Record<string, ServerAddress[]>, extended: boolean): Record<string, Json[]> {
  const out: Record<string, Json[]> = {};
  for (const [label, list] of Object.entries(addresses)) {
    out[label] = list.map((a) => (extended
      ? { version: a.version, addr: a.addr, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': a.mac }
      : { version: a.version, addr: a.addr }));
  }
  return out;
}

/**
 * Which detail view:
 *  - 'show': GET /servers/{id};  'detail': an item of GET /servers/detail (no server_groups);
 *  - 'update' / 'rebuild': the PUT and rebuild responses — Nova's basic view below 2.75 (no
 *    OS-EXT-*, key_name, security_groups…; addresses without type/MAC), the full one from 2.75.
 */
export type DetailVariant = 'show' | 'detail' | 'update' | 'rebuild';

/** `serverGroups`: the uuids of the server's groups, shown from 2.71 except in list items. */
export function detailView(s: ServerRecord, o: ViewOptions, variant: DetailVariant = 'show', serverGroups: string[] = []): Json {
  const mv = o.mv;
  const full = variant === 'show' || variant === 'detail' || mv('2.75');
  const status = statusOf(s.vm_state, s.task_state, s.deleted);
  const base = `${o.publicUrl}/compute`;
  const v: Json = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: s.metadata,
    hostId: hostIdOf(s.project_id, s.host),
    image: s.image_id ? { id: s.image_id, links: [{ rel: 'bookmark', href: `${base}/images/${s.image_id}` }] } : '',
    flavor: mv('2.47')
      ? {
        vcpus: s.flavor.vcpus,
        ram: s.flavor.ram,
        disk: s.flavor.disk,
        ephemeral: s.flavor.ephemeral,
        swap: s.flavor.swap,
        original_name: s.flavor.name,
        extra_specs: s.flavor.extra_specs,
      }
      : { id: s.flavor_id, links: [{ rel: 'bookmark', href: `${base}/flavors/${s.flavor_id}` }] },
    created: isoSeconds(s.created_at),
    updated: isoSeconds(s.updated_at),
    addresses: addressesView(s.addresses, full),
    accessIPv4: s.access_ip_v4 ?? '',
    accessIPv6: s.access_ip_v6 ?? '',
    links: serverLinks(o.publicUrl, s.id),
    'OS-DCF:diskConfig': diskConfigOf(s),
  };
  if (FAULT_STATUSES.has(status) && s.fault) {
    const fault: Json = { code: s.fault.code, created: isoSeconds(s.fault.created), message: s.fault.message };
    if (s.fault.details && (o.isAdmin || s.fault.code !== 500)) fault.details = s.fault.details;
    v.fault = fault;
  }
  if (PROGRESS_STATUSES.has(status)) v.progress = s.progress ?? 0;

  // Extended server attributes: admin only (policy os_compute_api:os-extended-server-attributes).
  const extendedAttrs = full && o.isAdmin;
  if (full) {
    v['OS-EXT-AZ:availability_zone'] = s.availability_zone ?? '';
    v.config_drive = s.config_drive ? 'True' : '';
    v.key_name = s.key_name;
    v['OS-SRV-USG:launched_at'] = isoMicros(s.launched_at);
    v['OS-SRV-USG:terminated_at'] = isoMicros(s.terminated_at);
    // Nova leaves the key out when the server has no group (tempest's remove-all test checks it).
    if (s.security_groups.length > 0) v.security_groups = s.security_groups.map((name) => ({ name }));
    if (extendedAttrs) {
      v['OS-EXT-SRV-ATTR:host'] = s.host;
      v['OS-EXT-SRV-ATTR:instance_name'] = instanceName(s.sequence);
      v['OS-EXT-SRV-ATTR:hypervisor_hostname'] = s.host;
      if (mv('2.3')) {
        v['OS-EXT-SRV-ATTR:reservation_id'] = s.reservation_id;
        v['OS-EXT-SRV-ATTR:launch_index'] = s.launch_index;
        v['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
        v['OS-EXT-SRV-ATTR:kernel_id'] = '';
        v['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
        v['OS-EXT-SRV-ATTR:root_device_name'] = null;
        // NOTE(openstack): rebuild leaves user_data out here; from 2.57 it has its own key.
        if (variant !== 'rebuild') v['OS-EXT-SRV-ATTR:user_data'] = s.user_data;
      }
    }
    v['OS-EXT-STS:task_state'] = s.task_state;
    v['OS-EXT-STS:vm_state'] = s.vm_state;
    v['OS-EXT-STS:power_state'] = s.power_state;
    v['os-extended-volumes:volumes_attached'] = [];
    // host_status (2.16): policy os_compute_api:servers:show:host_status, admin only by default.
    if (mv('2.16') && o.isAdmin) v.host_status = o.hostStatus(s.host);
  }
  // 2.54: the rebuild answer names the (possibly new) key pair even in the basic view.
  if (!full && variant === 'rebuild' && mv('2.54')) v.key_name = s.key_name;
  if (mv('2.9')) v.locked = s.locked;
  if (mv('2.73')) v.locked_reason = s.locked ? s.locked_reason : null;
  if (mv('2.19')) v.description = s.description;
  if (mv('2.26')) v.tags = s.tags;
  if (mv('2.63')) v.trusted_image_certificates = null;
  // 2.90: the hostname is no secret any more; admins already have it among the extended attributes.
  if (mv('2.90') && !extendedAttrs) v['OS-EXT-SRV-ATTR:hostname'] = s.hostname;
  if (mv('2.71') && variant !== 'detail') v.server_groups = serverGroups;
  return v;
}

/** GET /servers/detail and GET /servers bodies, with servers_links when the page is full. */
export function listView(servers: ServerRecord[], o: ViewOptions, detailed: boolean, next: { pageSize: number; query: Record<string, unknown> }): Json {
  const body: Json = {
    servers: servers.map((s) => (detailed ? detailView(s, o, 'detail') : summaryView(s, o))),
  };
  if (servers.length > 0 && servers.length === next.pageSize) {
    const params = new URLSearchParams();
    for (const [k, val] of Object.entries(next.query)) {
      if (k === 'marker' || k === 'limit') continue;
      for (const item of Array.isArray(val) ? val : [val]) if (typeof item === 'string') params.append(k, item);
    }
    params.set('limit', String(next.pageSize));
    params.set('marker', servers[servers.length - 1].id);
    body.servers_links = [{ rel: 'next', href: `${o.publicUrl}/compute/v2.1/servers${detailed ? '/detail' : ''}?${params.toString()}` }];
  }
  return body;
}

/** Nova's event names for the compute work behind an action. */
const EVENT_OF: Record<string, string> = {
  create: 'compute__do_build_and_run_instance',
  delete: 'compute_terminate_instance',
  forceDelete: 'compute_terminate_instance',
  stop: 'compute_stop_instance',
  start: 'compute_start_instance',
  reboot: 'compute_reboot_instance',
  rebuild: 'compute_rebuild_instance',
  pause: 'compute_pause_instance',
  unpause: 'compute_unpause_instance',
  suspend: 'compute_suspend_instance',
  resume: 'compute_resume_instance',
  createImage: 'compute_snapshot_instance',
  migrate: 'compute_resize_instance',
  confirmResize: 'compute_confirm_resize',
  revertResize: 'compute_revert_resize',
  evacuate: 'compute_rebuild_instance',
};

/** An instance action (nova/api/openstack/compute/instance_actions.py). */
export function actionView(a: InstanceActionRecord, o: ViewOptions, withEvents: boolean, server?: Pick<ServerRecord, 'project_id' | 'host'>): Json {
  const v: Json = {
    action: a.action,
    instance_uuid: a.instance_uuid,
    message: a.message,
    project_id: a.project_id,
    request_id: a.request_id,
    start_time: isoMicros(a.start_time),
    user_id: a.user_id,
  };
  if (o.mv('2.58')) v.updated_at = isoMicros(a.updated_at ?? a.start_time);
  // Events: admins always; others from 2.51, without the traceback (policy os-instance-actions:events).
  if (withEvents && (o.isAdmin || o.mv('2.51'))) {
    const name = EVENT_OF[a.action];
    const events: Json[] = [];
    if (name) {
      const e: Json = { event: name, start_time: isoMicros(a.start_time), finish_time: isoMicros(a.finish_time), result: a.result };
      if (o.isAdmin) e.traceback = a.result === 'Error' ? a.traceback : null;
      if (o.mv('2.62')) {
        if (o.isAdmin) e.host = server?.host ?? null;
        e.hostId = server ? hostIdOf(server.project_id, server.host) : '';
      }
      if (o.mv('2.84')) e.details = a.result === 'Error' ? a.traceback : null;
      events.push(e);
    }
    v.events = events;
  }
  return v;
}
