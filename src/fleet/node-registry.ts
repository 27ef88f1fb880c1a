import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../store/keys.js';

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
 * (the last heartbeat, epoch ms). A node whose heartbeat is older than NODE_LOST_AFTER_SEC is lost (fleet/node-watch.ts).
 */
export class NodeRegistry {
  #timer?: NodeJS.Timeout;
  readonly #started = new Date().toISOString();

  constructor(
    private readonly deps: { redis: Redis; keys: RedisKeys; logger: Logger; now?: () => number },
    readonly nodeId: string,
    private readonly asterisk: NodeInfo['asterisk'],
    private readonly activeCount: () => number,
  ) {}

  async heartbeat(): Promise<void> {
    const now = this.deps.now?.() ?? Date.now();
    const info: NodeInfo = {
      id: this.nodeId,
      asterisk: this.asterisk,
      tm_start: this.#started,
      tm_heartbeat: new Date(now).toISOString(),
      active_recordings: this.activeCount(),
    };
    const { redis, keys } = this.deps;
    await redis.multi().set(keys.node(this.nodeId), JSON.stringify(info)).zadd(keys.nodes(), now, this.nodeId).exec();
  }

  /** Heartbeats every `everyMs` (a failed one is logged; the lease simply ages until Redis is back). */
  start(everyMs: number): void {
    if (this.#timer) return;
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

/** Every registered node, with its lease age; newest heartbeat first. */
export async function listNodes(redis: Redis, keys: RedisKeys, now = Date.now()): Promise<(NodeInfo & { lease_age_ms: number })[]> {
  const ids = await redis.zrevrange(keys.nodes(), 0, -1);
  if (ids.length === 0) return [];
  const raws = await redis.mget(ids.map((id) => keys.node(id)));
  return raws.flatMap((raw) => {
    if (!raw) return [];
    const n = JSON.parse(raw) as NodeInfo;
    return [{ ...n, lease_age_ms: Math.max(0, now - Date.parse(n.tm_heartbeat)) }];
  });
}
