/**
 * A relay in front of a Docker engine's Unix socket, which a test can cut and restore: the engine
 * keeps running (it may be shared with other tests), but for a novadock configured with the
 * relay's socket as that compute host's docker_host, the host is gone — new connections fail and
 * open ones (the event stream) break — until the relay is opened again.
 */
import fs from 'node:fs';
import net from 'node:net';

export class SocketProxy {
  private server: net.Server | undefined;
  private readonly open = new Set<net.Socket>();

  /** `target`: the engine's socket path; `path`: where the relay listens. */
  constructor(readonly target: string, readonly path: string) {}

  /** The relay's docker_host (unix://…). */
  get dockerHost(): string {
    return `unix://${this.path}`;
  }

  async start(): Promise<void> {
    fs.rmSync(this.path, { force: true });
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('close', () => this.open.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => resolve());
    });
    this.server = server;
  }

  /** The host goes away: no new connection is accepted, open ones are cut. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.open) s.destroy();
    this.open.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(this.path, { force: true });
  }
}
