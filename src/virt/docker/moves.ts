/**
 * Cold moves on one Docker engine (the InstanceMoves port): the source's container is stopped,
 * committed to an image labelled for the move, and renamed aside (`novadock-<id>_resize`, as
 * Nova's libvirt keeps `<uuid>_resize`), so the destination may create `novadock-<id>` even on
 * this same engine (two compute hosts configured on one engine). Confirm removes the set-aside
 * container; revert renames it back and starts it. Containers are always checked to be ours and
 * this host's (labels) before anything is done to them.
 *
 * The committed image carries LABEL_MOVE_OF, and a container created from it inherits the
 * label: destroy() (driver.ts → destroyRest) removes the image with the container, and every
 * end of a move removes the move's images no container uses.
 */
import type Docker from 'dockerode';
import { InstanceInfo, InstanceMoves, InstanceNotFound } from '../driver';
import { call, statusOf, translate, callOn } from './client';
import { infoFromInspect } from './containers';
import type { DockerImages } from './images';
import { BLANK_LABELS, LABEL_HOST, LABEL_MANAGED, LABEL_MIGRATION, LABEL_MOVE_OF, LABEL_SERVER, containerName, setAsideName } from './labels';

export class DockerMoves implements InstanceMoves {
  /** `moved`: told of every server whose container is renamed or removed here (resize.ts forgets its id). */
  constructor(
    private readonly docker: Docker, private readonly host: string, private readonly images: DockerImages,
    private readonly moved: (serverId: string) => void = () => undefined,
    /** Names of the network service's networks by engine network name (addresses' labels, issue 17). */
    private readonly netLabels: (names: string[]) => Promise<ReadonlyMap<string, string>> = async () => new Map(),
  ) {}

  async migrateDiskAndPowerOff(serverId: string, migrationId: string, timeoutSeconds: number): Promise<string> {
    this.moved(serverId);
    const c = (await this.find(containerName(serverId), serverId)) ?? (await this.find(setAsideName(serverId), serverId));
    if (!c) throw new InstanceNotFound(serverId);
    const container = this.docker.getContainer(c.Id);
    await this.op(serverId, () => container.stop({ t: Math.max(0, Math.floor(timeoutSeconds)) }), [304]);
    const res = (await this.op(serverId, () => container.commit({
      _query: { container: c.Id, pause: false, comment: `move of server ${serverId}` },
      _body: { Labels: { ...BLANK_LABELS, [LABEL_MOVE_OF]: serverId, [LABEL_MIGRATION]: migrationId } },
    }))) as { Id?: string } | undefined;
    if (!res?.Id) throw new Error(`Compute host ${this.host}: the engine returned no image id for the move of ${serverId}`);
    if (c.Name !== `/${setAsideName(serverId)}`) await this.op(serverId, () => container.rename({ name: setAsideName(serverId) }));
    return res.Id.startsWith('sha256:') ? res.Id : `sha256:${res.Id}`;
  }

  async confirmMigration(serverId: string): Promise<void> {
    this.moved(serverId);
    const aside = await this.find(setAsideName(serverId), serverId);
    if (aside) await this.remove(aside.Id);
    await this.removeMoveImages(serverId);
  }

  async finishRevertMigration(serverId: string, powerOn: boolean): Promise<InstanceInfo> {
    this.moved(serverId);
    const aside = await this.find(setAsideName(serverId), serverId);
    const c = aside ?? (await this.find(containerName(serverId), serverId));
    if (!c) throw new InstanceNotFound(serverId);
    const container = this.docker.getContainer(c.Id);
    if (aside) {
      await this.op(serverId, () => container.rename({ name: containerName(serverId) })).catch((e) => {
        if (statusOf(e) === 409) throw new Error(`Compute host ${this.host}: the instance of server ${serverId} cannot be restored, another one holds its name.`);
        throw e;
      });
    }
    if (powerOn) await this.op(serverId, () => container.start(), [304]);
    await this.removeMoveImages(serverId);
    const info = await call(this.host, () => container.inspect(), serverId);
    return infoFromInspect(info, await this.netLabels(Object.keys(info.NetworkSettings?.Networks ?? {})));
  }

  /**
   * What destroy() removes besides the server's container (`removed`, as inspected before its
   * removal): an instance of the server set aside on this host, the image a move left the
   * removed container running from, and the server's other move images no container uses.
   */
  async destroyRest(serverId: string, removed: Docker.ContainerInspectInfo | undefined): Promise<void> {
    const aside = await this.find(setAsideName(serverId), serverId);
    if (aside) await this.remove(aside.Id);
    if (aside || removed?.Config?.Labels?.[LABEL_MOVE_OF] === serverId) await this.removeMoveImages(serverId);
  }

  /** Images of the server's moves on this engine that no container uses (removeImage keeps used ones). */
  private async removeMoveImages(serverId: string): Promise<void> {
    const list = await call(this.host, () => this.docker.listImages({ filters: { label: [`${LABEL_MOVE_OF}=${serverId}`] } }));
    for (const img of list) await this.images.removeImage(img.Id);
  }

  /** The container by name, only if it is ours, this server's and this host's. */
  private async find(name: string, serverId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(name).inspect();
    } catch (e) {
      if (statusOf(e) === 404) return undefined;
      throw translate(this.host, e, serverId);
    }
    const labels = info.Config?.Labels ?? {};
    const ours = labels[LABEL_MANAGED] === 'true' && labels[LABEL_SERVER] === serverId && labels[LABEL_HOST] === this.host;
    return ours ? info : undefined;
  }

  private async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      // 404: gone already; 409: a removal is already under way.
      if (statusOf(e) !== 404 && statusOf(e) !== 409) throw translate(this.host, e);
    }
  }

  /** One engine call on an instance (callOn on this host). */
  private op<T>(serverId: string, fn: () => Promise<T>, ok: number[] = []): Promise<T | undefined> {
    return callOn(this.host, serverId, fn, ok);
  }
}
