/**
 * The API contract, declared once: request and response JSON Schemas (TypeBox) for every /api route. The
 * server validates requests with them (fastify's ajv: an unknown query parameter or body field, or a value of
 * the wrong type, is a 400 naming it), GET /api/openapi.json is generated from them, and the console imports
 * the TypeScript types (`Static<>`) from here. Payload keys are snake_case; the documents procwatch stores
 * (the ECS alert under `alert`, an action's `request`/`result`, an audit entry's `detail`, a rule's `extra`)
 * keep the names they were written with.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { SEVERITIES } from '../model/alert.js';
import { ALERT_STATUSES } from '../store/types.js';

/** Largest page a list answers. */
export const MAX_LIMIT = 1000;
/** Longest `q` accepted: a search term, not a document (each one is a full scan of the alert texts). */
export const MAX_QUERY_CHARS = 200;

export const ACTION_STATUSES = ['pending', 'pending_approval', 'running', 'retrying', 'succeeded', 'failed', 'dead_letter', 'dry_run', 'rejected'] as const;

const closed = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Iso = (description: string) => Type.String({ description: `${description} (ISO 8601)` });
/** A stored document: free-form JSON, names as written (ECS, Windows, YAML). */
const Doc = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description });

/** A string enum as JSON Schema `enum` (ajv's error then lists the allowed values). */
const StringEnum = <T extends string>(values: readonly T[], options: { description?: string } = {}) => Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
const AlertStatus = StringEnum(ALERT_STATUSES);
const Severity = StringEnum(SEVERITIES);
const ActionStatus = StringEnum(ACTION_STATUSES);

// ---- errors and paging ------------------------------------------------------------------------------------

export const ErrorBody = Type.Object(
  { error: Type.String({ description: 'what went wrong, for a person' }), field: Type.Optional(Type.String({ description: 'the query parameter, path parameter or body field at fault' })) },
  closed,
);
export type ErrorBody = Static<typeof ErrorBody>;

const paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 50, description: 'page size' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'items to skip' })),
};
/** A page of a list (the TypeScript shape of every `pageOf` schema). */
export interface Page<T> {
  total: number;
  limit: number;
  offset: number;
  items: T[];
}
const pageOf = <T extends TSchema>(item: T) => Type.Object({ total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer(), items: Type.Array(item) }, closed);

/** An empty string in a filter means "no filter" (what an HTML form sends for an untouched field). */
const Filter = (description: string, maxLength = 255) => Type.Optional(Type.String({ maxLength, description }));
const EnumFilter = <T extends string>(values: readonly T[], description: string) => Type.Optional(StringEnum<T | ''>([...values, ''], { description }));

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, closed);
export const NumericIdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) }, closed);

// ---- alerts -----------------------------------------------------------------------------------------------

const alertFilters = {
  status: EnumFilter(ALERT_STATUSES, 'alert status'),
  severity: EnumFilter(SEVERITIES, 'at least this severity'),
  rule: Filter('rule id'),
  host: Filter('host name (case-insensitive)'),
  since: Filter('event time from (ISO 8601, inclusive)', 64),
  until: Filter('event time to (ISO 8601, inclusive)', 64),
  q: Filter(`free text: a case-insensitive substring of the alert document (at most ${MAX_QUERY_CHARS} characters)`, MAX_QUERY_CHARS),
};

export const AlertListQuery = Type.Object(
  { ...paging, ...alertFilters, incident: Filter('incident id'), suppressed: Type.Optional(Type.Boolean({ description: 'only suppressed (true) or unsuppressed (false) alerts' })) },
  closed,
);
export type AlertListQuery = Static<typeof AlertListQuery>;

export const AlertItem = Type.Object(
  {
    id: Type.String(),
    status: AlertStatus,
    assignee: Nullable(Type.String()),
    status_reason: Nullable(Type.String()),
    severity: Severity,
    rule_id: Type.String(),
    time: Iso('event time'),
    host: Type.String(),
    user: Nullable(Type.String()),
    incident_id: Nullable(Type.String()),
    suppressed: Type.Boolean(),
    created_at: Iso('stored at'),
    updated_at: Iso('last changed at'),
    alert: Doc('the ECS alert document (as `procwatch scan --format json` writes it); ECS/Windows field names'),
  },
  closed,
);
export type AlertItem = Static<typeof AlertItem>;

export const AuditItem = Type.Object(
  { seq: Type.Integer(), time: Iso('when'), actor: Type.String(), action: Type.String(), target_type: Type.String(), target_id: Type.String(), detail: Doc('what changed') },
  closed,
);
export type AuditItem = Static<typeof AuditItem>;

export const ActionItem = Type.Object(
  {
    id: Type.String(),
    alert_id: Type.String(),
    workflow: Type.String(),
    kind: Type.String(),
    status: ActionStatus,
    destructive: Type.Boolean(),
    dry_run: Type.Boolean(),
    attempts: Type.Integer(),
    max_attempts: Type.Integer(),
    next_attempt_at: Iso('next attempt due'),
    request: Doc('what is (or, in dry-run, would be) executed'),
    result: Nullable(Doc('what the target answered')),
    last_error: Nullable(Type.String()),
    created_at: Iso('planned at'),
    updated_at: Iso('last changed at'),
  },
  closed,
);
export type ActionItem = Static<typeof ActionItem>;

export const AlertDetail = Type.Object({ ...AlertItem.properties, actions: Type.Array(ActionItem), audit: Type.Array(AuditItem) }, closed);
export type AlertDetail = Static<typeof AlertDetail>;

export const StatusChangeBody = Type.Object(
  {
    status: Type.Optional(AlertStatus),
    reason: Type.Optional(Type.String({ maxLength: 1000, description: 'required when closing' })),
    assignee: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  },
  closed,
);
export type StatusChangeBody = Static<typeof StatusChangeBody>;

// ---- incidents --------------------------------------------------------------------------------------------

export const IncidentListQuery = Type.Object({ ...paging, status: alertFilters.status, severity: alertFilters.severity, host: alertFilters.host }, closed);
export type IncidentListQuery = Static<typeof IncidentListQuery>;

export const IncidentItem = Type.Object(
  {
    id: Type.String(),
    status: AlertStatus,
    assignee: Nullable(Type.String()),
    status_reason: Nullable(Type.String()),
    severity: Severity,
    host: Type.String(),
    user: Nullable(Type.String()),
    first_seen: Iso('first alert'),
    last_seen: Iso('last alert'),
    alert_count: Type.Integer(),
    created_at: Iso('created at'),
    updated_at: Iso('last changed at'),
  },
  closed,
);
export type IncidentItem = Static<typeof IncidentItem>;

export const IncidentDetail = Type.Object(
  {
    ...IncidentItem.properties,
    alerts: Type.Array(AlertItem),
    audit: Type.Array(AuditItem),
    actions: Type.Optional(Type.Array(ActionItem, { description: 'actions asked for this incident (POST /api/incidents/{id}/actions)' })),
    policy_workflows: Type.Optional(Type.Array(Type.String(), { description: 'applocker_policy workflows that can be asked for this incident' })),
  },
  closed,
);
export type IncidentDetail = Static<typeof IncidentDetail>;

// ---- rules ------------------------------------------------------------------------------------------------

export const RuleItem = Type.Object(
  {
    id: Type.String(),
    title: Type.String(),
    description: Type.Optional(Type.String()),
    level: Type.Optional(Severity),
    status: Type.Optional(Type.String()),
    author: Type.Optional(Type.String()),
    references: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    falsepositives: Type.Array(Type.String()),
    source: Type.String(),
    extra: Doc('attributes beyond the Sigma standard set, as written in the rule'),
  },
  closed,
);
export type RuleItem = Static<typeof RuleItem>;

export const RuleList = Type.Object(
  {
    total: Type.Integer(),
    items: Type.Array(RuleItem),
    errors: Type.Array(Type.Object({ source: Type.String(), rule_id: Type.Optional(Type.String()), reason: Type.String(), unreadable: Type.Optional(Type.Boolean()) }, closed)),
    warnings: Type.Array(Type.Object({ rule_id: Type.String(), source: Type.String(), message: Type.String() }, closed)),
  },
  closed,
);
export type RuleList = Static<typeof RuleList>;

// ---- suppressions -----------------------------------------------------------------------------------------

/** Limits of a suppression's criteria. */
export const SUPPRESSION_LIMITS = { rule_id: 200, host: 255, user: 255, image: 1000, parent_image: 1000, command_line: 4000, reason: 1000 } as const;

export const SuppressionBody = Type.Object(
  {
    rule_id: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.rule_id, description: 'rule id (exact)' })),
    host: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.host, description: 'host name glob' })),
    user: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.user, description: 'user glob; without a backslash it matches the name part only' })),
    image: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.image, description: 'process image glob' })),
    parent_image: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.parent_image, description: 'parent image glob' })),
    command_line: Type.Optional(Type.String({ maxLength: SUPPRESSION_LIMITS.command_line, description: 'command-line glob' })),
    reason: Type.String({ minLength: 1, maxLength: SUPPRESSION_LIMITS.reason, description: 'why these alerts are expected' }),
    expires_at: Type.Optional(Nullable(Type.String({ maxLength: 64, description: 'ISO 8601; after it the suppression no longer applies to new alerts' }))),
  },
  closed,
);
export type SuppressionBody = Static<typeof SuppressionBody>;

export const SuppressionItem = Type.Object(
  {
    id: Type.Integer(),
    rule_id: Nullable(Type.String()),
    host: Nullable(Type.String()),
    user: Nullable(Type.String()),
    image: Nullable(Type.String()),
    parent_image: Nullable(Type.String()),
    command_line: Nullable(Type.String()),
    reason: Type.String(),
    expires_at: Nullable(Iso('expiry')),
    expired: Type.Boolean({ description: 'past its expiry: no longer applied to new alerts' }),
    created_by: Type.String(),
    created_at: Iso('created at'),
    hits: Type.Integer({ description: 'new alerts it suppressed' }),
  },
  closed,
);
export type SuppressionItem = Static<typeof SuppressionItem>;

export const SuppressionList = Type.Object({ total: Type.Integer(), items: Type.Array(SuppressionItem) }, closed);
export type SuppressionList = Static<typeof SuppressionList>;

const scanReport = {
  matched: Type.Integer({ description: 'stored unsuppressed alerts it matches among those scanned' }),
  scanned: Type.Integer({ description: 'stored unsuppressed alerts examined (newest first)' }),
  capped: Type.Boolean({ description: 'more alerts were stored than the scan examines: matched is a lower bound' }),
};

export const SuppressionPreview = Type.Object({ ...scanReport, examples: Type.Array(AlertItem, { description: 'a few of the matched alerts, newest first' }) }, closed);
export type SuppressionPreview = Static<typeof SuppressionPreview>;

export const SuppressionCreated = Type.Object(
  { ...SuppressionItem.properties, applied: Type.Object({ ...scanReport, suppressed: Type.Integer({ description: 'stored alerts marked suppressed now' }) }, closed) },
  closed,
);
export type SuppressionCreated = Static<typeof SuppressionCreated>;

// ---- actions, audit, me, health ---------------------------------------------------------------------------

export const ActionListQuery = Type.Object({ ...paging, alert: Filter('alert id', 200), status: EnumFilter(ACTION_STATUSES, 'action status') }, closed);
export type ActionListQuery = Static<typeof ActionListQuery>;
export const ActionDetail = Type.Object({ ...ActionItem.properties, audit: Type.Array(AuditItem) }, closed);
export type ActionDetail = Static<typeof ActionDetail>;
export const DecisionBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, closed);

export const IncidentActionBody = Type.Object(
  {
    workflow: Type.String({ minLength: 1, maxLength: 200, description: 'an applocker_policy workflow of the response configuration' }),
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  closed,
);
export type IncidentActionBody = Static<typeof IncidentActionBody>;
export type DecisionBody = Static<typeof DecisionBody>;

export const AuditListQuery = Type.Object({ ...paging, target: Filter('target id (alert, incident, action, suppression)', 200) }, closed);
export type AuditListQuery = Static<typeof AuditListQuery>;

export const Me = Type.Object({ name: Type.String(), scopes: Type.Array(Type.String()) }, closed);
export type Me = Static<typeof Me>;

export const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('overloaded')]),
    version: Type.String(),
    uptime_seconds: Type.Integer(),
    queue: Type.Object({ events: Type.Integer(), capacity: Type.Integer() }, closed),
    rules: Type.Object({ loaded: Type.Integer(), errors: Type.Integer() }, closed),
    store: Type.Object({ events: Type.Integer(), alerts: Type.Integer(), open_alerts: Type.Integer(), incidents: Type.Integer(), actions_pending: Type.Integer() }, closed),
    stream_subscribers: Type.Integer(),
  },
  closed,
);
export type Health = Static<typeof Health>;

// ---- stats ------------------------------------------------------------------------------------------------

export const StatsQuery = Type.Object({ ...alertFilters }, closed);
export type StatsQuery = Static<typeof StatsQuery>;

const Counts = Type.Record(Type.String(), Type.Integer());
export const Stats = Type.Object(
  {
    total: Type.Integer(),
    scanned: Type.Integer(),
    truncated: Type.Boolean(),
    by_status: Counts,
    by_severity: Counts,
    buckets: Type.Object({ width_ms: Type.Integer(), start: Type.Array(Type.String()), counts: Type.Record(Type.String(), Type.Array(Type.Integer())) }, closed),
    top_rules: Type.Array(Type.Object({ rule_id: Type.String(), title: Type.String(), count: Type.Integer() }, closed)),
    top_hosts: Type.Array(Type.Object({ host: Type.String(), count: Type.Integer() }, closed)),
  },
  closed,
);
export type Stats = Static<typeof Stats>;

// ---- the route table --------------------------------------------------------------------------------------

export interface RouteContract {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  querystring?: TSchema;
  params?: TSchema;
  body?: TSchema;
  /** Success status → body schema (null: no body). */
  responses: Record<number, TSchema | null>;
  /** A Server-Sent Events or text answer rather than JSON. */
  produces?: string;
}

const page = (item: TSchema) => ({ 200: pageOf(item) });

/** Every /api route (and /metrics) with its schemas; the server registers handlers against these entries. */
export const ROUTES = {
  me: { method: 'GET', url: '/api/me', summary: 'who the token is and its scopes', responses: { 200: Me } },
  openapi: { method: 'GET', url: '/api/openapi.json', summary: 'this document (OpenAPI 3.1)', responses: { 200: Type.Object({}, { additionalProperties: true }) } },
  alerts: { method: 'GET', url: '/api/alerts', summary: 'alerts, newest first', querystring: AlertListQuery, responses: page(AlertItem) },
  alert: { method: 'GET', url: '/api/alerts/:id', summary: 'one alert with its actions and audit trail', params: IdParams, responses: { 200: AlertDetail } },
  patchAlert: { method: 'PATCH', url: '/api/alerts/:id', summary: 'change status, assignee, reason', params: IdParams, body: StatusChangeBody, responses: { 200: AlertItem } },
  alertStatus: { method: 'POST', url: '/api/alerts/:id/status', summary: 'same as PATCH /api/alerts/{id}', params: IdParams, body: StatusChangeBody, responses: { 200: AlertItem } },
  incidents: { method: 'GET', url: '/api/incidents', summary: 'incidents, newest first', querystring: IncidentListQuery, responses: page(IncidentItem) },
  incident: { method: 'GET', url: '/api/incidents/:id', summary: 'one incident with its alerts and audit trail', params: IdParams, responses: { 200: IncidentDetail } },
  patchIncident: { method: 'PATCH', url: '/api/incidents/:id', summary: 'change status, assignee, reason', params: IdParams, body: StatusChangeBody, responses: { 200: IncidentItem } },
  incidentStatus: { method: 'POST', url: '/api/incidents/:id/status', summary: 'same as PATCH /api/incidents/{id}', params: IdParams, body: StatusChangeBody, responses: { 200: IncidentItem } },
  incidentAction: {
    method: 'POST',
    url: '/api/incidents/:id/actions',
    summary: 'ask a response action for an incident (an applocker_policy workflow: the AppLocker policy for its host)',
    params: IdParams,
    body: IncidentActionBody,
    responses: { 200: ActionItem, 201: ActionItem },
  },
  rules: { method: 'GET', url: '/api/rules', summary: 'loaded rules, load errors and engine warnings', responses: { 200: RuleList } },
  suppressions: { method: 'GET', url: '/api/suppressions', summary: 'suppressions made through the API', responses: { 200: SuppressionList } },
  previewSuppression: { method: 'POST', url: '/api/suppressions/preview', summary: 'how many stored alerts a suppression would match, with examples', body: SuppressionBody, responses: { 200: SuppressionPreview } },
  createSuppression: { method: 'POST', url: '/api/suppressions', summary: 'create a suppression; it is applied to the stored alerts it matches and to new ones', body: SuppressionBody, responses: { 201: SuppressionCreated } },
  deleteSuppression: { method: 'DELETE', url: '/api/suppressions/:id', summary: 'delete a suppression (alerts it marked stay marked)', params: NumericIdParams, responses: { 204: null } },
  actions: { method: 'GET', url: '/api/actions', summary: 'response actions, newest first', querystring: ActionListQuery, responses: page(ActionItem) },
  action: { method: 'GET', url: '/api/actions/:id', summary: 'one action with its audit trail', params: IdParams, responses: { 200: ActionDetail } },
  approve: { method: 'POST', url: '/api/actions/:id/approve', summary: 'approve an action waiting for approval', params: IdParams, body: DecisionBody, responses: { 200: ActionItem } },
  reject: { method: 'POST', url: '/api/actions/:id/reject', summary: 'reject an action waiting for approval', params: IdParams, body: DecisionBody, responses: { 200: ActionItem } },
  audit: { method: 'GET', url: '/api/audit', summary: 'audit trail, newest first', querystring: AuditListQuery, responses: page(AuditItem) },
  health: { method: 'GET', url: '/api/health', summary: 'queue, rules and store counts', responses: { 200: Health } },
  stats: { method: 'GET', url: '/api/stats', summary: 'aggregates of the alerts matching the filters', querystring: StatsQuery, responses: { 200: Stats } },
  stream: { method: 'GET', url: '/api/stream', summary: 'live alert stream (Server-Sent Events)', responses: { 200: null }, produces: 'text/event-stream' },
  metrics: { method: 'GET', url: '/metrics', summary: 'Prometheus metrics', responses: { 200: null }, produces: 'text/plain' },
} satisfies Record<string, RouteContract>;

export type RouteName = keyof typeof ROUTES;
