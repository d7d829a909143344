/**
 * The SQLite store on a worker thread (see ./sqliteThread.ts): same `Store` interface, calls become
 * messages. Calls are answered in order, and the worker runs them one at a time, so the single-writer
 * reasoning of the service holds.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SqliteStoreOptions } from './sqlite.js';
import type { OutboxRule } from './outbox.js';
import type {
  ActionPatch,
  ActionQuery,
  ActionRow,
  ActionStatus,
  AlertContextUpdate,
  AlertQuery,
  AlertRow,
  AuditEntry,
  AuditQuery,
  Detected,
  EventRecord,
  IncidentQuery,
  IncidentRow,
  IngestResult,
  KindFilter,
  LegacyKey,
  NewAuditEntry,
  NewSuppression,
  Page,
  StatusChange,
  Store,
  StoreCounts,
  Suppression,
} from './types.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * Compiled: sqliteThread.js beside this file. From sources (tests and benchmarks run under tsx), the entry is
 * sqliteThread.ts and the worker registers the tsx loader itself first (Node 20 does not apply the parent's
 * `--import tsx` hooks to a worker's entry module).
 */
function spawnThread(options: SqliteStoreOptions): Worker {
  const js = new URL('./sqliteThread.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: options });
  const ts = new URL('./sqliteThread.ts', import.meta.url).href;
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData: options });
}

export class WorkerStore implements Store {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failed: Error | undefined;

  constructor(options: SqliteStoreOptions) {
    this.worker = spawnThread(options);
    this.worker.on('message', (m: { id: number; result?: unknown; error?: { message: string; code?: string } }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
      else p.resolve(revive(m.result));
    });
    const fail = (err: Error): void => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`store thread exited (${code})`)));
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  knownKeys(keys: string[]): Promise<Set<string>> {
    return this.call('knownKeys', keys);
  }
  commit(events: EventRecord[], detected: Detected): Promise<IngestResult> {
    return this.call('commit', events, detected);
  }
  legacyKeysRetained(): Promise<boolean> {
    return this.call('legacyKeysRetained');
  }
  knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> {
    return this.call('knownLegacyKeys', pairs);
  }
  async *retainedEvents(): AsyncIterable<EventRecord> {
    let after = 0;
    for (;;) {
      const page = await this.call<{ items: EventRecord[]; lastSeq: number }>('retainedEventsPage', after, 5000);
      yield* page.items;
      if (page.items.length < 5000) return;
      after = page.lastSeq;
    }
  }
  async *eventKeys(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const page = await this.call<{ keys: string[]; lastSeq: number }>('eventKeysPage', after, 50_000);
      yield* page.keys;
      if (page.keys.length < 50_000) return;
      after = page.lastSeq;
    }
  }
  hasEvent(key: string): Promise<boolean> {
    return this.call('hasEvent', key);
  }
  hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> {
    return this.call('hostEventDocs', host, needles, limit);
  }
  pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> {
    return this.call('pruneEvents', olderThanMs, maxEvents);
  }
  listAlerts(q: AlertQuery): Promise<Page<AlertRow>> {
    return this.call('listAlerts', q);
  }
  getAlert(id: string): Promise<AlertRow | undefined> {
    return this.call('getAlert', id);
  }
  updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> {
    return this.call('updateAlert', id, change, outbox);
  }
  updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> {
    return this.call('updateAlertContexts', updates, actor, outbox);
  }
  listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> {
    return this.call('listIncidents', q);
  }
  getIncident(id: string): Promise<IncidentRow | undefined> {
    return this.call('getIncident', id);
  }
  updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> {
    return this.call('updateIncident', id, change);
  }
  listSuppressions(): Promise<Suppression[]> {
    return this.call('listSuppressions');
  }
  addSuppression(s: NewSuppression): Promise<Suppression> {
    return this.call('addSuppression', s);
  }
  deleteSuppression(id: number, actor: string): Promise<boolean> {
    return this.call('deleteSuppression', id, actor);
  }
  suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> {
    return this.call('suppressAlerts', ids, by, actor);
  }
  countSuppressionHit(id: number): Promise<void> {
    return this.call('countSuppressionHit', id);
  }
  dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> {
    return this.call('dueActions', now, limit, kind);
  }
  getAction(id: string): Promise<ActionRow | undefined> {
    return this.call('getAction', id);
  }
  listActions(q: ActionQuery): Promise<Page<ActionRow>> {
    return this.call('listActions', q);
  }
  updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> {
    return this.call('updateAction', id, patch, onlyIf);
  }
  requeueInterruptedActions(): Promise<number> {
    return this.call('requeueInterruptedActions');
  }
  audit(entry: NewAuditEntry): Promise<void> {
    return this.call('audit', entry);
  }
  listAudit(q: AuditQuery): Promise<Page<AuditEntry>> {
    return this.call('listAudit', q);
  }
  counts(): Promise<StoreCounts> {
    return this.call('counts');
  }
  async close(): Promise<void> {
    if (this.failed) return;
    await this.call('close');
    await this.worker.terminate();
  }
}

function revive(v: unknown): unknown {
  if (v && typeof v === 'object' && '__set' in v) return new Set((v as { __set: string[] }).__set);
  return v;
}
