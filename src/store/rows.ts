/**
 * What the SQLite and PostgreSQL stores share: row → object mappers, WHERE/paging/UPDATE builders for the list
 * and patch queries, and the audit detail of a status change. Each store passes its `Dialect` (the few places
 * the engines differ) and keeps only what is specific to it: schema, transactions, locking, bulk inserts.
 */
import type { Severity } from '../model/alert.js';
import {
  severityRank,
  type ActionPatch,
  type ActionRow,
  type ActionStatus,
  type AlertQuery,
  type AlertRow,
  type AlertStatus,
  type AuditEntry,
  type IncidentQuery,
  type IncidentRow,
  type StatusChange,
  type Suppression,
} from './types.js';

export type { ActionPatch };

export type Row = Record<string, unknown>;

/** The engine differences the shared query and mapping code needs to know. */
export interface Dialect {
  /** The bind placeholder for the n-th (1-based) argument: `?` or `$n`. */
  placeholder(n: number): string;
  /** Case-insensitive `host` equality; `?` marks the bound value. */
  readonly hostEquals: string;
  /** A boolean column as read back (SQLite 0/1, PostgreSQL true/false). */
  readBool(v: unknown): boolean;
  /** A boolean as bound into a query. */
  writeBool(b: boolean): unknown;
}

/** A list of bound arguments whose placeholders follow the dialect. */
export class Params {
  readonly args: unknown[] = [];
  constructor(readonly dialect: Dialect) {}
  /** Binds `value` and returns its placeholder. */
  bind(value: unknown): string {
    this.args.push(value);
    return this.dialect.placeholder(this.args.length);
  }
}

/** WHERE clause builder: the `?` in each clause becomes the dialect's placeholder. */
export class Where extends Params {
  private readonly parts: string[] = [];
  add(clause: string, value: unknown): void {
    this.parts.push(clause.replace('?', this.bind(value)));
  }
  sql(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

export interface Statement {
  sql: string;
  args: unknown[];
}

/** The count and page queries of one list: the same filter, then ORDER BY / LIMIT / OFFSET. */
export function pageQueries(table: string, where: Where, order: string, q: { limit: number; offset: number }): { count: Statement; rows: Statement } {
  const w = where.sql();
  const count = { sql: `SELECT count(*) AS n FROM ${table} ${w}`, args: [...where.args] };
  const limit = where.bind(q.limit);
  const offset = where.bind(q.offset);
  return { count, rows: { sql: `SELECT * FROM ${table} ${w} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`, args: where.args } };
}

export const ALERT_ORDER = 'time DESC, id';
export const INCIDENT_ORDER = 'last_seen DESC, id';
export const ACTION_ORDER = 'created_at DESC, id';
export const AUDIT_ORDER = 'seq DESC';

export function alertFilter(q: AlertQuery, d: Dialect): Where {
  const where = new Where(d);
  if (q.status) where.add('status = ?', q.status);
  if (q.minSeverity) where.add('severity_rank >= ?', severityRank(q.minSeverity));
  if (q.ruleId) where.add('rule_id = ?', q.ruleId);
  if (q.host) where.add(d.hostEquals, q.host);
  if (q.incidentId) where.add('incident_id = ?', q.incidentId);
  if (q.suppressed !== undefined) where.add('suppressed = ?', d.writeBool(q.suppressed));
  if (q.since) where.add('time >= ?', q.since);
  if (q.until) where.add('time <= ?', q.until);
  if (q.text) where.add("lower(doc) LIKE ? ESCAPE '\\'", textPattern(q.text));
  return where;
}

/**
 * The LIKE pattern that finds `text` inside the stored alert document. The document is JSON text, so the
 * term is JSON-escaped the same way (a command line's `C:\Windows` is stored as `C:\\Windows`), lower-cased
 * for ASCII only (SQLite's lower() folds nothing else), and LIKE's own wildcards are escaped.
 */
export function textPattern(text: string): string {
  const asJson = JSON.stringify(text).slice(1, -1).replace(/[A-Z]/g, (c) => c.toLowerCase());
  return `%${asJson.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function incidentFilter(q: IncidentQuery, d: Dialect): Where {
  const where = new Where(d);
  if (q.status) where.add('status = ?', q.status);
  if (q.minSeverity) where.add('severity_rank >= ?', severityRank(q.minSeverity));
  if (q.host) where.add(d.hostEquals, q.host);
  return where;
}

export function actionFilter(q: { alertId?: string; status?: ActionStatus }, d: Dialect): Where {
  const where = new Where(d);
  if (q.alertId) where.add('alert_id = ?', q.alertId);
  if (q.status) where.add('status = ?', q.status);
  return where;
}

export function auditFilter(q: { targetId?: string }, d: Dialect): Where {
  const where = new Where(d);
  if (q.targetId) where.add('target_id = ?', q.targetId);
  return where;
}

/** `UPDATE actions SET … WHERE id = …` for the fields present in `patch` (updated_at always). */
export function actionUpdate(id: string, patch: ActionPatch, now: number, d: Dialect, onlyIf?: ActionStatus): Statement {
  const p = new Params(d);
  const cols: string[] = [];
  const set = (col: string, v: unknown): void => {
    cols.push(`${col} = ${p.bind(v)}`);
  };
  if (patch.status !== undefined) set('status', patch.status);
  if (patch.attempts !== undefined) set('attempts', patch.attempts);
  if (patch.nextAttemptAt !== undefined) set('next_attempt_at', patch.nextAttemptAt);
  if (patch.result !== undefined) set('result', patch.result === null ? null : JSON.stringify(patch.result));
  if (patch.lastError !== undefined) set('last_error', patch.lastError);
  if (patch.dryRun !== undefined) set('dry_run', d.writeBool(patch.dryRun));
  set('updated_at', now);
  const where = `id = ${p.bind(id)}`; // bound before the guard: SQLite's ? placeholders are positional
  const guard = onlyIf === undefined ? '' : ` AND status = ${p.bind(onlyIf)}`;
  return { sql: `UPDATE actions SET ${cols.join(', ')} WHERE ${where}${guard}`, args: p.args };
}

/** The status and assignee a change leaves, and the detail of its audit entry. */
export function applyStatusChange(before: Row, change: StatusChange): { status: AlertStatus; assignee: string | null; detail: Record<string, unknown> } {
  const status = change.status ?? (before.status as AlertStatus);
  const assignee = change.assignee === undefined ? (before.assignee as string | null) : change.assignee;
  const detail = { from: { status: before.status, assignee: before.assignee }, to: { status, assignee }, reason: change.reason ?? null };
  return { status, assignee, detail };
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function alertRow(r: Row, d: Dialect): AlertRow {
  return {
    id: String(r.id),
    ruleId: String(r.rule_id),
    severity: r.severity as Severity,
    status: r.status as AlertStatus,
    assignee: str(r.assignee),
    statusReason: str(r.status_reason),
    time: String(r.time),
    host: String(r.host),
    user: str(r.user_name),
    incidentId: str(r.incident_id),
    suppressed: d.readBool(r.suppressed),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
    doc: JSON.parse(String(r.doc)) as Record<string, unknown>,
  };
}

export function incidentRow(r: Row): IncidentRow {
  return {
    id: String(r.id),
    host: String(r.host),
    user: str(r.user_name),
    firstSeen: String(r.first_seen),
    lastSeen: String(r.last_seen),
    severity: r.severity as Severity,
    alertCount: r.alert_count as number,
    status: r.status as AlertStatus,
    assignee: str(r.assignee),
    statusReason: str(r.status_reason),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

export function suppressionRow(r: Row): Suppression {
  return {
    id: r.id as number,
    ruleId: str(r.rule_id),
    host: str(r.host),
    user: str(r.user_name),
    image: str(r.image),
    parentImage: str(r.parent_image),
    commandLine: str(r.command_line),
    reason: String(r.reason),
    expiresAt: str(r.expires_at),
    createdBy: String(r.created_by),
    createdAt: r.created_at as number,
    hits: r.hits as number,
  };
}

export function actionRow(r: Row, d: Dialect): ActionRow {
  return {
    id: String(r.id),
    alertId: String(r.alert_id),
    workflow: String(r.workflow),
    kind: String(r.kind),
    status: r.status as ActionStatus,
    destructive: d.readBool(r.destructive),
    dryRun: d.readBool(r.dry_run),
    attempts: r.attempts as number,
    maxAttempts: r.max_attempts as number,
    nextAttemptAt: r.next_attempt_at as number,
    request: JSON.parse(String(r.request)) as Record<string, unknown>,
    result: r.result === null ? null : (JSON.parse(String(r.result)) as Record<string, unknown>),
    lastError: str(r.last_error),
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

export function auditRow(r: Row): AuditEntry {
  return {
    seq: r.seq as number,
    time: r.time as number,
    actor: String(r.actor),
    action: String(r.action),
    targetType: String(r.target_type),
    targetId: String(r.target_id),
    detail: JSON.parse(String(r.detail)) as Record<string, unknown>,
  };
}

/** The ECS document of an alert marked suppressed after the fact (as ingest marks a new one). */
export function markSuppressed(doc: Record<string, unknown>, by: { ref: string; reason: string }): Record<string, unknown> {
  const pw = doc.procwatch !== null && typeof doc.procwatch === 'object' ? (doc.procwatch as Record<string, unknown>) : {};
  return { ...doc, procwatch: { ...pw, suppressed: { by: by.ref, reason: by.reason } } };
}
