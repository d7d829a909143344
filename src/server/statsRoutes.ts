/**
 * GET /api/stats: the console overview's aggregates — alerts over time by severity, top rules, top hosts and
 * counts by status — for the same filters as GET /api/alerts. Built on the stores' list query (no store
 * change): status counts are exact (one count query each); the time buckets and top lists are computed from
 * the newest STATS_SCAN_LIMIT matching alerts, and the answer says when more matched (`truncated`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ALERT_STATUSES, type AlertQuery, type AlertRow, type AlertStore } from '../store/types.js';
import { aggregate } from '../output/alertStats.js';

export { aggregate, bucketWidth, STATS_MAX_BUCKETS, STATS_TOP } from '../output/alertStats.js';
import { FieldError } from './validation.js';
import { freeText, onRoute } from './apiRoutes.js';
import { ROUTES, type Stats, type StatsQuery } from './contract.js';

/** Alerts read per request for the buckets and top lists (newest first). */
export const STATS_SCAN_LIMIT = 5000;
const PAGE = 1000;
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
