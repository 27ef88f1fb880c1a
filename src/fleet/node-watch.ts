import { isAppError } from '../domain/errors.js';
import type { Logger } from '../logger.js';
import type { RecordingStore } from '../store/types.js';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../store/keys.js';
import { listNodes } from './node-registry.js';

/**
 * Ends the active recordings of nodes gone longer than `lostAfterMs` (no heartbeat, on Redis's clock): `failed` with
 * `node_lost`, and their `recording_failed` event goes with the transition. The caller runs it only while its own
 * heartbeats reach Redis steadily (NodeRegistry.steadyFor): after an outage every lease looks old for a moment. Any node may run it, any number of times: a transition
 * happens once (forward only), so each recording fails once. A node back before the limit recovers its own.
 */
export async function failLostNodes(deps: { redis: Redis; keys: RedisKeys; store: RecordingStore; logger: Logger; selfId: string; lostAfterMs: number }): Promise<number> {
  const lost = new Set((await listNodes(deps.redis, deps.keys)).filter((n) => n.id !== deps.selfId && n.lease_age_ms > deps.lostAfterMs).map((n) => n.id));
  if (lost.size === 0) return 0;
  let failed = 0;
  for (const rec of await deps.store.listActive()) {
    if (!rec.node_id || !lost.has(rec.node_id)) continue;
    try {
      await deps.store.transition(rec.id, 'failed', {
        stop_reason: 'error',
        error: { code: 'node_lost', message: 'the daemon recording it stopped and did not come back in time' },
      });
      failed++;
      deps.logger.warn({ recording_id: rec.id, node_id: rec.node_id }, 'recording failed: its node is lost');
    } catch (err) {
      if (!(isAppError(err) && err.code === 'invalid_transition')) throw err; // another node got there first
    }
  }
  // A lost node whose recordings are ended leaves the node list: the watch does not read every active recording for
  // it again and again (a node that comes back registers anew).
  for (const id of lost) {
    await deps.redis.multi().zrem(deps.keys.nodes(), id).del(deps.keys.node(id)).exec();
    deps.logger.warn({ node_id: id }, 'lost node removed from the node list');
  }
  return failed;
}
