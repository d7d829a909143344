/** Incidents in SQLite: created or widened by the alerts of a batch commit (`widen`), listed and triaged. */
import type { Severity } from '../../model/alert.js';
import { INCIDENT_ORDER, incidentFilter, incidentRow, type Row } from '../rows.js';
import { maxSeverity, severityRank, type IncidentQuery, type IncidentRow, type IncidentStore, type NewAlert, type Page, type StatusChange } from '../types.js';
import type { SqliteAuditStore } from './audit.js';
import { SQLITE, type SqliteDb } from './db.js';
import { updateStatus } from './status.js';

export class SqliteIncidentStore implements IncidentStore {
  private readonly stmt;

  constructor(
    private readonly conn: SqliteDb,
    private readonly trail: SqliteAuditStore,
  ) {
    const db = conn.db;
    this.stmt = {
      get: db.prepare('SELECT * FROM incidents WHERE id = ?'),
      insert: db.prepare(
        `INSERT INTO incidents (id, host, user_name, first_seen, last_seen, severity, severity_rank, alert_count, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
      ),
      widen: db.prepare(
        `UPDATE incidents SET first_seen = ?, last_seen = ?, severity = ?, severity_rank = ?, alert_count = alert_count + 1,
           updated_at = ?, status = CASE WHEN status = 'closed' THEN 'open' ELSE status END WHERE id = ?`,
      ),
    };
  }

  /** Each new, unsuppressed alert with an incident id creates that incident or widens it (times, severity, count). */
  widen(created: NewAlert[], now: number): void {
    for (const a of created) {
      if (a.incidentId && !a.suppressed) this.touch({ id: a.incidentId, host: a.host, user: a.user, time: a.time, severity: a.severity }, now);
    }
  }

  private touch(inc: { id: string; host: string; user?: string; time: string; severity: Severity }, now: number): void {
    const row = this.stmt.get.get(inc.id) as Row | undefined;
    if (!row) {
      this.stmt.insert.run(inc.id, inc.host, inc.user ?? null, inc.time, inc.time, inc.severity, severityRank(inc.severity), now, now);
      return;
    }
    const first = String(row.first_seen) < inc.time ? String(row.first_seen) : inc.time;
    const last = String(row.last_seen) > inc.time ? String(row.last_seen) : inc.time;
    const sev = maxSeverity(row.severity as Severity, inc.severity);
    this.stmt.widen.run(first, last, sev, severityRank(sev), now, inc.id);
  }

  async listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> {
    return this.conn.page('incidents', incidentFilter(q, SQLITE), INCIDENT_ORDER, q, incidentRow);
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const r = this.stmt.get.get(id) as Row | undefined;
    return r ? incidentRow(r) : undefined;
  }

  async updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> {
    return updateStatus(this.conn, this.trail, 'incidents', 'incident', id, change) ? this.getIncident(id) : undefined;
  }

  count(): number {
    return this.conn.count('SELECT count(*) AS n FROM incidents');
  }
}
