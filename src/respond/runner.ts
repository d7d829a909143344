/**
 * Runs stored actions: takes due ones from the store, makes one attempt each, records the outcome, schedules
 * retries with exponential backoff and dead-letters after the last try. Every step lands in the audit log.
 * Delivery is at-least-once: an attempt cut short by a crash is made again after restart (webhook receivers
 * get a stable `X-Procwatch-Delivery` id, TheHive a stable `sourceRef`, to de-duplicate).
 */
import type { ActionRow, ActionStore, AuditStore, EventStore } from '../store/types.js';
import type { Workflow, WebhookSpec, CommandSpec } from './config.js';
import { deliverWebhook, type AttemptResult, type WebhookRequest } from './webhook.js';
import { runCommand, type CommandRequest } from './command.js';
import { verifyStopTarget, type StopTarget, type Verdict } from './verify.js';

export interface RunnerOptions {
  /** The runner claims, updates and audits actions, and reads stored process events to verify a stop target. */
  store: ActionStore & AuditStore & EventStore;
  workflows: Workflow[];
  /** Actions attempted at once. */
  concurrency?: number;
  pollMs?: number;
  /** Called after each recorded outcome (metrics). */
  onOutcome?: (kind: string, status: string) => void;
  /** The store failed while recording an outcome; the action is retried on the next poll or after restart. */
  onError?: (err: Error) => void;
  /** Actions of other components (alert forwarding), by workflow name: attempted here with the same retries. */
  deliveries?: ReadonlyMap<string, Delivery>;
  /**
   * Actions of this kind are claimed apart from the others, up to `limit` at once, and handed to their
   * delivery's attemptMany per workflow (alert forwarding: one _bulk request for many alerts).
   */
  batch?: { kind: string; limit: number };
}

/** An action kind another component delivers; `final` dead-letters at once (retrying cannot help). */
export interface Delivery {
  backoffMs: number;
  maxBackoffMs?: number;
  attempt(a: ActionRow): Promise<AttemptResult & { final?: boolean }>;
  /** Several due actions of this workflow at once: a result per action, in order. */
  attemptMany?(actions: ActionRow[]): Promise<(AttemptResult & { final?: boolean })[]>;
}

export class ApprovalError extends Error {
  constructor(
    message: string,
    /** 404 no such action, 409 not (or no longer) awaiting a decision, 422 its target is not corroborated. */
    readonly code: 404 | 409 | 422,
  ) {
    super(message);
  }
}

export class ActionRunner {
  private readonly store: ActionStore & AuditStore & EventStore;
  private readonly workflows: Map<string, Workflow>;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly onOutcome: (kind: string, status: string) => void;
  private readonly onError: (err: Error) => void;
  private readonly deliveries: ReadonlyMap<string, Delivery>;
  private readonly batch: { kind: string; limit: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(options: RunnerOptions) {
    this.store = options.store;
    this.workflows = new Map(options.workflows.map((w) => [w.name, w]));
    this.concurrency = options.concurrency ?? 4;
    this.pollMs = options.pollMs ?? 250;
    this.onOutcome = options.onOutcome ?? (() => {});
    this.onError = options.onError ?? (() => {});
    this.deliveries = options.deliveries ?? new Map();
    this.batch = options.batch;
  }

  async start(): Promise<void> {
    const requeued = await this.store.requeueInterruptedActions();
    if (requeued > 0) {
      await this.store.audit({ actor: 'procwatch', action: 'action.requeued_after_restart', targetType: 'action', targetId: '*', detail: { count: requeued } });
    }
    this.timer = setInterval(() => this.kick(), this.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Looks for due actions now (called after a commit that created some). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: Error) => this.onError(err))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Resolves when no action is due any more (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * One decision wins: approve and reject change the status only while it still is pending_approval (a
   * conditional update in the store), so of two concurrent decisions the second gets 409. A stop-process
   * target is verified first; one that is not corroborated fails the action (422, reason recorded).
   */
  async approve(id: string, actor: string, reason?: string): Promise<ActionRow> {
    const a = await this.awaitingApproval(id);
    const verdict = await this.verify(a);
    if (verdict && !verdict.ok) {
      const why = `target not corroborated: ${verdict.reason}`;
      if (!(await this.store.updateAction(id, { status: 'failed', lastError: why }, 'pending_approval'))) throw decidedMeanwhile(id);
      await this.store.audit({ actor, action: 'action.refused', targetType: 'action', targetId: id, detail: { workflow: a.workflow, alert_id: a.alertId, stage: 'approval', error: why } });
      throw new ApprovalError(`refused: ${why}`, 422);
    }
    if (!(await this.store.updateAction(id, { status: 'pending', nextAttemptAt: Date.now() }, 'pending_approval'))) throw decidedMeanwhile(id);
    await this.store.audit({
      actor,
      action: 'action.approved',
      targetType: 'action',
      targetId: id,
      detail: { workflow: a.workflow, alert_id: a.alertId, reason: reason ?? null, ...(verdict?.ok ? { corroborated_by: verdict.start } : {}) },
    });
    this.kick();
    return (await this.store.getAction(id))!;
  }

  async reject(id: string, actor: string, reason?: string): Promise<ActionRow> {
    const a = await this.awaitingApproval(id);
    if (!(await this.store.updateAction(id, { status: 'rejected' }, 'pending_approval'))) throw decidedMeanwhile(id);
    await this.store.audit({ actor, action: 'action.rejected', targetType: 'action', targetId: id, detail: { workflow: a.workflow, alert_id: a.alertId, reason: reason ?? null } });
    return (await this.store.getAction(id))!;
  }

  private async awaitingApproval(id: string): Promise<ActionRow> {
    const a = await this.store.getAction(id);
    if (!a) throw new ApprovalError(`no action ${id}`, 404);
    if (a.status !== 'pending_approval') throw new ApprovalError(`action ${id} is ${a.status}, not awaiting approval`, 409);
    return a;
  }

  /** What approval would find now (shown before an analyst decides); undefined when there is nothing to verify. */
  verification(a: ActionRow): Promise<Verdict | undefined> {
    return a.status === 'pending_approval' ? this.verify(a) : Promise.resolve(undefined);
  }

  /** The stop-process target checked against stored events; undefined for other kinds (nothing to verify). */
  private async verify(a: ActionRow): Promise<Verdict | undefined> {
    if (a.kind !== 'stop_process') return undefined;
    const t = a.request.target as StopTarget | undefined;
    if (!t || typeof t.host !== 'string' || typeof t.pid !== 'number') return { ok: false, reason: 'the action names no target host and PID' };
    return verifyStopTarget(this.store, t);
  }

  private async drain(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const b = this.batch;
      const due = await this.store.dueActions(now, this.concurrency, b ? { not: b.kind } : undefined);
      const batched = b ? await this.store.dueActions(now, b.limit, { is: b.kind }) : [];
      if ((due.length === 0 && batched.length === 0) || this.stopped) return;
      await Promise.all([...due.map((a) => this.execute(a)), this.executeBatched(batched)]);
    }
  }

  /**
   * Batched actions, per workflow, through the delivery's attemptMany. No `running` mark is written before the
   * attempt (it would cost a store write per action): an attempt cut short by a crash leaves its actions
   * pending, and they are attempted again (at-least-once, as ever). Actions whose delivery cannot batch, or is
   * gone from the configuration, take the one-by-one path.
   */
  private async executeBatched(actions: ActionRow[]): Promise<void> {
    const groups = new Map<string, ActionRow[]>();
    const single: ActionRow[] = [];
    for (const a of actions) {
      const many = this.deliveries.get(a.workflow)?.attemptMany;
      if (!many || a.dryRun || typeof a.request.refused === 'string') single.push(a);
      else {
        const g = groups.get(a.workflow);
        if (g) g.push(a);
        else groups.set(a.workflow, [a]);
      }
    }
    await Promise.all([
      ...single.map((a) => this.execute(a)),
      ...[...groups].map(async ([workflow, group]) => {
        const delivery = this.deliveries.get(workflow)!;
        const results = await delivery.attemptMany!(group);
        await Promise.all(group.map((a, i) => this.record(a, a.attempts + 1, results[i] ?? { ok: false, detail: {}, error: 'no result for this action' }, undefined, delivery)));
      }),
    ]);
  }

  private async execute(a: ActionRow): Promise<void> {
    const wf = this.workflows.get(a.workflow);
    const delivery = this.deliveries.get(a.workflow);
    const audit = (action: string, detail: Record<string, unknown>): Promise<void> =>
      this.store.audit({ actor: 'procwatch', action, targetType: 'action', targetId: a.id, detail: { workflow: a.workflow, kind: a.kind, alert_id: a.alertId, ...detail } });
    if (typeof a.request.refused === 'string' || (!wf && !delivery)) {
      const why = typeof a.request.refused === 'string' ? a.request.refused : `workflow "${a.workflow}" is no longer configured`;
      await this.store.updateAction(a.id, { status: 'failed', lastError: why });
      await audit('action.refused', { error: why });
      return this.onOutcome(a.kind, 'failed');
    }
    if (a.dryRun) {
      await this.store.updateAction(a.id, { status: 'dry_run', result: { would_run: withoutStdin(a.request) } });
      await audit('action.dry_run', { would_run: withoutStdin(a.request) });
      return this.onOutcome(a.kind, 'dry_run');
    }
    // Checked again now: the process may have ended, or its PID been reused, since it was approved.
    const verdict = await this.verify(a);
    if (verdict && !verdict.ok) {
      const why = `target not corroborated: ${verdict.reason}`;
      await this.store.updateAction(a.id, { status: 'failed', lastError: why });
      await audit('action.refused', { stage: 'execution', error: why });
      return this.onOutcome(a.kind, 'failed');
    }
    const attempt = a.attempts + 1;
    await this.store.updateAction(a.id, { status: 'running', attempts: attempt });
    const result: AttemptResult & { final?: boolean } = delivery ? await delivery.attempt(a) : await this.attempt(a, wf!);
    return this.record(a, attempt, result, wf, delivery);
  }

  /** The outcome of an attempt: succeeded, retrying after a backoff, or dead-lettered (the last try, or final). */
  private async record(a: ActionRow, attempt: number, result: AttemptResult & { final?: boolean }, wf: Workflow | undefined, delivery: Delivery | undefined): Promise<void> {
    const audit = (action: string, detail: Record<string, unknown>): Promise<void> =>
      this.store.audit({ actor: 'procwatch', action, targetType: 'action', targetId: a.id, detail: { workflow: a.workflow, kind: a.kind, alert_id: a.alertId, ...detail } });
    if (result.ok) {
      await this.store.updateAction(a.id, { status: 'succeeded', attempts: attempt, result: result.detail, lastError: null });
      await audit('action.succeeded', { attempt, result: result.detail });
      return this.onOutcome(a.kind, 'succeeded');
    }
    if (attempt < a.maxAttempts && !result.final) {
      const delay = Math.min(delivery?.maxBackoffMs ?? Infinity, (delivery?.backoffMs ?? wf?.retry.backoffMs ?? 1000) * 2 ** (attempt - 1));
      await this.store.updateAction(a.id, { status: 'retrying', attempts: attempt, nextAttemptAt: Date.now() + delay, result: result.detail, lastError: result.error ?? 'failed' });
      await audit('action.attempt_failed', { attempt, error: result.error, result: result.detail, retry_in_ms: delay });
      return this.onOutcome(a.kind, 'retrying');
    }
    await this.store.updateAction(a.id, { status: 'dead_letter', attempts: attempt, result: result.detail, lastError: result.error ?? 'failed' });
    await audit('action.dead_letter', { attempt, error: result.error, result: result.detail });
    this.onOutcome(a.kind, 'dead_letter');
  }

  private attempt(a: ActionRow, wf: Workflow): Promise<AttemptResult> {
    // Non-destructive by design: the generated policy (planned with the alert) becomes the result; nothing runs.
    if (wf.type === 'applocker_policy') return Promise.resolve(applockerResult(a));
    const web = a.request.webhook as WebhookRequest | undefined;
    const cmd = a.request.command as CommandRequest | undefined;
    const webSpec: WebhookSpec | undefined = wf.type === 'webhook' ? wf.webhook : wf.type === 'stop_process' && 'webhook' in wf.via ? wf.via.webhook : undefined;
    const cmdSpec: CommandSpec | undefined = wf.type === 'command' ? wf.command : wf.type === 'stop_process' && 'command' in wf.via ? wf.via.command : undefined;
    if (web && webSpec) return deliverWebhook(webSpec, web, a.id);
    if (cmd && cmdSpec) return runCommand(cmd, { timeoutMs: cmdSpec.timeoutMs, maxOutputBytes: cmdSpec.maxOutputBytes });
    return Promise.resolve({ ok: false, detail: {}, error: `workflow "${a.workflow}" changed type since the action was planned` });
  }
}

function applockerResult(a: ActionRow): AttemptResult {
  const policy = a.request.applocker_policy;
  if (typeof policy !== 'object' || policy === null) return { ok: false, detail: {}, error: 'the action holds no generated policy' };
  return { ok: true, detail: { applocker_policy: policy } };
}

function decidedMeanwhile(id: string): ApprovalError {
  return new ApprovalError(`action ${id} was decided by another request meanwhile`, 409);
}

function withoutStdin(request: Record<string, unknown>): Record<string, unknown> {
  const cmd = request.command as Record<string, unknown> | undefined;
  if (!cmd) return request;
  const { stdin: _stdin, ...rest } = cmd;
  return { ...request, command: rest };
}
