/**
 * The service's store: what `procwatch serve` keeps between requests and restarts.
 *
 * The interface is asynchronous so that a networked database (PostgreSQL) can implement it; the embedded
 * SQLite store answers synchronously inside resolved promises. Documents (events, ECS alerts, action
 * requests/results) are opaque JSON to the store: it indexes only the columns the API filters on.
 */
import type { Severity } from '../model/alert.js';

export type AlertStatus = 'open' | 'acknowledged' | 'closed';
export const ALERT_STATUSES: readonly AlertStatus[] = ['open', 'acknowledged', 'closed'];

/** One decoded event to remember: `key` identifies it across re-sends (a hash of eventKey(): its content). */
export interface EventRecord {
  key: string;
  /** Event time (ISO 8601). */
  time: string;
  host: string;
  /** The WinEvent as JSON, or null when the event is not needed for correlation (only its key is kept). */
  doc: string | null;
}

/** A hash of legacyEventKey() and the event's creation time, looked up among the rows stored before version 2. */
export interface LegacyKey {
  key: string;
  time: string;
}

export interface NewAlert {
  id: string;
  eventKey: string;
  ruleId: string;
  severity: Severity;
  time: string;
  host: string;
  user?: string;
  incidentId?: string;
  suppressed: boolean;
  /** The ECS alert document (as `scan --format json` writes it). */
  doc: Record<string, unknown>;
}

export type ActionStatus =
  | 'pending'
  | 'pending_approval'
  | 'running'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'dead_letter'
  | 'dry_run'
  | 'rejected';

export interface NewAction {
  /** Deterministic (alert id + workflow name) so a re-sent batch schedules nothing twice. */
  id: string;
  alertId: string;
  workflow: string;
  kind: string;
  status: ActionStatus;
  destructive: boolean;
  dryRun: boolean;
  maxAttempts: number;
  /** What will be (or, in dry-run, would be) executed: URL + body, or argv. */
  request: Record<string, unknown>;
}

/** One destination that takes alert updates: the outbox action a changed alert queues (see store/outbox.ts). */
export interface OutboxRule {
  workflow: string;
  kind: string;
  maxAttempts: number;
  request: Record<string, unknown>;
  minSeverity: Severity;
  includeSuppressed: boolean;
}

/** Which actions a claim takes: of this kind only, or of every kind but this one. */
export type KindFilter = { is: string } | { not: string };

export interface ActionRow extends NewAction {
  attempts: number;
  nextAttemptAt: number;
  result: Record<string, unknown> | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/**
 * What detection produced for the fresh (not yet seen) events of a batch; written in the same transaction.
 * Each new, unsuppressed alert with an incident id creates that incident or widens it (times, severity, count).
 */
export interface Detected {
  alerts: NewAlert[];
  actions: NewAction[];
}

export interface IngestResult {
  /** Events stored by this call. */
  stored: number;
  /** Events already known (a re-sent batch). */
  duplicates: number;
  /** Alerts created by this call (an alert that already existed is not counted). */
  alertsCreated: NewAlert[];
  actionsCreated: string[];
}

/**
 * A later view of an alert's process context: members of the ECS document's `procwatch` object to set
 * (`process_tree`, `lifetime`, `evidence`), recomputed by correlation when the process's termination,
 * children or network/DNS/file events arrive after the alert. The rest of the document is kept as stored.
 */
export interface AlertContextUpdate {
  id: string;
  procwatch: Record<string, unknown>;
  /**
   * A higher severity (extent: the downloaded file ran): the row's severity, the document's procwatch.severity
   * and ECS event.severity/risk_score, and the alert's incident if lower. Never lowers a severity.
   */
  severity?: Severity;
}

export interface AlertRow {
  id: string;
  ruleId: string;
  severity: Severity;
  status: AlertStatus;
  assignee: string | null;
  statusReason: string | null;
  time: string;
  host: string;
  user: string | null;
  incidentId: string | null;
  suppressed: boolean;
  createdAt: number;
  updatedAt: number;
  doc: Record<string, unknown>;
}

export interface IncidentRow {
  id: string;
  host: string;
  user: string | null;
  firstSeen: string;
  lastSeen: string;
  severity: Severity;
  alertCount: number;
  status: AlertStatus;
  assignee: string | null;
  statusReason: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface AlertQuery {
  status?: AlertStatus;
  /** At least this severity. */
  minSeverity?: Severity;
  ruleId?: string;
  host?: string;
  incidentId?: string;
  suppressed?: boolean;
  /** Event time bounds (ISO 8601, inclusive). */
  since?: string;
  until?: string;
  /** Free text: a case-insensitive substring of the alert document (command line, image, host, user, rule, ...). */
  text?: string;
  limit: number;
  offset: number;
}

export interface IncidentQuery {
  status?: AlertStatus;
  minSeverity?: Severity;
  host?: string;
  limit: number;
  offset: number;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface StatusChange {
  status?: AlertStatus;
  assignee?: string | null;
  reason?: string;
  actor: string;
}

export interface Suppression {
  id: number;
  ruleId: string | null;
  host: string | null;
  /** Case-insensitive globs (`*`, `?`); `user` without a backslash matches the name part only. */
  user: string | null;
  image: string | null;
  parentImage: string | null;
  commandLine: string | null;
  reason: string;
  expiresAt: string | null;
  createdBy: string;
  createdAt: number;
  hits: number;
}

export type NewSuppression = Omit<Suppression, 'id' | 'createdAt' | 'hits'>;

export interface AuditEntry {
  seq: number;
  time: number;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  detail: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'time'>;

export interface StoreCounts {
  events: number;
  alerts: number;
  openAlerts: number;
  incidents: number;
  actionsPending: number;
}

/**
 * The store is split by aggregate: one interface per kind of record the service keeps, so a consumer names
 * what it reads or writes (a function that only lists alerts takes an `AlertStore`). Each engine implements
 * every aggregate in its own module (src/store/sqlite/*.ts, src/store/postgres/*.ts) and composes them in one
 * class sharing the connection and its transactions. `Store` is all of them together.
 */

/** Events: what was received, for de-duplication, correlation replay, response verification and retention. */
export interface EventStore {
  /**
   * Which of these event keys are already stored (a re-sent batch). The service asks before detection so an
   * event is detected once; it runs one writer, so nothing can slip in between this call and `commit`.
   */
  knownKeys(keys: string[]): Promise<Set<string>>;
  /**
   * True while retention keeps events stored before schema version 2, whose keys are a hash of the old
   * identity (host + channel + record id, see legacyEventKey).
   */
  legacyKeysRetained(): Promise<boolean>;
  /** Which of these old-identity keys are stored for an event of exactly that time (pre-version-2 rows only). */
  knownLegacyKeys(pairs: LegacyKey[]): Promise<Set<string>>;
  /** Events still retained, oldest first (to rebuild correlation state after a restart). */
  retainedEvents(): AsyncIterable<EventRecord>;
  /** Keys of every stored event (to prime the service's key filter). */
  eventKeys(): AsyncIterable<string>;
  hasEvent(key: string): Promise<boolean>;
  /**
   * Retained event documents of `host` (case-insensitive) whose JSON text contains one of `needles` (lower case;
   * a coarse pre-filter, the caller checks the fields), newest first, at most `limit`. Response-target
   * verification reads the process starts and ends procwatch stored with it.
   */
  hostEventDocs(host: string, needles: string[], limit: number): Promise<string[]>;
  /** Drops events beyond the retention bounds; returns how many went. */
  pruneEvents(olderThanMs: number, maxEvents: number): Promise<number>;
}

/** Alerts: listed, triaged (status, assignee), given later context, suppressed after the fact. */
export interface AlertStore {
  listAlerts(q: AlertQuery): Promise<Page<AlertRow>>;
  getAlert(id: string): Promise<AlertRow | undefined>;
  /** With `outbox`, the actions that follow the change (forwards of the new state) are written in its transaction. */
  updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined>;
  /**
   * Merges later context into stored alerts, all in ONE transaction, with an `alert.context` audit entry per
   * alert that changed. Idempotent: an update equal to what is stored writes nothing. Unknown ids are skipped.
   * Returns the rows that changed (for live streams). With `outbox`, each changed row's outbox actions (its
   * forwards) are written in the same transaction (see outbox.ts).
   */
  updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]>;
  /**
   * Marks these stored alerts suppressed by `by` (their `suppressed` column and the document's
   * `procwatch.suppressed`), in ONE transaction with an `alert.suppress` audit entry per alert changed.
   * Alerts already suppressed or unknown are skipped. Returns how many changed.
   */
  suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number>;
}

/** Incidents: created and widened by `commit`; listed and triaged here. */
export interface IncidentStore {
  listIncidents(q: IncidentQuery): Promise<Page<IncidentRow>>;
  getIncident(id: string): Promise<IncidentRow | undefined>;
  updateIncident(id: string, change: StatusChange): Promise<IncidentRow | undefined>;
}

/** Suppressions written by analysts (create and delete audited). */
export interface SuppressionStore {
  listSuppressions(): Promise<Suppression[]>;
  addSuppression(s: NewSuppression): Promise<Suppression>;
  deleteSuppression(id: number, actor: string): Promise<boolean>;
  countSuppressionHit(id: number): Promise<void>;
}

export interface ActionQuery {
  alertId?: string;
  status?: ActionStatus;
  limit: number;
  offset: number;
}

export type ActionPatch = Partial<Pick<ActionRow, 'status' | 'attempts' | 'nextAttemptAt' | 'result' | 'lastError' | 'dryRun'>>;

/** Response actions: planned by `commit`, then claimed, run, retried and decided here. */
export interface ActionStore {
  /** Actions whose turn has come (pending/retrying with nextAttemptAt <= now), of one kind or all but one. */
  dueActions(now: number, limit: number, kind?: KindFilter): Promise<ActionRow[]>;
  getAction(id: string): Promise<ActionRow | undefined>;
  listActions(q: ActionQuery): Promise<Page<ActionRow>>;
  /**
   * With `onlyIf`, the update happens only while the action is in that status (one conditional UPDATE: of two
   * concurrent decisions exactly one wins). Resolves true when the action was updated.
   */
  updateAction(id: string, patch: ActionPatch, onlyIf?: ActionStatus): Promise<boolean>;
  /** After a crash, actions caught `running` go back to the queue (delivery is at-least-once). */
  requeueInterruptedActions(): Promise<number>;
}

export interface AuditQuery {
  targetId?: string;
  limit: number;
  offset: number;
}

/** The audit trail: who changed what (the other aggregates write their entries in their own transactions). */
export interface AuditStore {
  audit(entry: NewAuditEntry): Promise<void>;
  listAudit(q: AuditQuery): Promise<Page<AuditEntry>>;
}

/** What spans the aggregates: the batch commit, the counts, the connection. */
export interface StoreSession {
  /**
   * Stores new events with what detection made of them (alerts, incident updates, actions) atomically and
   * durably: when the promise resolves, everything is on disk. Events and alerts already present are skipped.
   */
  commit(events: EventRecord[], detected: Detected): Promise<IngestResult>;
  counts(): Promise<StoreCounts>;
  close(): Promise<void>;
}

export type Store = EventStore & AlertStore & IncidentStore & SuppressionStore & ActionStore & AuditStore & StoreSession;

const SEVERITY_RANK: Record<Severity, number> = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };
export function severityRank(s: Severity): number {
  return SEVERITY_RANK[s] ?? 2;
}
export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}
