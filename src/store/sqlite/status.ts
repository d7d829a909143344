/** The triage status change alerts and incidents share: status/assignee/reason and its audit entry, one transaction. */
import { applyStatusChange, type Row } from '../rows.js';
import type { StatusChange } from '../types.js';
import type { SqliteAuditStore } from './audit.js';
import type { SqliteDb } from './db.js';

export function updateStatus(conn: SqliteDb, audit: SqliteAuditStore, table: 'alerts' | 'incidents', kind: 'alert' | 'incident', id: string, change: StatusChange): boolean {
  return conn.tx((): boolean => {
    const before = conn.db.prepare(`SELECT status, assignee FROM ${table} WHERE id = ?`).get(id) as Row | undefined;
    if (!before) return false;
    const { status, assignee, detail } = applyStatusChange(before, change);
    const now = Date.now();
    conn.db.prepare(`UPDATE ${table} SET status = ?, assignee = ?, status_reason = ?, updated_at = ? WHERE id = ?`).run(status, assignee, change.reason ?? null, now, id);
    audit.record(now, { actor: change.actor, action: `${kind}.update`, targetType: kind, targetId: id, detail });
    return true;
  });
}
