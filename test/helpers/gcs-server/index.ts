export { GcsTestServer, startGcsServer, type GcsServerOptions, type DownMode, type RecordedRequest } from './server.js';
export type { StoredObject } from './object-store.js';
