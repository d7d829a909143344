/**
 * The embedded store: one SQLite file in WAL mode (better-sqlite3, synchronous API).
 *
 * Durability: WAL with `synchronous=FULL` by default — every commit fsyncs the WAL, so an acknowledged batch
 * survives a power cut, not only a process crash. The service commits many requests in one transaction
 * (group commit), so the fsync is paid per group, not per event. `durability: 'normal'` (synchronous=NORMAL)
 * keeps every commit across a process crash (SIGKILL) but may lose the last commits on power loss; it is
 * offered for hosts where that trade is acceptable.
 *
 * Each aggregate's SQL lives in its module under ./sqlite/ (events, alerts, incidents, suppressions, actions,
 * audit); this class composes them over one connection and owns what spans them: the batch commit.
 */
import type Database from 'better-sqlite3';
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
import type { OutboxRule } from './outbox.js';
import { SqliteDb, type SqliteStoreOptions } from './sqlite/db.js';
import { SqliteEventStore } from './sqlite/events.js';
import { SqliteAlertStore } from './sqlite/alerts.js';
import { SqliteIncidentStore } from './sqlite/incidents.js';
import { SqliteSuppressionStore } from './sqlite/suppressions.js';
import { SqliteActionStore } from './sqlite/actions.js';
import { SqliteAuditStore } from './sqlite/audit.js';

export type { SqliteStoreOptions } from './sqlite/db.js';

export class SqliteStore implements Store {
  readonly events: SqliteEventStore;
  readonly alerts: SqliteAlertStore;
  readonly incidents: SqliteIncidentStore;
  readonly suppressions: SqliteSuppressionStore;
  readonly actions: SqliteActionStore;
  readonly trail: SqliteAuditStore;
  private readonly conn: SqliteDb;

  constructor(options: SqliteStoreOptions) {
    this.conn = new SqliteDb(options);
    this.trail = new SqliteAuditStore(this.conn);
    this.events = new SqliteEventStore(this.conn);
    this.actions = new SqliteActionStore(this.conn);
    this.alerts = new SqliteAlertStore(this.conn, this.trail, this.actions);
    this.incidents = new SqliteIncidentStore(this.conn, this.trail);
    this.suppressions = new SqliteSuppressionStore(this.conn, this.trail);
  }

  /** The connection (tests read its pragmas). */
  get db(): Database.Database {
    return this.conn.db;
  }

  async commit(events: EventRecord[], detected: Detected): Promise<IngestResult> {
    return this.commitSync(events, detected);
  }

  /** `knownKeys` + `commit` in one call, for callers in the same thread (tests, tools): detect sees only new events. */
  async ingest(events: EventRecord[], detect: (fresh: EventRecord[]) => Detected): Promise<IngestResult> {
    return this.conn.tx((): IngestResult => {
      const fresh = this.events.fresh(events);
      const r = this.commitSync(fresh, fresh.length > 0 ? detect(fresh) : { alerts: [], actions: [] });
      return { ...r, duplicates: events.length - r.stored };
    });
  }

  /** One transaction over the aggregates: events, the alerts detection made, their incidents, the planned actions. */
  private commitSync(events: EventRecord[], detected: Detected): IngestResult {
    return this.conn.tx((): IngestResult => {
      const now = Date.now();
      const stored = this.events.insert(events, now);
      const alertsCreated = this.alerts.insert(detected.alerts, now);
      this.incidents.widen(alertsCreated, now);
      const actionsCreated = this.actions.insert(detected.actions, now);
      return { stored, duplicates: events.length - stored, alertsCreated, actionsCreated };
    });
  }

  async counts(): Promise<StoreCounts> {
    return { events: this.events.count(), ...this.alerts.counts(), incidents: this.incidents.count(), actionsPending: this.actions.pendingCount() };
  }

  async close(): Promise<void> {
    this.conn.close();
  }

  // The aggregates, as the one `Store` the service and the worker thread (./sqliteThread.ts) call.
  knownKeys(keys: string[]): Promise<Set<string>> { return this.events.knownKeys(keys); }
  legacyKeysRetained(): Promise<boolean> { return this.events.legacyKeysRetained(); }
  knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> { return this.events.knownLegacyKeys(pairs); }
  retainedEvents(): AsyncIterable<EventRecord> { return this.events.retainedEvents(); }
  eventKeys(): AsyncIterable<string> { return this.events.eventKeys(); }
  eventKeysPage(after: number, limit: number): { keys: string[]; lastSeq: number } { return this.events.eventKeysPage(after, limit); }
  retainedEventsPage(after: number, limit: number): { items: EventRecord[]; lastSeq: number } { return this.events.retainedEventsPage(after, limit); }
  hasEvent(key: string): Promise<boolean> { return this.events.hasEvent(key); }
  hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> { return this.events.hostEventDocs(host, needles, limit); }
  pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> { return this.events.pruneEvents(olderThanMs, maxEvents); }

  listAlerts(q: AlertQuery): Promise<Page<AlertRow>> { return this.alerts.listAlerts(q); }
  getAlert(id: string): Promise<AlertRow | undefined> { return this.alerts.getAlert(id); }
  updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> { return this.alerts.updateAlert(id, change, outbox); }
  updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> { return this.alerts.updateAlertContexts(updates, actor, outbox); }
  suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> { return this.alerts.suppressAlerts(ids, by, actor); }

  listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> { return this.incidents.listIncidents(q); }
  getIncident(id: string): Promise<IncidentRow | undefined> { return this.incidents.getIncident(id); }
  updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> { return this.incidents.updateIncident(id, change); }

  listSuppressions(): Promise<Suppression[]> { return this.suppressions.listSuppressions(); }
  addSuppression(s: NewSuppression): Promise<Suppression> { return this.suppressions.addSuppression(s); }
  deleteSuppression(id: number, actor: string): Promise<boolean> { return this.suppressions.deleteSuppression(id, actor); }
  countSuppressionHit(id: number): Promise<void> { return this.suppressions.countSuppressionHit(id); }

  dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> { return this.actions.dueActions(now, limit, kind); }
  getAction(id: string): Promise<ActionRow | undefined> { return this.actions.getAction(id); }
  listActions(q: ActionQuery): Promise<Page<ActionRow>> { return this.actions.listActions(q); }
  updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> { return this.actions.updateAction(id, patch, onlyIf); }
  requeueInterruptedActions(): Promise<number> { return this.actions.requeueInterruptedActions(); }

  audit(entry: NewAuditEntry): Promise<void> { return this.trail.audit(entry); }
  listAudit(q: AuditQuery): Promise<Page<AuditEntry>> { return this.trail.listAudit(q); }
}
