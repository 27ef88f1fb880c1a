import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { AriRest } from '../ari/ari-rest.js';
import type { Logger } from '../logger.js';
import type { RedisKeys } from '../store/keys.js';
import type { RecordingStore } from '../store/types.js';
import { defaultNodeId, isNodeId } from './node-id.js';
import { NodeRegistry, type NodeInfo } from './node-registry.js';
import { failLostNodes } from './node-watch.js';
import type { RedisClock } from './redis-clock.js';

export interface NodeConfig {
  id?: string;
  heartbeatSec: number;
  lostAfterSec: number;
}


export interface FleetNode {
  readonly id: string;
  readonly asterisk: NodeInfo['asterisk'];
  /** Redis's clock, learnt from the heartbeats: what nodes compare across hosts. */
  readonly clock: RedisClock;
  stop(): void;
}

const NODE_ID_FILE = 'node-id';

/**
 * This daemon as a node of the fleet: its id (RECORDER_NODE_ID; else the one kept in its spool dir, so it survives
 * restarts; else derived from the host and its Asterisk, then kept), its heartbeat lease, and the watch that ends the
 * recordings of nodes lost for NODE_LOST_AFTER_SEC. Warns when the Asterisk has no `systemname`: its channel ids
 * (`<epoch>.<n>`) can then repeat across the fleet's servers.
 */
export async function startNode(deps: {
  config: NodeConfig;
  spoolDir: string;
  rest: Pick<AriRest, 'getInfo'>;
  redis: Redis;
  keys: RedisKeys;
  store: RecordingStore;
  logger: Logger;
  activeCount: () => number;
}): Promise<FleetNode> {
  const log = deps.logger.child({ component: 'fleet' });
  const info = await deps.rest.getInfo().catch((err: Error) => {
    log.warn({ err: err.message }, 'Asterisk info unavailable at start: node identity from the host alone');
    return undefined;
  });
  const asterisk = { system_name: info?.config?.name ?? '', entity_id: info?.system?.entity_id ?? '', version: info?.system?.version ?? '' };
  if (info && !asterisk.system_name) {
    log.warn('Asterisk has no systemname (asterisk.conf [options] systemname): its channel ids can repeat across the servers of a fleet');
  }
  const id = deps.config.id ?? (await keptId(deps.spoolDir)) ?? defaultNodeId({ systemName: asterisk.system_name, entityId: asterisk.entity_id });
  await writeFile(join(deps.spoolDir, NODE_ID_FILE), `${id}\n`).catch((err: Error) => log.warn({ err: err.message }, 'node id not kept in the spool dir'));

  const registry = new NodeRegistry({ redis: deps.redis, keys: deps.keys, logger: log }, id, asterisk, deps.activeCount);
  await registry.heartbeat();
  registry.start(deps.config.heartbeatSec * 1000);
  const lostAfterMs = deps.config.lostAfterSec * 1000;
  const heartbeatMs = deps.config.heartbeatSec * 1000;
  const watch = setInterval(() => {
    // A node that cannot reach Redis itself, or only just can again, does not judge the others' leases.
    if (!registry.steadyFor(3 * heartbeatMs)) return;
    void failLostNodes({ redis: deps.redis, keys: deps.keys, store: deps.store, logger: log, selfId: id, lostAfterMs }).catch((err: Error) =>
      log.warn({ err: err.message }, 'lost-node watch failed'),
    );
  }, Math.min(lostAfterMs / 2, 60_000));
  watch.unref();
  log.info({ node_id: id, asterisk }, 'node registered');
  return {
    id,
    asterisk,
    clock: registry.clock,
    stop: () => {
      registry.stop();
      clearInterval(watch);
    },
  };
}

async function keptId(spoolDir: string): Promise<string | undefined> {
  const raw = await readFile(join(spoolDir, NODE_ID_FILE), 'utf8').catch(() => '');
  const id = raw.trim();
  return isNodeId(id) ? id : undefined;
}
