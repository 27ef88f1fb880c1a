export { RedisKeys } from './keys.js';
export { createStoreRedis, waitForRedis, guard, type StoreRedisOptions } from './redis-client.js';
export { RedisRecordingStore, type RedisRecordingStoreOptions } from './redis-recording-store.js';
export { RedisExportStore, type RedisExportStoreOptions } from './redis-export-store.js';
export { RedisTokenStore, hashToken } from './redis-token-store.js';
export { encodePageToken, decodePageToken, type PageCursor } from './page-token.js';
export type * from './types.js';
export { ExportStatuses, Permissions } from './types.js';
