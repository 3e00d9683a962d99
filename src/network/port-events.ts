/**
 * "A server's ports changed on its host" (issue 17): net-compute emits it after a container starts,
 * attaches, detaches or stops, and after a port joins or leaves a security group; security group
 * enforcement and floating-IP forwards listen, and bring the host in line with the rows.
 */
export type PortListener = (serverId: string) => void;

export class PortEvents {
  private readonly listeners: PortListener[] = [];

  on(listener: PortListener): () => void {
    this.listeners.push(listener);
    return () => { this.listeners.splice(this.listeners.indexOf(listener), 1); };
  }

  emit(serverId: string): void {
    for (const l of this.listeners) l(serverId);
  }
}
