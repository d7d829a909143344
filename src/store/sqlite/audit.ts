/** The audit trail in SQLite. `record` is called by the other aggregates inside their own transactions. */
import { AUDIT_ORDER, auditFilter, auditRow } from '../rows.js';
import type { AuditEntry, AuditQuery, AuditStore, NewAuditEntry, Page } from '../types.js';
import { SQLITE, type SqliteDb } from './db.js';

export class SqliteAuditStore implements AuditStore {
  private readonly insert;

  constructor(private readonly conn: SqliteDb) {
    this.insert = conn.db.prepare('INSERT INTO audit (time, actor, action, target_type, target_id, detail) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Writes one entry (synchronously, so it joins the caller's transaction). */
  record(now: number, e: NewAuditEntry): void {
    this.insert.run(now, e.actor, e.action, e.targetType, e.targetId, JSON.stringify(e.detail));
  }

  async audit(entry: NewAuditEntry): Promise<void> {
    this.record(Date.now(), entry);
  }

  async listAudit(q: AuditQuery): Promise<Page<AuditEntry>> {
    return this.conn.page('audit', auditFilter(q, SQLITE), AUDIT_ORDER, q, auditRow);
  }
}
