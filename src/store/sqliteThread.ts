/**
 * Worker-thread entry: owns the SQLite connection and answers the store calls of WorkerStore. Keeping
 * SQLite (inserts, index updates, fsync) on its own thread lets the main thread go on parsing, decoding and
 * detecting while a commit is written — the two cores work in parallel, and an fsync never stalls HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';

interface Call {
  id: number;
  method: string;
  args: unknown[];
}

const store = new SqliteStore(workerData as SqliteStoreOptions);
const port = parentPort!;

port.on('message', (call: Call) => {
  void (async () => {
    try {
      const fn = (store as unknown as Record<string, (...a: unknown[]) => unknown>)[call.method];
      if (typeof fn !== 'function') throw new Error(`no store method ${call.method}`);
      let result = await fn.apply(store, call.args);
      if (result instanceof Set) result = { __set: [...result] };
      port.postMessage({ id: call.id, result });
      if (call.method === 'close') port.close();
    } catch (err) {
      const e = err as Error & { code?: string };
      port.postMessage({ id: call.id, error: { message: e.message, code: e.code } });
    }
  })();
});
