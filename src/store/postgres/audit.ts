/** The audit trail in PostgreSQL. `record` writes on the caller's connection (inside its transaction). */
import { AUDIT_ORDER, auditFilter, auditRow } from '../rows.js';
import type { AuditEntry, AuditQuery, AuditStore, NewAuditEntry, Page } from '../types.js';
import { POSTGRES, type PgDb, type Queryable } from './db.js';

export async function recordAudit(c: Queryable, now: number, e: NewAuditEntry): Promise<void> {
  await c.query('INSERT INTO audit (time, actor, action, target_type, target_id, detail) VALUES ($1, $2, $3, $4, $5, $6)', [
    now,
    e.actor,
    e.action,
    e.targetType,
    e.targetId,
    JSON.stringify(e.detail),
  ]);
}

export class PgAuditStore implements AuditStore {
  constructor(private readonly conn: PgDb) {}

  async audit(entry: NewAuditEntry): Promise<void> {
    await this.conn.ready;
    await recordAudit(this.conn.pool, Date.now(), entry);
  }

  async listAudit(q: AuditQuery): Promise<Page<AuditEntry>> {
    return this.conn.page('audit', auditFilter(q, POSTGRES), AUDIT_ORDER, q, auditRow);
  }
}
