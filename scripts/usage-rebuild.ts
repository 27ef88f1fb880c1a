/**
 * `npm run usage-rebuild`: recounts the fleet's totals of available recordings (bytes, audio) from the recordings
 * themselves, for the metrics `recordings_available_bytes` / `_seconds`. Needed once after upgrading from a build
 * that did not keep them (the daemons keep them since). Stop every daemon of the fleet first: a recording that
 * becomes available or is deleted during the count would be counted twice or not at all.
 *
 * Reads the same environment as the daemon: REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS), REDIS_PREFIX.
 */
import { loadConfig } from '../src/config.js';
import { RedisKeys } from '../src/store/keys.js';
import { createStoreRedis, waitForRedis } from '../src/store/redis-client.js';
import { RedisRecordingStore } from '../src/store/redis-recording-store.js';

const config = loadConfig();
if (!config.redis.target) {
  console.error('usage-rebuild: set REDIS_URL (or REDIS_CLUSTER_NODES / REDIS_SENTINELS) to the fleet\'s Redis');
  process.exit(2);
}
const redis = createStoreRedis(config.redis.target, { commandTimeoutMs: 30_000 });
try {
  await waitForRedis(redis);
  const totals = await new RedisRecordingStore({ redis, keys: new RedisKeys(config.redis.prefix) }).rebuildAvailableTotals();
  console.log(`usage-rebuild: ${totals.count} available recordings, ${totals.size_bytes} bytes, ${Math.round(totals.duration_ms / 1000)} s of audio`);
} finally {
  redis.disconnect();
}
