/**
 * novadock's Prometheus metrics (issue 18): one registry per Metrics object, so that every app a
 * process builds (the tests build many) counts on its own, and the process-wide figures (CPU,
 * memory, event loop, GC: prom-client's default metrics under their standard `process_*` and
 * `nodejs_*` names) in one registry of the process, collected once and served by every app.
 *
 * Nothing here knows HTTP, the database or Docker: the services report through small observer
 * ports (ActionRepository's onFinished, ImageUploads' UploadObserver, the reconciler's lag, the
 * driver's engine-error listener), and the servers' states are read at scrape time through
 * `serverStates` (a read path: the database only). The names are documented in docs/metrics.md.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** One group of servers as counted in the database. */
export interface ServerStateCount {
  vm_state: string;
  task_state: string | null;
  count: number;
}

export interface MetricsDeps {
  /** Servers (not deleted) by vm_state and task_state, read at each scrape. */
  serverStates(): Promise<ServerStateCount[]>;
}

/** Buckets (seconds) of API requests: most answer in milliseconds, uploads and downloads take long. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];
/** Buckets (seconds) of background tasks and boots: a container starts in about a second, an image load takes longer. */
const TASK_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
/** Buckets (seconds) of the reconciler's lag: an event is normally in the database within milliseconds. */
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets (seconds) of image uploads. */
const UPLOAD_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

let processRegistry: Registry | undefined;

/** The process's own figures, collected once per process (collectors are never stopped). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export type Outcome = 'success' | 'error';

export class Metrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;

  private readonly requestDuration = new Histogram({
    name: 'novadock_http_request_duration_seconds',
    help: 'API requests by method, route template and status code, from arrival to the last byte sent.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });

  private readonly inFlight = new Gauge({
    name: 'novadock_http_requests_in_flight',
    help: 'API requests received and not yet answered.',
    registers: [this.registry],
  });

  private readonly actionDuration = new Histogram({
    name: 'novadock_server_action_duration_seconds',
    help: 'Server actions (Nova instance actions: create, stop, reboot, createImage, ...) from the API call to the end of their work, by action and result.',
    labelNames: ['action', 'result'] as const,
    buckets: TASK_BUCKETS,
    registers: [this.registry],
  });

  private readonly bootDuration = new Histogram({
    name: 'novadock_server_boot_duration_seconds',
    help: 'Boots from POST /servers to ACTIVE (success) or ERROR (error).',
    labelNames: ['result'] as const,
    buckets: TASK_BUCKETS,
    registers: [this.registry],
  });

  private readonly uploadBytes = new Counter({
    name: 'novadock_image_upload_bytes_total',
    help: 'Bytes of image data stored by uploads that succeeded.',
    registers: [this.registry],
  });

  private readonly uploadDuration = new Histogram({
    name: 'novadock_image_upload_duration_seconds',
    help: 'Image uploads (PUT /v2/images/{id}/file) from the first byte read to active (success) or back to queued (error).',
    labelNames: ['result'] as const,
    buckets: UPLOAD_BUCKETS,
    registers: [this.registry],
  });

  private readonly reconcilerLag = new Histogram({
    name: 'novadock_reconciler_lag_seconds',
    help: "From an engine event's time (the engine's clock) to the reconciler having brought the server's row into line, by compute host.",
    labelNames: ['host'] as const,
    buckets: LAG_BUCKETS,
    registers: [this.registry],
  });

  private readonly engineErrors = new Counter({
    name: 'novadock_docker_errors_total',
    help: 'Docker engine API calls that failed, by compute host, call (method and path template) and code (HTTP status, or the socket error).',
    labelNames: ['host', 'operation', 'code'] as const,
    registers: [this.registry],
  });

  constructor(deps: MetricsDeps) {
    const states = deps.serverStates;
    new Gauge({
      name: 'novadock_servers',
      help: 'Servers (not deleted) by vm_state and task_state ("none" when no task), read from the database at each scrape.',
      labelNames: ['vm_state', 'task_state'] as const,
      registers: [this.registry],
      async collect() {
        // A database that does not answer leaves this family empty rather than failing the whole
        // scrape: the process figures are most wanted then (/healthcheck says what is down).
        const rows = await states().catch(() => []);
        this.reset();
        for (const r of rows) this.set({ vm_state: r.vm_state, task_state: r.task_state ?? 'none' }, r.count);
      },
    });
    processMetrics();
  }

  /** The exposition text: this app's metrics, then the process's. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    const proc = await processMetrics().metrics();
    return `${own.trimEnd()}\n${proc}`;
  }

  // ---------------------------------------------------------------- observers

  requestStarted(): void {
    this.inFlight.inc();
  }

  requestFinished(method: string, route: string, status: number, seconds: number): void {
    this.inFlight.dec();
    this.requestDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** An instance action finished (ActionRepository's onFinished); `create` is also a boot. */
  actionFinished(a: { action: string; result: 'Success' | 'Error'; seconds: number }): void {
    const result: Outcome = a.result === 'Success' ? 'success' : 'error';
    this.actionDuration.observe({ action: a.action, result }, a.seconds);
    if (a.action === 'create') this.bootDuration.observe({ result }, a.seconds);
  }

  uploadFinished(u: { result: Outcome; bytes: number; seconds: number }): void {
    if (u.result === 'success') this.uploadBytes.inc(u.bytes);
    this.uploadDuration.observe({ result: u.result }, u.seconds);
  }

  reconciled(host: string, lagSeconds: number): void {
    this.reconcilerLag.observe({ host }, Math.max(0, lagSeconds));
  }

  engineCallFailed(host: string, operation: string, code: string): void {
    this.engineErrors.inc({ host, operation, code });
  }
}
