/**
 * Alert forwarding to existing systems (syslog, Elasticsearch, Splunk HEC). Each (alert, destination) pair is
 * a stored action of kind `forward`, written in the same transaction as the alert, so the action runner's
 * machinery does the rest: attempts, retries with backoff, the dead letter, and the requeue after a crash.
 * Later states of an alert (status changes, context from later events) become further `forward` actions once
 * the change is stored. A delivery always sends the alert as stored at that moment.
 */
import { createHash } from 'node:crypto';
import type { ActionRow, AlertRow, NewAction, NewAlert, Store } from '../store/types.js';
import { severityRank } from '../store/types.js';
import { actionId } from '../respond/plan.js';
import type { ForwardDestination } from './config.js';
import { ElasticSender } from './elastic.js';
import { SplunkSender } from './splunk.js';
import { SyslogSender } from './syslog.js';
import type { Delivery, DeliveryResult, ForwardItem } from './types.js';

export { parseForwards, type ForwardDestination } from './config.js';

export const FORWARD_KIND = 'forward';

/** The action's workflow name: destination names cannot clash with response workflows. */
export function forwardWorkflow(destination: string): string {
  return `forward:${destination}`;
}

export interface ForwardCounters {
  sent(destination: string): void;
  failed(destination: string): void;
  deadLettered(destination: string): void;
}

/** What the action runner needs to make a forward attempt (see ActionRunner's `deliveries`). */
export interface ForwardAttempt {
  backoffMs: number;
  maxBackoffMs: number;
  attempt(a: ActionRow): Promise<{ ok: boolean; final?: boolean; detail: Record<string, unknown>; error?: string }>;
}

interface Destination {
  config: ForwardDestination;
  sender: Delivery;
}

export class Forwarder {
  private readonly destinations: Destination[];

  constructor(
    configs: ForwardDestination[],
    private readonly store: Store,
    private readonly counters?: ForwardCounters,
  ) {
    this.destinations = configs.map((config) => ({ config, sender: senderFor(config) }));
  }

  get size(): number {
    return this.destinations.length;
  }

  /** Actions for a new alert, to be written in the alert's own commit. */
  plan(alert: Pick<NewAlert, 'id' | 'severity' | 'suppressed'>): NewAction[] {
    return this.destinations.filter((d) => wanted(d.config, alert)).map((d) => newAction(alert.id, d.config, 'create', actionId(alert.id, forwardWorkflow(d.config.name))));
  }

  /**
   * Alerts whose stored state changed: one update action per destination that takes updates, stored now (the
   * change itself is already committed). The id includes the alert's update time, so telling the same change
   * twice queues it once. Returns the ids of actions created.
   */
  async updated(rows: AlertRow[]): Promise<string[]> {
    const actions: NewAction[] = [];
    for (const row of rows) {
      for (const d of this.destinations) {
        if (!d.config.updates || !wanted(d.config, row)) continue;
        const id = createHash('sha256').update(`${row.id}|${forwardWorkflow(d.config.name)}|update|${row.updatedAt}`).digest('hex').slice(0, 32);
        actions.push(newAction(row.id, d.config, 'update', id));
      }
    }
    if (actions.length === 0) return [];
    const r = await this.store.commit([], { alerts: [], actions });
    return r.actionsCreated;
  }

  /** Per action workflow name, how the runner attempts a forward action. */
  attempts(): Map<string, ForwardAttempt> {
    return new Map(
      this.destinations.map((d) => [
        forwardWorkflow(d.config.name),
        { backoffMs: d.config.retry.backoffMs, maxBackoffMs: d.config.retry.maxBackoffMs, attempt: (a: ActionRow) => this.attempt(d, a) },
      ]),
    );
  }

  close(): void {
    for (const d of this.destinations) d.sender.close();
  }

  private async attempt(d: Destination, a: ActionRow): Promise<{ ok: boolean; final?: boolean; detail: Record<string, unknown>; error?: string }> {
    const name = d.config.name;
    const row = await this.store.getAlert(a.alertId);
    let r: DeliveryResult;
    if (!row) r = { ok: false, final: true, error: `alert ${a.alertId} is no longer stored` };
    else {
      const op = (a.request.forward as { op?: string } | undefined)?.op;
      r = await d.sender.deliver(forwardItem(row, op === 'update'));
    }
    if (r.ok) {
      this.counters?.sent(name);
      return { ok: true, detail: { destination: name, ...r.detail } };
    }
    this.counters?.failed(name);
    // The runner dead-letters a final failure, and any failure of the last allowed attempt.
    if (r.final || a.attempts + 1 >= a.maxAttempts) this.counters?.deadLettered(name);
    return { ok: false, final: r.final, detail: { destination: name, ...r.detail }, error: r.error };
  }
}

function wanted(d: ForwardDestination, alert: Pick<AlertRow, 'severity' | 'suppressed'>): boolean {
  if (alert.suppressed && !d.includeSuppressed) return false;
  return severityRank(alert.severity) >= severityRank(d.minSeverity);
}

function newAction(alertId: string, d: ForwardDestination, op: 'create' | 'update', id: string): NewAction {
  return {
    id,
    alertId,
    workflow: forwardWorkflow(d.name),
    kind: FORWARD_KIND,
    status: 'pending',
    destructive: false,
    dryRun: false,
    maxAttempts: d.retry.maxAttempts,
    request: { forward: { destination: d.name, kind: d.kind, op } },
  };
}

/** The document sent: the stored ECS alert with its triage state under procwatch.state. */
export function forwardItem(row: AlertRow, update: boolean): ForwardItem {
  const pw = (typeof row.doc.procwatch === 'object' && row.doc.procwatch !== null ? row.doc.procwatch : {}) as Record<string, unknown>;
  const state = {
    status: row.status,
    assignee: row.assignee,
    reason: row.statusReason,
    incident_id: row.incidentId,
    suppressed: row.suppressed,
    updated_at: new Date(row.updatedAt).toISOString(),
  };
  return { alertId: row.id, ruleId: row.ruleId, severity: row.severity, host: row.host, time: row.time, update, doc: { ...row.doc, procwatch: { ...pw, state } } };
}

function senderFor(d: ForwardDestination): Delivery {
  switch (d.kind) {
    case 'syslog':
      return new SyslogSender(d.syslog, d.tls, d.timeoutMs);
    case 'elasticsearch':
      return new ElasticSender(d.elasticsearch, d.tls, d.timeoutMs);
    case 'splunk_hec':
      return new SplunkSender(d.splunk, d.tls, d.timeoutMs);
  }
}

/** The forward counters of the service's metrics (procwatch_forward_*_total{destination}). */
export function forwardCounters(m: { forwardSent: Counterish; forwardFailed: Counterish; forwardDeadLetter: Counterish }): ForwardCounters {
  return {
    sent: (destination) => m.forwardSent.inc({ destination }),
    failed: (destination) => m.forwardFailed.inc({ destination }),
    deadLettered: (destination) => m.forwardDeadLetter.inc({ destination }),
  };
}

interface Counterish {
  inc(labels: Record<string, string>): void;
}
