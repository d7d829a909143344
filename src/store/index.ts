/**
 * The service store: the interface (./types.ts) and its implementations. SQLite is the embedded default;
 * another backend (PostgreSQL) implements the same `Store` interface and is chosen here by URL.
 */
import { join } from 'node:path';
import { SqliteStore } from './sqlite.js';
import { WorkerStore } from './workerStore.js';
import type { Store } from './types.js';

export * from './types.js';
export { SqliteStore } from './sqlite.js';
export { WorkerStore } from './workerStore.js';

export interface StoreConfig {
  /** The data directory (SQLite file `procwatch.db` inside it). */
  dataDir: string;
  durability?: 'full' | 'normal';
  /** Run SQLite on its own worker thread (default true: commits overlap decoding and detection). */
  thread?: boolean;
}

export function openStore(config: StoreConfig): Store {
  const options = { path: join(config.dataDir, 'procwatch.db'), durability: config.durability ?? 'full' };
  return config.thread === false ? new SqliteStore(options) : new WorkerStore(options);
}
