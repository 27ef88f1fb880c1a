import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../store/keys.js';
import { NODE_HEARTBEAT, NODE_LEASES } from '../store/lua/node-lease.js';
import { asReply } from '../store/lua/script.js';
import { RedisClock } from './redis-clock.js';

/** What a node says of itself in Redis (GET /v1.0/nodes). */
export interface NodeInfo {
  id: string;
  /** The Asterisk this node records: its system name ('' when unset: its channel ids may repeat in a fleet), entity id, version. */
  asterisk: { system_name: string; entity_id: string; version: string };
  tm_start: string;
  /** Last heartbeat (the lease is renewed every heartbeat). */
  tm_heartbeat: string;
  /** Live recordings on this node at its last heartbeat. */
  active_recordings: number;
}

/**
 * Each daemon registers itself with a heartbeat lease: `node:<id>` (its NodeInfo) and its score in the nodes index
 * (the last heartbeat, epoch ms on Redis's clock: see node-lease.ts). A node whose heartbeat is older than
 * NODE_LOST_AFTER_SEC is lost (fleet/node-watch.ts).
 */
export class NodeRegistry {
  #timer?: NodeJS.Timeout;
  #everyMs = 0;
  readonly #started = new Date().toISOString();
  /** Local time the current run of successful heartbeats began (none: the last one failed, or none yet). */
  #okSince?: number;
  #lastOk = 0;
  readonly clock: RedisClock;

  constructor(
    private readonly deps: { redis: Redis; keys: RedisKeys; logger: Logger; now?: () => number },
    readonly nodeId: string,
    private readonly asterisk: NodeInfo['asterisk'],
    private readonly activeCount: () => number,
  ) {
    this.clock = new RedisClock(deps.now);
  }

  async heartbeat(): Promise<void> {
    const local = this.deps.now ?? Date.now;
    const sentAt = local();
    const info: NodeInfo = {
      id: this.nodeId,
      asterisk: this.asterisk,
      tm_start: this.#started,
      tm_heartbeat: new Date(this.clock.now()).toISOString(),
      active_recordings: this.activeCount(),
    };
    const { redis, keys } = this.deps;
    let reply;
    try {
      reply = asReply(await NODE_HEARTBEAT.run(redis, [keys.nodes(), keys.node(this.nodeId)], [this.nodeId, JSON.stringify(info)]));
    } catch (err) {
      this.#okSince = undefined;
      throw err;
    }
    const receivedAt = local();
    this.clock.observe(Number(reply[1]), sentAt, receivedAt);
    this.#okSince ??= receivedAt;
    this.#lastOk = receivedAt;
  }

  /**
   * Whether this node has reached Redis steadily for `ms` (and lately): only then may it judge other nodes' leases.
   * Right after an outage every lease looks old until each node's next heartbeat renews it.
   */
  steadyFor(ms: number): boolean {
    const now = (this.deps.now ?? Date.now)();
    return this.#okSince !== undefined && now - this.#okSince >= ms && now - this.#lastOk <= 2 * Math.max(this.#everyMs, 1000);
  }

  /** Heartbeats every `everyMs` (a failed one is logged; the lease simply ages until Redis is back). */
  start(everyMs: number): void {
    if (this.#timer) return;
    this.#everyMs = everyMs;
    this.#timer = setInterval(() => {
      this.heartbeat().catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'node heartbeat failed'));
    }, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Every registered node, with its lease age on Redis's clock; newest heartbeat first. */
export async function listNodes(redis: Redis, keys: RedisKeys): Promise<(NodeInfo & { lease_age_ms: number })[]> {
  const [, now, ...pairs] = asReply(await NODE_LEASES.run(redis, [keys.nodes()], []));
  if (pairs.length === 0) return [];
  const ids = pairs.filter((_, i) => i % 2 === 0) as string[];
  const raws = await redis.mget(ids.map((id) => keys.node(id)));
  return raws.flatMap((raw, i) => {
    if (!raw) return [];
    const heartbeat = Number(pairs[2 * i + 1]);
    // tm_heartbeat on the clock the age is measured with (the node wrote its own estimate of it)
    return [{ ...(JSON.parse(raw) as NodeInfo), tm_heartbeat: new Date(heartbeat).toISOString(), lease_age_ms: Math.max(0, Number(now) - heartbeat) }];
  });
}
