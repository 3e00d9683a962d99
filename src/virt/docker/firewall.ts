/**
 * Security groups enforced in each container's own network namespace (issue 17).
 *
 * Why there and not on the engine's bridge: a container's namespace holds exactly its traffic, on
 * every network it is attached to (bridge, overlay, an engine in another namespace on this
 * machine), so its rules need no interface or address bookkeeping on the bridge, never meet the
 * engine's own chains (DOCKER, DOCKER-ISOLATION…) or another server's, and go away with the
 * container: nothing is left behind when a server goes. Traffic to the host's own services
 * leaves through the container's OUTPUT chain, so egress rules decide it too. The price: a
 * restarted container has a new namespace, so rules are applied again at each start (the
 * enforcement listens for starts) and after an engine restart (the reconciler's sweep).
 *
 * How: the container's pid from the engine's inspect, then `nsenter --net=/proc/<pid>/ns/net
 * iptables-restore` (the host's iptables, nft-backed on Debian) with the whole filter table on
 * stdin: atomic, replacing what was there. The container itself needs no tools or privileges.
 */
import { spawn } from 'node:child_process';
import type Docker from 'dockerode';
import type { FirewallPolicy, ServerFirewall } from '../firewall';
import { renderIptables } from '../iptables';
import { connect } from './client';
import { containerName } from './labels';

/** Runs a command with `input` on stdin; rejects with its stderr when it fails. */
export type CommandRunner = (argv: string[], input: string) => Promise<void>;

export const runCommand: CommandRunner = (argv, input) => new Promise((resolve, reject) => {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.on('error', reject);
  child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`))));
  // A command that exits before reading its input (nsenter into a container that just stopped)
  // closes the pipe: EPIPE here must not be an unhandled error (it took the process down); the
  // exit status above is the answer.
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
});

export interface DockerFirewallOptions {
  /** The engine of each compute host (host name → docker host URL; undefined = the default socket). */
  engines: ReadonlyMap<string, string | undefined>;
  run?: CommandRunner;
}

export class DockerFirewall implements ServerFirewall {
  private readonly clients = new Map<string, Docker>();
  private readonly run: CommandRunner;

  constructor(private readonly opts: DockerFirewallOptions) {
    this.run = opts.run ?? runCommand;
  }

  private client(host: string): Docker {
    let c = this.clients.get(host);
    if (!c) {
      if (!this.opts.engines.has(host)) throw new Error(`no engine is configured for compute host ${host}`);
      c = connect(this.opts.engines.get(host));
      this.clients.set(host, c);
    }
    return c;
  }

  async apply(host: string, serverId: string, policy: FirewallPolicy): Promise<'applied' | 'notRunning'> {
    let pid: number;
    try {
      const info = await this.client(host).getContainer(containerName(serverId)).inspect();
      pid = info.State.Running ? info.State.Pid : 0;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return 'notRunning';
      throw e;
    }
    if (!pid) return 'notRunning';
    const ns = `--net=/proc/${pid}/ns/net`;
    await this.run(['nsenter', ns, 'iptables-restore'], renderIptables(policy, 4));
    await this.run(['nsenter', ns, 'ip6tables-restore'], renderIptables(policy, 6));
    return 'applied';
  }
}
