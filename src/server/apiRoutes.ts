/**
 * The REST API under /api (alerts, incidents, rules, suppressions, actions, audit, health), Prometheus
 * /metrics, and the SSE alert stream. Lists page with `limit`/`offset` and answer `{total, limit, offset, items}`.
 */
import type { OutboxRule } from '../store/outbox.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RuleMeta } from '../model/alert.js';
import type { ActionRow, AlertRow, AlertStore, AuditEntry, AuditStore, IncidentRow, StatusChange, Store, Suppression } from '../store/types.js';
import { ApprovalError, type ActionRunner } from '../respond/index.js';
import type { RuleLoadError } from '../rules/index.js';
import type { EngineWarning } from '../engine/index.js';
import type { IngestSink } from '../service/ports.js';
import type { Metrics } from '../service/metrics.js';
import type { SseHub } from './sse.js';
import { engineSuppression, suppressionRef, type SuppressionIndex } from '../service/suppress.js';
import { HttpError } from './errors.js';
import { FieldError } from './validation.js';
import { openApiDocument, type RegisteredRoute } from './openapi.js';
import { Suppressor, subjectOfEcsAlert } from '../triage/suppress.js';
import {
  MAX_LIMIT,
  MAX_QUERY_CHARS,
  ROUTES,
  type ActionItem,
  type ActionListQuery,
  type AlertDetail,
  type AlertItem,
  type AlertListQuery,
  type AuditItem,
  type AuditListQuery,
  type DecisionBody,
  type Health,
  type IncidentDetail,
  type IncidentItem,
  type IncidentListQuery,
  type Me,
  type RouteContract,
  type RuleItem,
  type RuleList,
  type StatusChangeBody,
  type SuppressionBody,
  type SuppressionCreated,
  type SuppressionItem,
  type SuppressionList,
  type SuppressionPreview,
} from './contract.js';

export { MAX_QUERY_CHARS };

export interface ApiDeps {
  store: Store;
  runner: ActionRunner;
  sink: IngestSink;
  metrics: Metrics;
  hub: SseHub;
  suppressions: SuppressionIndex;
  rules: { meta: RuleMeta }[];
  ruleErrors: RuleLoadError[];
  ruleWarnings: EngineWarning[];
  queueCapacity: number;
  version: string;
  startedAt: number;
  /** Actions that follow a status change (forwards), written in its transaction (store/outbox.ts). */
  alertOutbox?: OutboxRule[];
  /** What the incident view adds (actions asked for the incident, policy workflows): see incidentActions.ts. */
  incidentExtras?: (incidentId: string) => Promise<Pick<IncidentDetail, 'actions' | 'policy_workflows'>>;
  /** A status change is stored (with its outbox): wake what runs the outbox actions. */
  afterAlertUpdate?: (row: AlertRow) => Promise<unknown>;
  /** Every route the server registered (for GET /api/openapi.json). */
  registeredRoutes: readonly RegisteredRoute[];
}

/** Stored unsuppressed alerts a suppression preview (and its application on creation) examines, newest first. */
export const SUPPRESSION_SCAN_LIMIT = 10_000;
/** Alerts marked per store transaction when a new suppression is applied to stored alerts. */
export const SUPPRESSION_APPLY_BATCH = 500;
/** Matched alerts a preview shows. */
export const SUPPRESSION_EXAMPLES = 5;
const SCAN_PAGE = 1000;

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** The catch-all parser hands every body over as a Buffer; routes with a body schema get it parsed first. */
async function parseJsonBody(req: FastifyRequest): Promise<void> {
  const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (buf.length === 0) {
    req.body = {};
    return;
  }
  try {
    req.body = JSON.parse(buf.toString('utf8')) as unknown;
  } catch (err) {
    throw new FieldError('body', `body is not JSON: ${(err as Error).message}`);
  }
}

/** Registers `handler` for a contract entry with the entry's schemas (validated by fastify's ajv). */
export function onRoute(app: FastifyInstance, c: RouteContract, handler: Handler): void {
  const schema = { ...(c.querystring ? { querystring: c.querystring } : {}), ...(c.params ? { params: c.params } : {}), ...(c.body ? { body: c.body } : {}) };
  app.route({ method: c.method, url: c.url, schema, ...(c.body ? { preValidation: parseJsonBody } : {}), handler });
}

function isoTime(v: string | null | undefined, name: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new FieldError(name, `${name}: expected an ISO 8601 time`);
  return new Date(t).toISOString();
}

export function actorOf(req: FastifyRequest): string {
  return (req as FastifyRequest & { actor?: string }).actor ?? 'anonymous';
}

/** A status change from a request body: `{status, reason, assignee}`; closing needs a reason. */
function statusChange(req: FastifyRequest): StatusChange {
  const body = req.body as StatusChangeBody;
  const reason = body.reason || undefined;
  const { status, assignee } = body;
  if (status === undefined && assignee === undefined && reason === undefined) throw new FieldError('status', 'nothing to change: give status, assignee and/or reason');
  if (status === 'closed' && !reason) throw new FieldError('reason', 'reason: required when closing (e.g. "false positive: admin renewing certificates")');
  return { ...(status ? { status } : {}), ...(assignee !== undefined ? { assignee: assignee || null } : {}), ...(reason ? { reason } : {}), actor: actorOf(req) };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function alertView(a: AlertRow): AlertItem {
  return {
    id: a.id,
    status: a.status,
    assignee: a.assignee,
    status_reason: a.statusReason,
    severity: a.severity,
    rule_id: a.ruleId,
    time: a.time,
    host: a.host,
    user: a.user,
    incident_id: a.incidentId,
    suppressed: a.suppressed,
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
    alert: a.doc,
  };
}

function incidentView(i: IncidentRow): IncidentItem {
  return {
    id: i.id,
    status: i.status,
    assignee: i.assignee,
    status_reason: i.statusReason,
    severity: i.severity,
    host: i.host,
    user: i.user,
    first_seen: i.firstSeen,
    last_seen: i.lastSeen,
    alert_count: i.alertCount,
    created_at: iso(i.createdAt),
    updated_at: iso(i.updatedAt),
  };
}

export function actionView(a: ActionRow): ActionItem {
  return {
    id: a.id,
    alert_id: a.alertId,
    workflow: a.workflow,
    kind: a.kind,
    status: a.status,
    destructive: a.destructive,
    dry_run: a.dryRun,
    attempts: a.attempts,
    max_attempts: a.maxAttempts,
    next_attempt_at: iso(a.nextAttemptAt),
    request: a.request,
    result: a.result,
    last_error: a.lastError,
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
  };
}

function auditView(e: AuditEntry): AuditItem {
  return { seq: e.seq, time: iso(e.time), actor: e.actor, action: e.action, target_type: e.targetType, target_id: e.targetId, detail: e.detail };
}

function suppressionView(s: Suppression, now = Date.now()): SuppressionItem {
  return {
    id: s.id,
    rule_id: s.ruleId,
    host: s.host,
    user: s.user,
    image: s.image,
    parent_image: s.parentImage,
    command_line: s.commandLine,
    reason: s.reason,
    expires_at: s.expiresAt,
    expired: s.expiresAt !== null && Date.parse(s.expiresAt) <= now,
    created_by: s.createdBy,
    created_at: iso(s.createdAt),
    hits: s.hits,
  };
}

function ruleView(m: RuleMeta): RuleItem {
  return {
    id: m.id,
    title: m.title,
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.level !== undefined ? { level: m.level } : {}),
    ...(m.status !== undefined ? { status: m.status } : {}),
    ...(m.author !== undefined ? { author: m.author } : {}),
    references: m.references,
    tags: m.tags,
    falsepositives: m.falsepositives,
    source: m.source,
    extra: m.extra,
  };
}

function rulesView(d: ApiDeps): RuleList {
  return {
    total: d.rules.length,
    items: d.rules.map((r) => ruleView(r.meta)),
    errors: d.ruleErrors.map((e) => ({ source: e.source, ...(e.ruleId !== undefined ? { rule_id: e.ruleId } : {}), reason: e.reason, ...(e.unreadable !== undefined ? { unreadable: e.unreadable } : {}) })),
    warnings: d.ruleWarnings.map((w) => ({ rule_id: w.ruleId, source: w.source, message: w.message })),
  };
}

/** The suppression a request body describes (validated: a criterion, compilable patterns, a future expiry). */
function suppressionOf(body: SuppressionBody, actor: string): Omit<Suppression, 'id' | 'createdAt' | 'hits'> {
  const s = {
    ruleId: body.rule_id || null,
    host: body.host || null,
    user: body.user || null,
    image: body.image || null,
    parentImage: body.parent_image || null,
    commandLine: body.command_line || null,
    reason: body.reason,
    expiresAt: isoTime(body.expires_at, 'expires_at') ?? null,
    createdBy: actor,
  };
  if (!s.ruleId && !s.host && !s.user && !s.image && !s.parentImage && !s.commandLine) {
    throw new FieldError('rule_id', 'a suppression needs at least one of rule_id, host, user, image, parent_image, command_line');
  }
  if (s.expiresAt && Date.parse(s.expiresAt) <= Date.now()) throw new FieldError('expires_at', `expires_at: ${s.expiresAt} is not in the future`);
  return s;
}

interface ScanResult {
  matched: AlertRow[];
  scanned: number;
  capped: boolean;
}

/** Stored unsuppressed alerts (newest first, at most SUPPRESSION_SCAN_LIMIT) that the suppression matches. */
export async function scanStored(store: AlertStore, s: Omit<Suppression, 'id' | 'createdAt' | 'hits'>, limit: number): Promise<ScanResult> {
  const engine = new Suppressor({ suppressions: [engineSuppression({ ...s, id: 0 })], groups: new Map() });
  const matched: AlertRow[] = [];
  let scanned = 0;
  let total = 0;
  for (let offset = 0; offset < limit; offset += SCAN_PAGE) {
    const page = await store.listAlerts({ suppressed: false, ...(s.ruleId ? { ruleId: s.ruleId } : {}), limit: Math.min(SCAN_PAGE, limit - offset), offset });
    total = page.total;
    scanned += page.items.length;
    for (const a of page.items) if (engine.find(subjectOfEcsAlert(a.doc))) matched.push(a);
    if (page.items.length === 0 || scanned >= total) break;
  }
  return { matched, scanned, capped: total > scanned };
}

export function registerApiRoutes(app: FastifyInstance, d: ApiDeps): void {
  const { store } = d;
  const page = (q: { limit?: number; offset?: number }) => ({ limit: q.limit ?? 50, offset: q.offset ?? 0 });
  const idOf = (req: FastifyRequest): string => (req.params as { id: string }).id;

  onRoute(app, ROUTES.me, async (req): Promise<Me> => {
    const who = req as FastifyRequest & { actor?: string; scopes?: string[] };
    return { name: who.actor ?? 'anonymous', scopes: who.scopes ?? [] };
  });

  onRoute(app, ROUTES.openapi, async () => openApiDocument(d.registeredRoutes, d.version));

  onRoute(app, ROUTES.alerts, async (req) => {
    const query = req.query as AlertListQuery;
    const p = page(query);
    const res = await store.listAlerts({
      ...p,
      ...optional('status', query.status || undefined),
      ...optional('minSeverity', query.severity || undefined),
      ...optional('ruleId', query.rule || undefined),
      ...optional('host', query.host || undefined),
      ...optional('incidentId', query.incident || undefined),
      ...optional('suppressed', query.suppressed),
      ...optional('since', isoTime(query.since, 'since')),
      ...optional('until', isoTime(query.until, 'until')),
      ...optional('text', freeText(query.q)),
    });
    return { total: res.total, ...p, items: res.items.map(alertView) };
  });

  onRoute(app, ROUTES.alert, async (req): Promise<AlertDetail> => {
    const id = idOf(req);
    const a = await store.getAlert(id);
    if (!a) throw new HttpError(404, `no alert ${id}`);
    const actions = await store.listActions({ alertId: id, limit: 100, offset: 0 });
    // Approvals and runs are audited against the action's id; the alert's trail includes them.
    const audit = await auditOf(store, [id, ...actions.items.map((x) => x.id)], 100);
    return { ...alertView(a), actions: actions.items.map(actionView), audit: audit.map(auditView) };
  });

  const patchAlert = async (req: FastifyRequest): Promise<AlertItem> => {
    const id = idOf(req);
    const a = await store.updateAlert(id, statusChange(req), d.alertOutbox);
    if (!a) throw new HttpError(404, `no alert ${id}`);
    await d.afterAlertUpdate?.(a);
    const view = alertView(a);
    d.hub.publish('alert.update', a.id, view);
    return view;
  };
  onRoute(app, ROUTES.patchAlert, patchAlert);
  onRoute(app, ROUTES.alertStatus, patchAlert);

  onRoute(app, ROUTES.incidents, async (req) => {
    const query = req.query as IncidentListQuery;
    const p = page(query);
    const res = await store.listIncidents({
      ...p,
      ...optional('status', query.status || undefined),
      ...optional('minSeverity', query.severity || undefined),
      ...optional('host', query.host || undefined),
    });
    return { total: res.total, ...p, items: res.items.map(incidentView) };
  });

  onRoute(app, ROUTES.incident, async (req): Promise<IncidentDetail> => {
    const id = idOf(req);
    const i = await store.getIncident(id);
    if (!i) throw new HttpError(404, `no incident ${id}`);
    const alerts = await store.listAlerts({ incidentId: id, limit: MAX_LIMIT, offset: 0 });
    const audit = await store.listAudit({ targetId: id, limit: 100, offset: 0 });
    return { ...incidentView(i), alerts: alerts.items.map(alertView), audit: audit.items.map(auditView), ...(await d.incidentExtras?.(id)) };
  });

  const patchIncident = async (req: FastifyRequest): Promise<IncidentItem> => {
    const id = idOf(req);
    const i = await store.updateIncident(id, statusChange(req));
    if (!i) throw new HttpError(404, `no incident ${id}`);
    const view = incidentView(i);
    d.hub.publish('incident.update', i.id, view);
    return view;
  };
  onRoute(app, ROUTES.patchIncident, patchIncident);
  onRoute(app, ROUTES.incidentStatus, patchIncident);

  onRoute(app, ROUTES.rules, async (): Promise<RuleList> => rulesView(d));

  onRoute(app, ROUTES.suppressions, async (): Promise<SuppressionList> => {
    const now = Date.now();
    const items = (await store.listSuppressions()).map((s) => suppressionView(s, now));
    return { total: items.length, items };
  });

  onRoute(app, ROUTES.previewSuppression, async (req): Promise<SuppressionPreview> => {
    const s = suppressionOf(req.body as SuppressionBody, actorOf(req));
    const scan = await scanStored(store, s, SUPPRESSION_SCAN_LIMIT);
    return { matched: scan.matched.length, scanned: scan.scanned, capped: scan.capped, examples: scan.matched.slice(0, SUPPRESSION_EXAMPLES).map(alertView) };
  });

  onRoute(app, ROUTES.createSuppression, async (req, reply) => {
    const actor = actorOf(req);
    const s = suppressionOf(req.body as SuppressionBody, actor);
    const created = await store.addSuppression(s);
    // New alerts first (the index), then the stored ones it matches, in bounded batches.
    d.suppressions.replace(await store.listSuppressions());
    const scan = await scanStored(store, s, SUPPRESSION_SCAN_LIMIT);
    const by = { ref: suppressionRef(created.id), reason: created.reason };
    let suppressed = 0;
    for (let i = 0; i < scan.matched.length; i += SUPPRESSION_APPLY_BATCH) {
      suppressed += await store.suppressAlerts(scan.matched.slice(i, i + SUPPRESSION_APPLY_BATCH).map((a) => a.id), by, actor);
    }
    const answer: SuppressionCreated = { ...suppressionView(created), applied: { matched: scan.matched.length, scanned: scan.scanned, capped: scan.capped, suppressed } };
    return reply.code(201).send(answer);
  });

  onRoute(app, ROUTES.deleteSuppression, async (req, reply) => {
    const id = (req.params as { id: number }).id;
    if (!(await store.deleteSuppression(id, actorOf(req)))) throw new HttpError(404, `no suppression ${id}`);
    d.suppressions.replace(await store.listSuppressions());
    return reply.code(204).send();
  });

  onRoute(app, ROUTES.actions, async (req) => {
    const query = req.query as ActionListQuery;
    const p = page(query);
    const res = await store.listActions({ ...p, ...optional('alertId', query.alert || undefined), ...optional('status', query.status || undefined) });
    return { total: res.total, ...p, items: res.items.map(actionView) };
  });

  onRoute(app, ROUTES.action, async (req) => {
    const id = idOf(req);
    const a = await store.getAction(id);
    if (!a) throw new HttpError(404, `no action ${id}`);
    const audit = await store.listAudit({ targetId: id, limit: 100, offset: 0 });
    const verdict = await d.runner.verification(a);
    return { ...actionView(a), audit: audit.items.map(auditView), ...(verdict ? { verification: verdict } : {}) };
  });

  for (const verb of ['approve', 'reject'] as const) {
    onRoute(app, ROUTES[verb], async (req): Promise<ActionItem> => {
      const id = idOf(req);
      const reason = (req.body as DecisionBody).reason || undefined;
      try {
        return actionView(verb === 'approve' ? await d.runner.approve(id, actorOf(req), reason) : await d.runner.reject(id, actorOf(req), reason));
      } catch (err) {
        if (err instanceof ApprovalError) throw new HttpError(err.code, err.message);
        throw err;
      }
    });
  }

  onRoute(app, ROUTES.audit, async (req) => {
    const query = req.query as AuditListQuery;
    const p = page(query);
    const res = await store.listAudit({ ...p, ...optional('targetId', query.target || undefined) });
    return { total: res.total, ...p, items: res.items.map(auditView) };
  });

  onRoute(app, ROUTES.health, async (): Promise<Health> => {
    const c = await store.counts();
    return {
      status: d.sink.full() ? 'overloaded' : 'ok',
      version: d.version,
      uptime_seconds: Math.round((Date.now() - d.startedAt) / 1000),
      queue: { events: d.sink.depth, capacity: d.queueCapacity },
      rules: { loaded: d.rules.length, errors: d.ruleErrors.length },
      store: { events: c.events, alerts: c.alerts, open_alerts: c.openAlerts, incidents: c.incidents, actions_pending: c.actionsPending },
      stream_subscribers: d.hub.size,
    };
  });

  onRoute(app, ROUTES.metrics, async (_req, reply) => reply.type(d.metrics.contentType).send(await d.metrics.render()));

  onRoute(app, ROUTES.stream, async (req, reply) => {
    reply.hijack();
    d.hub.subscribe(reply.raw);
  });
}

/** The `q` free-text parameter: trimmed, empty means none (its length is bounded by the schema). */
export function freeText(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

/** The newest `limit` audit entries of any of `targetIds`, newest first. */
async function auditOf(store: AuditStore, targetIds: string[], limit: number): Promise<AuditEntry[]> {
  const pages = await Promise.all(targetIds.map((targetId) => store.listAudit({ targetId, limit, offset: 0 })));
  return pages
    .flatMap((p) => p.items)
    .sort((x, y) => y.seq - x.seq)
    .slice(0, limit);
}
