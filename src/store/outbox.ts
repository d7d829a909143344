/**
 * The outbox of alert changes: what must follow a stored change of an alert (a forward of its new state) is
 * written as action rows in the SAME transaction as the change. Nothing is announced before it is stored, and
 * no change is stored without its forwards: a crash between the two cannot happen, because there is no "between".
 *
 * The rules are data (they cross to the SQLite worker thread); the action's id includes the row's update time,
 * so the same change never queues twice.
 */
import { createHash } from 'node:crypto';
import { severityRank, type AlertRow, type NewAction, type OutboxRule } from './types.js';

export type { OutboxRule };


/** The actions a changed alert row queues. */
export function outboxActions(row: AlertRow, rules: readonly OutboxRule[] | undefined): NewAction[] {
  if (!rules || rules.length === 0) return [];
  const out: NewAction[] = [];
  for (const r of rules) {
    if (row.suppressed && !r.includeSuppressed) continue;
    if (severityRank(row.severity) < severityRank(r.minSeverity)) continue;
    out.push({
      id: updateActionId(row.id, r.workflow, row.updatedAt),
      alertId: row.id,
      workflow: r.workflow,
      kind: r.kind,
      status: 'pending',
      destructive: false,
      dryRun: false,
      maxAttempts: r.maxAttempts,
      request: r.request,
    });
  }
  return out;
}

export function updateActionId(alertId: string, workflow: string, updatedAt: number): string {
  return createHash('sha256').update(`${alertId}|${workflow}|update|${updatedAt}`).digest('hex').slice(0, 32);
}
