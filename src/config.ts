/**
 * Settings: environment variables for the process, a JSON file (NOVADOCK_CONFIG) for what to seed.
 * Defaults work with no settings at all: data under ./data, Docker at DOCKER_HOST or the local socket.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface SeedProject { name: string; domain?: string; description?: string; id?: string }
export interface SeedUser {
  name: string;
  password: string;
  project: string;
  roles?: string[];
  domain?: string;
  id?: string;
}
export interface SeedFlavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  ephemeral?: number;
  swap?: number;
  is_public?: boolean;
  description?: string | null;
  extra_specs?: Record<string, string>;
}
export interface ComputeHostConfig {
  /** Name shown as OS-EXT-SRV-ATTR:host and hypervisor_hostname. */
  name: string;
  /** Docker endpoint: unix:///path, tcp://host:port; unset = DOCKER_HOST or the local socket. */
  docker_host?: string;
  /** This host's own capacity settings (HostCapacityConfig, Nova's names); unset = the process-wide ones. */
  cpu_allocation_ratio?: number;
  ram_allocation_ratio?: number;
  reserved_host_memory_mb?: number;
  reserved_host_cpus?: number;
  /**
   * host[:port] this host's engine reaches novadock's registry at, to pull pushed images (issue 14;
   * no port: novadock's own); unset = NOVADOCK_REGISTRY_ADDRESS, else the public URL's. An engine in another network
   * namespace or machine cannot reach 127.0.0.1, and must allow the address as an insecure registry
   * unless it is served over TLS.
   */
  registry_address?: string;
  // issue 17 (floating IPs): where this host's external network is
  /** The host's interface or bridge on the external network (unset: NOVADOCK_EXTERNAL_INTERFACE). */
  external_interface?: string;
  /** Path of the engine's network namespace (e.g. /run/netns/novadock-h1) when it is not novadock's own. */
  netns?: string;
}

/**
 * What the scheduler may allocate on a compute host, with Nova's meanings (nova.conf
 * reserved_host_memory_mb, reserved_host_cpus, cpu_allocation_ratio, ram_allocation_ratio):
 * a host fits a flavor while (total - reserved) * ratio - allocated >= the flavor's demand.
 */
export interface HostCapacityConfig {
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  reservedHostMemoryMb: number;
  reservedHostCpus: number;
}

/**
 * The ratios Nova shipped before Stein (cpu 16.0, ram 1.5: today's initial_* are 4.0 and 1.0) and
 * Nova's reserve (512 MiB, 0 CPUs). A container's vCPUs are a CPU limit, not pinned cores, and its
 * memory a ceiling, not a reservation, so a container host is overcommitted as Nova's older hosts
 * were: with today's 4.0 a 2-CPU laptop would take eight one-vCPU servers, fewer than the default
 * quota lets a project boot.
 */
export const DEFAULT_CAPACITY: HostCapacityConfig = { cpuAllocationRatio: 16.0, ramAllocationRatio: 1.5, reservedHostMemoryMb: 512, reservedHostCpus: 0 };
export interface QuotaConfig {
  instances: number; cores: number; ram: number; key_pairs: number; metadata_items: number;
  /** Server groups per project, and servers per group and user (Nova's defaults: 10 and 10). */
  server_groups: number; server_group_members: number;
}
/** Where project subnets come from (src/compute/services/project-subnets.ts checks and uses it). */
export interface ProjectNetworkSettings {
  /** IPv4 range the project subnets are carved from (CIDR). */
  range: string;
  /** Prefix length of each project's subnet. */
  prefix: number;
}

/**
 * 10.160.0.0/12 (10.160.0.0 – 10.175.255.255): private, clear of Docker's default pools
 * (172.17-31/16, 192.168/16 in /20s), the swarm's default overlay pool start (10.0.0.0/8 from
 * 10.0.0.0/24 up: ingress), Kubernetes' usual 10.96/12 and 10.244/16, and the usual home and
 * office LANs. /24 each: 4,096 projects of up to 253 addresses.
 */
export const DEFAULT_PROJECT_NETWORKS: ProjectNetworkSettings = { range: '10.160.0.0/12', prefix: 24 };


// issue 18 part 4: logins that cannot stall the cloud
/** Keystone's lockout, a per-address limit on failed logins, and the password check threads. */
export interface LoginSettings {
  /** NOVADOCK_LOCKOUT_FAILURE_ATTEMPTS (Keystone's lockout_failure_attempts): failures before a user is locked; 0 = never. */
  lockoutFailureAttempts: number;
  /** NOVADOCK_LOCKOUT_DURATION (Keystone's lockout_duration): seconds a lock lasts after the last failure; 0 = until an admin enables the user. */
  lockoutDuration: number;
  /** NOVADOCK_AUTH_FAILURE_LIMIT: failed logins (401) per client address per window before 429; 0 = no limit. */
  authFailureLimit: number;
  /** NOVADOCK_AUTH_FAILURE_WINDOW: that window, in seconds. */
  authFailureWindow: number;
  /** NOVADOCK_AUTH_FAILURE_DELAY: ms a 429 for failed logins is held back, so that a client asking again at once is slowed (0: none). */
  authFailureDelayMs?: number;
  /** NOVADOCK_PASSWORD_THREADS: threads checking passwords (unset: one per two cores). */
  passwordThreads?: number;
  /** NOVADOCK_PASSWORD_QUEUE: password checks that may wait for a thread before logins get 503. */
  passwordQueue: number;
  /** NOVADOCK_PASSWORD_NICE: how much lower the password threads' CPU priority is (Linux nice, 0-19; unset: the pool's default). */
  passwordNice?: number;
}

export const DEFAULT_AUTH_FAILURE_DELAY_MS = 1000;
export const DEFAULT_LOGIN: LoginSettings = { lockoutFailureAttempts: 10, lockoutDuration: 300, authFailureLimit: 20, authFailureWindow: 60, passwordQueue: 64 };

function loginFrom(env: NodeJS.ProcessEnv): LoginSettings {
  const d = DEFAULT_LOGIN;
  const threads = intFrom(env, 'NOVADOCK_PASSWORD_THREADS', 0);
  return {
    lockoutFailureAttempts: intFrom(env, 'NOVADOCK_LOCKOUT_FAILURE_ATTEMPTS', d.lockoutFailureAttempts),
    lockoutDuration: intFrom(env, 'NOVADOCK_LOCKOUT_DURATION', d.lockoutDuration),
    authFailureLimit: intFrom(env, 'NOVADOCK_AUTH_FAILURE_LIMIT', d.authFailureLimit),
    authFailureWindow: Math.max(1, intFrom(env, 'NOVADOCK_AUTH_FAILURE_WINDOW', d.authFailureWindow)),
    authFailureDelayMs: intFrom(env, 'NOVADOCK_AUTH_FAILURE_DELAY', DEFAULT_AUTH_FAILURE_DELAY_MS),
    passwordThreads: threads > 0 ? threads : undefined,
    passwordQueue: intFrom(env, 'NOVADOCK_PASSWORD_QUEUE', d.passwordQueue),
    passwordNice: env.NOVADOCK_PASSWORD_NICE ? Math.min(19, intFrom(env, 'NOVADOCK_PASSWORD_NICE', 0)) : undefined,
  };
}

export interface SeedConfig {
  projects: SeedProject[];
  users: SeedUser[];
  flavors: SeedFlavor[];
  compute_hosts: ComputeHostConfig[];
  quotas: QuotaConfig;
}

export interface Config {
  port: number;
  bind: string;
  publicUrl: string;
  dataDir: string;
  /**
   * A postgres:// (or postgresql://) URL to keep the records in PostgreSQL; unset = SQLite in
   * <dataDir>/novadock.sqlite. The data directory still holds the token secret and image files.
   */
  databaseUrl?: string;
  adminPassword?: string;
  dockerHost?: string;
  /** Tokens live this long (seconds). Tempest re-authenticates 60 s before expiry, so hours. */
  tokenTtlSeconds: number;
  /** Largest image upload accepted, in bytes (413 above). */
  maxImageSize: number;
  logLevel: string;
  /** Capacity settings of every compute host without its own (compute_hosts entries may override them); DEFAULT_CAPACITY when absent. */
  capacity?: HostCapacityConfig;
  /** Project subnets: NOVADOCK_PROJECT_NETWORK_RANGE and _PREFIX (unset: DEFAULT_PROJECT_NETWORKS). */
  projectNetworks?: ProjectNetworkSettings;
  /**
   * NOVADOCK_PROJECT_NETWORK_ENCRYPTED: project networks that span hosts encrypt their traffic
   * between hosts (Docker's encrypted overlay: IPsec ESP, which the hosts' kernels must have).
   */
  projectNetworkEncrypted?: boolean;
  /**
   * NOVADOCK_SHELVED_OFFLOAD_TIME (Nova's shelved_offload_time): seconds a shelved server keeps
   * its stopped instance on its host before it is offloaded; 0 = at once (the default), -1 = never.
   */
  shelvedOffloadTime?: number;
  /**
   * NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT (Nova's resume_guests_state_on_host_boot, default
   * false): when a compute host's engine comes back after a restart, servers that were ACTIVE
   * and whose containers it stopped are started again instead of going SHUTOFF.
   */
  resumeGuestsStateOnHostBoot?: boolean;
  seed: SeedConfig;
  // issue 17 (floating IPs)
  /** NOVADOCK_EXTERNAL_INTERFACE: the hosts' interface or bridge on the external network (floating IPs, router SNAT). */
  externalInterface?: string;
  /** NOVADOCK_NAT_CHAIN_TAG: a suffix for this novadock's NAT chains, when several share one host's namespace (tests). */
  natChainTag?: string;
  /** Seconds a serial console token stays usable: NOVADOCK_CONSOLE_TOKEN_TTL (Nova's [consoleauth] token_ttl, 600). */
  consoleTokenTtlSeconds?: number;
  /** NOVADOCK_SERIAL_CONSOLE_BASE_URL (Nova's [serial_console] base_url); unset: serialConsoleBaseUrl(). */
  serialConsoleBaseUrl?: string;
  /** Path of the seed file, if any (for messages). */
  configFile?: string;
  // issue 18 part 4: logins that cannot stall the cloud
  /** Lockout, failure limit and password threads (unset: DEFAULT_LOGIN). */
  login?: LoginSettings;
  /** Who may read GET /metrics (issue 18); absent: loopback only. */
  metrics?: MetricsSettings;
  // ---- issue 14: the embedded registry (/v2/)
  /** NOVADOCK_REGISTRY_MAX_BLOB_SIZE: largest blob (layer) a push may send, in bytes (default: maxImageSize). */
  registryMaxBlobSize?: number;
  /** NOVADOCK_REGISTRY_UPLOAD_TIMEOUT: seconds an upload may sit untouched before the sweep removes it (default 3600). */
  registryUploadTimeoutSeconds?: number;
  /** NOVADOCK_REGISTRY_ANONYMOUS_PULL: pulls of repositories holding public images need no login (default false). */
  registryAnonymousPull?: boolean;
  /** NOVADOCK_REGISTRY_ADDRESS: host[:port] (no port: novadock's own) the compute hosts' engines pull from (default: the public URL's); compute_hosts[].registry_address overrides it per host. */
  registryAddress?: string;
}

// ---------------------------------------------------------------- metrics (issue 18)

/** Who may scrape GET /metrics without a Keystone token (src/http/metrics.ts). */
export interface MetricsSettings {
  /** NOVADOCK_METRICS_ALLOW: comma-separated CIDRs that may scrape; default loopback; '' = none. */
  allow: string[];
  /** NOVADOCK_METRICS_TOKEN: a bearer token that lets any address scrape; unset = none. */
  token?: string;
}

export const DEFAULT_METRICS_ALLOW = ['127.0.0.0/8', '::1/128'];

function metricsFrom(env: NodeJS.ProcessEnv): MetricsSettings {
  const raw = env.NOVADOCK_METRICS_ALLOW;
  const allow = raw === undefined ? DEFAULT_METRICS_ALLOW : raw.split(',').map((c) => c.trim()).filter(Boolean);
  return { allow, token: env.NOVADOCK_METRICS_TOKEN || undefined };
}

/** Nova's classic flavor sizes. */
export const DEFAULT_FLAVORS: SeedFlavor[] = [
  { id: '1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1 },
  { id: '2', name: 'm1.small', ram: 2048, vcpus: 1, disk: 20 },
  { id: '3', name: 'm1.medium', ram: 4096, vcpus: 2, disk: 40 },
  { id: '4', name: 'm1.large', ram: 8192, vcpus: 4, disk: 80 },
  { id: '5', name: 'm1.xlarge', ram: 16384, vcpus: 8, disk: 160 },
];

export const DEFAULT_QUOTAS: QuotaConfig = {
  instances: 10, cores: 20, ram: 51200, key_pairs: 100, metadata_items: 128, server_groups: 10, server_group_members: 10,
};

function intFrom(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return n;
}

/** NOVADOCK_SHELVED_OFFLOAD_TIME: an integer of at least -1 (Nova's IntOpt: any negative is "never"; -1 is the documented spelling). */
function offloadTimeFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.NOVADOCK_SHELVED_OFFLOAD_TIME;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < -1) throw new Error(`NOVADOCK_SHELVED_OFFLOAD_TIME must be an integer number of seconds (0 = at once, -1 = never), got '${raw}'`);
  return n;
}

/** A ratio setting: a number > 0 (Nova's FloatOpt), else start-up fails naming the setting. */
function ratioFrom(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a number greater than 0, got '${raw}'`);
  return n;
}

/** NOVADOCK_CPU_ALLOCATION_RATIO, NOVADOCK_RAM_ALLOCATION_RATIO, NOVADOCK_RESERVED_HOST_MEMORY_MB, NOVADOCK_RESERVED_HOST_CPUS. */
function capacityFrom(env: NodeJS.ProcessEnv): HostCapacityConfig {
  return {
    cpuAllocationRatio: ratioFrom(env, 'NOVADOCK_CPU_ALLOCATION_RATIO', DEFAULT_CAPACITY.cpuAllocationRatio),
    ramAllocationRatio: ratioFrom(env, 'NOVADOCK_RAM_ALLOCATION_RATIO', DEFAULT_CAPACITY.ramAllocationRatio),
    reservedHostMemoryMb: intFrom(env, 'NOVADOCK_RESERVED_HOST_MEMORY_MB', DEFAULT_CAPACITY.reservedHostMemoryMb),
    reservedHostCpus: intFrom(env, 'NOVADOCK_RESERVED_HOST_CPUS', DEFAULT_CAPACITY.reservedHostCpus),
  };
}

/** The capacity settings of one compute host: its compute_hosts entry over the process-wide ones. */
export function capacityOf(config: Pick<Config, 'capacity' | 'seed'>, host: string): HostCapacityConfig {
  const base = config.capacity ?? DEFAULT_CAPACITY;
  const h = config.seed.compute_hosts.find((x) => x.name === host);
  if (!h) return base;
  return {
    cpuAllocationRatio: h.cpu_allocation_ratio ?? base.cpuAllocationRatio,
    ramAllocationRatio: h.ram_allocation_ratio ?? base.ramAllocationRatio,
    reservedHostMemoryMb: h.reserved_host_memory_mb ?? base.reservedHostMemoryMb,
    reservedHostCpus: h.reserved_host_cpus ?? base.reservedHostCpus,
  };
}

/** Checks the optional capacity fields of a compute_hosts entry (ratios > 0, reserves non-negative integers). */
function checkHostCapacity(h: ComputeHostConfig): void {
  const where = `NOVADOCK_CONFIG: compute host ${JSON.stringify(h.name)}`;
  for (const k of ['cpu_allocation_ratio', 'ram_allocation_ratio'] as const) {
    const v = h[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw new Error(`${where}: '${k}' must be a number greater than 0`);
  }
  for (const k of ['reserved_host_memory_mb', 'reserved_host_cpus'] as const) {
    const v = h[k];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0)) throw new Error(`${where}: '${k}' must be a non-negative integer`);
  }
}

function boolFrom(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name} must be true or false, got '${env[name]}'`);
}

/** NOVADOCK_DATABASE_URL, if set: only PostgreSQL URLs (SQLite is the default, configured by the data directory). */
function databaseUrlFrom(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.NOVADOCK_DATABASE_URL;
  if (raw === undefined || raw === '') return undefined;
  if (!/^postgres(ql)?:\/\//i.test(raw)) throw new Error('NOVADOCK_DATABASE_URL must be a postgres:// or postgresql:// URL');
  return raw;
}

/** Reads and checks the seed file; unknown shapes fail start-up with a message naming the field. */
export function loadSeed(file: string | undefined): SeedConfig {
  let raw: Partial<SeedConfig> = {};
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`NOVADOCK_CONFIG: cannot read ${file}: ${(e as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new Error(`NOVADOCK_CONFIG: ${file} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new Error(`NOVADOCK_CONFIG: ${file} must hold a JSON object`);
    }
  }
  for (const key of ['projects', 'users', 'flavors', 'compute_hosts'] as const) {
    if (raw[key] !== undefined && !Array.isArray(raw[key])) throw new Error(`NOVADOCK_CONFIG: '${key}' must be a list`);
  }
  const flavors = [...DEFAULT_FLAVORS];
  for (const f of raw.flavors ?? []) {
    if (!f || typeof f.id !== 'string' || typeof f.name !== 'string' || !Number.isInteger(f.ram) || !Number.isInteger(f.vcpus) || !Number.isInteger(f.disk)) {
      throw new Error(`NOVADOCK_CONFIG: flavor ${JSON.stringify(f)} needs string id and name and integer ram, vcpus, disk`);
    }
    const at = flavors.findIndex((x) => x.id === f.id || x.name === f.name);
    if (at >= 0) flavors[at] = f;
    else flavors.push(f);
  }
  for (const u of raw.users ?? []) {
    if (!u || typeof u.name !== 'string' || typeof u.password !== 'string' || typeof u.project !== 'string') {
      throw new Error(`NOVADOCK_CONFIG: user ${JSON.stringify(u?.name)} needs string name, password and project`);
    }
  }
  for (const p of raw.projects ?? []) {
    if (!p || typeof p.name !== 'string') throw new Error('NOVADOCK_CONFIG: every project needs a string name');
  }
  for (const h of raw.compute_hosts ?? []) {
    if (!h || typeof h.name !== 'string') throw new Error('NOVADOCK_CONFIG: every compute host needs a string name');
    checkHostCapacity(h);
    registryAddressFrom(h.registry_address, `compute host ${h.name}'s registry_address`);
  }
  return {
    projects: raw.projects ?? [],
    users: raw.users ?? [],
    flavors,
    compute_hosts: raw.compute_hosts && raw.compute_hosts.length > 0 ? raw.compute_hosts : [{ name: 'local' }],
    quotas: { ...DEFAULT_QUOTAS, ...(raw.quotas ?? {}) },
  };
}

/** A registry address (host or host:port, as an image reference starts), or undefined when unset; anything else is refused. */
function registryAddressFrom(raw: unknown, what: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(raw)) throw new Error(`${what} must be host or host:port (as an image reference starts), got ${JSON.stringify(raw)}`);
  return raw;
}

/** Nova's [consoleauth] token_ttl default (seconds). */
export const DEFAULT_CONSOLE_TOKEN_TTL = 600;

/** NOVADOCK_SERIAL_CONSOLE_BASE_URL, if set: a ws:// or wss:// URL. */
function consoleUrlFrom(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.NOVADOCK_SERIAL_CONSOLE_BASE_URL;
  if (raw === undefined || raw === '') return undefined;
  if (!/^wss?:\/\/[^/?#]+(\/[^?#]*)?$/i.test(raw)) throw new Error(`NOVADOCK_SERIAL_CONSOLE_BASE_URL must be a ws:// or wss:// URL without query, got '${raw}'`);
  return raw;
}

/**
 * Where serial console URLs point (a token is appended as ?token=…): the setting, else the public
 * URL's own host and port — the console is served on novadock's port — as ws:// (wss:// for
 * https), path /serial/ (the path of Nova's serial proxy URLs).
 */
export function serialConsoleBaseUrl(config: Pick<Config, 'publicUrl' | 'serialConsoleBaseUrl'>): string {
  if (config.serialConsoleBaseUrl) return config.serialConsoleBaseUrl;
  return `${config.publicUrl.replace(/^http(s?):\/\//i, 'ws$1://').replace(/\/+$/, '')}/serial/`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intFrom(env, 'NOVADOCK_PORT', 8080);
  const bind = env.NOVADOCK_BIND || '127.0.0.1';
  const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
  const publicUrl = (env.NOVADOCK_PUBLIC_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '');
  const dataDir = path.resolve(env.NOVADOCK_DATA_DIR || './data');
  return {
    port,
    bind,
    publicUrl,
    dataDir,
    databaseUrl: databaseUrlFrom(env),
    adminPassword: env.NOVADOCK_ADMIN_PASSWORD || undefined,
    dockerHost: env.DOCKER_HOST || undefined,
    tokenTtlSeconds: intFrom(env, 'NOVADOCK_TOKEN_TTL', 12 * 3600),
    maxImageSize: intFrom(env, 'NOVADOCK_MAX_IMAGE_SIZE', 16 * 1024 ** 3),
    logLevel: env.NOVADOCK_LOG_LEVEL || 'info',
    capacity: capacityFrom(env),
    projectNetworks: {
      range: env.NOVADOCK_PROJECT_NETWORK_RANGE || DEFAULT_PROJECT_NETWORKS.range,
      prefix: intFrom(env, 'NOVADOCK_PROJECT_NETWORK_PREFIX', DEFAULT_PROJECT_NETWORKS.prefix),
    },
    projectNetworkEncrypted: boolFrom(env, 'NOVADOCK_PROJECT_NETWORK_ENCRYPTED'),
    shelvedOffloadTime: offloadTimeFrom(env),
    resumeGuestsStateOnHostBoot: boolFrom(env, 'NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT'),
    seed: loadSeed(env.NOVADOCK_CONFIG || undefined),
    consoleTokenTtlSeconds: intFrom(env, 'NOVADOCK_CONSOLE_TOKEN_TTL', DEFAULT_CONSOLE_TOKEN_TTL),
    serialConsoleBaseUrl: consoleUrlFrom(env),
    configFile: env.NOVADOCK_CONFIG || undefined,
    // issue 18 part 4
    login: loginFrom(env),
    metrics: metricsFrom(env),
    // issue 14: the embedded registry
    registryMaxBlobSize: intFrom(env, 'NOVADOCK_REGISTRY_MAX_BLOB_SIZE', intFrom(env, 'NOVADOCK_MAX_IMAGE_SIZE', 16 * 1024 ** 3)),
    registryUploadTimeoutSeconds: intFrom(env, 'NOVADOCK_REGISTRY_UPLOAD_TIMEOUT', 3600),
    registryAnonymousPull: boolFrom(env, 'NOVADOCK_REGISTRY_ANONYMOUS_PULL'),
    registryAddress: registryAddressFrom(env.NOVADOCK_REGISTRY_ADDRESS, 'NOVADOCK_REGISTRY_ADDRESS'),
    // issue 17 (floating IPs)
    externalInterface: env.NOVADOCK_EXTERNAL_INTERFACE || undefined,
    natChainTag: env.NOVADOCK_NAT_CHAIN_TAG || undefined,
  };
}
