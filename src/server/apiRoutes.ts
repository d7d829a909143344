/**
 * The REST API under /api (alerts, incidents, rules, suppressions, actions, audit, health), Prometheus
 * /metrics, and the SSE alert stream. Lists page with `limit`/`offset` and answer `{total, limit, offset, items}`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SEVERITIES, type RuleMeta, type Severity } from '../model/alert.js';
import { ALERT_STATUSES, type ActionStatus, type AlertRow, type AuditEntry, type IncidentRow, type StatusChange, type Store } from '../store/types.js';
import { ApprovalError, type ActionRunner } from '../respond/index.js';
import type { Ingestor } from './ingest.js';
import type { Metrics } from './metrics.js';
import type { SseHub } from './sse.js';
import type { SuppressionIndex } from './suppress.js';
import { wildcard } from './suppress.js';
import { HttpError } from './errors.js';

export interface ApiDeps {
  store: Store;
  runner: ActionRunner;
  ingestor: Ingestor;
  metrics: Metrics;
  hub: SseHub;
  suppressions: SuppressionIndex;
  rules: { meta: RuleMeta }[];
  ruleErrors: unknown[];
  ruleWarnings: unknown[];
  queueCapacity: number;
  version: string;
  startedAt: number;
  /** A status change is stored: queue what follows from it (alert forwarding) before the change is answered. */
  afterAlertUpdate?: (row: AlertRow) => Promise<unknown>;
}

const MAX_LIMIT = 1000;
const ACTION_STATUSES: readonly ActionStatus[] = ['pending', 'pending_approval', 'running', 'retrying', 'succeeded', 'failed', 'dead_letter', 'dry_run', 'rejected'];

type Query = Record<string, string | undefined>;

function q(req: FastifyRequest): Query {
  return (req.query ?? {}) as Query;
}

function paging(query: Query): { limit: number; offset: number } {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  const offset = query.offset === undefined ? 0 : Number(query.offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new HttpError(400, `limit: expected an integer from 1 to ${MAX_LIMIT}`);
  if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'offset: expected a non-negative integer');
  return { limit, offset };
}

function oneOf<T extends string>(v: string | undefined, allowed: readonly T[], name: string): T | undefined {
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new HttpError(400, `${name}: expected one of ${allowed.join(', ')}`);
  return v as T;
}

function isoTime(v: string | undefined, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new HttpError(400, `${name}: expected an ISO 8601 time`);
  return new Date(t).toISOString();
}

/** JSON request body (the catch-all parser hands every body over as a Buffer). */
function jsonBody(req: FastifyRequest): Record<string, unknown> {
  const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (buf.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'body: expected a JSON object');
  return v as Record<string, unknown>;
}

function optText(body: Record<string, unknown>, key: string, max = 1000): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${key}: expected a string`);
  if (v.length > max) throw new HttpError(400, `${key}: at most ${max} characters`);
  return v;
}

export function actorOf(req: FastifyRequest): string {
  return (req as FastifyRequest & { actor?: string }).actor ?? 'anonymous';
}

/** A status change from a request body: `{status, reason, assignee}`; closing needs a reason. */
function statusChange(req: FastifyRequest): StatusChange {
  const body = jsonBody(req);
  const status = oneOf(optText(body, 'status'), ALERT_STATUSES, 'status');
  const reason = optText(body, 'reason');
  const assignee = body.assignee === null ? null : optText(body, 'assignee', 200);
  if (status === undefined && assignee === undefined && reason === undefined) throw new HttpError(400, 'nothing to change: give status, assignee and/or reason');
  if (status === 'closed' && !reason) throw new HttpError(400, 'reason: required when closing (e.g. "false positive: admin renewing certificates")');
  return { ...(status ? { status } : {}), ...(assignee !== undefined ? { assignee } : {}), ...(reason ? { reason } : {}), actor: actorOf(req) };
}

export function alertView(a: AlertRow): Record<string, unknown> {
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
    created_at: new Date(a.createdAt).toISOString(),
    updated_at: new Date(a.updatedAt).toISOString(),
    alert: a.doc,
  };
}

function incidentView(i: IncidentRow): Record<string, unknown> {
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
    created_at: new Date(i.createdAt).toISOString(),
    updated_at: new Date(i.updatedAt).toISOString(),
  };
}

export function registerApiRoutes(app: FastifyInstance, d: ApiDeps): void {
  const { store } = d;

  app.get('/api/alerts', async (req) => {
    const query = q(req);
    const page = paging(query);
    const suppressed = query.suppressed === undefined ? undefined : query.suppressed === 'true' ? true : query.suppressed === 'false' ? false : badBool();
    const since = isoTime(query.since, 'since');
    const until = isoTime(query.until, 'until');
    const res = await store.listAlerts({
      ...page,
      ...optional('status', oneOf(query.status, ALERT_STATUSES, 'status')),
      ...optional('minSeverity', oneOf<Severity>(query.severity, SEVERITIES, 'severity')),
      ...optional('ruleId', query.rule || undefined),
      ...optional('host', query.host || undefined),
      ...optional('incidentId', query.incident || undefined),
      ...optional('suppressed', suppressed),
      ...optional('since', since),
      ...optional('until', until),
      ...optional('text', freeText(query.q)),
    });
    return { total: res.total, ...page, items: res.items.map(alertView) };
  });

  app.get('/api/alerts/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const a = await store.getAlert(id);
    if (!a) throw new HttpError(404, `no alert ${id}`);
    const actions = await store.listActions({ alertId: id, limit: 100, offset: 0 });
    // Approvals and runs are audited against the action's id; the alert's trail includes them.
    const audit = await auditOf(store, [id, ...actions.items.map((x) => x.id)], 100);
    return { ...alertView(a), actions: actions.items, audit };
  });

  const patchAlert = async (req: FastifyRequest): Promise<Record<string, unknown>> => {
    const id = (req.params as { id: string }).id;
    const a = await store.updateAlert(id, statusChange(req));
    if (!a) throw new HttpError(404, `no alert ${id}`);
    await d.afterAlertUpdate?.(a);
    const view = alertView(a);
    d.hub.publish('alert.update', a.id, view);
    return view;
  };
  app.patch('/api/alerts/:id', patchAlert);
  app.post('/api/alerts/:id/status', patchAlert);

  app.get('/api/incidents', async (req) => {
    const query = q(req);
    const page = paging(query);
    const res = await store.listIncidents({
      ...page,
      ...optional('status', oneOf(query.status, ALERT_STATUSES, 'status')),
      ...optional('minSeverity', oneOf<Severity>(query.severity, SEVERITIES, 'severity')),
      ...optional('host', query.host || undefined),
    });
    return { total: res.total, ...page, items: res.items.map(incidentView) };
  });

  app.get('/api/incidents/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const i = await store.getIncident(id);
    if (!i) throw new HttpError(404, `no incident ${id}`);
    const alerts = await store.listAlerts({ incidentId: id, limit: MAX_LIMIT, offset: 0 });
    const audit = await store.listAudit({ targetId: id, limit: 100, offset: 0 });
    return { ...incidentView(i), alerts: alerts.items.map(alertView), audit: audit.items };
  });

  const patchIncident = async (req: FastifyRequest): Promise<Record<string, unknown>> => {
    const id = (req.params as { id: string }).id;
    const i = await store.updateIncident(id, statusChange(req));
    if (!i) throw new HttpError(404, `no incident ${id}`);
    const view = incidentView(i);
    d.hub.publish('incident.update', i.id, view);
    return view;
  };
  app.patch('/api/incidents/:id', patchIncident);
  app.post('/api/incidents/:id/status', patchIncident);

  app.get('/api/rules', async () => ({
    total: d.rules.length,
    items: d.rules.map((r) => r.meta),
    errors: d.ruleErrors,
    warnings: d.ruleWarnings,
  }));

  app.get('/api/suppressions', async () => {
    const items = await store.listSuppressions();
    return { total: items.length, items };
  });

  app.post('/api/suppressions', async (req, reply) => {
    const body = jsonBody(req);
    const reason = optText(body, 'reason');
    if (!reason) throw new HttpError(400, 'reason: required (why these alerts are expected)');
    const s = {
      ruleId: optText(body, 'rule_id', 200) ?? null,
      host: optText(body, 'host', 255) ?? null,
      user: optText(body, 'user', 255) ?? null,
      parentImage: optText(body, 'parent_image', 1000) ?? null,
      commandLine: optText(body, 'command_line', 4000) ?? null,
      reason,
      expiresAt: isoTime(optText(body, 'expires_at', 64), 'expires_at') ?? null,
      createdBy: actorOf(req),
    };
    if (!s.ruleId && !s.host && !s.user && !s.parentImage && !s.commandLine) {
      throw new HttpError(400, 'a suppression needs at least one of rule_id, host, user, parent_image, command_line');
    }
    for (const [k, v] of [['parent_image', s.parentImage], ['command_line', s.commandLine]] as const) {
      if (v) {
        try {
          wildcard(v);
        } catch (err) {
          throw new HttpError(400, `${k}: ${(err as Error).message}`);
        }
      }
    }
    const created = await store.addSuppression(s);
    d.suppressions.replace(await store.listSuppressions());
    return reply.code(201).send(created);
  });

  app.delete('/api/suppressions/:id', async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isInteger(id)) throw new HttpError(400, 'id: expected an integer');
    if (!(await store.deleteSuppression(id, actorOf(req)))) throw new HttpError(404, `no suppression ${id}`);
    d.suppressions.replace(await store.listSuppressions());
    return reply.code(204).send();
  });

  app.get('/api/actions', async (req) => {
    const query = q(req);
    const page = paging(query);
    const res = await store.listActions({
      ...page,
      ...optional('alertId', query.alert || undefined),
      ...optional('status', oneOf(query.status, ACTION_STATUSES, 'status')),
    });
    return { total: res.total, ...page, items: res.items };
  });

  app.get('/api/actions/:id', async (req) => {
    const id = (req.params as { id: string }).id;
    const a = await store.getAction(id);
    if (!a) throw new HttpError(404, `no action ${id}`);
    const audit = await store.listAudit({ targetId: id, limit: 100, offset: 0 });
    const verdict = await d.runner.verification(a);
    return { ...a, audit: audit.items, ...(verdict ? { verification: verdict } : {}) };
  });

  for (const verb of ['approve', 'reject'] as const) {
    app.post(`/api/actions/:id/${verb}`, async (req) => {
      const id = (req.params as { id: string }).id;
      const reason = optText(jsonBody(req), 'reason');
      try {
        return verb === 'approve' ? await d.runner.approve(id, actorOf(req), reason) : await d.runner.reject(id, actorOf(req), reason);
      } catch (err) {
        if (err instanceof ApprovalError) throw new HttpError(err.code, err.message);
        throw err;
      }
    });
  }

  app.get('/api/audit', async (req) => {
    const query = q(req);
    const page = paging(query);
    const res = await store.listAudit({ ...page, ...optional('targetId', query.target || undefined) });
    return { total: res.total, ...page, items: res.items };
  });

  app.get('/api/health', async () => {
    const counts = await store.counts();
    return {
      status: d.ingestor.full() ? 'overloaded' : 'ok',
      version: d.version,
      uptime_seconds: Math.round((Date.now() - d.startedAt) / 1000),
      queue: { events: d.ingestor.depth, capacity: d.queueCapacity },
      rules: { loaded: d.rules.length, errors: d.ruleErrors.length },
      store: counts,
      stream_subscribers: d.hub.size,
    };
  });

  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(d.metrics.render()));

  app.get('/api/stream', async (req, reply) => {
    reply.hijack();
    d.hub.subscribe(reply.raw);
  });
}

/** Longest `q` accepted: a search term, not a document (each one is a full scan of the alert texts). */
export const MAX_QUERY_CHARS = 200;

/** The `q` free-text parameter: trimmed, empty means none, bounded in length. */
export function freeText(v: string | undefined): string | undefined {
  const t = v?.trim();
  if (!t) return undefined;
  if (t.length > MAX_QUERY_CHARS) throw new HttpError(400, `q: at most ${MAX_QUERY_CHARS} characters`);
  return t;
}

function badBool(): never {
  throw new HttpError(400, 'suppressed: expected true or false');
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

/** The newest `limit` audit entries of any of `targetIds`, newest first. */
async function auditOf(store: Store, targetIds: string[], limit: number): Promise<AuditEntry[]> {
  const pages = await Promise.all(targetIds.map((targetId) => store.listAudit({ targetId, limit, offset: 0 })));
  return pages
    .flatMap((p) => p.items)
    .sort((x, y) => y.seq - x.seq)
    .slice(0, limit);
}
