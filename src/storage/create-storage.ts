import type { BlobStorage } from './blob-storage.js';
import { GcsStorage, type GcsStorageConfig } from './gcs.js';
import { LocalStorage } from './local.js';

export interface StorageConfig {
  backend: 'local' | 'gcs';
  /** root directory of the local backend */
  localDir: string;
  /** required when backend is 'gcs' */
  gcs?: GcsStorageConfig;
}

/** The blob backend chosen by config (local directory by default; GCS with `backend: 'gcs'`). */
export function createStorage(config: StorageConfig): BlobStorage {
  switch (config.backend) {
    case 'local':
      return new LocalStorage(config.localDir);
    case 'gcs':
      if (!config.gcs) throw new Error('storage backend gcs needs a gcs config (bucket, prefix, …)');
      return new GcsStorage(config.gcs);
    default: {
      const never: never = config.backend;
      throw new Error(`unknown storage backend ${String(never)}`);
    }
  }
}
