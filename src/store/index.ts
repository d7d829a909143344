/**
 * The service store: the interface (./types.ts) and its implementations. SQLite is the embedded default;
 * another backend (PostgreSQL) implements the same `Store` interface and is chosen here by URL.
 */
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import { WorkerStore } from './workerStore.js';
import { PostgresStore, isPostgresUrl } from './postgres.js';
import type { Store } from './types.js';

export * from './types.js';
export { SqliteStore } from './sqlite.js';
export { WorkerStore } from './workerStore.js';
export { PostgresStore, isPostgresUrl, parsePostgresUrl } from './postgres.js';

export interface StoreConfig {
  /** The data directory (SQLite file `procwatch.db` inside it). */
  dataDir: string;
  durability?: 'full' | 'normal';
  /** Run SQLite on its own worker thread (default true: commits overlap decoding and detection). */
  thread?: boolean;
  /** A `postgres://` URL selects the shared PostgreSQL store instead of SQLite (`dataDir` then only holds the token). */
  url?: string;
  /** PostgreSQL schema (default `procwatch`, or `?schema=` in the URL). */
  schema?: string;
}

export function openStore(config: StoreConfig): Store {
  if (config.url !== undefined) {
    if (!isPostgresUrl(config.url)) throw new Error(`store: unsupported URL ${config.url} (expected postgres://...)`);
    return new PostgresStore({ url: config.url, ...(config.schema ? { schema: config.schema } : {}) });
  }
  const options = { path: join(config.dataDir, 'procwatch.db'), durability: config.durability ?? 'full' };
  return config.thread === false ? new SqliteStore(options) : new WorkerStore(options);
}
