/**
 * What the cluster suites share (issue 16): two real novadock processes over one database and data
 * directory, on a compute host name of their own and the real engine, with a token for each
 * process directly (`direct[i]`) and through the balancer (`lb`).
 *
 * Every wait is bounded; a bound is a give-up, never a pass/fail threshold: the times the issue
 * names are measured and printed. Clean-up runs in afterEach (registered here), so a failing or
 * timed-out test still leaves no process, container, network, database or data dir behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { startServer, StartedServer, StartOptions, NovadockProcess } from '../helpers/server';
import { busyboxImage, TestImage } from '../helpers/test-image';
import { Api, ContainerInfo, docker, ourContainers, ServerView, waitFor } from '../resilience/support';

export { Api, docker, ourContainers, waitFor };
export type { ContainerInfo, ServerView };

export interface Cluster {
  srv: StartedServer;
  /** The compute host both processes serve (unique to this test). */
  host: string;
  /** demo's token, sent to process i itself. */
  direct: Api[];
  /** demo's token through the balancer. */
  lb: Api;
  /** admin's token through the balancer. */
  admin: Api;
  image: TestImage;
  /** The worker id (membership) of each running process, read from the workers table by pid. */
  workerIdOf(p: NovadockProcess): string | undefined;
  /** The process holding the compute host's lease now (undefined: none, or a dead one). */
  leaseHolder(): NovadockProcess | undefined;
  cleanup(): Promise<void>;
}

const started: Cluster[] = [];

/** Registers the clean-up of every cluster a test starts (call once per file, at top level). */
export function cleanUpClustersAfterEach(): void {
  afterEach(async () => {
    for (const c of started.splice(0)) await c.cleanup();
  }, 300_000);
}

/** Two processes (whatever NOVADOCK_TEST_CLUSTER says) on host `cluster-<label>-<random>`. */
export async function startCluster(label: string, opts: Omit<StartOptions, 'processes'> = {}): Promise<Cluster> {
  const host = `cluster-${label}-${crypto.randomBytes(4).toString('hex')}`;
  const srv = await startServer({ ...opts, processes: 2, config: { ...(opts.config ?? {}), compute_hosts: [{ name: host }] } });
  // A variant of its own: removing it at clean-up never pulls an image from under another suite.
  const image = busyboxImage(`cluster-${label}`);
  const workers = () => srv.rows<{ id: string; pid: number }>('select id, pid from workers');
  let cleaned = false;
  const cluster: Cluster = {
    srv,
    host,
    direct: [],
    lb: new Api(srv.url, '', ''),
    admin: new Api(srv.url, '', ''),
    image,
    workerIdOf: (p) => workers().find((w) => Number(w.pid) === p.pid() && p.running())?.id,
    leaseHolder: () => {
      const holder = srv.rows<{ holder: string }>('select holder from leases where name = ?', `compute-host:${host}`)[0]?.holder;
      return srv.processes.find((p) => p.running() && holder !== undefined && cluster.workerIdOf(p) === holder);
    },
    cleanup: async () => {
      if (cleaned) return;
      cleaned = true;
      await srv.cleanup();
      // Containers of this host that no project of ours names (none expected: that is what the tests check).
      const left = (await docker(['ps', '-aq', '--filter', `label=novadock.host=${host}`])).stdout.split('\n').filter(Boolean);
      if (left.length) await docker(['rm', '-f', '-v', ...left]);
      await docker(['rmi', image.imageId]);
    },
  };
  started.push(cluster);
  const [demo, admin] = await Promise.all([srv.login('demo'), srv.login('admin')]);
  cluster.direct = srv.processes.map((p) => new Api(p.url, demo.token, demo.projectId));
  cluster.lb = new Api(srv.url, demo.token, demo.projectId);
  cluster.admin = new Api(srv.url, admin.token, admin.projectId);
  return cluster;
}

/** Uploads the cluster's busybox archive as a new image through `api`; returns its id. */
export async function uploadImage(api: Api, image: TestImage, name: string): Promise<string> {
  const created = await api.image('POST', '/images', { name, container_format: 'docker', disk_format: 'raw' });
  if (created.status !== 201) throw new Error(`POST /images: HTTP ${created.status} ${created.text}`);
  const id = (created.body as { id: string }).id;
  const put = await api.call('PUT', `/image/v2/images/${id}/file`, { body: fs.readFileSync(image.path), timeoutMs: 120_000 });
  if (put.status !== 204) throw new Error(`PUT /images/${id}/file: HTTP ${put.status} ${put.text}`);
  return id;
}

/** Boots one server and waits (bounded) until it has settled; returns its view. */
export async function bootSettled(api: Api, imageId: string, name: string): Promise<ServerView> {
  const r = await api.compute('POST', '/servers', { server: { name, imageRef: imageId, flavorRef: '1' } });
  if (r.status !== 202) throw new Error(`POST /servers: HTTP ${r.status} ${r.text}`);
  const id = (r.body as { server: { id: string } }).server.id;
  const s = await waitFor(() => api.server(id), (v) => v['OS-EXT-STS:task_state'] === null && v.status !== 'BUILD', 120_000);
  return s.value;
}

/**
 * A raw HTTP/1.1 PUT that announces `total` bytes and sends only `first`, then holds the socket
 * open (an upload in progress) until `abort()`.
 */
export function partialUpload(url: string, urlPath: string, token: string, bytes: Buffer, first: number): Promise<{ abort(): void; answer(): string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: hostname, port: Number(port) });
    let answer = '';
    sock.on('data', (d) => { answer += d.toString('latin1'); });
    sock.on('error', () => undefined);
    sock.once('connect', () => {
      sock.write([
        `PUT ${urlPath} HTTP/1.1`, `Host: ${hostname}:${port}`, `X-Auth-Token: ${token}`,
        'Content-Type: application/octet-stream', `Content-Length: ${bytes.length}`, '', '',
      ].join('\r\n'));
      sock.write(bytes.subarray(0, first), (err) => (err ? reject(err) : resolve({ abort: () => sock.destroy(), answer: () => answer })));
    });
  });
}
