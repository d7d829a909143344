/**
 * The embedded store: one SQLite file in WAL mode (better-sqlite3, synchronous API).
 *
 * Durability: WAL with `synchronous=FULL` by default — every commit fsyncs the WAL, so an acknowledged batch
 * survives a power cut, not only a process crash. The service commits many requests in one transaction
 * (group commit), so the fsync is paid per group, not per event. `durability: 'normal'` (synchronous=NORMAL)
 * keeps every commit across a process crash (SIGKILL) but may lose the last commits on power loss; it is
 * offered for hosts where that trade is acceptable.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Severity } from '../model/alert.js';
import {
  severityRank,
  maxSeverity,
  type ActionRow,
  type ActionStatus,
  type AlertContextUpdate,
  type AlertQuery,
  type AlertRow,
  type AuditEntry,
  type Detected,
  type EventRecord,
  type IncidentQuery,
  type IncidentRow,
  type IngestResult,
  type KindFilter,
  type LegacyKey,
  type NewAction,
  type NewAuditEntry,
  type NewSuppression,
  type Page,
  type StatusChange,
  type Store,
  type StoreCounts,
  type Suppression,
} from './types.js';
import { contextAuditEntry, mergeContext } from './contextMerge.js';
import { outboxActions, type OutboxRule } from './outbox.js';
import { MIGRATIONS, SCHEMA_MIGRATIONS_DDL, checkNotNewer, migrationSql } from './migrations.js';
import {
  ACTION_ORDER,
  ALERT_ORDER,
  AUDIT_ORDER,
  INCIDENT_ORDER,
  actionFilter,
  actionRow as mapAction,
  actionUpdate,
  alertFilter,
  alertRow as mapAlert,
  applyStatusChange,
  auditFilter,
  auditRow,
  incidentFilter,
  incidentRow,
  pageQueries,
  suppressionRow,
  markSuppressed,
  type ActionPatch,
  type Dialect,
  type Row,
  type Where,
} from './rows.js';

export interface SqliteStoreOptions {
  /** Database file path, or ':memory:' for tests. */
  path: string;
  durability?: 'full' | 'normal';
}


/** SQLite: `?` placeholders, booleans stored as 0/1, NOCASE collation for host matching. */
const SQLITE: Dialect = {
  placeholder: () => '?',
  hostEquals: 'host = ? COLLATE NOCASE',
  readBool: (v) => v === 1,
  writeBool: (b) => (b ? 1 : 0),
};
const alertRow = (r: Row): AlertRow => mapAlert(r, SQLITE);
const actionRow = (r: Row): ActionRow => mapAction(r, SQLITE);

/** Keys looked up per statement in knownKeys (one round trip into SQLite per chunk, not per key). */
const KEY_CHUNK = 256;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    migrateSqlite(this.db, options.path);
    const db = this.db;
    this.stmt = {
      insertEvent: db.prepare('INSERT OR IGNORE INTO events (key, received_at, time, host, doc) VALUES (?, ?, ?, ?, ?)'),
      hasEvent: db.prepare('SELECT 1 FROM events WHERE key = ?'),
      legacyRetained: db.prepare('SELECT 1 FROM events WHERE seq <= (SELECT max_seq FROM legacy_event_keys) LIMIT 1').pluck(),
      hasLegacy: db.prepare('SELECT 1 FROM events WHERE key = ? AND time = ? AND seq <= (SELECT max_seq FROM legacy_event_keys)').pluck(),
      knownChunk: db.prepare(`SELECT key FROM events WHERE key IN (${Array.from({ length: KEY_CHUNK }, () => '?').join(',')})`).pluck(),
      lastSeq: db.prepare('SELECT max(seq) FROM events').pluck(),
      insertCommit: db.prepare('INSERT OR REPLACE INTO commits (last_seq, at) VALUES (?, ?)'),
      insertAlert: db.prepare(
        `INSERT OR IGNORE INTO alerts (id, event_key, rule_id, severity, severity_rank, time, host, user_name, incident_id,
           suppressed, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getIncident: db.prepare('SELECT * FROM incidents WHERE id = ?'),
      insertIncident: db.prepare(
        `INSERT INTO incidents (id, host, user_name, first_seen, last_seen, severity, severity_rank, alert_count, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
      ),
      widenIncident: db.prepare(
        `UPDATE incidents SET first_seen = ?, last_seen = ?, severity = ?, severity_rank = ?, alert_count = alert_count + 1,
           updated_at = ?, status = CASE WHEN status = 'closed' THEN 'open' ELSE status END WHERE id = ?`,
      ),
      insertAction: db.prepare(
        `INSERT OR IGNORE INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at,
           request, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertAudit: db.prepare('INSERT INTO audit (time, actor, action, target_type, target_id, detail) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  async knownKeys(keys: string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (let i = 0; i < keys.length; i += KEY_CHUNK) {
      const chunk = keys.slice(i, i + KEY_CHUNK);
      if (chunk.length === KEY_CHUNK) {
        for (const k of this.stmt.knownChunk.all(...chunk) as string[]) known.add(k);
      } else {
        for (const k of chunk) if (this.stmt.hasEvent.get(k) !== undefined) known.add(k);
      }
    }
    return known;
  }

  async commit(events: EventRecord[], detected: Detected): Promise<IngestResult> {
    return this.commitSync(events, detected);
  }

  async legacyKeysRetained(): Promise<boolean> {
    return this.stmt.legacyRetained.get() !== undefined;
  }

  async knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (const p of pairs) if (this.stmt.hasLegacy.get(p.key, p.time) !== undefined) known.add(p.key);
    return known;
  }

  /** `knownKeys` + `commit` in one call, for callers in the same thread (tests, tools): detect sees only new events. */
  async ingest(events: EventRecord[], detect: (fresh: EventRecord[]) => Detected): Promise<IngestResult> {
    return this.db.transaction((): IngestResult => {
      const seen = new Set<string>();
      const fresh = events.filter((e) => !seen.has(e.key) && (seen.add(e.key), this.stmt.hasEvent.get(e.key) === undefined));
      const r = this.commitSync(fresh, fresh.length > 0 ? detect(fresh) : { alerts: [], actions: [] });
      return { ...r, duplicates: events.length - r.stored };
    })();
  }

  private commitSync(events: EventRecord[], detected: Detected): IngestResult {
    const run = this.db.transaction((): IngestResult => {
      const now = Date.now();
      let stored = 0;
      for (const e of events) stored += this.stmt.insertEvent.run(e.key, now, e.time, e.host, e.doc).changes;
      if (stored > 0) this.stmt.insertCommit.run(this.stmt.lastSeq.get(), now);
      const alertsCreated = detected.alerts.filter(
        (a) =>
          this.stmt.insertAlert.run(
            a.id, a.eventKey, a.ruleId, a.severity, severityRank(a.severity), a.time, a.host, a.user ?? null,
            a.incidentId ?? null, a.suppressed ? 1 : 0, now, now, JSON.stringify(a.doc),
          ).changes > 0,
      );
      for (const a of alertsCreated) {
        if (a.incidentId && !a.suppressed) this.touchIncident({ id: a.incidentId, host: a.host, user: a.user, time: a.time, severity: a.severity }, now);
      }
      const actionsCreated: string[] = [];
      for (const a of detected.actions) {
        const r = this.stmt.insertAction.run(
          a.id, a.alertId, a.workflow, a.kind, a.status, a.destructive ? 1 : 0, a.dryRun ? 1 : 0, a.maxAttempts, now,
          JSON.stringify(a.request), now, now,
        );
        if (r.changes > 0) actionsCreated.push(a.id);
      }
      return { stored, duplicates: events.length - stored, alertsCreated, actionsCreated };
    });
    return run();
  }

  private touchIncident(inc: { id: string; host: string; user?: string; time: string; severity: Severity }, now: number): void {
    const row = this.stmt.getIncident.get(inc.id) as Row | undefined;
    if (!row) {
      this.stmt.insertIncident.run(inc.id, inc.host, inc.user ?? null, inc.time, inc.time, inc.severity, severityRank(inc.severity), now, now);
      return;
    }
    const first = String(row.first_seen) < inc.time ? String(row.first_seen) : inc.time;
    const last = String(row.last_seen) > inc.time ? String(row.last_seen) : inc.time;
    const sev = maxSeverity(row.severity as Severity, inc.severity);
    this.stmt.widenIncident.run(first, last, sev, severityRank(sev), now, inc.id);
  }

  async *retainedEvents(): AsyncIterable<EventRecord> {
    let after = 0;
    for (;;) {
      const page = this.retainedEventsPage(after, 5000);
      for (const r of page.items) yield r;
      if (page.items.length < 5000) return;
      after = page.lastSeq;
    }
  }

  async *eventKeys(): AsyncIterable<string> {
    let after = 0;
    for (;;) {
      const page = this.eventKeysPage(after, 50_000);
      yield* page.keys;
      if (page.keys.length < 50_000) return;
      after = page.lastSeq;
    }
  }

  eventKeysPage(after: number, limit: number): { keys: string[]; lastSeq: number } {
    const rows = this.db.prepare('SELECT seq, key FROM events WHERE seq > ? ORDER BY seq LIMIT ?').raw().all(after, limit) as [number, string][];
    return { keys: rows.map((r) => r[1]), lastSeq: rows.length > 0 ? rows[rows.length - 1]![0] : after };
  }

  /** One page of retained events with documents, after sequence number `after` (worker paging). */
  retainedEventsPage(after: number, limit: number): { items: EventRecord[]; lastSeq: number } {
    const rows = this.db.prepare('SELECT seq, key, time, host, doc FROM events WHERE seq > ? AND doc IS NOT NULL ORDER BY seq LIMIT ?').all(after, limit) as Row[];
    return {
      items: rows.map((r) => ({ key: String(r.key), time: String(r.time), host: String(r.host), doc: r.doc as string })),
      lastSeq: rows.length > 0 ? (rows[rows.length - 1]!.seq as number) : after,
    };
  }

  async hasEvent(key: string): Promise<boolean> {
    return this.stmt.hasEvent.get(key) !== undefined;
  }

  async hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]> {
    if (needles.length === 0) return [];
    const match = needles.map(() => 'instr(lower(doc), ?) > 0').join(' OR ');
    const sql = `SELECT doc FROM events WHERE host = ? COLLATE NOCASE AND doc IS NOT NULL AND (${match}) ORDER BY seq DESC LIMIT ?`;
    return this.db.prepare(sql).pluck().all(host, ...needles, limit) as string[];
  }

  async pruneEvents(olderThanMs: number, maxEvents: number): Promise<number> {
    return this.db.transaction((): number => {
      const cutoff = Date.now() - olderThanMs;
      const oldSeq = this.db.prepare('SELECT max(last_seq) FROM commits WHERE at < ?').pluck().get(cutoff) as number | null;
      const byAge = oldSeq === null ? 0 : this.db.prepare('DELETE FROM events WHERE seq <= ?').run(oldSeq).changes;
      this.db.prepare('DELETE FROM commits WHERE at < ?').run(cutoff);
      const maxSeq = this.stmt.lastSeq.get() as number | null;
      const byCount = maxSeq === null ? 0 : this.db.prepare('DELETE FROM events WHERE seq <= ?').run(maxSeq - maxEvents).changes;
      return byAge + byCount;
    })();
  }

  async listAlerts(q: AlertQuery): Promise<Page<AlertRow>> {
    return this.page('alerts', alertFilter(q, SQLITE), ALERT_ORDER, q, alertRow);
  }

  private page<T>(table: string, where: Where, order: string, q: { limit: number; offset: number }, map: (r: Row) => T): Page<T> {
    const { count, rows } = pageQueries(table, where, order, q);
    const total = (this.db.prepare(count.sql).get(...count.args) as Row).n as number;
    return { total, items: (this.db.prepare(rows.sql).all(...rows.args) as Row[]).map(map) };
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row | undefined;
    return r ? alertRow(r) : undefined;
  }

  async updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> {
    // The change and the forwards of the changed alert in one transaction (outbox.ts).
    return this.db.transaction((): AlertRow | undefined => {
      if (!this.updateStatus('alerts', 'alert', id, change)) return undefined;
      const row = alertRow(this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row);
      this.insertOutbox(outboxActions(row, outbox), row.updatedAt);
      return row;
    })();
  }

  private insertOutbox(actions: NewAction[], now: number): void {
    for (const a of actions) {
      this.stmt.insertAction.run(a.id, a.alertId, a.workflow, a.kind, a.status, a.destructive ? 1 : 0, a.dryRun ? 1 : 0, a.maxAttempts, now, JSON.stringify(a.request), now, now);
    }
  }

  async updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> {
    if (updates.length === 0) return [];
    const select = this.db.prepare('SELECT * FROM alerts WHERE id = ?');
    const write = this.db.prepare('UPDATE alerts SET doc = ?, updated_at = ? WHERE id = ?');
    const writeSeverity = this.db.prepare('UPDATE alerts SET doc = ?, updated_at = ?, severity = ?, severity_rank = ? WHERE id = ?');
    const raiseIncident = this.db.prepare('UPDATE incidents SET severity = ?, severity_rank = ?, updated_at = ? WHERE id = ? AND severity_rank < ?');
    return this.db.transaction((): AlertRow[] => {
      const now = Date.now();
      const changed: AlertRow[] = [];
      for (const u of updates) {
        const row = select.get(u.id) as Row | undefined;
        if (!row) continue;
        const merged = mergeContext(JSON.parse(String(row.doc)) as Record<string, unknown>, u);
        if (merged.changed.length === 0) continue;
        const sev = merged.severity;
        if (sev) {
          writeSeverity.run(JSON.stringify(merged.doc), now, sev, severityRank(sev), u.id);
          // The incident takes the highest severity of its alerts.
          if (row.incident_id) raiseIncident.run(sev, severityRank(sev), now, row.incident_id, severityRank(sev));
        } else write.run(JSON.stringify(merged.doc), now, u.id);
        const a = contextAuditEntry(u.id, actor, merged.changed, merged.doc);
        this.stmt.insertAudit.run(now, a.actor, a.action, a.targetType, a.targetId, JSON.stringify(a.detail));
        const updated: AlertRow = { ...alertRow(row), updatedAt: now, doc: merged.doc, ...(sev ? { severity: sev } : {}) };
        this.insertOutbox(outboxActions(updated, outbox), now);
        changed.push(updated);
      }
      return changed;
    })();
  }

  async listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> {
    return this.page('incidents', incidentFilter(q, SQLITE), INCIDENT_ORDER, q, incidentRow);
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const r = this.stmt.getIncident.get(id) as Row | undefined;
    return r ? incidentRow(r) : undefined;
  }

  async updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> {
    return this.updateStatus('incidents', 'incident', id, change) ? this.getIncident(id) : undefined;
  }

  /** Status/assignee change and its audit entry, in one transaction. */
  private updateStatus(table: 'alerts' | 'incidents', kind: string, id: string, change: StatusChange): boolean {
    return this.db.transaction((): boolean => {
      const before = this.db.prepare(`SELECT status, assignee FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
      if (!before) return false;
      const { status, assignee, detail } = applyStatusChange(before, change);
      this.db
        .prepare(`UPDATE ${table} SET status = ?, assignee = ?, status_reason = ?, updated_at = ? WHERE id = ?`)
        .run(status, assignee, change.reason ?? null, Date.now(), id);
      this.stmt.insertAudit.run(Date.now(), change.actor, `${kind}.update`, kind, id, JSON.stringify(detail));
      return true;
    })();
  }

  async listSuppressions(): Promise<Suppression[]> {
    return (this.db.prepare('SELECT * FROM suppressions ORDER BY id').all() as Row[]).map(suppressionRow);
  }

  async addSuppression(s: NewSuppression): Promise<Suppression> {
    return this.db.transaction((): Suppression => {
      const now = Date.now();
      const r = this.db
        .prepare(
          `INSERT INTO suppressions (rule_id, host, user_name, image, parent_image, command_line, reason, expires_at, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.ruleId, s.host, s.user, s.image, s.parentImage, s.commandLine, s.reason, s.expiresAt, s.createdBy, now);
      const id = Number(r.lastInsertRowid);
      this.stmt.insertAudit.run(now, s.createdBy, 'suppression.create', 'suppression', String(id), JSON.stringify(s));
      return suppressionRow(this.db.prepare('SELECT * FROM suppressions WHERE id = ?').get(id) as Row);
    })();
  }

  async deleteSuppression(id: number, actor: string): Promise<boolean> {
    return this.db.transaction((): boolean => {
      const gone = this.db.prepare('DELETE FROM suppressions WHERE id = ?').run(id).changes > 0;
      if (gone) this.stmt.insertAudit.run(Date.now(), actor, 'suppression.delete', 'suppression', String(id), '{}');
      return gone;
    })();
  }

  async countSuppressionHit(id: number): Promise<void> {
    this.db.prepare('UPDATE suppressions SET hits = hits + 1 WHERE id = ?').run(id);
  }

  async suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> {
    if (ids.length === 0) return 0;
    const select = this.db.prepare('SELECT doc FROM alerts WHERE id = ? AND suppressed = 0');
    const write = this.db.prepare('UPDATE alerts SET suppressed = 1, doc = ?, updated_at = ? WHERE id = ?');
    return this.db.transaction((): number => {
      const now = Date.now();
      let changed = 0;
      for (const id of ids) {
        const row = select.get(id) as Row | undefined;
        if (!row) continue;
        write.run(JSON.stringify(markSuppressed(JSON.parse(String(row.doc)) as Record<string, unknown>, by)), now, id);
        this.stmt.insertAudit.run(now, actor, 'alert.suppress', 'alert', id, JSON.stringify({ by: by.ref, reason: by.reason }));
        changed++;
      }
      return changed;
    })();
  }

  async dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> {
    const byKind = kind === undefined ? '' : 'is' in kind ? 'AND kind = ?' : 'AND kind <> ?';
    const args: unknown[] = kind === undefined ? [now, limit] : [now, 'is' in kind ? kind.is : kind.not, limit];
    const rows = this.db
      .prepare(`SELECT * FROM actions WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ? ${byKind} ORDER BY next_attempt_at LIMIT ?`)
      .all(...args) as Row[];
    return rows.map(actionRow);
  }

  async getAction(id: string): Promise<ActionRow | undefined> {
    const r = this.db.prepare('SELECT * FROM actions WHERE id = ?').get(id) as Row | undefined;
    return r ? actionRow(r) : undefined;
  }

  async listActions(q: { alertId?: string; status?: ActionStatus; limit: number; offset: number }): Promise<Page<ActionRow>> {
    return this.page('actions', actionFilter(q, SQLITE), ACTION_ORDER, q, actionRow);
  }

  async updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> {
    const u = actionUpdate(id, patch, Date.now(), SQLITE, onlyIf);
    return this.db.prepare(u.sql).run(...u.args).changes > 0;
  }

  async requeueInterruptedActions(): Promise<number> {
    return this.db.prepare(`UPDATE actions SET status = 'retrying', updated_at = ? WHERE status = 'running'`).run(Date.now()).changes;
  }

  async audit(entry: NewAuditEntry): Promise<void> {
    this.stmt.insertAudit.run(Date.now(), entry.actor, entry.action, entry.targetType, entry.targetId, JSON.stringify(entry.detail));
  }

  async listAudit(q: { targetId?: string; limit: number; offset: number }): Promise<Page<AuditEntry>> {
    return this.page('audit', auditFilter(q, SQLITE), AUDIT_ORDER, q, auditRow);
  }

  async counts(): Promise<StoreCounts> {
    const n = (sql: string): number => (this.db.prepare(sql).get() as Row).n as number;
    return {
      events: n('SELECT count(*) AS n FROM events'),
      alerts: n('SELECT count(*) AS n FROM alerts'),
      openAlerts: n(`SELECT count(*) AS n FROM alerts WHERE status = 'open'`),
      incidents: n('SELECT count(*) AS n FROM incidents'),
      actionsPending: n(`SELECT count(*) AS n FROM actions WHERE status IN ('pending', 'retrying', 'pending_approval', 'running')`),
    };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}


/** Applies the migrations this data directory lacks, each in its own transaction with its schema_migrations row. */
function migrateSqlite(db: Database.Database, path: string): void {
  db.exec(SCHEMA_MIGRATIONS_DDL);
  const applied = (db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number);
  checkNotNewer(applied, path);
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version <= applied) continue;
    try {
      db.transaction(() => {
        db.exec(migrationSql(m, 'sqlite'));
        record.run(m.version, Date.now());
      })();
    } catch (err) {
      throw new Error(`${path}: schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
    }
  }
}
