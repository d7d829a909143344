/** The alert aggregates behind the console's overview and the HTML report, at the size of a large scan. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregate, STATS_MAX_BUCKETS } from '../../src/output/alertStats.js';

test('a scan-sized set (200,000 alerts) aggregates: every alert counted once, its time inside the buckets', () => {
  const severities = ['low', 'medium', 'high', 'critical'] as const;
  const start = Date.parse('2026-11-01T00:00:00Z');
  const rows = Array.from({ length: 200_000 }, (_, i) => ({
    severity: severities[i % 4]!,
    ruleId: `r${i % 7}`,
    doc: { rule: { name: `Rule ${i % 7}` } },
    host: `ws${i % 13}`,
    // Spread over 30 days, the latest last.
    time: new Date(start + i * 12_960).toISOString(),
  }));
  const a = aggregate(rows);
  assert.equal(Object.values(a.by_severity).reduce((x, y) => x + y, 0), rows.length);
  assert.equal(a.by_severity['critical'], 50_000);
  const inBuckets = Object.values(a.buckets.counts).flat().reduce((x, y) => x + y, 0);
  assert.equal(inBuckets, rows.length, 'every timed alert falls in a bucket');
  assert.ok(a.buckets.start.length <= STATS_MAX_BUCKETS);
  assert.ok(Date.parse(a.buckets.start[0]!) <= start);
  const last = Date.parse(a.buckets.start.at(-1)!);
  assert.ok(last <= Date.parse(rows.at(-1)!.time) && Date.parse(rows.at(-1)!.time) < last + a.buckets.width_ms);
  assert.equal(a.top_hosts.length, 10);
  assert.deepEqual(a.top_rules.map((r) => r.count).reduce((x, y) => x + y, 0), rows.length);
});

test('alerts without a valid time are counted by severity and left out of the buckets', () => {
  const a = aggregate([
    { severity: 'high', ruleId: 'r', doc: {}, host: 'h', time: 'not a time' },
    { severity: 'high', ruleId: 'r', doc: {}, host: 'h', time: '2026-11-01T00:00:00Z' },
  ]);
  assert.equal(a.by_severity['high'], 2);
  assert.equal(Object.values(a.buckets.counts).flat().reduce((x, y) => x + y, 0), 1);
});
