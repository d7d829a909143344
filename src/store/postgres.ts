/**
 * The shared store: PostgreSQL through a `pg` Pool, for several `serve` / `worker` processes at once.
 *
 * Same semantics as the SQLite store, made safe for concurrent writers without a single-writer assumption:
 * - a batch is ONE transaction: events `ON CONFLICT (key) DO NOTHING`, alerts unique by id, incidents
 *   created or widened by an atomic upsert (`ON CONFLICT DO UPDATE` takes the row lock), actions planned;
 *   rows are written in key order so two transactions touching the same rows cannot deadlock;
 * - only alerts this transaction actually inserted widen incidents, so a batch committed twice (redelivery
 *   after a crash, two workers racing) counts nothing twice;
 * - due actions are claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, which
 *   marks them `running` with a lease: two runners never get the same action, and an action whose runner
 *   died is claimable again once its lease has expired.
 * Durability: PostgreSQL's `synchronous_commit` (on by default) — the commit returns after the WAL flush.
 *
 * Opening is lazy: the constructor starts the connection and the (idempotent, advisory-locked) migrations;
 * every call waits for them, so `openStore` stays synchronous and a connection error surfaces on first use.
 *
 * Each aggregate's SQL lives in its module under ./postgres/ (events, alerts, incidents, suppressions, actions,
 * audit); this class composes them over one pool and owns what spans them: the batch commit.
 */
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
import { PgDb, type Queryable } from './postgres/db.js';
import { PgEventStore } from './postgres/events.js';
import { PgAlertStore } from './postgres/alerts.js';
import { PgIncidentStore } from './postgres/incidents.js';
import { PgSuppressionStore } from './postgres/suppressions.js';
import { PgActionStore } from './postgres/actions.js';
import { PgAuditStore } from './postgres/audit.js';

export interface PostgresStoreOptions {
  /** `postgres://user@host:port/db` (a `?schema=NAME` parameter is taken as `schema`). */
  url: string;
  /** Schema holding procwatch's tables (created if missing). Default `procwatch`. */
  schema?: string;
  /** Pool size per process. Default 8. */
  poolSize?: number;
  /** How long a claimed action may stay `running` before another runner may take it over. Default 5 min. */
  actionLeaseMs?: number;
}

/** SQLSTATE deadlock_detected. */
const DEADLOCK = '40P01';

/** Splits `?schema=` off a URL (libpq would reject the unknown parameter). */
export function parsePostgresUrl(url: string): { url: string; schema?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a PostgreSQL URL: ${url}`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`not a PostgreSQL URL: ${url}`);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.toString(), ...(schema ? { schema } : {}) };
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export class PostgresStore implements Store {
  readonly schema: string;
  readonly events: PgEventStore;
  readonly alerts: PgAlertStore;
  readonly incidents: PgIncidentStore;
  readonly suppressions: PgSuppressionStore;
  readonly actions: PgActionStore;
  readonly trail: PgAuditStore;
  private readonly conn: PgDb;

  constructor(options: PostgresStoreOptions) {
    const parsed = parsePostgresUrl(options.url);
    this.conn = new PgDb({ url: parsed.url, schema: options.schema ?? parsed.schema ?? 'procwatch', poolSize: options.poolSize ?? 8 });
    this.schema = this.conn.schema;
    this.events = new PgEventStore(this.conn);
    this.actions = new PgActionStore(this.conn, options.actionLeaseMs ?? 300_000);
    this.alerts = new PgAlertStore(this.conn, this.actions);
    this.incidents = new PgIncidentStore(this.conn);
    this.suppressions = new PgSuppressionStore(this.conn);
    this.trail = new PgAuditStore(this.conn);
  }

  /** Resolves once the schema is ready (or rejects with the connection/migration error). */
  async open(): Promise<this> {
    await this.conn.ready;
    return this;
  }

  async commit(events: EventRecord[], detected: Detected): Promise<IngestResult> {
    // A deadlock (two writers inserting the same new events in different orders — only a redelivery race
    // does that) aborts one transaction entirely; the commit has no side effect outside it, so run it again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.conn.tx((c) => this.commitIn(c, events, detected));
      } catch (err) {
        if ((err as { code?: string }).code !== DEADLOCK || attempt >= 3) throw err;
      }
    }
  }

  /**
   * `knownKeys` + `commit` in one transaction (tests, tools). Unlike SQLite this is not a single-writer
   * section: a concurrent writer may store the same events in between, which the ON CONFLICT clauses absorb.
   */
  async ingest(events: EventRecord[], detect: (fresh: EventRecord[]) => Detected): Promise<IngestResult> {
    return this.conn.tx(async (c) => {
      const unique = [...new Map(events.map((e) => [e.key, e])).values()];
      const known = await this.events.known(c, unique.map((e) => e.key));
      const fresh = unique.filter((e) => !known.has(e.key));
      const r = await this.commitIn(c, fresh, fresh.length > 0 ? detect(fresh) : { alerts: [], actions: [] });
      return { ...r, duplicates: events.length - r.stored };
    });
  }

  /**
   * One transaction over the aggregates. Events keep arrival order; rows that concurrent writers contend for
   * (alerts, incidents, actions) are written in key order, so they cannot deadlock; the same event is only ever
   * written twice at once by a redelivery race, which PostgreSQL resolves by aborting one side (`commit` retries).
   */
  private async commitIn(c: Queryable, events: EventRecord[], detected: Detected): Promise<IngestResult> {
    const now = Date.now();
    const stored = await this.events.insert(c, events, now);
    const alertsCreated = await this.alerts.insert(c, detected.alerts, now);
    await this.incidents.widen(c, alertsCreated, now);
    const actionsCreated = await this.actions.insert(c, detected.actions, now);
    return { stored, duplicates: events.length - stored, alertsCreated, actionsCreated };
  }

  /** See PgAlertStore.onAlerts: ids of alerts committed (or updated) by any process writing to this schema. */
  onAlerts(listener: (ids: string[]) => void, onError?: (err: Error) => void, onUpdated?: (ids: string[]) => void): Promise<() => Promise<void>> {
    return this.alerts.onAlerts(listener, onError, onUpdated);
  }

  /** The rows of these alerts (for streams announcing them). */
  getAlerts(ids: string[]): Promise<AlertRow[]> {
    return this.alerts.getAlerts(ids);
  }

  async counts(): Promise<StoreCounts> {
    const [events, alerts, incidents, actionsPending] = await Promise.all([this.events.count(), this.alerts.counts(), this.incidents.count(), this.actions.pendingCount()]);
    return { events, ...alerts, incidents, actionsPending };
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  /** Drops this store's schema and everything in it (tests isolate themselves in a schema per run). */
  async dropSchema(): Promise<void> {
    await this.conn.ready.catch(() => {});
    await this.conn.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
  }

  // The aggregates, as the one `Store` the service calls.
  knownKeys(keys: string[]): Promise<Set<string>> { return this.events.knownKeys(keys); }
  legacyKeysRetained(): Promise<boolean> { return this.events.legacyKeysRetained(); }
  knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> { return this.events.knownLegacyKeys(pairs); }
  retainedEvents(): AsyncIterable<EventRecord> { return this.events.retainedEvents(); }
  eventKeys(): AsyncIterable<string> { return this.events.eventKeys(); }
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
