/** Analysts' suppressions in SQLite; create and delete are audited in their transaction. */
import { suppressionRow, type Row } from '../rows.js';
import type { NewSuppression, Suppression, SuppressionStore } from '../types.js';
import type { SqliteAuditStore } from './audit.js';
import type { SqliteDb } from './db.js';

export class SqliteSuppressionStore implements SuppressionStore {
  constructor(
    private readonly conn: SqliteDb,
    private readonly trail: SqliteAuditStore,
  ) {}

  async listSuppressions(): Promise<Suppression[]> {
    return (this.conn.db.prepare('SELECT * FROM suppressions ORDER BY id').all() as Row[]).map(suppressionRow);
  }

  async addSuppression(s: NewSuppression): Promise<Suppression> {
    const db = this.conn.db;
    return this.conn.tx((): Suppression => {
      const now = Date.now();
      const r = db
        .prepare(
          `INSERT INTO suppressions (rule_id, host, user_name, image, parent_image, command_line, reason, expires_at, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.ruleId, s.host, s.user, s.image, s.parentImage, s.commandLine, s.reason, s.expiresAt, s.createdBy, now);
      const id = Number(r.lastInsertRowid);
      this.trail.record(now, { actor: s.createdBy, action: 'suppression.create', targetType: 'suppression', targetId: String(id), detail: { ...s } });
      return suppressionRow(db.prepare('SELECT * FROM suppressions WHERE id = ?').get(id) as Row);
    });
  }

  async deleteSuppression(id: number, actor: string): Promise<boolean> {
    return this.conn.tx((): boolean => {
      const gone = this.conn.db.prepare('DELETE FROM suppressions WHERE id = ?').run(id).changes > 0;
      if (gone) this.trail.record(Date.now(), { actor, action: 'suppression.delete', targetType: 'suppression', targetId: String(id), detail: {} });
      return gone;
    });
  }

  async countSuppressionHit(id: number): Promise<void> {
    this.conn.db.prepare('UPDATE suppressions SET hits = hits + 1 WHERE id = ?').run(id);
  }
}
