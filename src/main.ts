/**
 * novadock: one process, the devstack layout on one port. Owns listen, signals and the drain.
 */
import path from 'node:path';
import http from 'node:http';
import { loadConfig } from './config';
import { createLogger } from './log';
import { buildServices } from './compose';
import { createApp } from './app';
import { DockerDriver } from './virt/docker/driver';
import { DockerFirewall } from './virt/docker/firewall';
import { DockerRouterEngine } from './virt/docker/router-engine';
import { ConfiguredSwarmManagers } from './virt/docker/swarm';
import { FileImageStore } from './store/file-store';
import { answerMalformedRequests } from './http/client-error';
import { missingNodeFlags } from './node-flags';
import { SerialConsoleProxy } from './console/serial-proxy';

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const missing = missingNodeFlags();
  if (missing.length > 0) log.warn({ missing }, 'node was started without novadock\'s flags (see npm start): large uploads will spend more CPU in garbage collection');
  const dockerHostOf = (h: { docker_host?: string }) => h.docker_host ?? config.dockerHost;
  // Project networks spanning hosts are made through a swarm manager among the configured hosts.
  const swarm = new ConfiguredSwarmManagers(config.seed.compute_hosts.map(dockerHostOf), log);
  const drivers = config.seed.compute_hosts.map((h) => new DockerDriver({
    host: h.name, dockerHost: dockerHostOf(h), log, swarm, encryptedNetworks: config.projectNetworkEncrypted,
  }));
  const store = new FileImageStore(path.join(config.dataDir, 'images'));
  // issue 17 (net-secgroups): security groups enforced in containers' network namespaces on each host's engine
  const engines = new Map(config.seed.compute_hosts.map((h) => [h.name, dockerHostOf(h)]));
  const firewall = new DockerFirewall({ engines });
  // issue 17: routers on project networks spanning hosts (a container of the router's own on the overlays)
  const routerEngine = new DockerRouterEngine({ engines });
  const services = await buildServices({ config, log, drivers, store, firewall, routerEngine });
  await services.reconciler.start();

  const app = createApp(services, log);
  const server = http.createServer(app);
  answerMalformedRequests(server);
  // The serial console's websocket, on this same port (src/console/serial-proxy.ts).
  const serialConsoles = new SerialConsoleProxy(services.compute.consoles, log);
  serialConsoles.attach(server);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Uploads of large images stream for as long as they take.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.bind, () => resolve());
  });
  log.info({ bind: config.bind, port: config.port, public_url: config.publicUrl, data_dir: config.dataDir }, 'novadock listening');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    void serialConsoles.close();
    server.close(() => {
      services.close().then(() => {
        log.info('stopped');
        process.exit(0);
      }, (e) => {
        log.error({ err: e }, 'error while closing');
        process.exit(1);
      });
    });
    // Idle keep-alive connections would hold close() open.
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 30_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`novadock failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
