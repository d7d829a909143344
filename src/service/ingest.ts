/**
 * The ingest path after decoding: a bounded queue of batches and one writer that commits them in groups.
 *
 *   request → decode → submit(events) ─┐
 *   request → decode → submit(events) ─┼→ queue (bounded: 429 beyond) → writer: one transaction per group:
 *                                       │     store new events, run detection on them, store alerts,
 *                                       │     incidents and planned actions → fsync → answer every request
 *
 * A request is answered only after its events are committed, so a 2xx means "on disk". Events already
 * stored (a re-sent batch) are recognised by key (a hash of the event's content, see eventKey) and not
 * detected again, so no alert is made twice.
 *
 * Alerts follow commits: detection makes candidate alerts inside `detector.begin()`; only when the commit
 * carrying them succeeded does `confirm()` make them part of the detection state (dedupe memory, incidents,
 * followed alerts). A failed commit rolls them back and the batch is answered 503, so its retry raises them
 * again. The events of a failed commit were observed already (process index, correlation windows): their
 * detections are kept (bounded) and re-used by the retry, which therefore feeds nothing twice.
 *
 * Later events of an alerting process (its termination, children, network/DNS/file activity) change that
 * alert's context: correlation reports the alerts a batch touched, an alert made in the same batch gets the
 * final context before it is stored, and stored ones are updated (`Store.updateAlertContexts`, one
 * transaction, with the forwards of the update as outbox rows in it) before the requests are answered. The
 * extent of certreq alerts (correlate/extentLive.ts) arrives the same way, with a raised severity.
 */
import { hash } from 'node:crypto';
import type { Alert, Severity } from '../model/alert.js';
import type { Detection } from '../model/alert.js';
import { eventKey, legacyEventKey, SECURITY_PROVIDER, SYSMON_PROVIDER, type WinEvent } from '../model/event.js';
import { toEcsAlert } from '../output/ecs.js';
import type { AlertContextUpdate, AlertRow, Detected, EventRecord, LegacyKey, NewAlert } from '../store/types.js';
import type { ContextUpdate } from '../correlate/index.js';
import { planActions, type Workflow } from '../respond/index.js';
import { OverloadedError } from './errors.js';
import type { BatchOutcome, IngestSink, IngestStore } from './ports.js';
import type { Metrics } from './metrics.js';
import type { SuppressionIndex } from './suppress.js';
import { KeyFilter } from './keyFilter.js';
import { contextPatch, patchNewAlert } from '../correlate/contextPatch.js';
import type { OutboxRule } from '../store/outbox.js';

/** The part of the pipeline the service needs (see Pipeline for each method). */
export interface Detector {
  observe(event: WinEvent): Detection[];
  raise(event: WinEvent, detections: Detection[]): Alert[];
  /** Alerts whose process tree, lifetime or evidence the events handled since the last call changed. */
  takeContextUpdates?(): ContextUpdate[];
  begin(): void;
  confirm(): void;
  rollback(): void;
}

export interface CommittedAlert {
  alert: NewAlert;
}

export interface IngestorOptions {
  store: IngestStore;
  detector: Detector;
  workflows: Workflow[];
  suppressions: SuppressionIndex;
  metrics: Metrics;
  queueEvents: number;
  commitEvents: number;
  /** Events the key filter is sized for (the retention bound). */
  expectedEvents?: number;
  publicUrl?: string;
  /** More actions for a new alert, written in its commit (alert forwarding). */
  planMore?: (alert: NewAlert) => Detected['actions'];
  /** After each commit: the alerts and actions it created (SSE, action runner). */
  onCommitted?: (alerts: NewAlert[], actionIds: string[], suppressionHits: number[]) => void;
  /**
   * Actions that follow a stored alert's later context (forwards of the update), written in the transaction
   * that stores it (store/outbox.ts).
   */
  updateOutbox?: OutboxRule[];
  /** After stored alerts got a later context (tree, lifetime, evidence, extent): the updated rows (SSE). */
  onContextUpdated?: (rows: AlertRow[]) => void;
  /** Detection threw on an event (a bug): the event is stored without alerts and this is told. */
  onDetectionError?: (err: Error, event: WinEvent) => void;
  /** A commit failed (its requests get 503 and retry): for the operator's log. */
  onCommitFailed?: (err: Error) => void;
}

interface Job {
  /** Emptied once the commit took them (see commit): the job itself waits for the fsync, its events need not. */
  events: WinEvent[];
  /** storedKey of each event when the caller already computed them (the _bulk route answers with them). */
  keys: readonly string[] | undefined;
  /** Events submitted (events.length before they were taken). */
  count: number;
  receivedAt: number;
  resolve: (o: BatchOutcome) => void;
  reject: (e: Error) => void;
}

/** Events whose documents correlation needs after a restart (process tree, lifetime, evidence). */
const CORRELATION_EVENTS: Record<string, ReadonlySet<number>> = {
  [SYSMON_PROVIDER.toLowerCase()]: new Set([1, 3, 5, 11, 22]),
  [SECURITY_PROVIDER.toLowerCase()]: new Set([4688, 4689]),
};

/** Context updates kept for retry while the store fails them. */
const MAX_PENDING_UPDATES = 20_000;

/**
 * Events of failed commits whose detections are kept for their retry (oldest dropped beyond it: such an event,
 * when it comes again, is observed a second time — its process appears twice in the index).
 */
export const MAX_UNCOMMITTED_OBSERVED = 100_000;

/** How often the ingestor asks whether events stored under the old identity are still retained. */
const LEGACY_RECHECK_MS = 60_000;

const NO_DETECTIONS: readonly Detection[] = Object.freeze([]);

/** The event's key in the store: SHA-256 of its content identity (eventKey), 32 hex digits. */
export function storedKey(ev: WinEvent): string {
  // One-shot hash: no Hash object per event (it runs once per ingested event).
  return hash('sha256', eventKey(ev), 'hex').slice(0, 32);
}

/** The key the event had in a store written before schema version 2 (host + channel + record id). */
export function legacyStoredKey(ev: WinEvent): string {
  return hash('sha256', legacyEventKey(ev), 'hex').slice(0, 32);
}

/** The local IngestSink: detects and commits in this process. */
export class Ingestor implements IngestSink {
  private readonly queue: Job[] = [];
  private queued = 0;
  private writing = false;
  private scheduled = false;
  private keys: KeyFilter;
  /** Context updates of stored alerts not yet written (the last one per alert wins; kept after a failed write). */
  private readonly pendingUpdates = new Map<string, AlertContextUpdate>();
  /** storedKey → detections of events observed by a commit that failed (re-used by their retry). */
  private readonly observed = new Map<string, readonly Detection[]>();
  /** Whether events stored under the pre-version-2 identity are retained, and when that was last asked. */
  private legacy = false;
  private legacyCheckedAt = 0;

  constructor(private readonly o: IngestorOptions) {
    this.keys = new KeyFilter(o.expectedEvents ?? 1_000_000);
  }

  /** Loads the keys of stored events into the key filter (start-up, and when it saturates). */
  async loadKeys(): Promise<number> {
    const filter = new KeyFilter(this.keys.capacity);
    for await (const k of this.o.store.eventKeys()) filter.add(k);
    this.keys = filter;
    await this.checkLegacy();
    return filter.count;
  }

  private async checkLegacy(): Promise<void> {
    this.legacy = await this.o.store.legacyKeysRetained();
    this.legacyCheckedAt = Date.now();
  }

  /** Events waiting for commit (queue depth). */
  get depth(): number {
    return this.queued;
  }

  /** True when a new batch would be refused; checked before reading a body, to shed load early. */
  full(): boolean {
    return this.queued >= this.o.queueEvents;
  }

  /**
   * Rebuilds correlation state from the retained events (after a restart; `accept` limits it to some hosts)
   * and stores the alerts they raise that the store lacks (an event stored without its alert: a detection
   * error, or a commit of an older procwatch that lost it). Alerts the store has are recognised by id.
   * Returns the events replayed.
   */
  async warmUp(accept: (rec: EventRecord) => boolean = () => true): Promise<number> {
    let n = 0;
    let chunk: Detected = { alerts: [], actions: [] };
    const flush = async (): Promise<void> => {
      if (chunk.alerts.length === 0) return;
      const batch = chunk;
      chunk = { alerts: [], actions: [] };
      try {
        const r = await this.o.store.commit([], batch);
        this.o.detector.confirm();
        this.countCreated(r.alertsCreated);
        if (r.alertsCreated.length > 0) this.o.onCommitted?.(r.alertsCreated, r.actionsCreated, []);
      } catch (err) {
        this.o.detector.rollback();
        throw err;
      }
    };
    for await (const rec of this.o.store.retainedEvents()) {
      if (rec.doc === null || !accept(rec)) continue;
      n++;
      this.o.detector.begin();
      try {
        const ev = JSON.parse(rec.doc) as WinEvent;
        const alerts = this.o.detector.raise(ev, this.o.detector.observe(ev));
        // Stored before schema version 2 (keyed by the old identity): its alerts are stored under the old ids,
        // which this build no longer derives — re-deriving would store each of them a second time.
        if (alerts.length > 0 && this.legacy && rec.key !== storedKey(ev)) continue;
        for (const alert of alerts) {
          const na = this.newAlert(alert, rec.key, ev, []);
          chunk.alerts.push(na);
          chunk.actions.push(...this.plan(na));
        }
      } catch {
        // A stored event that no longer decodes or detects cleanly must not stop the start-up.
      }
      if (chunk.alerts.length >= 500) await flush();
    }
    await flush();
    this.o.detector.confirm();
    // Terminations, children and evidence replayed after their alert: bring stored alerts up to date (what a
    // crash between a commit and its context update left behind; the store writes only what differs).
    await this.applyContextUpdates();
    return n;
  }

  /**
   * Writes the context updates correlation has pending (after a replay; commits do it themselves). Failures
   * are counted and kept for the next commit. Returns how many stored alerts changed.
   */
  async applyContextUpdates(): Promise<number> {
    for (const u of this.collectUpdates(new Map(), [])) this.queueUpdate(u);
    return this.flushUpdates();
  }

  /**
   * Takes the detector's updates: alerts of the batch being built get them in place (also added to `patched`,
   * in case the store already had that alert); those of stored alerts are returned, for the caller to queue
   * once its commit succeeded.
   */
  private collectUpdates(inBatch: Map<string, NewAlert>, patched: AlertContextUpdate[]): AlertContextUpdate[] {
    const updates = this.o.detector.takeContextUpdates?.() ?? [];
    const stored: AlertContextUpdate[] = [];
    for (const u of updates) {
      const patch = contextPatch(u);
      const fresh = inBatch.get(u.id);
      if (fresh) {
        patchNewAlert(fresh, patch);
        patched.push(patch);
        continue;
      }
      stored.push(patch);
    }
    return stored;
  }

  private queueUpdate(u: AlertContextUpdate): void {
    const queued = this.pendingUpdates.get(u.id);
    this.pendingUpdates.delete(u.id);
    const severity = u.severity ?? queued?.severity;
    this.pendingUpdates.set(u.id, { id: u.id, procwatch: { ...queued?.procwatch, ...u.procwatch }, ...(severity ? { severity } : {}) });
    // While the store keeps failing, keep the newest updates only (memory stays bounded).
    if (this.pendingUpdates.size > MAX_PENDING_UPDATES) this.pendingUpdates.delete(this.pendingUpdates.keys().next().value!);
  }

  private async flushUpdates(): Promise<number> {
    if (this.pendingUpdates.size === 0) return 0;
    const updates = [...this.pendingUpdates.values()];
    let rows: AlertRow[];
    try {
      rows = await this.o.store.updateAlertContexts(updates, 'procwatch', this.o.updateOutbox);
    } catch {
      this.o.metrics.errors.inc({ component: 'store' });
      return 0;
    }
    // What was sent leaves the queue (written, or equal to what is stored).
    for (const u of updates) if (this.pendingUpdates.get(u.id) === u) this.pendingUpdates.delete(u.id);
    if (rows.length > 0) {
      this.o.metrics.contextUpdates.inc({}, rows.length);
      this.o.onContextUpdated?.(rows);
    }
    return rows.length;
  }

  /**
   * Queues a decoded batch; resolves once it is committed. `receivedAt` (performance.now() time) feeds the
   * latency metric; `keys`, when given, are the events' storedKey values (so they are not hashed twice).
   */
  submit(events: WinEvent[], receivedAt = performance.now(), keys?: readonly string[]): Promise<BatchOutcome> {
    if (events.length === 0) return Promise.resolve({ received: 0, stored: 0, duplicates: 0, alerts: 0 });
    if (this.queued > 0 && this.queued + events.length > this.o.queueEvents) {
      this.o.metrics.rejected.inc();
      return Promise.reject(new OverloadedError(1));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, keys: keys?.length === events.length ? keys : undefined, count: events.length, receivedAt, resolve, reject });
      this.queued += events.length;
      this.schedule();
    });
  }

  /** Resolves when everything queued so far is committed. */
  async drained(): Promise<void> {
    while (this.queue.length > 0 || this.writing) await new Promise((r) => setTimeout(r, 5));
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // setImmediate: let the requests already read in this turn join the same group commit.
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const group: Job[] = [];
        let n = 0;
        while (this.queue.length > 0 && (group.length === 0 || n + this.queue[0]!.count <= this.o.commitEvents)) {
          const job = this.queue.shift()!;
          group.push(job);
          n += job.count;
        }
        await this.commit(group);
        this.queued -= n;
      }
    } finally {
      this.writing = false;
    }
  }

  private async commit(group: Job[]): Promise<void> {
    const byKey = new Map<string, { ev: WinEvent; job: number }>();
    group.forEach((job, j) => {
      job.events.forEach((ev, i) => {
        const key = job.keys?.[i] ?? storedKey(ev);
        if (!byKey.has(key)) byKey.set(key, { ev, job: j });
      });
      // From here on only byKey holds the events: they become garbage as soon as they are detected and
      // serialised below, not after the fsync (fewer objects survive into the old generation under load).
      job.events = [];
      job.keys = undefined;
    });
    const freshPerJob = group.map(() => 0);
    /** Alert id → index of the job whose event raised it. */
    const alertJob = new Map<string, number>();
    const suppressionHits: number[] = [];
    /** Detections of this commit's fresh events: kept for the retry if the commit fails. */
    const detections = new Map<string, readonly Detection[]>();
    const started = performance.now();
    let result;
    try {
      // One writer: nothing else stores events between this lookup and the commit below. Only keys the filter
      // may have seen are looked up; a batch of new events costs no lookup at all.
      if (this.keys.saturated) await this.loadKeys();
      const maybe = [...byKey.keys()].filter((k) => this.keys.mightHave(k));
      const known = maybe.length > 0 ? await this.o.store.knownKeys(maybe) : new Set<string>();
      if (this.legacy) for (const k of await this.knownLegacy(byKey, known)) known.add(k);
      const fresh: EventRecord[] = [];
      for (const [key, { ev, job }] of byKey) {
        if (known.has(key)) continue;
        freshPerJob[job]!++;
        fresh.push({ key, time: ev.system.timeCreated, host: ev.system.computer, doc: needsDoc(ev) ? JSON.stringify(ev) : null });
      }
      const patched: AlertContextUpdate[] = [];
      const forStored: AlertContextUpdate[] = [];
      this.o.detector.begin();
      const detected = fresh.length > 0 ? this.detect(fresh, byKey, detections, suppressionHits, patched, forStored) : { alerts: [], actions: [] };
      for (const a of detected.alerts) alertJob.set(a.id, byKey.get(a.eventKey)!.job);
      byKey.clear();
      const freshKeys = fresh.map((r) => r.key);
      result = await this.o.store.commit(fresh, detected);
      // Committed: the alerts become detection state, the keys known, the kept detections spent.
      this.o.detector.confirm();
      for (const k of freshKeys) this.keys.add(k);
      if (this.observed.size > 0) for (const k of freshKeys) this.observed.delete(k);
      for (const u of forStored) this.queueUpdate(u);
      // An alert of this batch that the store already had (its event was pruned, then sent again) was not
      // inserted: its later context goes in as an update.
      const created = new Set(result.alertsCreated.map((a) => a.id));
      for (const u of patched) if (!created.has(u.id)) this.queueUpdate(u);
      // The events are committed: a failed context update is counted and retried with the next commit.
      await this.flushUpdates();
    } catch (err) {
      this.o.detector.rollback();
      this.keepObserved(detections);
      this.o.metrics.errors.inc({ component: 'store' });
      const e = new Error(`store commit failed: ${(err as Error).message}`);
      this.o.onCommitFailed?.(e);
      for (const job of group) job.reject(e);
      return;
    }
    const done = performance.now();
    this.o.metrics.commitSeconds.observe((done - started) / 1000);
    const alertsPerJob = group.map(() => 0);
    for (const a of result.alertsCreated) {
      const j = alertJob.get(a.id);
      if (j !== undefined) alertsPerJob[j]!++;
    }
    this.countCreated(result.alertsCreated);
    const total = group.reduce((n, j) => n + j.count, 0);
    this.o.metrics.eventsStored.inc({}, result.stored);
    this.o.metrics.eventsDuplicate.inc({}, total - result.stored);
    group.forEach((job, j) => {
      this.o.metrics.ingestSeconds.observe((done - job.receivedAt) / 1000);
      job.resolve({ received: job.count, stored: freshPerJob[j]!, duplicates: job.count - freshPerJob[j]!, alerts: alertsPerJob[j]! });
    });
    this.o.onCommitted?.(result.alertsCreated, result.actionsCreated, suppressionHits);
    if (this.legacy && Date.now() - this.legacyCheckedAt > LEGACY_RECHECK_MS) await this.checkLegacy().catch(() => this.o.metrics.errors.inc({ component: 'store' }));
  }

  private countCreated(alerts: NewAlert[]): void {
    for (const a of alerts) {
      this.o.metrics.alerts.inc({ severity: a.severity });
      if (a.suppressed) this.o.metrics.alertsSuppressed.inc();
    }
  }

  /**
   * Events not known by their content key that were stored before schema version 2 under the old identity
   * (host + channel + record id): the same event only if its creation time is the stored one too.
   */
  private async knownLegacy(byKey: Map<string, { ev: WinEvent }>, known: Set<string>): Promise<string[]> {
    const asked: LegacyKey[] = [];
    const keyOf = new Map<string, string>();
    for (const [key, { ev }] of byKey) {
      if (known.has(key)) continue;
      const old = legacyStoredKey(ev);
      if (!this.keys.mightHave(old)) continue;
      asked.push({ key: old, time: ev.system.timeCreated });
      keyOf.set(old, key);
    }
    if (asked.length === 0) return [];
    const found = await this.o.store.knownLegacyKeys(asked);
    return [...found].map((old) => keyOf.get(old)!);
  }

  /** A commit failed: its events were observed; their retry re-uses these detections (bounded, oldest out). */
  private keepObserved(detections: Map<string, readonly Detection[]>): void {
    for (const [key, d] of detections) {
      this.observed.delete(key);
      this.observed.set(key, d);
    }
    while (this.observed.size > MAX_UNCOMMITTED_OBSERVED) this.observed.delete(this.observed.keys().next().value!);
  }

  private detect(
    fresh: EventRecord[],
    byKey: Map<string, { ev: WinEvent }>,
    detections: Map<string, readonly Detection[]>,
    suppressionHits: number[],
    patched: AlertContextUpdate[],
    forStored: AlertContextUpdate[],
  ): Detected {
    const out: Detected = { alerts: [], actions: [] };
    for (const rec of fresh) {
      const ev = byKey.get(rec.key)!.ev;
      let alerts: Alert[];
      try {
        // An event of a failed commit was observed then: feeding it again would index it twice.
        let d = this.observed.size > 0 ? this.observed.get(rec.key) : undefined;
        if (d === undefined) {
          const found = this.o.detector.observe(ev);
          d = found.length === 0 ? NO_DETECTIONS : found;
        }
        detections.set(rec.key, d);
        alerts = d.length === 0 ? [] : this.o.detector.raise(ev, d as Detection[]);
      } catch (err) {
        this.o.metrics.errors.inc({ component: 'detection' });
        this.o.onDetectionError?.(err as Error, ev);
        continue;
      }
      for (const alert of alerts) out.alerts.push(this.newAlert(alert, rec.key, ev, suppressionHits));
    }
    // Alerts of this batch first get what the rest of the batch told about their process, then are planned.
    forStored.push(...this.collectUpdates(new Map(out.alerts.map((a) => [a.id, a])), patched));
    for (const a of out.alerts) out.actions.push(...this.plan(a));
    return out;
  }

  private plan(a: NewAlert): Detected['actions'] {
    const planned = planActions({ id: a.id, ruleId: a.ruleId, severity: a.severity, suppressed: a.suppressed }, a.doc, this.o.workflows, this.o.publicUrl ? { publicUrl: this.o.publicUrl } : {});
    return this.o.planMore ? [...planned, ...this.o.planMore(a)] : planned;
  }

  /** The store row of an alert: ECS document, severity, and the service's suppressions (API-made) applied. */
  private newAlert(alert: Alert, key: string, ev: WinEvent, suppressionHits: number[]): NewAlert {
    const doc = toEcsAlert(alert);
    const severity: Severity = alert.context?.severity ?? alert.rule.level ?? 'medium';
    let suppressed = alert.context?.suppressed !== undefined;
    if (!suppressed) {
      const s = this.o.suppressions.match(doc);
      if (s) {
        suppressed = true;
        suppressionHits.push(s.id);
        const pw = (doc.procwatch ?? {}) as Record<string, unknown>;
        doc.procwatch = { ...pw, suppressed: { by: `suppression:${s.id}`, reason: s.reason } };
      }
    }
    return {
      id: alert.id,
      eventKey: key,
      ruleId: alert.rule.id,
      severity,
      time: ev.system.timeCreated,
      host: ev.system.computer,
      ...(alert.process?.user?.name ? { user: alert.process.user.name } : {}),
      ...(alert.context?.incident ? { incidentId: alert.context.incident.id } : {}),
      suppressed,
      doc,
    };
  }
}

function needsDoc(ev: WinEvent): boolean {
  return CORRELATION_EVENTS[ev.system.provider.toLowerCase()]?.has(ev.system.eventId) ?? false;
}
