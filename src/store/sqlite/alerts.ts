/**
 * Alerts in SQLite: listing, triage, later context and after-the-fact suppression, each change audited in
 * its transaction. `insert` is the alerts' part of the engine's batch commit.
 */
import { contextAuditEntry, mergeContext } from '../contextMerge.js';
import { ALERT_ORDER, alertFilter, alertRow as mapAlert, markSuppressed, type Row } from '../rows.js';
import { severityRank, type AlertContextUpdate, type AlertQuery, type AlertRow, type AlertStore, type NewAlert, type Page, type StatusChange } from '../types.js';
import { outboxActions, type OutboxRule } from '../outbox.js';
import type { SqliteActionStore } from './actions.js';
import type { SqliteAuditStore } from './audit.js';
import { SQLITE, type SqliteDb } from './db.js';
import { updateStatus } from './status.js';

const alertRow = (r: Row): AlertRow => mapAlert(r, SQLITE);

export class SqliteAlertStore implements AlertStore {
  private readonly stmt;

  constructor(
    private readonly conn: SqliteDb,
    private readonly trail: SqliteAuditStore,
    /** Where the outbox of a change goes (its forwards), in the change's transaction. */
    private readonly actions: SqliteActionStore,
  ) {
    this.stmt = {
      insert: conn.db.prepare(
        `INSERT OR IGNORE INTO alerts (id, event_key, rule_id, severity, severity_rank, time, host, user_name, incident_id,
           suppressed, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      get: conn.db.prepare('SELECT * FROM alerts WHERE id = ?'),
    };
  }

  /** Inserts the alerts not stored yet (by id); returns those it created. */
  insert(alerts: NewAlert[], now: number): NewAlert[] {
    return alerts.filter(
      (a) =>
        this.stmt.insert.run(
          a.id, a.eventKey, a.ruleId, a.severity, severityRank(a.severity), a.time, a.host, a.user ?? null,
          a.incidentId ?? null, a.suppressed ? 1 : 0, now, now, JSON.stringify(a.doc),
        ).changes > 0,
    );
  }

  async listAlerts(q: AlertQuery): Promise<Page<AlertRow>> {
    return this.conn.page('alerts', alertFilter(q, SQLITE), ALERT_ORDER, q, alertRow);
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = this.stmt.get.get(id) as Row | undefined;
    return r ? alertRow(r) : undefined;
  }

  async updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> {
    // The change and the forwards of the changed alert in one transaction (outbox.ts).
    return this.conn.tx((): AlertRow | undefined => {
      if (!updateStatus(this.conn, this.trail, 'alerts', 'alert', id, change)) return undefined;
      const row = alertRow(this.stmt.get.get(id) as Row);
      this.actions.insert(outboxActions(row, outbox), row.updatedAt);
      return row;
    });
  }

  async updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> {
    if (updates.length === 0) return [];
    const write = this.conn.db.prepare('UPDATE alerts SET doc = ?, updated_at = ? WHERE id = ?');
    const writeSeverity = this.conn.db.prepare('UPDATE alerts SET doc = ?, updated_at = ?, severity = ?, severity_rank = ? WHERE id = ?');
    const raiseIncident = this.conn.db.prepare('UPDATE incidents SET severity = ?, severity_rank = ?, updated_at = ? WHERE id = ? AND severity_rank < ?');
    return this.conn.tx((): AlertRow[] => {
      const now = Date.now();
      const changed: AlertRow[] = [];
      for (const u of updates) {
        const row = this.stmt.get.get(u.id) as Row | undefined;
        if (!row) continue;
        const merged = mergeContext(JSON.parse(String(row.doc)) as Record<string, unknown>, u);
        if (merged.changed.length === 0) continue;
        const sev = merged.severity;
        if (sev) {
          writeSeverity.run(JSON.stringify(merged.doc), now, sev, severityRank(sev), u.id);
          // The incident takes the highest severity of its alerts.
          if (row.incident_id) raiseIncident.run(sev, severityRank(sev), now, row.incident_id, severityRank(sev));
        } else write.run(JSON.stringify(merged.doc), now, u.id);
        this.trail.record(now, contextAuditEntry(u.id, actor, merged.changed, merged.doc));
        const updated: AlertRow = { ...alertRow(row), updatedAt: now, doc: merged.doc, ...(sev ? { severity: sev } : {}) };
        this.actions.insert(outboxActions(updated, outbox), now);
        changed.push(updated);
      }
      return changed;
    });
  }

  async suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> {
    if (ids.length === 0) return 0;
    const select = this.conn.db.prepare('SELECT doc FROM alerts WHERE id = ? AND suppressed = 0');
    const write = this.conn.db.prepare('UPDATE alerts SET suppressed = 1, doc = ?, updated_at = ? WHERE id = ?');
    return this.conn.tx((): number => {
      const now = Date.now();
      let changed = 0;
      for (const id of ids) {
        const row = select.get(id) as Row | undefined;
        if (!row) continue;
        write.run(JSON.stringify(markSuppressed(JSON.parse(String(row.doc)) as Record<string, unknown>, by)), now, id);
        this.trail.record(now, { actor, action: 'alert.suppress', targetType: 'alert', targetId: id, detail: { by: by.ref, reason: by.reason } });
        changed++;
      }
      return changed;
    });
  }

  counts(): { alerts: number; openAlerts: number } {
    return {
      alerts: this.conn.count('SELECT count(*) AS n FROM alerts'),
      openAlerts: this.conn.count(`SELECT count(*) AS n FROM alerts WHERE status = 'open'`),
    };
  }
}
