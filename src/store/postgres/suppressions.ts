/** Analysts' suppressions in PostgreSQL; create and delete are audited in their transaction. */
import { suppressionRow, type Row } from '../rows.js';
import type { NewSuppression, Suppression, SuppressionStore } from '../types.js';
import { recordAudit } from './audit.js';
import type { PgDb } from './db.js';

export class PgSuppressionStore implements SuppressionStore {
  constructor(private readonly conn: PgDb) {}

  async listSuppressions(): Promise<Suppression[]> {
    return (await this.conn.q('SELECT * FROM suppressions ORDER BY id')).map(suppressionRow);
  }

  async addSuppression(s: NewSuppression): Promise<Suppression> {
    return this.conn.tx(async (c) => {
      const now = Date.now();
      const row = (
        await c.query(
          `INSERT INTO suppressions (rule_id, host, user_name, image, parent_image, command_line, reason, expires_at, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
          [s.ruleId, s.host, s.user, s.image, s.parentImage, s.commandLine, s.reason, s.expiresAt, s.createdBy, now],
        )
      ).rows[0] as Row;
      const created = suppressionRow(row);
      await recordAudit(c, now, { actor: s.createdBy, action: 'suppression.create', targetType: 'suppression', targetId: String(created.id), detail: { ...s } });
      return created;
    });
  }

  async deleteSuppression(id: number, actor: string): Promise<boolean> {
    return this.conn.tx(async (c) => {
      const gone = ((await c.query('DELETE FROM suppressions WHERE id = $1', [id])).rowCount ?? 0) > 0;
      if (gone) await recordAudit(c, Date.now(), { actor, action: 'suppression.delete', targetType: 'suppression', targetId: String(id), detail: {} });
      return gone;
    });
  }

  async countSuppressionHit(id: number): Promise<void> {
    await this.conn.q('UPDATE suppressions SET hits = hits + 1 WHERE id = $1', [id]);
  }
}
