/**
 * Alert forwarding to existing systems (syslog, Elasticsearch, Splunk HEC). Each (alert, destination) pair is
 * a stored action of kind `forward`, written in the same transaction as the alert, so the action runner's
 * machinery does the rest: attempts, retries with backoff, the dead letter, and the requeue after a crash.
 * Later states of an alert (status changes, context from later events) become further `forward` actions written
 * in the transaction that stores the change (an outbox, see store/outbox.ts). A delivery always sends the alert as stored at that moment.
 */
import type { ActionRow, AlertRow, NewAction, NewAlert, Store } from '../store/types.js';
import { severityRank } from '../store/types.js';
import { outboxActions, type OutboxRule } from '../store/outbox.js';
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
  attemptMany(actions: ActionRow[]): Promise<{ ok: boolean; final?: boolean; detail: Record<string, unknown>; error?: string }[]>;
}

type Outcome = { ok: boolean; final?: boolean; detail: Record<string, unknown>; error?: string };

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
   * The outbox rules of alert updates: handed to the store's update calls (updateAlert, updateAlertContexts),
   * which write one update action per destination that takes updates in the SAME transaction as the change, so
   * a stored change always has its forwards queued (see store/outbox.ts). Undefined when no destination takes
   * updates.
   */
  updateOutbox(): OutboxRule[] | undefined {
    const rules = this.destinations
      .filter((d) => d.config.updates)
      .map((d) => {
        const a = newAction('', d.config, 'update', '');
        return { workflow: a.workflow, kind: a.kind, maxAttempts: a.maxAttempts, request: a.request, minSeverity: d.config.minSeverity, includeSuppressed: d.config.includeSuppressed };
      });
    return rules.length > 0 ? rules : undefined;
  }

  /**
   * Alerts whose stored state changed outside an outbox-aware call (a later commit of another component):
   * queues their update actions now, with the ids the outbox would have used (a change told twice queues once).
   * Returns the ids of actions created.
   */
  async updated(rows: AlertRow[]): Promise<string[]> {
    const actions = rows.flatMap((row) => outboxActions(row, this.updateOutbox()));
    if (actions.length === 0) return [];
    const r = await this.store.commit([], { alerts: [], actions });
    return r.actionsCreated;
  }

  /** Per action workflow name, how the runner attempts a forward action. */
  attempts(): Map<string, ForwardAttempt> {
    return new Map(
      this.destinations.map((d) => [
        forwardWorkflow(d.config.name),
        {
          backoffMs: d.config.retry.backoffMs,
          maxBackoffMs: d.config.retry.maxBackoffMs,
          attempt: (a: ActionRow) => this.attempt(d, a),
          attemptMany: (actions: ActionRow[]) => this.attemptMany(d, actions),
        },
      ]),
    );
  }

  /**
   * How the action runner claims forward actions: apart from response actions, up to one batch per
   * destination at once (an Elasticsearch destination's batch_size, 100 for the others).
   */
  runnerBatch(): { kind: string; limit: number } | undefined {
    if (this.destinations.length === 0) return undefined;
    const limit = this.destinations.reduce((n, d) => n + (d.config.kind === 'elasticsearch' ? d.config.elasticsearch.batchSize : 100), 0);
    return { kind: FORWARD_KIND, limit };
  }

  close(): void {
    for (const d of this.destinations) d.sender.close();
  }

  private async attempt(d: Destination, a: ActionRow): Promise<Outcome> {
    return (await this.attemptMany(d, [a]))[0]!;
  }

  /** Several forwards of one destination: each alert read as stored now, delivered together when the sender batches. */
  private async attemptMany(d: Destination, actions: ActionRow[]): Promise<Outcome[]> {
    const rows = await Promise.all(actions.map((a) => this.store.getAlert(a.alertId)));
    const items: ForwardItem[] = [];
    const at: number[] = [];
    const results: DeliveryResult[] = actions.map((a, i) => {
      const row = rows[i];
      if (!row) return { ok: false, final: true, error: `alert ${a.alertId} is no longer stored` };
      const op = (a.request.forward as { op?: string } | undefined)?.op;
      at.push(i);
      items.push(forwardItem(row, op === 'update'));
      return { ok: true };
    });
    let delivered: DeliveryResult[];
    try {
      delivered = d.sender.deliverMany ? await d.sender.deliverMany(items) : await Promise.all(items.map((it) => d.sender.deliver(it)));
    } catch (err) {
      delivered = items.map(() => ({ ok: false, final: false, error: `delivery failed: ${(err as Error).message}` }));
    }
    at.forEach((i, k) => (results[i] = delivered[k] ?? { ok: false, final: false, error: 'no result for this alert' }));
    return results.map((r, i) => this.outcome(d, actions[i]!, r));
  }

  private outcome(d: Destination, a: ActionRow, r: DeliveryResult): Outcome {
    const name = d.config.name;
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
