/** Incidents in PostgreSQL: created or widened by the alerts of a batch commit (`widen`), listed and triaged. */
import type { Severity } from '../../model/alert.js';
import { INCIDENT_ORDER, incidentFilter, incidentRow } from '../rows.js';
import { severityRank, type IncidentQuery, type IncidentRow, type IncidentStore, type NewAlert, type Page, type StatusChange } from '../types.js';
import { POSTGRES, cmp, type PgDb, type Queryable } from './db.js';
import { updateStatus } from './status.js';

export class PgIncidentStore implements IncidentStore {
  constructor(private readonly conn: PgDb) {}

  /**
   * New unsuppressed alerts create or widen their incident: one atomic upsert per incident (the row lock of
   * ON CONFLICT DO UPDATE serialises concurrent writers; LEAST/GREATEST make the order of commits irrelevant).
   * Only alerts the transaction actually inserted are passed, so a batch committed twice counts nothing twice.
   */
  async widen(c: Queryable, created: NewAlert[], now: number): Promise<void> {
    const byId = new Map<string, { host: string; user: string | null; first: string; last: string; severity: Severity; count: number }>();
    for (const a of created) {
      if (!a.incidentId || a.suppressed) continue;
      const cur = byId.get(a.incidentId);
      if (!cur) {
        byId.set(a.incidentId, { host: a.host, user: a.user ?? null, first: a.time, last: a.time, severity: a.severity, count: 1 });
        continue;
      }
      if (a.time < cur.first) cur.first = a.time;
      if (a.time > cur.last) cur.last = a.time;
      if (severityRank(a.severity) > severityRank(cur.severity)) cur.severity = a.severity;
      cur.count++;
    }
    if (byId.size === 0) return;
    const list = [...byId.entries()].sort((a, b) => cmp(a[0], b[0]));
    await c.query(
      `INSERT INTO incidents AS i (id, host, user_name, first_seen, last_seen, severity, severity_rank, alert_count, created_at, updated_at)
       SELECT id, h, us, f, l, sv, sr, n, $9, $9
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[]) AS u(id, h, us, f, l, sv, sr, n)
       ON CONFLICT (id) DO UPDATE SET
         first_seen = LEAST(i.first_seen, EXCLUDED.first_seen),
         last_seen = GREATEST(i.last_seen, EXCLUDED.last_seen),
         severity = CASE WHEN EXCLUDED.severity_rank > i.severity_rank THEN EXCLUDED.severity ELSE i.severity END,
         severity_rank = GREATEST(i.severity_rank, EXCLUDED.severity_rank),
         alert_count = i.alert_count + EXCLUDED.alert_count,
         updated_at = EXCLUDED.updated_at,
         status = CASE WHEN i.status = 'closed' THEN 'open' ELSE i.status END`,
      [
        list.map(([id]) => id),
        list.map(([, v]) => v.host),
        list.map(([, v]) => v.user),
        list.map(([, v]) => v.first),
        list.map(([, v]) => v.last),
        list.map(([, v]) => v.severity),
        list.map(([, v]) => severityRank(v.severity)),
        list.map(([, v]) => v.count),
        now,
      ],
    );
  }

  async listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>> {
    return this.conn.page('incidents', incidentFilter(q, POSTGRES), INCIDENT_ORDER, q, incidentRow);
  }

  async getIncident(id: string): Promise<IncidentRow | undefined> {
    const r = (await this.conn.q('SELECT * FROM incidents WHERE id = $1', [id]))[0];
    return r ? incidentRow(r) : undefined;
  }

  async updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined> {
    return (await updateStatus(this.conn, 'incidents', 'incident', id, change)) ? this.getIncident(id) : undefined;
  }

  count(): Promise<number> {
    return this.conn.count('SELECT count(*) AS n FROM incidents');
  }
}
