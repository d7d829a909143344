/**
 * GET /api/stats: the console overview's aggregates — alerts over time by severity, top rules, top hosts and
 * counts by status — for the same filters as GET /api/alerts. Built on the stores' list query (no store
 * change): status counts are exact (one count query each); the time buckets and top lists are computed from
 * the newest STATS_SCAN_LIMIT matching alerts, and the answer says when more matched (`truncated`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SEVERITIES } from '../model/alert.js';
import { ALERT_STATUSES, type AlertQuery, type AlertRow, type AlertStore } from '../store/types.js';
import { FieldError } from './validation.js';
import { freeText, onRoute } from './apiRoutes.js';
import { ROUTES, type Stats, type StatsQuery } from './contract.js';

/** Alerts read per request for the buckets and top lists (newest first). */
export const STATS_SCAN_LIMIT = 5000;
const PAGE = 1000;
/** Entries in each top list. */
export const STATS_TOP = 10;
/** At most this many time buckets: the bucket width is the smallest step that fits the span. */
export const STATS_MAX_BUCKETS = 60;
const STEPS_MS = [1_000, 10_000, 60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

type Filter = Omit<AlertQuery, 'limit' | 'offset' | 'status'>;

/** The answer, as the contract declares it. */
export type StatsAnswer = Stats;

function isoParam(v: string | undefined, name: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new FieldError(name, `${name}: expected an ISO 8601 time`);
  return new Date(t).toISOString();
}

/** The filters of a validated query (the contract's StatsQuery: unknown parameters were refused). */
function filterOf(req: FastifyRequest): { filter: Filter; status: AlertQuery['status'] } {
  const query = req.query as StatsQuery;
  const filter: Filter = {};
  if (query.severity) filter.minSeverity = query.severity;
  if (query.rule) filter.ruleId = query.rule;
  if (query.host) filter.host = query.host;
  const since = isoParam(query.since, 'since');
  if (since) filter.since = since;
  const until = isoParam(query.until, 'until');
  if (until) filter.until = until;
  const q = freeText(query.q);
  if (q) filter.text = q;
  return { filter, status: query.status || undefined };
}

/** The smallest step that covers [min, max] in at most STATS_MAX_BUCKETS buckets. */
export function bucketWidth(minMs: number, maxMs: number): number {
  const span = Math.max(0, maxMs - minMs);
  for (const step of STEPS_MS) if (Math.floor(span / step) + 1 <= STATS_MAX_BUCKETS) return step;
  return Math.ceil((span + 1) / STATS_MAX_BUCKETS);
}

function top<K>(counts: Map<K, number>): [K, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0]))).slice(0, STATS_TOP);
}

/** Aggregates of the given alerts (any order). */
export function aggregate(rows: readonly Pick<AlertRow, 'severity' | 'ruleId' | 'doc' | 'host' | 'time'>[]): Pick<StatsAnswer, 'by_severity' | 'buckets' | 'top_rules' | 'top_hosts'> {
  const bySeverity: Record<string, number> = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  const rules = new Map<string, number>();
  const titles = new Map<string, string>();
  const hosts = new Map<string, number>();
  const times: number[] = [];
  for (const r of rows) {
    bySeverity[r.severity] = (bySeverity[r.severity] ?? 0) + 1;
    rules.set(r.ruleId, (rules.get(r.ruleId) ?? 0) + 1);
    const rule = r.doc['rule'] as Record<string, unknown> | undefined;
    if (!titles.has(r.ruleId) && typeof rule?.['name'] === 'string') titles.set(r.ruleId, rule['name']);
    hosts.set(r.host, (hosts.get(r.host) ?? 0) + 1);
    times.push(Date.parse(r.time));
  }
  const valid = times.filter(Number.isFinite);
  const counts: Record<string, number[]> = Object.fromEntries(SEVERITIES.map((s) => [s, [] as number[]]));
  const start: string[] = [];
  let width = 3_600_000;
  if (valid.length > 0) {
    const min = Math.min(...valid);
    const max = Math.max(...valid);
    width = bucketWidth(min, max);
    const first = Math.floor(min / width) * width;
    const n = Math.floor((max - first) / width) + 1;
    for (let i = 0; i < n; i++) start.push(new Date(first + i * width).toISOString());
    for (const s of SEVERITIES) counts[s] = new Array<number>(n).fill(0);
    rows.forEach((r, i) => {
      const t = times[i]!;
      if (Number.isFinite(t)) counts[r.severity]![Math.floor((t - first) / width)]! += 1;
    });
  }
  return {
    by_severity: bySeverity,
    buckets: { width_ms: width, start, counts },
    top_rules: top(rules).map(([rule_id, count]) => ({ rule_id, title: titles.get(rule_id) ?? rule_id, count })),
    top_hosts: top(hosts).map(([host, count]) => ({ host, count })),
  };
}

export function registerStatsRoutes(app: FastifyInstance, store: AlertStore, scanLimit = STATS_SCAN_LIMIT): void {
  onRoute(app, ROUTES.stats, async (req): Promise<StatsAnswer> => {
    const { filter, status } = filterOf(req);
    const byStatus: Record<string, number> = {};
    for (const s of ALERT_STATUSES) byStatus[s] = (await store.listAlerts({ ...filter, status: s, limit: 1, offset: 0 })).total;
    const rows: AlertRow[] = [];
    let total = 0;
    for (let offset = 0; offset < scanLimit; offset += PAGE) {
      const page = await store.listAlerts({ ...filter, ...(status ? { status } : {}), limit: Math.min(PAGE, scanLimit - offset), offset });
      total = page.total;
      rows.push(...page.items);
      if (page.items.length === 0 || rows.length >= total) break;
    }
    return { total, scanned: rows.length, truncated: total > rows.length, by_status: byStatus, ...aggregate(rows) };
  });
}
