/**
 * Resize in place on a Docker engine (issue 15): the container's cgroup limits change through
 * the engine's update call (`docker update --memory … --memory-swap … --cpus …`), set the way
 * createOptions (containers.ts) sets them at spawn — Memory and MemorySwap equal (no swap on top
 * of the flavor's RAM), NanoCpus capped at the engine's CPUs. No restart: the process keeps its
 * PID; a stopped container gets the limits at its next start.
 *
 * The container must be ours, this server's and this host's (labels) before it is touched. That
 * check is an inspect, a whole engine round trip on the resize's path; so the id of a container
 * once checked is remembered, and later resizes update that very id at once. Labels cannot
 * change on a container, so the id stays proof of ownership while it exists; a 404 (removed,
 * recreated) drops it and checks again by name. The driver forgets a server's id whenever it
 * removes its container or renames it aside for a move (driver.ts, moves.ts), so the id is
 * always the server's own instance, never a set-aside one.
 */
import type Docker from 'dockerode';
import { InstanceNotFound } from '../driver';
import { call, statusOf, translate } from './client';
import { SERVER_ID } from './containers';
import { LABEL_HOST, LABEL_MANAGED, LABEL_SERVER, containerName } from './labels';

export class DockerResizer {
  /** serverId → id of its container, checked to be ours and named for it. */
  private readonly checked = new Map<string, string>();

  constructor(private readonly docker: Docker, private readonly host: string) {}

  async resize(serverId: string, memoryMb: number, vcpus: number, hostCpus: number): Promise<void> {
    if (!SERVER_ID.test(serverId)) throw new InstanceNotFound(serverId);
    const memoryBytes = Math.floor(memoryMb) * 1024 * 1024;
    const cpus = Math.min(vcpus, Math.max(1, hostCpus));
    const limits = { Memory: memoryBytes, MemorySwap: memoryBytes, NanoCpus: Math.round(cpus * 1e9) };
    const known = this.checked.get(serverId);
    if (known) {
      try {
        await this.docker.getContainer(known).update(limits);
        return;
      } catch (e) {
        if (statusOf(e) !== 404) throw translate(this.host, e, serverId);
        this.checked.delete(serverId);
      }
    }
    const id = await this.ownedId(serverId);
    // By id: the name is ours (checked above), the id pins the very container we checked.
    await call(this.host, () => this.docker.getContainer(id).update(limits), serverId);
    this.checked.set(serverId, id);
  }

  /** The server's container was removed, recreated or renamed aside: check it again next time. */
  forget(serverId: string): void {
    this.checked.delete(serverId);
  }

  private async ownedId(serverId: string): Promise<string> {
    const info = await call(this.host, () => this.docker.getContainer(containerName(serverId)).inspect(), serverId);
    const labels = info.Config?.Labels ?? {};
    if (labels[LABEL_MANAGED] !== 'true' || labels[LABEL_SERVER] !== serverId || labels[LABEL_HOST] !== this.host) {
      throw new InstanceNotFound(serverId);
    }
    return info.Id;
  }
}
