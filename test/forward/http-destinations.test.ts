/**
 * Elasticsearch `_bulk` and Splunk HEC forwarding, checked on the wire by local receivers that inspect each
 * request as Elasticsearch / Splunk would (path, headers, NDJSON framing, envelope) and answer with their real
 * response shapes — including overload (429/503: retried with backoff), per-item errors and bad-data refusals
 * (400: dead letter), and a destination that is down across a restart (the stored action is delivered later).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseForwards } from '../../src/forward/config.js';
import type { ActionRow, AlertRow } from '../../src/store/types.js';
import { AUTH, TOKEN, receiver, until, type Received } from '../server/support/http.js';
import { ndjson, sysmonProcessCreate } from '../server/support/events.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-fwd-http-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(dataDir: string, forward: unknown[]): Promise<RunningServer> {
  return startServer({ ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }], forwards: parseForwards(forward, dataDir) }, { notice: () => {} });
}

async function ingest(srv: RunningServer, recordIds: number[]): Promise<AlertRow[]> {
  const res = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(recordIds.map((recordId) => sysmonProcessCreate({ recordId, pid: 5000 + recordId }))) });
  assert.equal(res.status, 200);
  return (await srv.store.listAlerts({ limit: 100, offset: 0 })).items;
}

async function forwardActions(srv: RunningServer, alertId: string): Promise<ActionRow[]> {
  return (await srv.store.listActions({ alertId, limit: 50, offset: 0 })).items.filter((a) => a.kind === 'forward');
}

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

interface BulkPair {
  op: 'create' | 'index';
  meta: { _index: string; _id: string };
  doc: { event: { id: string }; procwatch: { state: { status: string } } };
}

/** Parses a _bulk body exactly as Elasticsearch requires it: NDJSON, action line + source line, final newline. */
function parseBulk(r: Received): BulkPair[] {
  assert.equal(r.url, '/_bulk');
  assert.equal(r.headers['content-type'], 'application/x-ndjson');
  assert.ok(r.body.endsWith('\n'), 'the last line ends with a newline');
  const lines = r.body.slice(0, -1).split('\n');
  assert.equal(lines.length % 2, 0, 'action and source lines in pairs');
  const pairs: BulkPair[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const action = JSON.parse(lines[i]!) as Record<string, { _index: string; _id: string }>;
    const [op] = Object.keys(action);
    assert.ok(op === 'create' || op === 'index', `bulk op ${op}`);
    pairs.push({ op, meta: action[op]!, doc: JSON.parse(lines[i + 1]!) as BulkPair['doc'] });
  }
  return pairs;
}

test('Elasticsearch _bulk: create with the alert id, 429 retried, per-item errors retried or dead-lettered, updates replace', async (t) => {
  const dir = tmp();
  let answer: (pairs: BulkPair[], res: ServerResponse) => void = () => {};
  const requests: BulkPair[][] = [];
  const es = await receiver((_n, r, res) => {
    assert.equal(r.headers.authorization, `ApiKey ${'a2V5aWQ6c2VjcmV0'}`);
    const pairs = parseBulk(r);
    requests.push(pairs);
    answer(pairs, res);
  });
  t.after(() => es.close());
  const srv = await start(dir, [{ name: 'es', kind: 'elasticsearch', address: es.url, index: 'procwatch-alerts', api_key: 'a2V5aWQ6c2VjcmV0', retry: { max_attempts: 5, backoff_ms: 50 } }]);
  t.after(() => srv.close());

  // First answer: the cluster is overloaded. Then A's item is created; B's item is first rejected as overload
  // (retried) and then as a mapping error (dead letter). Which alerts share a request depends on timing (the
  // batching itself is checked in forward-units.test.ts), so the checks count per alert.
  let overloaded = false;
  let bAnswered = 0;
  let idA = '';
  answer = (pairs, res) => {
    if (!overloaded) {
      overloaded = true;
      return reply(res, 429, { error: { type: 'es_rejected_execution_exception', reason: 'queue full' }, status: 429 });
    }
    const items = pairs.map((p) => {
      if (p.meta._id === idA) return { [p.op]: { _index: p.meta._index, _id: p.meta._id, status: p.op === 'create' ? 201 : 200, result: p.op === 'create' ? 'created' : 'updated' } };
      bAnswered++;
      const err = bAnswered === 1 ? { type: 'es_rejected_execution_exception', reason: 'rejected' } : { type: 'mapper_parsing_exception', reason: 'failed to parse field [process.pid]' };
      return { [p.op]: { _index: p.meta._index, _id: p.meta._id, status: bAnswered === 1 ? 429 : 400, error: err } };
    });
    reply(res, 200, { took: 3, errors: true, items }, { 'x-elastic-product': 'Elasticsearch' });
  };
  const alerts = await ingest(srv, [8001, 8002]);
  assert.equal(alerts.length, 2);
  idA = alerts[0]!.id;
  const idB = alerts[1]!.id;

  await until(async () => (await forwardActions(srv, idB))[0]?.status === 'dead_letter', 10_000, 'B dead-lettered');
  await until(async () => (await forwardActions(srv, idA))[0]?.status === 'succeeded', 10_000, 'A delivered');
  for (const pairs of requests) {
    for (const p of pairs) {
      assert.equal(p.op, 'create');
      assert.equal(p.meta._index, 'procwatch-alerts');
      assert.equal(p.doc.event.id, p.meta._id, 'the document is the alert');
    }
  }
  const tries = (id: string): number => requests.filter((r) => r.some((p) => p.meta._id === id)).length;
  const a = (await forwardActions(srv, idA))[0]!;
  const b = (await forwardActions(srv, idB))[0]!;
  assert.equal(a.attempts, tries(idA));
  assert.equal(b.attempts, tries(idB));
  assert.ok(b.attempts >= 2 && b.attempts < 5, 'the 400 item ended it before max_attempts');
  assert.equal(bAnswered, 2);
  assert.match(b.lastError ?? '', /mapper_parsing_exception/);
  assert.equal(srv.metrics.forwardSent.get({ destination: 'es' }), 1);
  assert.equal(srv.metrics.forwardFailed.get({ destination: 'es' }), a.attempts - 1 + b.attempts);
  assert.equal(srv.metrics.forwardDeadLetter.get({ destination: 'es' }), 1);
  // The dead letter is visible where operators look for failed actions.
  const api = (await (await fetch(`${srv.url}/api/actions?status=dead_letter`, { headers: AUTH })).json()) as { items: { id: string }[] };
  assert.deepEqual(api.items.map((a) => a.id), [b.id]);

  // A status change: the same _id, op index (replace), the new state in the document.
  const patch = await fetch(`${srv.url}/api/alerts/${idA}`, { method: 'PATCH', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'acknowledged', assignee: 'bob' }) });
  assert.equal(patch.status, 200);
  const sent = requests.length;
  await until(() => requests.length === sent + 1, 10_000, 'the update');
  const update = requests[sent]!;
  assert.equal(update.length, 1);
  assert.equal(update[0]!.op, 'index');
  assert.equal(update[0]!.meta._id, idA);
  assert.equal(update[0]!.doc.procwatch.state.status, 'acknowledged');
  await until(async () => (await forwardActions(srv, idA)).every((a) => a.status === 'succeeded'), 10_000, 'update recorded');
});

test('Elasticsearch: a create answered 409 (an earlier attempt got through) counts as delivered; basic auth', async (t) => {
  const dir = tmp();
  const es = await receiver((_n, r, res) => {
    assert.equal(r.headers.authorization, `Basic ${Buffer.from('elastic:pw:with:colons').toString('base64')}`);
    const items = parseBulk(r).map((p) => ({ create: { _index: p.meta._index, _id: p.meta._id, status: 409, error: { type: 'version_conflict_engine_exception', reason: 'document already exists' } } }));
    reply(res, 200, { took: 1, errors: true, items });
  });
  t.after(() => es.close());
  const srv = await start(dir, [{ name: 'es', kind: 'elasticsearch', address: `${es.url}/`, username: 'elastic', password: 'pw:with:colons' }]);
  t.after(() => srv.close());
  const [alert] = await ingest(srv, [8101]);
  await until(async () => (await forwardActions(srv, alert!.id))[0]?.status === 'succeeded', 10_000, 'delivered');
  assert.equal(es.received.length, 1);
});

/** A HEC receiver that checks each request as Splunk does and answers with `answer`. */
async function hec(token: string, answer: (n: number) => [number, unknown]) {
  const envelopes: Record<string, unknown>[] = [];
  const r = await receiver((n, req, res) => {
    assert.equal(req.url, '/services/collector/event');
    assert.equal(req.headers.authorization, `Splunk ${token}`);
    assert.match(String(req.headers['content-type']), /^application\/json/);
    envelopes.push(JSON.parse(req.body) as Record<string, unknown>);
    const [status, body] = answer(n);
    reply(res, status, body);
  });
  return { ...r, envelopes };
}

test('Splunk HEC: envelope fields; 503 retried across a restart (the stored action is delivered later); 400 dead-lettered at once', async (t) => {
  const dir = tmp();
  const token = '11111111-2222-3333-4444-555555555555';
  const down = await hec(token, () => [503, { text: 'Server is busy', code: 9 }]);
  t.after(() => down.close());
  const spec = (url: string): unknown[] => [
    { name: 'splunk', kind: 'splunk_hec', address: url, token, index: 'security', sourcetype: 'procwatch:alert', retry: { max_attempts: 20, backoff_ms: 100, max_backoff_ms: 200 } },
  ];
  let srv = await start(dir, spec(down.url));
  const [alert] = await ingest(srv, [8201]);
  await until(async () => down.envelopes.length >= 2 && (await forwardActions(srv, alert!.id))[0]!.status === 'retrying', 10_000, 'retries against the busy receiver');
  await srv.close();
  await down.close();

  const up = await hec(token, () => [200, { text: 'Success', code: 0 }]);
  t.after(() => up.close());
  srv = await start(dir, spec(up.url));
  t.after(() => srv.close());
  await until(async () => (await forwardActions(srv, alert!.id))[0]?.status === 'succeeded', 10_000, 'delivered after the restart');
  assert.equal(up.envelopes.length, 1);
  const env = up.envelopes[0]!;
  assert.equal(env.time, Date.parse(alert!.time) / 1000);
  assert.equal(env.host, 'WS01.corp.example');
  assert.equal(env.source, 'procwatch');
  assert.equal(env.sourcetype, 'procwatch:alert');
  assert.equal(env.index, 'security');
  assert.equal((env.event as { event: { id: string } }).event.id, alert!.id);
  await srv.close();

  // Bad data: Splunk answers 400 code 6; no retry can help.
  const refusing = await hec(token, () => [400, { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 }]);
  t.after(() => refusing.close());
  srv = await start(dir, spec(refusing.url));
  const alerts = await ingest(srv, [8202]);
  const second = alerts.find((a) => a.id !== alert!.id)!;
  await until(async () => (await forwardActions(srv, second.id))[0]?.status === 'dead_letter', 10_000, 'dead letter');
  const dead = (await forwardActions(srv, second.id))[0]!;
  assert.equal(dead.attempts, 1);
  assert.match(dead.lastError ?? '', /HTTP 400 .*Invalid data format/);
  // One attempt for the refused alert (the first alert's update — the second download of the same URL is now in
  // its extent — may reach this receiver too).
  assert.equal(refusing.envelopes.filter((e) => (e.event as { event: { id: string } }).event.id === second.id).length, 1);
  await srv.close();
});

test('min_severity and include_suppressed decide which alerts a destination gets', async (t) => {
  const dir = tmp();
  const sink = await hec('tok', () => [200, { text: 'Success', code: 0 }]);
  t.after(() => sink.close());
  const srv = await start(dir, [
    { name: 'crit', kind: 'splunk_hec', address: sink.url, token: 'tok', alerts: { min_severity: 'critical' } },
    { name: 'all', kind: 'splunk_hec', address: sink.url, token: 'tok', alerts: { include_suppressed: true } },
    { name: 'unsuppressed', kind: 'splunk_hec', address: sink.url, token: 'tok' },
  ]);
  t.after(() => srv.close());
  const sup = await fetch(`${srv.url}/api/suppressions`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ host: 'WS01.corp.example', reason: 'lab host' }) });
  assert.equal(sup.status, 201);
  const [alert] = await ingest(srv, [8301]);
  assert.equal(alert!.severity, 'high');
  assert.equal(alert!.suppressed, true);
  await until(async () => (await forwardActions(srv, alert!.id)).every((a) => a.status === 'succeeded'), 10_000, 'delivered');
  assert.deepEqual((await forwardActions(srv, alert!.id)).map((a) => a.workflow), ['forward:all']);
  assert.equal(sink.envelopes.length, 1);
});
