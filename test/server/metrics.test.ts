// GET /metrics through prom-client: the exposition parses as the Prometheus text format, carries every metric
// docs/ops/metrics.md lists (with the documented type) and prom-client's default process/GC/event-loop metrics,
// and the counters move when events are ingested.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { Metrics } from '../../src/service/metrics.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { AUTH, TOKEN } from './support/http.js';
import { CERTREQ_POST, benign, ndjson, sysmonProcessCreate } from './support/events.js';

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  help: string;
  type: string;
  metrics: Sample[];
}
const parse = parsePrometheusTextFormat as unknown as (text: string) => Family[];

const dir = mkdtempSync(join(tmpdir(), 'pw-metrics-'));
let srv: RunningServer;
before(async () => {
  srv = await startServer({ ...defaultConfig(), port: 0, dataDir: dir, tokens: [{ name: 'analyst', token: TOKEN }] }, { notice: () => {} });
});
after(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<{ families: Map<string, Family>; contentType: string | null }> {
  const r = await fetch(`${srv.url}/metrics`, { headers: AUTH });
  assert.equal(r.status, 200);
  const families = parse(await r.text());
  return { families: new Map(families.map((f) => [f.name, f])), contentType: r.headers.get('content-type') };
}

/** The value of a counter or gauge series with exactly these labels (0 when the series does not exist yet). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  assert.ok(f, `${name} exposed`);
  const s = f.metrics.find((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === JSON.stringify(Object.entries(labels).sort()));
  return s ? Number(s.value) : 0;
}

/** The metrics the operations page documents, with their type: `| \`name{labels}\` | type | what |` rows. */
function documented(): { name: string; type: string }[] {
  const page = readFileSync(join(REPO_ROOT, 'docs', 'ops', 'metrics.md'), 'utf8');
  const serve = page.slice(page.indexOf('## serve'), page.indexOf('## worker'));
  return [...serve.matchAll(/^\| `(procwatch_[a-z_]+)(?:\{[^}]*\})?` \| (counter|gauge|histogram) \|/gm)].map((m) => ({ name: m[1]!, type: m[2]! }));
}

test('the exposition parses as the Prometheus text format and has every documented metric with its type', async () => {
  const { families, contentType } = await scrape();
  assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const docs = documented();
  assert.ok(docs.length >= 20, `the page lists the serve metrics (${docs.length} found)`);
  for (const d of docs) {
    const f = families.get(d.name);
    assert.ok(f, `${d.name} exposed`);
    assert.equal(f.type, d.type.toUpperCase(), d.name);
    assert.ok(f.help.length > 0, `${d.name} has a help text`);
  }
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
    assert.ok(families.has(name), `default metric ${name}`);
  }
  assert.equal(families.get('nodejs_gc_duration_seconds')?.type, 'HISTOGRAM');
});

test('counters and histograms move when events are ingested', async () => {
  const before = (await scrape()).families;
  const docs = [benign(1), benign(2), sysmonProcessCreate({ recordId: 3, commandLine: CERTREQ_POST })];
  const r = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { stored: number; alerts: number };
  assert.equal(body.stored, 3);
  assert.ok(body.alerts >= 1, 'the certreq upload alerts');
  const now = (await scrape()).families;
  const moved = (name: string, labels: Record<string, string> = {}): number => value(now, name, labels) - value(before, name, labels);
  assert.equal(moved('procwatch_events_received_total'), 3);
  assert.equal(moved('procwatch_events_stored_total'), 3);
  assert.equal(moved('procwatch_http_requests_total', { route: '/ingest', code: '200' }), 1);
  const alerts = now.get('procwatch_alerts_total')!.metrics.reduce((n, m) => n + Number(m.value), 0);
  assert.equal(alerts, body.alerts, 'alerts by severity add up to the alerts created');
  const commit = now.get('procwatch_commit_seconds')!.metrics[0]!;
  assert.ok(Number(commit.count) >= 1, 'a commit was timed');
  assert.equal(Number(commit.buckets!['+Inf']), Number(commit.count));
  // The same batch again: duplicates counted, nothing stored.
  await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
  const again = (await scrape()).families;
  assert.equal(value(again, 'procwatch_events_duplicate_total') - value(now, 'procwatch_events_duplicate_total'), 3);
  assert.equal(value(again, 'procwatch_events_stored_total'), value(now, 'procwatch_events_stored_total'));
});

test('a Metrics instance has its own registry: labels are written in name order and get() reads what inc() added', async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.requests.inc({ route: '/x', code: '500' });
  a.requests.inc({ code: '500', route: '/x' }, 2);
  a.gauge('procwatch_test_gauge', 'A gauge read at scrape time.', () => 42);
  assert.equal(a.requests.get({ route: '/x', code: '500' }), 3);
  assert.equal(b.requests.get({ route: '/x', code: '500' }), 0, 'registries are not shared');
  const text = await a.render();
  assert.match(text, /^procwatch_http_requests_total\{code="500",route="\/x"\} 3$/m);
  assert.match(text, /^procwatch_test_gauge 42$/m);
  assert.doesNotMatch(await b.render(), /procwatch_test_gauge/);
});
