/** The triage status change alerts and incidents share, with its audit entry, in one transaction (row locked while read). */
import { applyStatusChange, type Row } from '../rows.js';
import type { StatusChange } from '../types.js';
import { recordAudit } from './audit.js';
import type { PgDb, Queryable } from './db.js';

export async function updateStatus(conn: PgDb, table: 'alerts' | 'incidents', kind: 'alert' | 'incident', id: string, change: StatusChange): Promise<boolean> {
  return conn.tx((c) => updateStatusIn(c, table, kind, id, change));
}

/** updateStatus in the caller's transaction (a change that writes more with it: the alert outbox). */
export async function updateStatusIn(c: Queryable, table: 'alerts' | 'incidents', kind: 'alert' | 'incident', id: string, change: StatusChange): Promise<boolean> {
  {
    const before = (await c.query(`SELECT status, assignee FROM ${table} WHERE id = $1 FOR UPDATE`, [id])).rows[0] as Row | undefined;
    if (!before) return false;
    const { status, assignee, detail } = applyStatusChange(before, change);
    const now = Date.now();
    await c.query(`UPDATE ${table} SET status = $1, assignee = $2, status_reason = $3, updated_at = $4 WHERE id = $5`, [status, assignee, change.reason ?? null, now, id]);
    await recordAudit(c, now, { actor: change.actor, action: `${kind}.update`, targetType: kind, targetId: id, detail });
    return true;
  }
}
