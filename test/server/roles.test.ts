/**
 * Roles against real `serve` instances: scoped tokens per route, hashed tokens, GET /api/me, audit actors,
 * a forged event cannot aim a stop-process action, one decision per action over HTTP, token rotation without a
 * restart (SIGHUP and file change, through the real CLI), and token files that are empty or short.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig, loadServeConfig, ConfigError, type ApiToken } from '../../src/service/config.js';
import { tokenHash } from '../../src/server/auth.js';
import { parseWorkflows } from '../../src/respond/index.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { json, until } from './support/http.js';
import { ndjson, sysmonProcessCreate } from './support/events.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-roles-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T = {
  shipper: 'ingest-token-0123456789abcdef',
  viewer: 'read-token-0123456789abcdef',
  analyst: 'triage-token-0123456789abcdef',
  responder: 'respond-token-0123456789abcdef',
  boss: 'admin-token-0123456789abcdef',
};
const auth = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

const TOKENS: ApiToken[] = [
  { name: 'shipper', token: T.shipper, scopes: ['ingest'] },
  { name: 'viewer', sha256: tokenHash(T.viewer).slice('sha256:'.length), scopes: ['read'] },
  { name: 'analyst', token: T.analyst, scopes: ['triage'] },
  { name: 'responder', token: T.responder, scopes: ['respond'] },
  { name: 'boss', token: T.boss, scopes: ['admin'] },
];

let srv: RunningServer;
let out: string;
let nextRecord = 500;
before(async () => {
  out = join(tmp(), 'stopped.txt');
  const workflows = parseWorkflows([
    {
      name: 'stop-certreq',
      type: 'stop_process',
      rules: ['certreq-download-upload'],
      min_severity: 'low',
      via: 'command',
      dry_run: false,
      argv: [process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(out)}, process.env.PROCWATCH_TARGET_HOST + ':' + process.env.PROCWATCH_TARGET_PID + '\\n')`],
    },
  ]);
  srv = await startServer({ ...defaultConfig(), port: 0, dataDir: tmp(), tokens: TOKENS, workflows }, { notice: () => {} });
});
after(async () => {
  await srv.close();
});

function call(method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${srv.url}${path}`, { method, headers: auth(token), ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
}

async function ingestProcess(token: string, spec: Parameters<typeof sysmonProcessCreate>[0]): Promise<Response> {
  return call('POST', '/ingest', token, ndjson([sysmonProcessCreate(spec)]));
}

async function actionFor(host: string): Promise<{ id: string; status: string; last_error: string | null }> {
  const alerts = await json(await call('GET', `/api/alerts?host=${host}&rule=certreq-download-upload`, T.viewer));
  const alertId = (alerts.items as { id: string }[])[0]!.id;
  const actions = await json(await call('GET', `/api/actions?alert=${alertId}`, T.viewer));
  return (actions.items as { id: string; status: string; last_error: string | null }[])[0]!;
}

test('each route needs its scope: ingest, read, triage, respond; admin does everything; /api/me tells who', async () => {
  const rec = nextRecord++;
  assert.equal((await ingestProcess(T.shipper, { recordId: rec, host: 'SCOPE01' })).status, 200, 'ingest token ingests');
  assert.equal((await ingestProcess(T.viewer, { recordId: rec + 1, host: 'SCOPE01' })).status, 403, 'read token cannot ingest');
  // Elasticsearch and HEC intake are ingest routes too.
  assert.equal((await call('POST', '/_bulk', T.shipper, '{"create":{}}\n{"message":"x"}\n')).status, 200);
  assert.equal((await call('POST', '/_bulk', T.viewer, '{"create":{}}\n{"message":"x"}\n')).status, 403);
  assert.equal((await call('GET', '/', T.shipper)).status, 200, 'ES clients probe GET / with the ingest token');
  assert.equal((await call('POST', '/services/collector/event', T.analyst, '{"event":"x"}')).status, 403);

  for (const path of ['/api/alerts', '/api/incidents', '/api/actions', '/api/audit', '/api/health', '/metrics']) {
    assert.equal((await call('GET', path, T.shipper)).status, 403, `ingest token reads nothing: ${path}`);
    for (const t of [T.viewer, T.analyst, T.responder, T.boss]) assert.equal((await call('GET', path, t)).status, 200, path);
  }
  const alertId = ((await json(await call('GET', '/api/alerts?host=SCOPE01', T.viewer))).items as { id: string }[])[0]!.id;
  const denied = await call('PATCH', `/api/alerts/${alertId}`, T.viewer, { status: 'acknowledged' });
  assert.equal(denied.status, 403);
  assert.match(String((await json(denied)).error), /token "viewer" lacks the triage scope/);
  assert.equal((await call('PATCH', `/api/alerts/${alertId}`, T.responder, { status: 'acknowledged' })).status, 403);
  assert.equal((await call('PATCH', `/api/alerts/${alertId}`, T.analyst, { status: 'acknowledged', assignee: 'analyst' })).status, 200);
  const sup = { rule_id: 'nope', reason: 'test' };
  assert.equal((await call('POST', '/api/suppressions', T.viewer, sup)).status, 403);
  const created = await call('POST', '/api/suppressions', T.analyst, sup);
  assert.equal(created.status, 201);
  assert.equal((await json(created)).created_by, 'analyst');
  const supId = (await json(await call('GET', '/api/suppressions', T.viewer))).items as { id: number }[];
  assert.equal((await call('DELETE', `/api/suppressions/${supId[0]!.id}`, T.viewer)).status, 403);
  assert.equal((await call('DELETE', `/api/suppressions/${supId[0]!.id}`, T.boss)).status, 204);
  // The audit names the token that acted.
  const trail = (await json(await call('GET', `/api/alerts/${alertId}`, T.viewer))).audit as { actor: string; action: string }[];
  assert.ok(trail.some((e) => e.actor === 'analyst'), JSON.stringify(trail));

  const me = async (t: string): Promise<unknown> => json(await call('GET', '/api/me', t));
  assert.deepEqual(await me(T.shipper), { name: 'shipper', scopes: ['ingest'] });
  assert.deepEqual(await me(T.viewer), { name: 'viewer', scopes: ['read'] }, 'a hashed token authenticates');
  assert.deepEqual(await me(T.analyst), { name: 'analyst', scopes: ['read', 'triage'] });
  assert.deepEqual(await me(T.responder), { name: 'responder', scopes: ['read', 'respond'] });
  assert.deepEqual(await me(T.boss), { name: 'boss', scopes: ['ingest', 'read', 'triage', 'respond', 'admin'] });
  assert.equal((await fetch(`${srv.url}/api/me`)).status, 401);
  assert.equal((await fetch(`${srv.url}/api/me`, { headers: auth(`sha256:${tokenHash(T.viewer).slice(7)}`) })).status, 403, 'the hash itself is not a token');
});

test('a forged event (DC01, PID 640, lsass.exe posing as CertReq.exe) cannot aim a stop; a genuine certreq start is approvable by the respond role only', async () => {
  const forged = await ingestProcess(T.shipper, {
    recordId: nextRecord++,
    host: 'DC01',
    pid: 640,
    image: 'C:\\Windows\\System32\\lsass.exe',
    originalFileName: 'CertReq.exe',
  });
  assert.equal(forged.status, 200);
  const bad = await actionFor('DC01');
  await until(async () => (await json(await call('GET', `/api/actions/${bad.id}`, T.viewer))).status === 'failed', 10_000, 'forged action recorded as refused');
  const badDetail = await json(await call('GET', `/api/actions/${bad.id}`, T.viewer));
  assert.match(String(badDetail.last_error), /lsass\.exe is a protected system process/);
  const approveBad = await call('POST', `/api/actions/${bad.id}/approve`, T.responder, { reason: 'looks bad' });
  assert.equal(approveBad.status, 409, 'never awaiting approval');

  assert.equal((await ingestProcess(T.shipper, { recordId: nextRecord++, host: 'WS77', pid: 6120 })).status, 200);
  const good = await actionFor('WS77');
  assert.equal(good.status, 'pending_approval');
  for (const t of [T.shipper, T.viewer, T.analyst]) {
    assert.equal((await call('POST', `/api/actions/${good.id}/approve`, t, { reason: 'x' })).status, 403);
    assert.equal((await call('POST', `/api/actions/${good.id}/reject`, t, { reason: 'x' })).status, 403);
  }
  const ok = await call('POST', `/api/actions/${good.id}/approve`, T.responder, { reason: 'confirmed upload of win.ini' });
  assert.equal(ok.status, 200, JSON.stringify(await json(ok.clone())));
  await until(async () => (await json(await call('GET', `/api/actions/${good.id}`, T.viewer))).status === 'succeeded', 10_000, 'action run');
  assert.equal(readFileSync(out, 'utf8'), 'WS77:6120\n', 'only the genuine target was stopped');
  const trail = ((await json(await call('GET', `/api/actions/${good.id}`, T.viewer))).audit as { action: string; actor: string }[]).map((a) => `${a.action}/${a.actor}`).reverse();
  assert.deepEqual(trail, ['action.approved/responder', 'action.succeeded/procwatch']);
});

test('a target whose PID procwatch later saw reused is refused at approval (422, reason recorded)', async () => {
  assert.equal((await ingestProcess(T.shipper, { recordId: nextRecord++, host: 'DC02', pid: 7000 })).status, 200);
  const a = await actionFor('DC02');
  assert.equal(a.status, 'pending_approval');
  // A later start with the same PID (the certreq process is gone, the PID now belongs to something else).
  const reuse = await call('POST', '/ingest', T.shipper, ndjson([sysmonProcessCreate({ recordId: nextRecord++, host: 'DC02', pid: 7000, image: 'C:\\Windows\\System32\\svchost.exe', originalFileName: 'svchost.exe', commandLine: 'svchost.exe -k netsvcs', time: '2024-05-02T00:00:00.0000000Z' })]));
  assert.equal(reuse.status, 200);
  const r = await call('POST', `/api/actions/${a.id}/approve`, T.responder, { reason: 'x' });
  assert.equal(r.status, 422);
  assert.match(String((await json(r)).error), /PID 7000 was reused on DC02: .*svchost\.exe/);
  const detail = await json(await call('GET', `/api/actions/${a.id}`, T.viewer));
  assert.equal(detail.status, 'failed');
  const refused = (detail.audit as { action: string; actor: string; detail: { stage: string } }[]).find((e) => e.action === 'action.refused');
  assert.deepEqual([refused?.actor, refused?.detail.stage], ['responder', 'approval']);
});

test('approve and reject sent together: exactly one answers 200, the other 409', async () => {
  for (let round = 0; round < 5; round++) {
    const host = `RACE${round}`;
    assert.equal((await ingestProcess(T.shipper, { recordId: nextRecord++, host, pid: 8000 + round })).status, 200);
    const a = await actionFor(host);
    assert.equal(a.status, 'pending_approval');
    const answers = await Promise.all([
      call('POST', `/api/actions/${a.id}/approve`, T.responder, { reason: 'go' }),
      call('POST', `/api/actions/${a.id}/reject`, T.boss, { reason: 'no' }),
      call('POST', `/api/actions/${a.id}/approve`, T.boss, { reason: 'go' }),
    ]);
    const codes = answers.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 409, 409], `round ${round}`);
    const audit = ((await json(await call('GET', `/api/actions/${a.id}`, T.viewer))).audit as { action: string }[]).filter((e) => /approved|rejected/.test(e.action));
    assert.equal(audit.length, 1, 'one decision recorded');
  }
});

test('config: scopes, hashes and token entries are validated and name the entry', () => {
  const dir = tmp();
  const cfg = (yaml: string): void => {
    const f = join(dir, `c${Math.random()}.yaml`);
    writeFileSync(f, yaml);
    loadServeConfig({ config: f }, {});
  };
  const bad = (yaml: string, re: RegExp): void => assert.throws(() => cfg(yaml), (e: Error) => e instanceof ConfigError && re.test(e.message), yaml);
  bad('tokens: [{name: a, token: "0123456789abcdef0", scopes: [write]}]', /tokens\[0\] \(a\)\.scopes\[0\]: expected one of ingest, read, triage, respond, admin/);
  bad('tokens: [{name: a, hash: "sha256:abc"}]', /tokens\[0\] \(a\)\.hash: expected sha256:<64 hex digits>/);
  bad('tokens: [{name: a, token: "0123456789abcdef0", hash: "sha256:abc"}]', /give exactly one of token, hash, file/);
  bad('tokens: [{name: a, token: "short"}]', /tokens\[0\] \(a\)\.token: a token must be at least 16 characters/);
  bad('tokens: [{name: a, token: "0123456789abcdef0"}, {name: a, token: "0123456789abcdef1"}]', /duplicate token name "a"/);
  writeFileSync(join(dir, 'short.token'), 'abc\n');
  writeFileSync(join(dir, 'empty.token'), '\n');
  bad('tokens: [{name: a, file: short.token}]', /token file .*short\.token: a token must be at least 16 characters/);
  bad('tokens: [{name: a, file: empty.token}]', /token file .*empty\.token is empty/);
  bad('tokens: [{name: a, file: missing.token}]', /token file .*missing\.token: ENOENT/);
});

// ---- the real CLI: rotation and start-up errors -------------------------------------------------------

interface Child {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function serveChild(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    const check = (): void => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
  return { child, url, stderr: () => err };
}

async function stop(c: Child): Promise<void> {
  if (c.child.exitCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill('SIGTERM');
  await exited;
}

test('rotation without restart: SIGHUP and a changed config file swap tokens; a broken edit keeps the old ones', async () => {
  const dir = tmp();
  const conf = join(dir, 'serve.yaml');
  const A = 'rotation-token-A-0123456789';
  const B = 'rotation-token-B-0123456789';
  const C = 'rotation-token-C-0123456789';
  // The hash as the CLI makes it (what an operator puts in the config).
  const hashed = spawnSync(process.execPath, ['--import', 'tsx', 'test/helpers/cli-entry.ts', 'token', 'hash'], { cwd: REPO_ROOT, input: `${B}\n`, encoding: 'utf8' });
  assert.equal(hashed.status, 0, hashed.stderr);
  const hashB = hashed.stdout.trim();
  assert.equal(hashB, tokenHash(B));
  writeFileSync(conf, `tokens:\n  - {name: old, token: "${A}", scopes: [read]}\n`);
  const c = await serveChild(['--data', join(dir, 'data'), '--config', conf]);
  const status = async (t: string): Promise<number> => (await fetch(`${c.url}/api/me`, { headers: auth(t) })).status;
  try {
    assert.equal(await status(A), 200);
    assert.equal(await status(B), 403);
    // SIGHUP (the file watcher may also see the write; either way B replaces A without a restart).
    writeFileSync(conf, `tokens:\n  - {name: new, hash: "${hashB}", scopes: [read]}\n`);
    c.child.kill('SIGHUP');
    await until(async () => (await status(B)) === 200 && (await status(A)) === 403, 10_000, 'B in, A out');
    assert.deepEqual(await json(await fetch(`${c.url}/api/me`, { headers: auth(B) })), { name: 'new', scopes: ['read'] });
    // A broken edit: the tokens in force stay, the error is reported.
    writeFileSync(conf, 'tokens: [{name: x, token: short}]\n');
    c.child.kill('SIGHUP');
    await until(() => /tokens not reloaded .*at least 16 characters/.test(c.stderr()), 10_000, 'reload error reported');
    assert.equal(await status(B), 200);
    // A file change alone (no signal) is picked up too.
    writeFileSync(conf, `tokens:\n  - {name: third, token: "${C}", scopes: [read]}\n`);
    await until(async () => (await status(C)) === 200 && (await status(B)) === 403, 10_000, 'C in by file change');
    assert.ok(c.child.exitCode === null, 'still the same process');
  } finally {
    await stop(c);
  }
});

test('token files: an empty or short data-directory token is a start-up error naming the file (exit 2)', async () => {
  for (const content of ['', '\n', 'abc\n']) {
    const data = tmp();
    writeFileSync(join(data, 'token'), content);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', '--data', data], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`token file ${join(data, 'token').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(r.stderr, content.trim() === '' ? /is empty/ : /at least 16 characters/);
  }
  // A config token file that is short: the same, before anything listens.
  const dir = tmp();
  writeFileSync(join(dir, 'ship.token'), 'abc');
  writeFileSync(join(dir, 'serve.yaml'), 'tokens: [{name: shipper, file: ship.token, scopes: [ingest]}]\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', '--data', join(dir, 'data'), '--config', join(dir, 'serve.yaml')], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /token file .*ship\.token: a token must be at least 16 characters/);
  assert.ok(!existsSync(join(dir, 'data', 'procwatch.db')), 'nothing was started');
});
