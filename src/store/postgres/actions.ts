/**
 * Response actions in PostgreSQL: planned by the batch commit (`insert`), then claimed with a lease
 * (`FOR UPDATE SKIP LOCKED`: two runners never get the same action), updated and requeued.
 */
import { ACTION_ORDER, actionFilter, actionRow as mapAction, actionUpdate, type Row } from '../rows.js';
import type { ActionPatch, ActionQuery, ActionRow, ActionStatus, ActionStore, KindFilter, NewAction, Page } from '../types.js';
import { POSTGRES, cmp, type PgDb, type Queryable } from './db.js';

const actionRow = (r: Row): ActionRow => mapAction(r, POSTGRES);

export class PgActionStore implements ActionStore {
  constructor(
    private readonly conn: PgDb,
    /** How long a claimed action may stay `running` before another runner may take it over. */
    private readonly leaseMs: number,
  ) {}

  /** Plans the actions not planned yet (unique by id, written in id order), due now; returns the ids it created. */
  async insert(c: Queryable, planned: NewAction[], now: number): Promise<string[]> {
    const actions = [...new Map(planned.map((a) => [a.id, a])).values()].sort((a, b) => cmp(a.id, b.id));
    if (actions.length === 0) return [];
    const r = await c.query(
      `INSERT INTO actions (id, alert_id, workflow, kind, status, destructive, dry_run, max_attempts, next_attempt_at, request, created_at, updated_at)
       SELECT id, a, w, k, s, de, dr, m, $10, rq, $10, $10
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::int[], $9::text[])
         AS u(id, a, w, k, s, de, dr, m, rq)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        actions.map((a) => a.id),
        actions.map((a) => a.alertId),
        actions.map((a) => a.workflow),
        actions.map((a) => a.kind),
        actions.map((a) => a.status),
        actions.map((a) => a.destructive),
        actions.map((a) => a.dryRun),
        actions.map((a) => a.maxAttempts),
        actions.map((a) => JSON.stringify(a.request)),
        now,
      ],
    );
    const ids = new Set((r.rows as Row[]).map((x) => String(x.id)));
    return actions.filter((a) => ids.has(a.id)).map((a) => a.id);
  }

  /**
   * Claims due actions for this caller: they come back `running`, leased for `leaseMs`. Concurrent
   * callers skip each other's locked rows, so no action is handed out twice. Actions left `running` by a
   * runner that died are due again once their lease has expired.
   */
  async dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]> {
    const byKind = kind === undefined ? '' : 'is' in kind ? 'AND kind = $4' : 'AND kind <> $4';
    const rows = await this.conn.q(
      `UPDATE actions SET status = 'running', claimed_until = $2, updated_at = $1
       WHERE id IN (
         SELECT id FROM actions
         WHERE ((status IN ('pending', 'retrying') AND next_attempt_at <= $1) OR (status = 'running' AND claimed_until < $1)) ${byKind}
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      kind === undefined ? [now, now + this.leaseMs, limit] : [now, now + this.leaseMs, limit, 'is' in kind ? kind.is : kind.not],
    );
    return rows.map(actionRow).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
  }

  async getAction(id: string): Promise<ActionRow | undefined> {
    const r = (await this.conn.q('SELECT * FROM actions WHERE id = $1', [id]))[0];
    return r ? actionRow(r) : undefined;
  }

  async listActions(q: ActionQuery): Promise<Page<ActionRow>> {
    return this.conn.page('actions', actionFilter(q, POSTGRES), ACTION_ORDER, q, actionRow);
  }

  async updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean> {
    const u = actionUpdate(id, patch, Date.now(), POSTGRES, onlyIf);
    return (await this.conn.q(`${u.sql} RETURNING id`, u.args)).length > 0;
  }

  /**
   * Only actions whose lease has expired: with several processes, a `running` action may belong to a live
   * runner elsewhere, and re-queuing it would run it twice.
   */
  async requeueInterruptedActions(): Promise<number> {
    const now = Date.now();
    const rows = await this.conn.q(
      `UPDATE actions SET status = 'retrying', updated_at = $1 WHERE status = 'running' AND (claimed_until IS NULL OR claimed_until < $1) RETURNING id`,
      [now],
    );
    return rows.length;
  }

  pendingCount(): Promise<number> {
    return this.conn.count(`SELECT count(*) AS n FROM actions WHERE status IN ('pending', 'retrying', 'pending_approval', 'running')`);
  }
}
