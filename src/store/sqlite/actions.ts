/** Response actions in SQLite: planned by the batch commit (`insert`), then due, updated and requeued. */
import { ACTION_ORDER, actionFilter, actionRow as mapAction, actionUpdate, type Row } from '../rows.js';
import type { ActionPatch, ActionQuery, ActionRow, ActionStatus, ActionStore, KindFilter, NewAction, Page } from '../types.js';
import { SQLITE, type SqliteDb } from './db.js';

const actionRow = (r: Row): ActionRow => mapAction(r, SQLITE);

export class SqliteActionStore implements ActionStore {
  private readonly insertStmt;

  constructor(private readonly conn: SqliteDb) {
    this.insertStmt = conn.db.prepare(
      `INSERT OR IGNORE INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at,
         request, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Plans the actions not planned yet (by id), due now; returns the ids it created. */
  insert(actions: NewAction[], now: number): string[] {
    const created: string[] = [];
    for (const a of actions) {
      const r = this.insertStmt.run(
        a.id, a.alertId, a.workflow, a.kind, a.status, a.destructive ? 1 : 0, a.dryRun ? 1 : 0, a.maxAttempts, now,
        JSON.stringify(a.request), now, now,
      );
      if (r.changes > 0) created.push(a.id);
    }
    return created;
  }

  async dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> {
    const byKind = kind === undefined ? '' : 'is' in kind ? 'AND kind = ?' : 'AND kind <> ?';
    const args: unknown[] = kind === undefined ? [now, limit] : [now, 'is' in kind ? kind.is : kind.not, limit];
    const rows = this.conn.db
      .prepare(`SELECT * FROM actions WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ? ${byKind} ORDER BY next_attempt_at LIMIT ?`)
      .all(...args) as Row[];
    return rows.map(actionRow);
  }

  async getAction(id: string): Promise<ActionRow | undefined> {
    const r = this.conn.db.prepare('SELECT * FROM actions WHERE id = ?').get(id) as Row | undefined;
    return r ? actionRow(r) : undefined;
  }

  async listActions(q: ActionQuery): Promise<Page<ActionRow>> {
    return this.conn.page('actions', actionFilter(q, SQLITE), ACTION_ORDER, q, actionRow);
  }

  async updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> {
    const u = actionUpdate(id, patch, Date.now(), SQLITE, onlyIf);
    return this.conn.db.prepare(u.sql).run(...u.args).changes > 0;
  }

  async requeueInterruptedActions(): Promise<number> {
    return this.conn.db.prepare(`UPDATE actions SET status = 'retrying', updated_at = ? WHERE status = 'running'`).run(Date.now()).changes;
  }

  pendingCount(): number {
    return this.conn.count(`SELECT count(*) AS n FROM actions WHERE status IN ('pending', 'retrying', 'pending_approval', 'running')`);
  }
}
