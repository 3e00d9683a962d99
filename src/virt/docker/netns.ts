/**
 * Acting inside a container's network namespace from novadock's machine (issue 17: security groups,
 * routes across hosts): the container's pid from its engine, then the host's own tools under
 * `nsenter --net=/proc/<pid>/ns/net`. The container needs no tools or privileges of its own.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { connect, statusOf } from './client';

/** Runs a command with `input` on stdin; rejects with its stderr when it fails. */
export type CommandRunner = (argv: string[], input: string) => Promise<void>;
/** Runs a command with `input` on stdin and resolves to its output; rejects with its stderr when it fails. */
export type CommandReader = (argv: string[], input: string) => Promise<string>;

export const runCommand: CommandRunner = async (argv, input) => {
  await spawned(argv, input, false);
};

export const readCommand: CommandReader = (argv, input) => spawned(argv, input, true);

const spawned = (argv: string[], input: string, keepOutput: boolean) => new Promise<string>((resolve, reject) => {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', keepOutput ? 'pipe' : 'ignore', 'pipe'] }) as ChildProcessByStdio<Writable, Readable | null, Readable>;
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.on('error', reject);
  child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`))));
  // A command that exits before reading its input (nsenter into a container that just stopped)
  // closes the pipe: EPIPE here must not be an unhandled error (it took the process down); the
  // exit status above is the answer.
  child.stdin.on('error', () => undefined);
  child.stdin.end(input);
});

/** What the parts acting in containers' namespaces are built with (DockerFirewall, DockerRouterEngine). */
export interface HostCommandOptions {
  /** The engine of each compute host (host name → docker host URL; undefined = the default socket). */
  engines: ReadonlyMap<string, string | undefined>;
  run?: CommandRunner;
  read?: CommandReader;
}

/** One engine client per configured compute host, made on first use. */
export class HostEngines {
  private readonly clients = new Map<string, Docker>();

  /** `engines`: compute host name → docker host URL (undefined = the default socket). */
  constructor(private readonly engines: ReadonlyMap<string, string | undefined>) {}

  of(host: string): Docker {
    let c = this.clients.get(host);
    if (!c) {
      if (!this.engines.has(host)) throw new Error(`no engine is configured for compute host ${host}`);
      c = connect(this.engines.get(host));
      this.clients.set(host, c);
    }
    return c;
  }
}

/** `--net=…` for nsenter into the container's namespace; undefined when it is not running (or gone). */
export async function containerNetns(docker: Docker, container: string): Promise<string | undefined> {
  try {
    const info = await docker.getContainer(container).inspect();
    return info.State.Running && info.State.Pid ? `--net=/proc/${info.State.Pid}/ns/net` : undefined;
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}

/** The base of the parts acting in containers' namespaces: an engine per host, and the command runner. */
export abstract class HostCommands {
  protected readonly engines: HostEngines;
  protected readonly run: CommandRunner;
  protected readonly read: CommandReader;

  constructor(opts: HostCommandOptions) {
    this.engines = new HostEngines(opts.engines);
    this.run = opts.run ?? runCommand;
    this.read = opts.read ?? readCommand;
  }
}
