/**
 * Aggregates of a set of alerts — counts by severity, time buckets by severity, top rules and hosts — shared by
 * the service's GET /api/stats and the HTML report of a scan (which aggregates every alert it found).
 */
import { SEVERITIES } from '../model/alert.js';
import type { AlertRow } from '../store/types.js';

/** Entries in each top list. */
export const STATS_TOP = 10;
/** At most this many time buckets: the bucket width is the smallest step that fits the span. */
export const STATS_MAX_BUCKETS = 60;
const STEPS_MS = [1_000, 10_000, 60_000, 300_000, 900_000, 3_600_000, 6 * 3_600_000, 86_400_000, 7 * 86_400_000, 30 * 86_400_000];

/** The aggregates (field names as the API contract's Stats answer carries them). */
export interface AlertAggregates {
  by_severity: Record<string, number>;
  buckets: { width_ms: number; start: string[]; counts: Record<string, number[]> };
  top_rules: { rule_id: string; title: string; count: number }[];
  top_hosts: { host: string; count: number }[];
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
export function aggregate(rows: readonly Pick<AlertRow, 'severity' | 'ruleId' | 'doc' | 'host' | 'time'>[]): AlertAggregates {
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
  // A loop, not Math.min(...valid): a scan's report aggregates every alert, and spreading ~120k values
  // overflows the call stack.
  let min = Infinity;
  let max = -Infinity;
  for (const t of times) {
    if (!Number.isFinite(t)) continue;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  const counts: Record<string, number[]> = Object.fromEntries(SEVERITIES.map((s) => [s, [] as number[]]));
  const start: string[] = [];
  let width = 3_600_000;
  if (min <= max) {
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
