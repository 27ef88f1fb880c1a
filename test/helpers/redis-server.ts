import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis as startEmbedded, freePort, type RedisHandle } from '../../src/embedded-redis.js';

export { freePort, type RedisHandle };

/** A throw-away redis-server on a free loopback port, nothing persisted; its temp dir goes with it. */
export async function startRedis(): Promise<RedisHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'ari-recorder-redis-'));
  const h = await startEmbedded({ dir, persist: false });
  return {
    ...h,
    stop: async () => {
      await h.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
