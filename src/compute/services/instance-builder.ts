/**
 * What booting and rebuilding share (nova/compute/api.py _validate_and_build_base_options and
 * the manager's spawn): the flavor and image a request names, the limits it must respect, the
 * InstanceSpec the driver boots, and the spawn itself, with the image made present on the host.
 */
import type { ServerNetworking } from './server-ports';
import { parse as shellParse } from 'shell-quote';
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import type { QuotaLimitsPort } from './quotas';
import { restartPolicyOf } from '../restart-policy';
import { badRequest, msg, quotaExceeded } from '../../errors';
import { boolFromString } from '../../http/validation';
import type { FlavorRepository, FlavorRecord } from '../../db/flavor-repo';
import type { ImageRecord } from '../../image/image-record';
import { AddressUnavailable, ComputeDriver, ImageNotOnHost, InstanceInfo, InstanceSpec, SubnetUnavailable } from '../../virt/driver';
import type { FlavorSnapshot, ServerRecord } from '../server-record';
import { UUID_RE, idFromHref } from '../refs';
import type { ComputeImages, HostImagesPort } from './ports';
import type { ProjectSubnets } from './project-subnets';
import { PowerStates } from '../power-state';

/** nova/compute/api.py MAX_USERDATA_SIZE. */
export const MAX_USERDATA_SIZE = 65535;

/** How often one spawn moves its project to another subnet because an engine refused one. */
const MAX_SUBNET_MOVES = 8;

/** An InstanceSpec before its network is resolved: specOf builds it, spawnFrom completes it. */
export type InstanceDraft = Omit<InstanceSpec, 'network'> & { network: { projectId: string } | null };

export interface InstanceBuilderDeps {
  flavors: FlavorRepository;
  images: ComputeImages;
  hostImages: HostImagesPort;
  /** The project's subnet and the addresses its servers hold, for the spec's network. */
  subnets: Pick<ProjectSubnets, 'networkFor' | 'refused'>;
  quotas: QuotaLimitsPort;
  log: Logger;
  /** A server's interfaces from its ports (issue 17); absent, or none: the project network as before. */
  interfaces?: Pick<ServerNetworking, 'interfacesOf' | 'readdress' | 'bind'>;
}

export class InstanceBuilder {
  private readonly flavors: FlavorRepository;
  private readonly images: ComputeImages;
  readonly hostImages: HostImagesPort;
  private readonly subnets: InstanceBuilderDeps['subnets'];
  private readonly quotas: QuotaLimitsPort;
  private readonly log: Logger;
  private readonly interfaces?: InstanceBuilderDeps['interfaces'];

  constructor(deps: InstanceBuilderDeps) {
    this.interfaces = deps.interfaces;
    this.flavors = deps.flavors;
    this.images = deps.images;
    this.hostImages = deps.hostImages;
    this.subnets = deps.subnets;
    this.quotas = deps.quotas;
    this.log = deps.log;
  }

  /**
   * driver.spawn of the draft with its project network resolved, after ensureOnHost. If the
   * engine lost the image since it was last seen there (a `docker rmi` behind our back), it is
   * loaded again and the spawn tried once more. If the engine refused the project's subnet (it
   * overlaps a network already there), the project moves to another subnet and the spawn is
   * tried again.
   */
  async spawnFrom(driver: ComputeDriver, draft: InstanceDraft, image?: ImageRecord): Promise<InstanceInfo> {
    for (let moves = 0; ; moves++) {
      const spec = await this.resolve(draft);
      try {
        return await this.spawnWithImage(driver, spec, image);
      } catch (e) {
        // An interface's address is held on the engine's network: its ports get other addresses.
        if (e instanceof AddressUnavailable && this.interfaces?.readdress && moves < MAX_SUBNET_MOVES) {
          this.log.warn({ server_id: draft.serverId, host: e.host, addresses: e.addresses }, 'the engine refused the ports\' addresses: giving them others');
          await this.interfaces.readdress(draft.serverId, e.addresses);
          continue;
        }
        // The project's own network refused: the project moves, and its default network's subnet and addresses follow.
        if (!(e instanceof SubnetUnavailable) || moves >= MAX_SUBNET_MOVES) throw e;
        if (spec.network === null && !spec.nics?.some((n) => n.projectDefault && n.subnet === e.subnet)) throw e;
        await this.subnets.refused(spec.projectId, e.subnet, `${e.host}: ${e.engineReason}`, e.inUse);
      }
    }
  }

  /**
   * The server's instance is now on `host` (moved there, or back: migrate, evacuate, revert,
   * unshelve): its ports are bound there, ACTIVE while it runs, and their listeners re-apply (its
   * floating IPs move with it). A failure is logged: the move itself is done.
   */
  async portsOn(serverId: string, host: string, info: Pick<InstanceInfo, 'powerState'>): Promise<void> {
    await this.interfaces?.bind(serverId, host, info.powerState === PowerStates.RUNNING)
      .catch((e) => this.log.warn({ server_id: serverId, host, err: (e as Error).message }, 'could not bind the ports of a server that moved'));
  }

  private async resolve(draft: InstanceDraft): Promise<InstanceSpec> {
    const nics = await this.interfaces?.interfacesOf(draft.serverId);
    if (nics) return { ...draft, network: null, nics };
    if (!draft.network) return { ...draft, network: null };
    return { ...draft, network: await this.subnets.networkFor(draft.network.projectId, draft.serverId) };
  }

  /** `image` undefined: the spec's engine image is not in the image store (a move's committed image). */
  private async spawnWithImage(driver: ComputeDriver, spec: InstanceSpec, image?: ImageRecord): Promise<InstanceInfo> {
    try {
      return await driver.spawn(spec);
    } catch (e) {
      if (!(e instanceof ImageNotOnHost) || !image) throw e;
      this.log.warn({ server_id: spec.serverId, host: driver.host, engine_image_id: spec.imageRef }, 'the engine lost the image: loading it again');
      await this.hostImages.ensureOnHost(image, driver, { recheck: true });
      return driver.spawn(spec);
    }
  }

  /** The InstanceSpec the driver boots for this server, but for its network's details (spawnFrom adds them). */
  specOf(server: ServerRecord, image: ImageRecord): InstanceDraft {
    return this.specFrom(server, image.engine_image_id!, commandOf(image));
  }

  /**
   * The draft from an engine image given directly: a move's destination boots from the image the
   * source committed, whose own command is the server's (`command` undefined).
   */
  specFrom(server: ServerRecord, imageRef: string, command?: string[]): InstanceDraft {
    const spec: InstanceDraft = {
      serverId: server.id,
      projectId: server.project_id,
      hostname: server.hostname,
      imageRef,
      memoryMb: server.flavor.ram,
      vcpus: server.flavor.vcpus,
      env: { ...server.metadata },
      network: server.requested_networks === 'none' ? null : { projectId: server.project_id },
    };
    if (command) spec.command = command;
    if (server.key_data) spec.authorizedKeys = server.key_data.endsWith('\n') ? server.key_data : `${server.key_data}\n`;
    if (server.user_data) spec.userData = Buffer.from(server.user_data, 'base64');
    const restartPolicy = restartPolicyOf(server.flavor.extra_specs);
    if (restartPolicy) spec.restartPolicy = restartPolicy;
    return spec;
  }

  async flavorFor(ref: string): Promise<FlavorRecord> {
    const id = idFromHref(String(ref));
    const flavor = id ? await this.flavors.get(id) : undefined;
    // NOTE(openstack): a disabled flavor is "not found" for boot (nova/compute/flavors.py).
    if (!flavor || flavor.disabled) throw badRequest(msg.flavorNotFound(id));
    return flavor;
  }

  /** The image to boot: visible, active, docker-format, loadable, and fitting the flavor. */
  async bootableImage(ctx: RequestContext, ref: string, flavor: { ram: number; disk: number }): Promise<ImageRecord> {
    const id = idFromHref(ref);
    const image = id && UUID_RE.test(id) ? await this.images.find(ctx, id) : undefined;
    if (!image) throw badRequest('Can not find requested image');
    if (image.status !== 'active') throw badRequest(`Image ${image.id} is not active.`);
    if (image.container_format !== 'docker' || !image.engine_image_id) {
      throw badRequest(`Image ${image.id} is unacceptable: only active images with container_format 'docker' can be booted (this one is '${image.container_format ?? 'none'}').`);
    }
    if (image.min_ram > flavor.ram) throw badRequest("Flavor's memory is too small for requested image.");
    if (flavor.disk > 0 && image.min_disk > flavor.disk) throw badRequest("Flavor's disk is too small for requested image.");
    return image;
  }

  /** `count` metadata items within the project's metadata_items quota, or a 403. */
  async checkMetadataQuota(projectId: string, count: number): Promise<void> {
    this.checkMetadataCount(count, (await this.quotas.limits(projectId)).metadata_items);
  }

  /** The project's quota limits. */
  quotaLimits(projectId: string) {
    return this.quotas.limits(projectId);
  }

  /** `count` metadata items within `limit` (-1: unlimited), or a 403. */
  checkMetadataCount(count: number, limit: number): void {
    if (limit >= 0 && count > limit) throw quotaExceeded(msg.quotaExceeded('metadata_items', count, 0, limit));
  }

  checkUserData(userData: string | undefined): void {
    if (userData === undefined) return;
    if (userData.length > MAX_USERDATA_SIZE) {
      throw badRequest(`User data too large. User data must be no larger than ${MAX_USERDATA_SIZE} bytes once base64 encoded. Your data is ${userData.length} bytes`);
    }
  }
}

/**
 * auto_disk_config of a server booted or rebuilt from `image` (compute/api.py
 * _inherit_properties_from_image): what was asked (OS-DCF:diskConfig), else the image's
 * `auto_disk_config` property; an image that says "disabled" refuses AUTO.
 */
export function autoDiskConfigFor(image: Pick<ImageRecord, 'id' | 'properties'>, requested: boolean | undefined): boolean {
  const raw = image.properties?.auto_disk_config;
  if (requested && raw?.trim().toLowerCase() === 'disabled') throw badRequest(`Requested image ${image.id} has automatic disk resize disabled.`);
  return requested ?? (raw === undefined ? false : boolFromString(raw) ?? false);
}

/** The flavor as embedded in the server (views at ≥ 2.47 show it even if the flavor is deleted). */
export function snapshotOf(f: FlavorRecord): FlavorSnapshot {
  return { id: f.id, name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, ephemeral: f.ephemeral, swap: f.swap, extra_specs: { ...f.extra_specs } };
}

/**
 * The image property os_command_line (as nova-docker had it) split into argv with shell rules;
 * shell operators are kept as literal words, never interpreted.
 */
export function commandOf(image: ImageRecord): string[] | undefined {
  const line = image.properties?.os_command_line;
  if (!line || !line.trim()) return undefined;
  const words = shellParse(line, (name) => `$${name}`).map((t) => {
    if (typeof t === 'string') return t;
    if ('op' in t && t.op === 'glob') return (t as { pattern: string }).pattern;
    if ('op' in t) return String(t.op);
    if ('comment' in t) return `#${t.comment}`;
    return String(t);
  });
  return words.length ? words : undefined;
}

