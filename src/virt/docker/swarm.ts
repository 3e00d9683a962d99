/**
 * Swarm mode, as the driver needs it: whether this engine's project networks should span hosts,
 * and through which engine to create them.
 *
 * A network that spans hosts is an attachable overlay network, a swarm object: only a manager
 * creates it, and a worker sees it only once one of its containers is attached. So a driver whose
 * engine is a worker needs a manager of its swarm; the composition root hands every driver one
 * SwarmManagers over all the configured compute hosts' engines, and the driver asks it for a
 * manager among those its own engine names (Swarm.RemoteManagers). An engine in no swarm, or in
 * one none of whose managers is a configured host, keeps host-local bridges: a single-host setup
 * needs no swarm.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { connect } from './client';

/** The part of `docker info` that describes swarm membership. */
export interface SwarmInfo {
  NodeID?: string;
  LocalNodeState?: string;
  ControlAvailable?: boolean;
  RemoteManagers?: { NodeID: string; Addr: string }[] | null;
}

/** Finds a manager engine among the configured compute hosts. */
export interface SwarmManagers {
  /**
   * An engine that is a manager and whose node id is one of `nodeIds`; undefined when every
   * engine answered and none is. Throws when none is found but some did not answer: a manager
   * may be among them, and a worker whose manager is away cannot attach to an overlay anyway.
   */
  managerOf(nodeIds: string[]): Promise<Docker | undefined>;
}

/** The swarm state of an engine, with a short deadline (an engine that is down must not hold a spawn). */
export async function swarmInfo(docker: Docker, timeoutMs: number): Promise<SwarmInfo | undefined> {
  const info = (await (docker as unknown as { info(o: { abortSignal: AbortSignal }): Promise<{ Swarm?: SwarmInfo }> }).info({ abortSignal: AbortSignal.timeout(timeoutMs) }));
  return info.Swarm;
}

/** True when the engine is an active member of a swarm. */
export const inSwarm = (s: SwarmInfo | undefined): s is SwarmInfo => s?.LocalNodeState === 'active';

/** SwarmManagers over the engines of the configured compute hosts (endpoints as in compute_hosts). */
export class ConfiguredSwarmManagers implements SwarmManagers {
  private readonly engines: Docker[];

  constructor(dockerHosts: (string | undefined)[], private readonly log: Logger, private readonly timeoutMs = 2000) {
    const unique = [...new Set(dockerHosts.map((h) => h ?? ''))];
    this.engines = unique.map((h) => connect(h || undefined));
  }

  async managerOf(nodeIds: string[]): Promise<Docker | undefined> {
    const wanted = new Set(nodeIds);
    const silent: string[] = [];
    const answers = await Promise.all(this.engines.map(async (engine) => {
      try {
        const s = await swarmInfo(engine, this.timeoutMs);
        return inSwarm(s) && s.ControlAvailable && s.NodeID && wanted.has(s.NodeID) ? engine : undefined;
      } catch (e) {
        silent.push((e as Error).message);
        return undefined;
      }
    }));
    const manager = answers.find((e) => e !== undefined);
    if (!manager && silent.length > 0) {
      this.log.warn({ errors: silent }, 'no swarm manager among the configured compute hosts answered');
      throw new Error(`no manager of the engine's swarm among the configured compute hosts answered (${silent.join('; ')})`);
    }
    return manager;
  }
}
