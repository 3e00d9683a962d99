/**
 * A server's ports changed (attached, detached, deleted, moved host): the parts that act on a
 * server through its ports (security-group enforcement, floating-IP forwards, the compute side)
 * hear it here. Listeners run one after another; one that fails does not keep the others from
 * hearing, and `emit` never rejects (a listener's failure is its own to log).
 */
export type PortListener = (serverId: string) => Promise<void> | void;

export class PortEvents {
  private readonly listeners: PortListener[] = [];

  on(listener: PortListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  async emit(serverId: string): Promise<void> {
    for (const l of [...this.listeners]) {
      try {
        await l(serverId);
      } catch {
        // the listener logs its own failures
      }
    }
  }
}
