/**
 * Resize in place on a Docker engine (issue 15): the container's cgroup limits change through
 * the engine's update call (`docker update --memory … --memory-swap … --cpus …`), set the way
 * createOptions (containers.ts) sets them at spawn — Memory and MemorySwap equal (no swap on top
 * of the flavor's RAM), NanoCpus capped at the engine's CPUs. No restart: the process keeps its
 * PID; a stopped container gets the limits at its next start.
 */
import type Docker from 'dockerode';
import { InstanceNotFound } from '../driver';
import { call } from './client';
import { SERVER_ID } from './containers';
import { LABEL_HOST, LABEL_MANAGED, LABEL_SERVER, containerName } from './labels';

export async function resizeContainer(docker: Docker, host: string, serverId: string, memoryMb: number, vcpus: number, hostCpus: number): Promise<void> {
  if (!SERVER_ID.test(serverId)) throw new InstanceNotFound(serverId);
  const container = docker.getContainer(containerName(serverId));
  const info = await call(host, () => container.inspect(), serverId);
  const labels = info.Config?.Labels ?? {};
  if (labels[LABEL_MANAGED] !== 'true' || labels[LABEL_SERVER] !== serverId || labels[LABEL_HOST] !== host) {
    throw new InstanceNotFound(serverId);
  }
  const memoryBytes = Math.floor(memoryMb) * 1024 * 1024;
  const cpus = Math.min(vcpus, Math.max(1, hostCpus));
  // By id: the name is ours (checked above), the id pins the very container we checked.
  await call(host, () => docker.getContainer(info.Id).update({ Memory: memoryBytes, MemorySwap: memoryBytes, NanoCpus: Math.round(cpus * 1e9) }), serverId);
}
