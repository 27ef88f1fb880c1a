import { isIP } from 'node:net';
import { CUSTOMER_ID_RULE, isCustomerId } from './domain/customer-id.js';
import { WEBHOOK_SECRET_RULE, webhookKey } from './jobs/webhook-signature.js';
import { webhookUrlProblem } from './jobs/webhook-url.js';
import { checkRtpHosts } from './media/rtp-hosts.js';
import { DEFAULT_PLAYOUT_DELAY_MS } from './mixer/types.js';
import { DEFAULT_MAX_UTILIZATION_PERCENT } from './mixer/admission.js';
import { isNodeId } from './fleet/node-id.js';
import type { HostPort, RedisTarget } from './store/redis-target.js';

/**
 * Environment → typed, validated config. An empty variable counts as unset (its default). A bad value throws ConfigError naming the variable;
 * main.ts prints that one line and exits.
 */
export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`invalid configuration: ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface Config {
  ari: { url: string; username: string; password: string; app: string; reconnectMaxMs: number; timeoutMs: number };
  http: {
    host: string;
    port: number;
    tokensFile?: string;
    limits: { authFailures: number; exports: number; windowMs: number };
    /** The load balancers whose X-Forwarded-For is believed (addresses, CIDRs, proxy-addr's names); none: the peer's address. */
    trustProxy: string[];
  };
  /** `target` unset: the embedded redis-server (`make run`). */
  redis: { target?: RedisTarget; prefix: string };
  rtp: { bindHost: string; advertiseHost: string; portMin: number; portMax: number; recvBufferBytes: number; sharedSocketStreams: number };
  /** `admission`: a worker's utilization (%) and tick lag at which new recordings are refused; false: never refused. */
  mixer: { workers: number; playoutDelayMs: number; receiver: 'auto' | 'dgram' | 'native'; admission: { maxUtilization: number; maxLagMs?: number } | false };
  spoolDir: string;
  /** This daemon in a fleet sharing one Redis: its id (unset: derived and kept in the spool dir), heartbeat, lost limit. */
  node: { id?: string; heartbeatSec: number; lostAfterSec: number; commandTimeoutMs: number };
  storage: {
    backend: 'local' | 'gcs';
    localDir: string;
    gcs: { bucket: string; prefix: string; apiEndpoint?: string; projectId?: string };
  };
  recording: {
    maxDurationSec: number;
    defaultCustomerId: string;
    /** recording setups (ARI choreography) running at once, and how long a start may wait for one */
    setupConcurrency: number;
    setupWaitMs: number;
    /** one `spy=both` snoop per call, or one per direction */
    callTap: 'both' | 'split';
    /** a recording whose streams all stay silent on the wire this long ends (media_timeout) */
    rtpTimeoutSec: number;
    /** how often Asterisk's objects are compared with the live recordings */
    reconcileEverySec: number;
  };
  /** `deletedMetadataDays`: a deleted recording's metadata (410 on GET) is purged this long after tm_delete (then 404). */
  retention: { defaultDays: number; perCustomer: Record<string, number>; sweepEverySec: number; exportDays: number; deletedMetadataDays: number };
  webhooks: { urls: string[]; secret: string; attempts: number };
  uploadAttempts: number;
  /** SIGTERM: how long active recordings may run on to end by themselves before they are stopped (0: at once). */
  shutdownGraceSec: number;
  logLevel: string;
}

type Env = Record<string, string | undefined>;

/** The example ari.conf's password: the daemon warns at start-up while it is in use. */
export const DEFAULT_ARI_PASSWORD = 'asterisk';

function str(env: Env, name: string, def: string): string {
  const v = env[name];
  return v === undefined || v === '' ? def : v;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function url(env: Env, name: string, def: string | undefined, protocols: string[]): string | undefined {
  const raw = env[name] === '' ? undefined : env[name];
  const v = raw ?? def;
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `not a valid URL`);
  }
  if (!protocols.includes(u.protocol)) throw new ConfigError(name, `protocol must be one of ${protocols.join(', ')}`);
  // fetch refuses an http(s) URL with credentials (every request would fail, its message holding the password)
  if ((u.protocol === 'http:' || u.protocol === 'https:') && (u.username || u.password)) {
    throw new ConfigError(name, `must not hold a user or password${name === 'ARI_URL' ? ' (set ARI_USER and ARI_PASSWORD)' : ''}`);
  }
  return v.replace(/\/+$/, '');
}

/** `host:port` pairs, comma-separated (IPv6 in brackets: `[::1]:7000`). */
function hostPorts(env: Env, name: string): HostPort[] | undefined {
  const raw = str(env, name, '');
  if (!raw) return undefined;
  return raw.split(',').map((item) => {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(item.trim());
    const port = m ? Number(m[3]) : 0;
    if (!m || port < 1 || port > 65535) throw new ConfigError(name, `expected host:port[,host:port…], got "${item.trim()}"`);
    return { host: m[1] ?? m[2], port };
  });
}

/** One of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (+ REDIS_SENTINEL_MASTER); none: the embedded server. */
function redisTarget(env: Env): RedisTarget | undefined {
  const single = url(env, 'REDIS_URL', undefined, ['redis:', 'rediss:']);
  const cluster = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const given = [single && 'REDIS_URL', cluster && 'REDIS_CLUSTER_NODES', sentinels && 'REDIS_SENTINELS'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(given[1] as string, `set only one of ${given.join(', ')}`);
  const auth = {
    username: str(env, 'REDIS_USERNAME', '') || undefined,
    password: str(env, 'REDIS_PASSWORD', '') || undefined,
    tls: oneOf(env, 'REDIS_TLS', 'false', ['true', 'false'] as const) === 'true',
  };
  if (cluster) return { kind: 'cluster', nodes: cluster, ...auth };
  if (sentinels) {
    const name = str(env, 'REDIS_SENTINEL_MASTER', '');
    if (!name) throw new ConfigError('REDIS_SENTINEL_MASTER', 'the master name is required with REDIS_SENTINELS');
    return { kind: 'sentinel', sentinels, name, ...auth };
  }
  return single ? { kind: 'url', url: single } : undefined;
}

/** ADMISSION_MAX_UTILIZATION (%, 0: off) and ADMISSION_MAX_LAG_MS (default: 60 % of the playout delay). */
function admission(env: Env): { maxUtilization: number; maxLagMs?: number } | false {
  const raw = str(env, 'ADMISSION_MAX_UTILIZATION', String(DEFAULT_MAX_UTILIZATION_PERCENT)).trim();
  const pct = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || pct > 100) throw new ConfigError('ADMISSION_MAX_UTILIZATION', `expected a percentage 0…100 (0: off), got "${raw}"`);
  if (pct === 0) return false;
  const lag = int(env, 'ADMISSION_MAX_LAG_MS', 0, 0, 10_000);
  return { maxUtilization: pct / 100, ...(lag ? { maxLagMs: lag } : {}) };
}

function nodeId(env: Env, name: string): string | undefined {
  const v = str(env, name, '');
  if (v === '') return undefined;
  if (!isNodeId(v)) throw new ConfigError(name, 'letters, digits, ".", "_", "-"; 1 to 64 characters');
  return v;
}

function oneOf<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const v = str(env, name, def);
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

function host(env: Env, name: string, def: string): string {
  const v = str(env, name, def);
  if (!/^[A-Za-z0-9.:-]+$/.test(v)) throw new ConfigError(name, `not a host or IP address: "${v}"`);
  return v;
}

function customerId(env: Env, name: string, def: string): string {
  const v = str(env, name, def);
  if (!isCustomerId(v)) throw new ConfigError(name, `"${v}" is not a customer id (${CUSTOMER_ID_RULE})`);
  return v;
}

/** "cust-a=7,cust-b=90" → { 'cust-a': 7, 'cust-b': 90 } */
function perCustomerDays(env: Env, name: string): Record<string, number> {
  const raw = env[name];
  const out: Record<string, number> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m) throw new ConfigError(name, `expected customer=days[,customer=days…], got "${part}"`);
    if (!isCustomerId(m[1])) throw new ConfigError(name, `"${m[1]}" is not a customer id (${CUSTOMER_ID_RULE})`);
    const days = Number(m[2]);
    // 0: never expires (a customer kept for compliance); else as RETENTION_DAYS
    if (days > 36_500) throw new ConfigError(name, `${m[1]}: days must be 0 (never expires) or 1 to 36500, got ${days}`);
    out[m[1]] = days;
  }
  return out;
}

/** The node's lease: a node is lost only after missing three heartbeats (a shorter limit fails live nodes' recordings). */
function nodeLease(env: Env): { heartbeatSec: number; lostAfterSec: number } {
  const heartbeatSec = int(env, 'NODE_HEARTBEAT_SEC', 10, 1, 3600);
  const lostAfterSec = int(env, 'NODE_LOST_AFTER_SEC', 3600, 2, 30 * 86400);
  if (lostAfterSec < 3 * heartbeatSec) {
    throw new ConfigError('NODE_LOST_AFTER_SEC', `must be at least 3 × NODE_HEARTBEAT_SEC (${3 * heartbeatSec}), got ${lostAfterSec}`);
  }
  return { heartbeatSec, lostAfterSec };
}

/**
 * "10.0.0.0/8, 192.168.1.10" → the proxies the API believes about a client's address. Only addresses, CIDRs and
 * proxy-addr's names: trusting every hop (`true`) would let any client pick the address its failed logins count against.
 */
function trustedProxies(env: Env, name: string): string[] {
  const out: string[] = [];
  for (const part of str(env, name, '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [addr, bits, extra] = part.split('/');
    const family = isIP(addr);
    const ok =
      PROXY_NAMES.has(part) ||
      (family !== 0 && extra === undefined && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128))));
    if (!ok) throw new ConfigError(name, `"${part}" is not an address, a CIDR or one of ${[...PROXY_NAMES].join(', ')}`);
    out.push(part);
  }
  return out;
}
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `localAddresses`: this machine's IP addresses (tests); see media/rtp-hosts.ts for the RTP address rules. */
export function loadConfig(env: Env = process.env, opts: { localAddresses?: () => string[] } = {}): Config {
  const portMin = int(env, 'RTP_PORT_MIN', 20000, 1024, 65535);
  const portMax = int(env, 'RTP_PORT_MAX', 29999, 1024, 65535);
  if (portMax < portMin) throw new ConfigError('RTP_PORT_MAX', `must be ≥ RTP_PORT_MIN (${portMin})`);
  const backend = oneOf(env, 'STORAGE_BACKEND', 'local', ['local', 'gcs'] as const);
  const bucket = str(env, 'GCS_BUCKET', '');
  if (backend === 'gcs' && !bucket) throw new ConfigError('GCS_BUCKET', 'required when STORAGE_BACKEND=gcs');
  const webhookUrls = str(env, 'WEBHOOK_URLS', '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  webhookUrls.forEach((w, i) => {
    const problem = webhookUrlProblem(w);
    if (problem) throw new ConfigError('WEBHOOK_URLS', `entry ${i + 1} ${problem}`);
  });
  const webhookSecret = str(env, 'WEBHOOK_SECRET', '');
  if (webhookUrls.length > 0 && !webhookKey(webhookSecret)) {
    throw new ConfigError('WEBHOOK_SECRET', `required with WEBHOOK_URLS: ${WEBHOOK_SECRET_RULE}`);
  }
  const rtpBind = host(env, 'RTP_BIND_HOST', '127.0.0.1');
  const rtpHosts = checkRtpHosts(rtpBind, env.RTP_ADVERTISE_HOST ? host(env, 'RTP_ADVERTISE_HOST', '') : undefined, opts.localAddresses);
  if ('variable' in rtpHosts) throw new ConfigError(rtpHosts.variable, rtpHosts.message);
  return {
    ari: {
      url: url(env, 'ARI_URL', 'http://127.0.0.1:8088', ['http:', 'https:'])!,
      username: str(env, 'ARI_USER', 'asterisk'),
      password: str(env, 'ARI_PASSWORD', DEFAULT_ARI_PASSWORD),
      app: str(env, 'ARI_APP', 'recorder'),
      reconnectMaxMs: int(env, 'ARI_RECONNECT_MAX_MS', 10_000, 100, 600_000),
      timeoutMs: int(env, 'ARI_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    http: {
      host: host(env, 'HTTP_HOST', '127.0.0.1'),
      port: int(env, 'HTTP_PORT', 8080, 0, 65535),
      tokensFile: env.TOKENS_FILE || undefined,
      trustProxy: trustedProxies(env, 'TRUST_PROXY'),
      limits: {
        authFailures: int(env, 'AUTH_FAILURES_PER_MINUTE', 20, 1, 1_000_000),
        exports: int(env, 'EXPORTS_PER_MINUTE', 20, 1, 1_000_000),
        windowMs: 60_000,
      },
    },
    redis: { target: redisTarget(env), prefix: str(env, 'REDIS_PREFIX', 'ari-recorder') },
    rtp: {
      bindHost: rtpBind,
      advertiseHost: rtpHosts.advertise,
      portMin,
      portMax,
      recvBufferBytes: int(env, 'RTP_RECV_BUFFER_BYTES', 256 * 1024, 65536, 64 * 1024 * 1024),
      sharedSocketStreams: int(env, 'RTP_SHARED_SOCKET_STREAMS', 512, 0, 4096),
    },
    mixer: {
      workers: int(env, 'MIXER_WORKERS', 0, 0, 256),
      playoutDelayMs: int(env, 'PLAYOUT_DELAY_MS', DEFAULT_PLAYOUT_DELAY_MS, 20, 2000),
      receiver: oneOf(env, 'RTP_RECEIVER', 'auto', ['auto', 'dgram', 'native'] as const),
      admission: admission(env),
    },
    spoolDir: str(env, 'SPOOL_DIR', './var/spool'),
    node: {
      id: nodeId(env, 'RECORDER_NODE_ID'),
      ...nodeLease(env),
      commandTimeoutMs: int(env, 'NODE_COMMAND_TIMEOUT_MS', 15_000, 100, 600_000),
    },
    storage: {
      backend,
      localDir: str(env, 'STORAGE_DIR', './var/recordings'),
      gcs: {
        bucket,
        prefix: str(env, 'GCS_PREFIX', 'recordings/'),
        apiEndpoint: url(env, 'GCS_API_ENDPOINT', undefined, ['http:', 'https:']),
        projectId: env.GCS_PROJECT_ID || undefined,
      },
    },
    recording: {
      maxDurationSec: int(env, 'RECORDING_MAX_DURATION_SEC', 24 * 3600, 1, 7 * 24 * 3600),
      defaultCustomerId: customerId(env, 'DEFAULT_CUSTOMER_ID', 'default'),
      setupConcurrency: int(env, 'SETUP_CONCURRENCY', 8, 1, 1000),
      setupWaitMs: int(env, 'SETUP_WAIT_MS', 10_000, 0, 600_000),
      rtpTimeoutSec: int(env, 'RTP_TIMEOUT_SEC', 30, 1, 3600),
      callTap: oneOf(env, 'CALL_TAP', 'both', ['both', 'split'] as const),
      reconcileEverySec: int(env, 'RECONCILE_EVERY_SEC', 30, 1, 3600),
    },
    retention: {
      defaultDays: int(env, 'RETENTION_DAYS', 30, 1, 36500),
      perCustomer: perCustomerDays(env, 'RETENTION_DAYS_PER_CUSTOMER'),
      sweepEverySec: int(env, 'RETENTION_SWEEP_SEC', 3600, 1, 86400),
      exportDays: int(env, 'EXPORT_RETENTION_DAYS', 7, 1, 36500),
      deletedMetadataDays: int(env, 'DELETED_METADATA_DAYS', 30, 0, 36500),
    },
    webhooks: { urls: webhookUrls, secret: webhookSecret, attempts: int(env, 'WEBHOOK_ATTEMPTS', 20, 1, 1000) },
    uploadAttempts: int(env, 'UPLOAD_ATTEMPTS', 1000, 1, 1_000_000),
    shutdownGraceSec: int(env, 'SHUTDOWN_GRACE_SEC', 0, 0, 7 * 24 * 3600),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
  };
}
