import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { SqliteStore, type Store } from '../../src/store/index.js';
import { parseWorkflows } from '../../src/respond/index.js';
import { CORPUS, REPO_ROOT } from '../helpers/paths.js';
import { AUTH, TOKEN, json, receiver, until } from './support/http.js';
import { benign, ndjson, sysmonProcessCreate } from './support/events.js';
import { needs, TOOLS } from '../helpers/requirements.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-serve-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(over: Partial<ServeConfig> = {}): ServeConfig {
  return { ...defaultConfig(), port: 0, dataDir: tmp(), tokens: [{ name: 'analyst', token: TOKEN }], ...over };
}

let srv: RunningServer;
let hook: Awaited<ReturnType<typeof receiver>>;
before(async () => {
  hook = await receiver((_n, _r, res) => {
    res.statusCode = 200;
    res.end('ok');
  });
  srv = await startServer(
    config({ workflows: parseWorkflows([{ name: 'soar', type: 'webhook', url: `${hook.url}/alerts`, secret: 'k', rules: ['certreq-download-upload'] }]) }),
    { notice: () => {} },
  );
});
after(async () => {
  await srv.close();
  await hook.close();
});

function post(path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${srv.url}${path}`, { method: 'POST', headers: { ...AUTH, ...headers }, body });
}

let nextRecord = 1000;
function rid(): number {
  return nextRecord++;
}

test('every ingest and API route refuses a missing or wrong token, in its clients\' dialect', async () => {
  const r1 = await fetch(`${srv.url}/api/alerts`);
  assert.equal(r1.status, 401);
  const r2 = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-wrong-token' }, body: '{}' });
  assert.equal(r2.status, 403);
  const r3 = await fetch(`${srv.url}/services/collector/event`, { method: 'POST', headers: { authorization: 'Splunk nope-nope-nope-nope' }, body: '{"event":"x"}' });
  assert.equal(r3.status, 403);
  assert.deepEqual({ ...(await json(r3)), detail: undefined }, { text: 'Invalid token', code: 4, detail: undefined });
  const r4 = await fetch(`${srv.url}/_bulk`, { method: 'POST', body: '{}' });
  assert.equal(r4.status, 401);
  assert.equal(((await json(r4)).error as { type: string }).type, 'security_exception');
  for (const path of ['/metrics', '/api/incidents', '/api/rules', '/api/health', '/api/stream', '/']) {
    assert.equal((await fetch(`${srv.url}${path}`)).status, 401, path);
  }
  // Every accepted form of the same token.
  const forms = [`Bearer ${TOKEN}`, `Splunk ${TOKEN}`, `Basic ${Buffer.from(`elastic:${TOKEN}`).toString('base64')}`, `ApiKey ${Buffer.from(`id1:${TOKEN}`).toString('base64')}`];
  for (const authorization of forms) assert.equal((await fetch(`${srv.url}/api/health`, { headers: { authorization } })).status, 200, authorization);
  // Liveness probes and the console's static files carry no data and need no token.
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${srv.url}/services/collector/health`)).status, 200);
});

test('POST /ingest: XML event → stored alert with the ECS document; the same batch again adds nothing', needs('corpus'), async () => {
  const xml = readFileSync(join(CORPUS, 'formats', 'sysmon1_event_wevtutil.xml'));
  const r = await post('/ingest', xml, { 'content-type': 'application/xml' });
  assert.equal(r.status, 200);
  const body = await json(r);
  assert.equal(body.stored, 1);
  assert.equal(body.alerts, 1);
  const again = await json(await post('/ingest', xml));
  assert.deepEqual([again.stored, again.duplicates, again.alerts], [0, 1, 0]);
  const list = await json(await fetch(`${srv.url}/api/alerts?host=WS01.corp.example&rule=certreq-download-upload`, { headers: AUTH }));
  const items = list.items as { id: string; alert: Record<string, unknown>; status: string }[];
  assert.equal(list.total, 1);
  const doc = items[0]!.alert;
  assert.equal((doc.event as { kind: string }).kind, 'alert');
  assert.equal((doc.rule as { id: string }).id, 'certreq-download-upload');
  assert.equal(items[0]!.status, 'open');
});

test('POST /ingest: an EVTX file as the body is decoded like scan does', needs('corpus'), async () => {
  const evtx = readFileSync(join(CORPUS, 'evtx', 'synthetic', 'certreq_security_4688_synthetic.evtx'));
  const r = await post('/ingest', evtx, { 'content-type': 'application/octet-stream' });
  assert.equal(r.status, 200);
  const body = await json(r);
  assert.ok((body.received as number) > 0);
  assert.equal(body.stored, body.received);
  assert.ok((body.alerts as number) >= 1);
});

test('POST /ingest: NDJSON with a malformed line → 400 naming the line, the other events taken', async () => {
  const a = rid();
  const b = rid();
  const body = `${JSON.stringify(sysmonProcessCreate({ recordId: a, host: 'PARTIAL01' }))}\n{"Event": {oops\n${JSON.stringify(benign(b, 'PARTIAL01'))}\n`;
  const r = await post('/ingest', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 400);
  const res = await json(r);
  assert.equal(res.stored, 2);
  assert.equal(res.alerts, 1);
  const errors = res.errors as { line: number; message: string }[];
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.line, 2);
  assert.match(res.error as string, /1 document\(s\) malformed and skipped; the other 2 were taken/);
});

test('POST /ingest: gzip bodies, JSON arrays; bad gzip and oversized bodies are refused clearly', async () => {
  const docs = [sysmonProcessCreate({ recordId: rid(), host: 'GZ01' }), benign(rid(), 'GZ01')];
  const r = await post('/ingest', gzipSync(JSON.stringify(docs)), { 'content-encoding': 'gzip', 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  assert.equal((await json(r)).stored, 2);
  const bad = await post('/ingest', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
  assert.equal(bad.status, 400);
  assert.match((await json(bad)).error as string, /not valid gzip/);
  const br = await post('/ingest', 'x', { 'content-encoding': 'br' });
  assert.equal(br.status, 415);
});

test('body limits: on the wire and after decompression (zip bomb)', async () => {
  const small = await startServer(config({ limits: { ...defaultConfig().limits, bodyBytes: 4096, decompressedBytes: 64 * 1024 } }), { notice: () => {} });
  try {
    const big = await fetch(`${small.url}/ingest`, { method: 'POST', headers: AUTH, body: 'x'.repeat(10_000) });
    assert.equal(big.status, 413);
    const bomb = gzipSync(Buffer.alloc(1 << 20, 0x20));
    assert.ok(bomb.length < 4096);
    const r = await fetch(`${small.url}/ingest`, { method: 'POST', headers: { ...AUTH, 'content-encoding': 'gzip' }, body: bomb });
    assert.equal(r.status, 413);
    assert.match((await json(r)).error as string, /decompressed body over 65536 bytes/);
  } finally {
    await small.close();
  }
});

test('Elasticsearch API: GET/HEAD /, _license, templates, and _bulk with ES-shaped per-item results', needs('corpus'), async () => {
  const basic = { authorization: `Basic ${Buffer.from(`winlogbeat:${TOKEN}`).toString('base64')}` };
  const info = await fetch(srv.url + '/', { headers: basic });
  assert.equal(info.status, 200);
  assert.equal(info.headers.get('x-elastic-product'), 'Elasticsearch');
  const v = (await json(info)).version as { number: string };
  assert.match(v.number, /^8\./);
  assert.equal((await fetch(srv.url + '/', { method: 'HEAD', headers: basic })).status, 200);
  assert.equal(((await json(await fetch(srv.url + '/_license', { headers: basic }))).license as { status: string }).status, 'active');
  assert.equal((await fetch(srv.url + '/_index_template/winlogbeat-8.15.0', { headers: basic })).status, 404);
  assert.deepEqual(await json(await fetch(srv.url + '/_index_template/winlogbeat-8.15.0', { method: 'PUT', headers: basic, body: '{}' })), { acknowledged: true });

  const raw = JSON.parse(readFileSync(join(CORPUS, 'formats', 'sysmon1_ecs_winlogbeat_raw.json'), 'utf8')) as unknown;
  const body =
    '{"create":{"_index":"winlogbeat-8.15.0"}}\n' + JSON.stringify(raw) + '\n' +
    '{"index":{}}\n{"message":"not a windows event"}\n' +
    '{"create":{}}\n{broken json\n';
  const r = await fetch(srv.url + '/winlogbeat-8.15.0/_bulk', { method: 'POST', headers: { ...basic, 'content-type': 'application/x-ndjson' }, body });
  assert.equal(r.status, 200);
  const res = await json(r);
  assert.equal(res.errors, true);
  const items = res.items as Record<string, { status: number; _index: string; _id: string | null; error?: { reason: string } }>[];
  assert.equal(items.length, 3);
  assert.equal(items[0]!.create!.status, 201);
  assert.equal(items[0]!.create!._index, 'winlogbeat-8.15.0');
  assert.match(items[0]!.create!._id ?? '', /^[0-9a-f]{32}$/);
  assert.equal(items[1]!.index!.status, 400);
  assert.match(items[1]!.index!.error!.reason, /^line 4: /);
  assert.equal(items[2]!.create!.status, 400);
  assert.match(items[2]!.create!.error!.reason, /line 6: document is not JSON/);
});

test('Splunk HEC: envelopes back to back, health, invalid-event-number with the rest taken', needs('corpus'), async () => {
  const hec = readFileSync(join(CORPUS, 'formats', 'sysmon1_splunk_hec_envelope.json'), 'utf8').trim();
  const splunk = { authorization: `Splunk ${TOKEN}` };
  const ok = await fetch(`${srv.url}/services/collector/event`, { method: 'POST', headers: splunk, body: hec + hec });
  assert.equal(ok.status, 200);
  assert.deepEqual(await json(ok), { text: 'Success', code: 0 });
  const bad = await fetch(`${srv.url}/services/collector/event`, { method: 'POST', headers: splunk, body: `${hec}\n{"time": 1}\n${hec}` });
  assert.equal(bad.status, 400);
  const res = await json(bad);
  assert.equal(res.code, 6);
  assert.equal(res['invalid-event-number'], 1);
  assert.equal(res.accepted, 2);
  const health = await json(await fetch(`${srv.url}/services/collector/health`));
  assert.deepEqual(health, { text: 'HEC is healthy', code: 17 });
  // Indexer acknowledgement: ackIds per channel, acknowledged as soon as answered (committed first).
  const channel = { ...splunk, 'x-splunk-request-channel': '5b1b5f7c-5b4b-4a9f-9d4e-1c2d3e4f5a6b' };
  const first = await json(await fetch(`${srv.url}/services/collector/event`, { method: 'POST', headers: channel, body: hec }));
  const second = await json(await fetch(`${srv.url}/services/collector/event`, { method: 'POST', headers: channel, body: hec }));
  assert.deepEqual([first.ackId, second.ackId], [0, 1]);
  const acks = await json(await fetch(`${srv.url}/services/collector/ack`, { method: 'POST', headers: channel, body: JSON.stringify({ acks: [0, 1] }) }));
  assert.deepEqual(acks, { acks: { '0': true, '1': true } });
});

test('alert status changes: closing needs a reason; assignee and reason are kept and audited; SSE sees them', async () => {
  const recordId = rid();
  await post('/ingest', ndjson([sysmonProcessCreate({ recordId, host: 'STATUS01' })]));
  const list = await json(await fetch(`${srv.url}/api/alerts?host=STATUS01`, { headers: AUTH }));
  const id = (list.items as { id: string }[])[0]!.id;
  const noReason = await fetch(`${srv.url}/api/alerts/${id}`, { method: 'PATCH', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'closed' }) });
  assert.equal(noReason.status, 400);
  assert.match((await json(noReason)).error as string, /reason: required when closing/);
  const bad = await fetch(`${srv.url}/api/alerts/${id}`, { method: 'PATCH', headers: AUTH, body: JSON.stringify({ status: 'solved' }) });
  assert.equal(bad.status, 400);
  const ack = await json(await fetch(`${srv.url}/api/alerts/${id}`, { method: 'PATCH', headers: AUTH, body: JSON.stringify({ status: 'acknowledged', assignee: 'grace' }) }));
  assert.deepEqual([ack.status, ack.assignee], ['acknowledged', 'grace']);
  const closed = await json(await fetch(`${srv.url}/api/alerts/${id}/status`, { method: 'POST', headers: AUTH, body: JSON.stringify({ status: 'closed', reason: 'admin renewing the web server certificate' }) }));
  assert.deepEqual([closed.status, closed.assignee, closed.status_reason], ['closed', 'grace', 'admin renewing the web server certificate']);
  const detail = await json(await fetch(`${srv.url}/api/alerts/${id}`, { headers: AUTH }));
  // The alert's trail also carries its actions' entries (this server's workflows plan some); its own are the updates.
  const audit = (detail.audit as { actor: string; action: string; target_type: string }[]).filter((a) => a.target_type === 'alert');
  assert.equal(audit.length, 2);
  assert.ok(audit.every((a) => a.actor === 'analyst' && a.action === 'alert.update'), 'the token name is the actor');
  const actionIds = new Set((detail.actions as { id: string }[]).map((a) => a.id));
  assert.ok((detail.audit as { target_type: string; target_id: string }[]).every((a) => a.target_type === 'alert' || actionIds.has(a.target_id)), 'other entries belong to its actions');
  assert.equal((await fetch(`${srv.url}/api/alerts/nope`, { headers: AUTH })).status, 404);
  const closedList = await json(await fetch(`${srv.url}/api/alerts?status=closed&host=STATUS01`, { headers: AUTH }));
  assert.equal(closedList.total, 1);
});

test('incidents: listed, detailed with their alerts, status changes', async () => {
  await post('/ingest', ndjson([sysmonProcessCreate({ recordId: rid(), host: 'INC01' }), sysmonProcessCreate({ recordId: rid(), host: 'INC01' })]));
  const list = await json(await fetch(`${srv.url}/api/incidents?host=INC01`, { headers: AUTH }));
  assert.equal(list.total, 1, 'two alerts close in time on one host form one incident');
  const inc = (list.items as { id: string; alert_count: number }[])[0]!;
  assert.equal(inc.alert_count, 2);
  const detail = await json(await fetch(`${srv.url}/api/incidents/${inc.id}`, { headers: AUTH }));
  assert.equal((detail.alerts as unknown[]).length, 2);
  const upd = await json(await fetch(`${srv.url}/api/incidents/${inc.id}`, { method: 'PATCH', headers: AUTH, body: JSON.stringify({ status: 'acknowledged', assignee: 'heidi' }) }));
  assert.equal(upd.assignee, 'heidi');
});

test('SSE: subscribers receive each new alert once it is stored', async () => {
  const ctl = new AbortController();
  const res = await fetch(`${srv.url}/api/stream`, { headers: AUTH, signal: ctl.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  // Earlier alerts of this file post to the same URL: their extent update (alert-updated) names SSE01 too.
  const alertBlock = (t: string): string | undefined => t.split('\n\n').find((b) => b.includes('SSE01') && /^event: alert$/m.test(b));
  let text = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += value;
      if (alertBlock(text)) return;
    }
  })();
  await post('/ingest', ndjson([sysmonProcessCreate({ recordId: rid(), host: 'SSE01' })]));
  await Promise.race([reading, new Promise((_, rej) => setTimeout(() => rej(new Error('no SSE event')), 5000))]);
  ctl.abort();
  const block = alertBlock(text)!;
  assert.match(block, /^event: alert$/m);
  const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]!) as { host: string; alert: { rule: { id: string } } };
  assert.equal(data.host, 'SSE01');
  assert.equal(data.alert.rule.id, 'certreq-download-upload');
});

test('suppressions from the API: matching alerts are stored as suppressed and trigger no workflow', async () => {
  const bad = await fetch(`${srv.url}/api/suppressions`, { method: 'POST', headers: AUTH, body: JSON.stringify({ host: 'PKI01' }) });
  assert.equal(bad.status, 400);
  const created = await fetch(`${srv.url}/api/suppressions`, {
    method: 'POST',
    headers: AUTH,
    body: JSON.stringify({ host: 'PKI01', command_line: '*-config*win.ini*', reason: 'CA test host', expires_at: '2999-01-01T00:00:00Z' }),
  });
  assert.equal(created.status, 201);
  const s = await json(created);
  await post('/ingest', ndjson([sysmonProcessCreate({ recordId: rid(), host: 'PKI01' })]));
  const alerts = await json(await fetch(`${srv.url}/api/alerts?host=PKI01`, { headers: AUTH }));
  const a = (alerts.items as { id: string; suppressed: boolean; alert: { procwatch: { suppressed?: { by: string } } } }[])[0]!;
  assert.equal(a.suppressed, true);
  assert.equal(a.alert.procwatch.suppressed?.by, `suppression:${s.id}`);
  const actions = await json(await fetch(`${srv.url}/api/actions?alert=${a.id}`, { headers: AUTH }));
  assert.equal(actions.total, 0);
  const listed = await json(await fetch(`${srv.url}/api/suppressions`, { headers: AUTH }));
  assert.equal((listed.items as { id: number; hits: number }[]).find((x) => x.id === s.id)?.hits, 1);
  assert.equal((await fetch(`${srv.url}/api/suppressions/${s.id}`, { method: 'DELETE', headers: AUTH })).status, 204);
});

test('a stored alert triggers its webhook workflow through the service, delivered once', async () => {
  await post('/ingest', ndjson([sysmonProcessCreate({ recordId: rid(), host: 'HOOK01' })]));
  const alerts = await json(await fetch(`${srv.url}/api/alerts?host=HOOK01`, { headers: AUTH }));
  const id = (alerts.items as { id: string }[])[0]!.id;
  await until(async () => {
    const d = await json(await fetch(`${srv.url}/api/alerts/${id}`, { headers: AUTH }));
    return (d.actions as { status: string }[]).some((x) => x.status === 'succeeded');
  }, 5000, 'webhook delivery');
  const got = hook.received.filter((r) => JSON.parse(r.body).alert_id === id);
  assert.equal(got.length, 1);
  assert.equal(got[0]!.url, '/alerts');
});

test('rules, health and Prometheus metrics', async () => {
  const rules = await json(await fetch(`${srv.url}/api/rules`, { headers: AUTH }));
  assert.ok((rules.items as { id: string }[]).some((r) => r.id === 'certreq-download-upload'));
  const health = await json(await fetch(`${srv.url}/api/health`, { headers: AUTH }));
  assert.equal(health.status, 'ok');
  assert.ok(((health.store as { alerts: number }).alerts) > 0);
  const m = await (await fetch(`${srv.url}/metrics`, { headers: AUTH })).text();
  for (const name of ['procwatch_events_received_total', 'procwatch_alerts_total{severity=', 'procwatch_queue_events', 'procwatch_ingest_latency_seconds_bucket', 'procwatch_errors_total', 'procwatch_decode_errors_total']) {
    assert.ok(m.includes(name), name);
  }
  assert.match(m, /procwatch_http_requests_total\{code="200",route="\/ingest"\} [1-9]/);
});

test('overload: a full queue answers 429 with Retry-After instead of buffering', async () => {
  // A store whose commits wait on a gate keeps the first batch in the queue.
  const inner = new SqliteStore({ path: ':memory:' });
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const slow: Store = Object.assign(Object.create(inner) as Store, {
    commit: async (...args: Parameters<Store['commit']>) => {
      await gate;
      return inner.commit(...args);
    },
  });
  const s = await startServer(config({ limits: { ...defaultConfig().limits, queueEvents: 3 } }), { store: slow, notice: () => {} });
  try {
    const first = fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([benign(1), benign(2), benign(3)]) });
    await until(() => s.sink.depth === 3, 5000, 'first batch queued');
    const r = await fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([benign(4)]) });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '1');
    const es = await fetch(`${s.url}/_bulk`, { method: 'POST', headers: AUTH, body: '{"index":{}}\n{}\n' });
    assert.equal(es.status, 429);
    assert.equal(((await json(es)).error as { type: string }).type, 'es_rejected_execution_exception');
    open();
    assert.equal((await first).status, 200, 'the queued batch is answered once committed');
    assert.equal((await fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([benign(4)]) })).status, 200);
  } finally {
    open();
    await s.close();
  }
});

test('overload: request bodies in progress are bounded too (429 before reading)', async () => {
  const s = await startServer(config({ limits: { ...defaultConfig().limits, bodyBytes: 1 << 20, inflightBytes: 100_000 } }), { notice: () => {} });
  try {
    // A client that declares 90 kB and sends it slowly holds its share until answered.
    const { request } = await import('node:http');
    const slow = request(`${s.url}/ingest`, { method: 'POST', headers: { ...AUTH, 'content-length': '90000' } });
    slow.on('error', () => {});
    slow.write(' ');
    await until(async () => (await (await fetch(`${s.url}/metrics`, { headers: AUTH })).text()).includes('procwatch_inflight_body_bytes 90000'), 5000, 'slow body counted');
    const r = await fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([benign(1)]).padEnd(20_000, ' ') });
    assert.equal(r.status, 429);
    assert.match((await json(r)).error as string, /too many request bodies in progress/);
    slow.destroy();
    await until(async () => (await (await fetch(`${s.url}/metrics`, { headers: AUTH })).text()).includes('procwatch_inflight_body_bytes 0'), 5000, 'released');
    assert.equal((await fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([benign(1)]) })).status, 200);
  } finally {
    await s.close();
  }
});

test('first start without a token generates one into the data dir (0600), prints it once, reuses it', async () => {
  const dataDir = tmp();
  const notices: string[] = [];
  const s1 = await startServer({ ...config(), dataDir, tokens: [] }, { notice: (l) => notices.push(l) });
  await s1.close();
  const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
  assert.ok(token.length >= 32);
  assert.equal(statSync(join(dataDir, 'token')).mode & 0o777, 0o600);
  assert.ok(notices.some((n) => n.includes(token)));
  const notices2: string[] = [];
  const s2 = await startServer({ ...config(), dataDir, tokens: [] }, { notice: (l) => notices2.push(l) });
  try {
    assert.ok(!notices2.some((n) => n.includes(token)), 'not printed again');
    assert.equal((await fetch(`${s2.url}/api/health`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  } finally {
    await s2.close();
  }
});

test('the web console is served with a strict CSP and builds the page without innerHTML', async () => {
  const r = await fetch(`${srv.url}/console/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.match(await r.text(), /<script src="app.js"/);
  // The console's own code has no HTML-parsing sink; the bundle's only one is Preact's dangerouslySetInnerHTML
  // branch, which no console source uses (test/server/console.e2e.test.ts drives an XSS corpus through it).
  const sources = readdirSync(join(REPO_ROOT, 'web', 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.tsx?$/.test(f));
  assert.ok(sources.length > 5);
  for (const f of sources) {
    const text = readFileSync(join(REPO_ROOT, 'web', 'src', f), 'utf8');
    assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write|dangerouslySetInnerHTML|DOMParser|createContextualFragment/.test(text), `no HTML sink in web/src/${f}`);
  }
  const js = await (await fetch(`${srv.url}/console/app.js`)).text();
  for (const m of js.matchAll(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/g)) {
    assert.match(js.slice(Math.max(0, m.index - 120), m.index + 40), /__html/, 'the only HTML sink in the bundle is Preact\'s dangerouslySetInnerHTML');
  }
  assert.equal((await fetch(`${srv.url}/`, { redirect: 'manual', headers: { accept: 'text/html' } })).status, 302);
});

test('TLS: with a certificate and key the service speaks HTTPS only', needs('openssl'), async () => {
  const dir = tmp();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(TOOLS.openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const s = await startServer(config({ tls: { cert, key } }), { notice: () => {} });
  try {
    assert.match(s.url, /^https:/);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${s.url}/api/health`, { ca: readFileSync(cert), headers: AUTH }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    await assert.rejects(fetch(s.url.replace('https:', 'http:') + '/api/health', { headers: AUTH }));
  } finally {
    await s.close();
  }
});

test('after a restart, correlation state is rebuilt from the store: a later alert joins the open incident', async () => {
  const dataDir = tmp();
  const a = await startServer({ ...config(), dataDir }, { notice: () => {} });
  await fetch(`${a.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([sysmonProcessCreate({ recordId: 1, host: 'REPLAY01', time: '2024-05-01T10:00:00.000Z' })]) });
  await a.close();
  const notices: string[] = [];
  const b = await startServer({ ...config(), dataDir }, { notice: (l) => notices.push(l) });
  try {
    assert.ok(notices.some((n) => /rebuilt from 1 retained events/.test(n)), notices.join('\n'));
    const r = await json(await fetch(`${b.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([sysmonProcessCreate({ recordId: 2, host: 'REPLAY01', time: '2024-05-01T10:05:00.000Z' })]) }));
    assert.equal(r.alerts, 1);
    const inc = await json(await fetch(`${b.url}/api/incidents?host=REPLAY01`, { headers: AUTH }));
    assert.equal(inc.total, 1, 'one incident across the restart');
    assert.equal((inc.items as { alert_count: number }[])[0]!.alert_count, 2);
  } finally {
    await b.close();
  }
});

test('stop-the-process through the service: planned awaiting approval, approved over the API, run, audited', async () => {
  const dir = tmp();
  const out = join(dir, 'stopped.txt');
  const workflows = parseWorkflows([
    {
      name: 'stop-certreq',
      type: 'stop_process',
      rules: ['certreq-download-upload'],
      min_severity: 'low',
      via: 'command',
      dry_run: false,
      argv: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, process.env.PROCWATCH_TARGET_HOST + ':' + process.env.PROCWATCH_TARGET_PID)`],
    },
  ]);
  const s = await startServer(config({ workflows }), { notice: () => {} });
  try {
    await fetch(`${s.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([sysmonProcessCreate({ recordId: 77, host: 'KILL01', pid: 6120 })]) });
    const alerts = await json(await fetch(`${s.url}/api/alerts?host=KILL01&rule=certreq-download-upload`, { headers: AUTH }));
    const alertId = (alerts.items as { id: string }[])[0]!.id;
    const actions = await json(await fetch(`${s.url}/api/actions?alert=${alertId}`, { headers: AUTH }));
    const action = (actions.items as { id: string; status: string; request: Record<string, unknown> & { command: { argv: string[]; env: Record<string, string> } } }[])[0]!;
    assert.equal(action.status, 'pending_approval');
    // The stored request is what runs: the workflow's argv and the target in the environment, no other preview.
    assert.deepEqual(action.request.command.argv, workflows[0]!.type === 'stop_process' && 'command' in workflows[0]!.via ? workflows[0]!.via.command.argv : []);
    assert.equal(action.request.command.env.PROCWATCH_TARGET_PID, '6120');
    assert.deepEqual(Object.keys(action.request).sort(), ['command', 'target']);
    const before = await json(await fetch(`${s.url}/api/actions/${action.id}`, { headers: AUTH }));
    assert.equal((before.verification as { ok: boolean }).ok, true, 'the target is shown corroborated before the decision');
    const approve = (): Promise<Response> =>
      fetch(`${s.url}/api/actions/${action.id}/approve`, { method: 'POST', headers: AUTH, body: JSON.stringify({ reason: 'confirmed upload of win.ini' }) });
    assert.equal((await approve()).status, 200);
    assert.equal((await approve()).status, 409, 'approving twice is refused');
    await until(async () => (await json(await fetch(`${s.url}/api/actions/${action.id}`, { headers: AUTH }))).status === 'succeeded', 10_000, 'action run');
    assert.equal(readFileSync(out, 'utf8'), 'KILL01:6120');
    const detail = await json(await fetch(`${s.url}/api/actions/${action.id}`, { headers: AUTH }));
    const trail = (detail.audit as { action: string; actor: string }[]).map((a) => `${a.action}/${a.actor}`).reverse();
    assert.deepEqual(trail, ['action.approved/analyst', 'action.succeeded/procwatch']);
    // The alert's own trail includes what happened to its actions (they are audited by action id).
    const alertDetail = await json(await fetch(`${s.url}/api/alerts/${alertId}`, { headers: AUTH }));
    const alertTrail = (alertDetail.audit as { action: string; target_id: string }[]).map((a) => `${a.action}/${a.target_id}`).reverse();
    assert.deepEqual(alertTrail, [`action.approved/${action.id}`, `action.succeeded/${action.id}`]);
    assert.equal((await fetch(`${s.url}/api/actions/nope/approve`, { method: 'POST', headers: AUTH })).status, 404);
  } finally {
    await s.close();
  }
});
