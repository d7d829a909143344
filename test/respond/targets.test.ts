/**
 * Response safety: stop-process targets corroborated by stored process events, protected images, one decision
 * per action (SQLite and PostgreSQL, concurrent), and webhook URL templates that event data cannot re-aim.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, type EventRecord, type Store } from '../../src/store/index.js';
import { ActionRunner, ApprovalError, parseWorkflows, planActions, type Workflow } from '../../src/respond/index.js';
import { urlAllowed } from '../../src/respond/config.js';
import { ConfigError } from '../../src/configError.js';
import { expandUrl } from '../../src/respond/template.js';
import { verifyStopTarget, MAX_CANDIDATE_EVENTS } from '../../src/respond/verify.js';
import { receiver } from '../server/support/http.js';
import { freshStore, requirePostgres } from '../scale/support/services.js';

const HOST = 'WS01.corp.example';
const CERTREQ = 'C:\\Windows\\System32\\certreq.exe';
const T0 = '2024-05-01T10:15:30.123Z';
const FACTS = { id: 'alert-0001', ruleId: 'certreq-download-upload', severity: 'high' as const, suppressed: false };

function ecsDoc(over: { pid?: number; executable?: string; name?: string; ofn?: string; guid?: string; time?: string } = {}): Record<string, unknown> {
  const executable = over.executable ?? CERTREQ;
  return {
    '@timestamp': over.time ?? T0,
    event: { kind: 'alert', id: 'alert-0001' },
    rule: { id: 'certreq-download-upload' },
    host: { name: HOST },
    process: {
      pid: over.pid ?? 4242,
      name: over.name ?? executable.split('\\').pop(),
      executable,
      ...(over.guid ? { entity_id: over.guid } : {}),
      pe: { original_file_name: over.ofn ?? 'CertReq.exe' },
    },
    procwatch: { severity: 'high' },
  };
}

let seq = 0;
/** A process start (Sysmon 1 / Security 4688) or end (Sysmon 5 / 4689) as the service stores it. */
function ev(kind: 'start' | 'end', o: { pid?: number; image?: string; time?: string; guid?: string; security?: boolean } = {}): EventRecord {
  const time = o.time ?? T0;
  const pid = o.pid ?? 4242;
  const image = o.image ?? CERTREQ;
  const security = o.security === true;
  const eventId = security ? (kind === 'start' ? 4688 : 4689) : kind === 'start' ? 1 : 5;
  const data: Record<string, unknown> = security
    ? kind === 'start'
      ? { NewProcessId: `0x${pid.toString(16)}`, NewProcessName: image, ProcessId: '0x4' }
      : { ProcessId: `0x${pid.toString(16)}`, ProcessName: image }
    : { ProcessId: pid, Image: image, ...(o.guid ? { ProcessGuid: `{${o.guid.toUpperCase()}}` } : {}) };
  const record = ++seq;
  const doc = {
    system: { provider: security ? 'Microsoft-Windows-Security-Auditing' : 'Microsoft-Windows-Sysmon', eventId, timeCreated: time, recordId: record, channel: security ? 'Security' : 'Sysmon', computer: HOST },
    data,
    origin: { file: 'test' },
  };
  return { key: `k${record}`, time, host: HOST, doc: JSON.stringify(doc) };
}

const KILL: Workflow[] = parseWorkflows([{ name: 'kill', type: 'stop_process', via: 'command', dry_run: false, argv: [process.execPath, '-e', '0'] }]);

async function planned(store: Store, events: EventRecord[], doc = ecsDoc(), workflows = KILL): Promise<string> {
  const r = await store.commit(events, { alerts: [], actions: planActions(FACTS, doc, workflows) });
  assert.equal(r.actionsCreated.length, 1);
  return r.actionsCreated[0]!;
}

async function refusal(runner: ActionRunner, id: string): Promise<string> {
  try {
    await runner.approve(id, 'responder');
  } catch (err) {
    assert.ok(err instanceof ApprovalError);
    assert.equal(err.code, 422, err.message);
    return err.message;
  }
  assert.fail('approval should have been refused');
}

test('a corroborated target is approvable; the audit names the approver and the start event it rests on', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const id = await planned(store, [ev('start')]);
  const runner = new ActionRunner({ store, workflows: KILL });
  const a = await runner.approve(id, 'responder', 'confirmed');
  assert.equal(a.status, 'pending');
  const [entry] = (await store.listAudit({ targetId: id, limit: 5, offset: 0 })).items;
  assert.equal(entry!.actor, 'responder');
  assert.equal(entry!.action, 'action.approved');
  assert.match(String((entry!.detail.corroborated_by as { event: string }).event), /^Sysmon 1 record \d+$/);
  await store.close();
});

test('targets not corroborated by stored events are refused before approval, with the reason recorded', async () => {
  const cases: { name: string; events: EventRecord[]; doc?: Record<string, unknown>; reason: RegExp }[] = [
    { name: 'no start seen', events: [], reason: /no process start .* PID 4242 on WS01/ },
    { name: 'start of another PID only', events: [ev('start', { pid: 4243 })], reason: /no process start/ },
    { name: 'image mismatch', events: [ev('start', { image: 'C:\\Windows\\System32\\notepad.exe' })], reason: /image mismatch: .*certreq\.exe.*notepad\.exe/ },
    {
      name: 'PID reused after a later start',
      events: [ev('start'), ev('start', { image: 'C:\\Windows\\System32\\svchost.exe', time: '2024-05-01T10:20:00.000Z' })],
      reason: /PID 4242 was reused .*svchost\.exe .*10:20:00/,
    },
    { name: 'terminated (Sysmon 5)', events: [ev('start'), ev('end', { time: '2024-05-01T10:16:00.000Z' })], reason: /already terminated at 2024-05-01T10:16:00/ },
    { name: 'terminated (4689)', events: [ev('start', { security: true }), ev('end', { security: true, time: '2024-05-01T10:16:01.000Z' })], reason: /already terminated .*Security 4689/ },
    { name: 'a start later than the alert does not count', events: [ev('start', { time: '2024-05-01T11:00:00.000Z' })], reason: /no process start/ },
    {
      name: 'ProcessGuid names another process',
      events: [ev('start', { guid: '11111111-2222-3333-4444-555555555555' })],
      doc: ecsDoc({ guid: '{99999999-2222-3333-4444-555555555555}' }),
      reason: /no process start .*ProcessGuid 99999999/,
    },
  ];
  for (const c of cases) {
    const store = new SqliteStore({ path: ':memory:' });
    const id = await planned(store, c.events, c.doc);
    const runner = new ActionRunner({ store, workflows: KILL });
    const message = await refusal(runner, id);
    assert.match(message, c.reason, c.name);
    const a = (await store.getAction(id))!;
    assert.equal(a.status, 'failed', c.name);
    assert.match(String(a.lastError), /target not corroborated/, c.name);
    const [entry] = (await store.listAudit({ targetId: id, limit: 5, offset: 0 })).items;
    assert.deepEqual([entry!.action, entry!.actor, entry!.detail.stage], ['action.refused', 'responder', 'approval'], c.name);
    await assert.rejects(runner.approve(id, 'responder'), (e: Error) => e instanceof ApprovalError && e.code === 409, 'a refused action stays refused');
    await store.close();
  }
});

test('a Security 4688 start (hex PID) and a Sysmon ProcessGuid both corroborate', async () => {
  for (const [events, doc] of [
    [[ev('start', { security: true })], ecsDoc()],
    [[ev('start', { guid: 'abcdef01-2222-3333-4444-555555555555' })], ecsDoc({ guid: '{ABCDEF01-2222-3333-4444-555555555555}' })],
  ] as const) {
    const store = new SqliteStore({ path: ':memory:' });
    const id = await planned(store, [...events], doc);
    assert.equal((await new ActionRunner({ store, workflows: KILL }).approve(id, 'responder')).status, 'pending');
    await store.close();
  }
});

test('verified again at execution: a process that ended after approval is not stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-exec-'));
  const out = join(dir, 'ran');
  const workflows = parseWorkflows([{ name: 'kill', type: 'stop_process', via: 'command', dry_run: false, argv: [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, 'x')`] }]);
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const id = await planned(store, [ev('start')], ecsDoc(), workflows);
    // Approved through a stopped runner (it does not pick the action up), then the process ends, then the
    // runner that executes sees the end.
    const approver = new ActionRunner({ store, workflows });
    await approver.stop();
    await approver.approve(id, 'responder');
    await store.commit([ev('end', { time: '2024-05-01T10:17:00.000Z' })], { alerts: [], actions: [] });
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    await runner.idle();
    await runner.stop();
    const a = (await store.getAction(id))!;
    assert.equal(a.status, 'failed');
    assert.match(String(a.lastError), /already terminated/);
    assert.equal(existsSync(out), false, 'the command never ran');
    const trail = (await store.listAudit({ targetId: id, limit: 5, offset: 0 })).items.reverse();
    assert.deepEqual(trail.map((e) => [e.action, e.actor, e.detail.stage ?? null]), [['action.approved', 'responder', null], ['action.refused', 'procwatch', 'execution']]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('protected images are never targets: by image, name or PE original file name, whatever the events say', async () => {
  for (const doc of [
    ecsDoc({ pid: 640, executable: 'C:\\Windows\\System32\\lsass.exe', ofn: 'CertReq.exe' }),
    ecsDoc({ executable: 'C:\\Users\\Public\\certreq.exe', ofn: 'wininit.exe' }),
    ecsDoc({ executable: 'C:\\Windows\\System32\\CSRSS.EXE' }),
  ]) {
    const [action] = planActions(FACTS, doc, KILL);
    assert.match(String(action!.request.refused), /refused: (lsass|wininit|csrss)\.exe is a protected system process/);
    assert.equal(action!.status, 'pending', 'never awaiting approval');
  }
  // Even a target whose own start event says it is protected (the alert claiming something else) is refused.
  const store = new SqliteStore({ path: ':memory:' });
  const verdict = await verifyStopTarget(store, { host: HOST, pid: 640, name: 'services' });
  assert.deepEqual(verdict, { ok: false, reason: 'services.exe is a protected system process and is never stopped' });
  await store.close();
});

test(`more than ${MAX_CANDIDATE_EVENTS - 1} candidate events: not verifiable (bounded work), refused`, async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const many = Array.from({ length: MAX_CANDIDATE_EVENTS }, (_v, i) => ev('start', { pid: 4242, time: new Date(Date.parse(T0) - (i + 1) * 1000).toISOString() }));
  await store.commit(many, { alerts: [], actions: [] });
  const verdict = await verifyStopTarget(store, { host: HOST, pid: 4242, name: 'certreq', image: CERTREQ, seenAt: T0 });
  assert.equal(verdict.ok, false);
  assert.match((verdict as { reason: string }).reason, /cannot be verified/);
  await store.close();
});

async function raceDecisions(store: Store): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await store.commit(i === 0 ? [ev('start')] : [], { alerts: [], actions: planActions({ ...FACTS, id: `alert-race-${i}` }, ecsDoc(), KILL) });
    ids.push(r.actionsCreated[0]!);
  }
  // Two runners stand for two service instances sharing the store (or two requests in one).
  const runners = [new ActionRunner({ store, workflows: KILL }), new ActionRunner({ store, workflows: KILL })];
  // Stopped: they decide but do not execute, so the status after the race is the decision's.
  for (const r of runners) await r.stop();
  for (const id of ids) {
    const results = await Promise.allSettled([runners[0]!.approve(id, 'alice'), runners[1]!.reject(id, 'bob'), runners[1]!.approve(id, 'carol'), runners[0]!.reject(id, 'dave')]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1, `exactly one decision wins (${results.map((r) => r.status).join(', ')})`);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as ApprovalError).code, 409, String(r.reason));
    const decided = (await store.listAudit({ targetId: id, limit: 10, offset: 0 })).items.filter((e) => e.action === 'action.approved' || e.action === 'action.rejected');
    assert.equal(decided.length, 1, 'one decision in the audit log');
    const status = (await store.getAction(id))!.status;
    assert.equal(status, decided[0]!.action === 'action.approved' ? 'pending' : 'rejected');
  }
}

test('one decision wins: concurrent approve/reject on SQLite, the others get 409', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-race-'));
  const store = new SqliteStore({ path: join(dir, 'db.sqlite') });
  try {
    await raceDecisions(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one decision wins: concurrent approve/reject on PostgreSQL, the others get 409', async () => {
  await requirePostgres();
  const store = await freshStore();
  try {
    await raceDecisions(store);
  } finally {
    await store.drop();
  }
});

test('webhook URL: placeholders in scheme, host or port are a start-up error naming the workflow', () => {
  for (const url of ['https://{host.name}/x', 'https://hooks.example.com:{process.pid}/x', '{scheme}://hooks.example.com/', 'https://user{x}@hooks.example.com/']) {
    assert.throws(
      () => parseWorkflows([{ name: 'soar', type: 'webhook', url }]),
      (e: Error) => e instanceof ConfigError && /\(soar\)\.url: placeholders are allowed only in the path and query/.test(e.message),
      url,
    );
  }
  assert.throws(() => parseWorkflows([{ name: 'edr', type: 'stop_process', via: 'webhook', url: 'https://{host.name}.edr.local/kill' }]), /\(edr\)\.url: placeholders/);
  assert.doesNotThrow(() => parseWorkflows([{ name: 'ok', type: 'webhook', url: 'https://hooks.example.com/a/{host.name}?pid={process.pid}' }]));
});

test('webhook URL: values are encoded per component; dot-segments cannot climb', () => {
  const doc = { host: { name: '..' }, process: { name: 'a/b?c#d', pid: '.' }, user: { name: 'x&y=z' } };
  assert.equal(expandUrl('https://h.example/hosts/{host.name}/kill', doc), 'https://h.example/hosts/%2E%2E/kill');
  assert.equal(expandUrl('https://h.example/p/{process.name}/{process.pid}?u={user.name}&h={host.name}', doc), 'https://h.example/p/a%2Fb%3Fc%23d/%2E?u=x%26y%3Dz&h=..');
  assert.equal(expandUrl('https://h.example/hosts/{host.name}', { host: { name: 'WS01.corp.example' } }), 'https://h.example/hosts/WS01.corp.example');
});

test('webhook allow list: checked at start-up and after rendering', () => {
  const allow = ['https://hooks.example.com/procwatch/', 'edr.local:8443'];
  assert.equal(urlAllowed('https://hooks.example.com/procwatch/alerts', allow), true);
  assert.equal(urlAllowed('https://hooks.example.com/procwatchX', allow), false);
  assert.equal(urlAllowed('https://hooks.example.com.evil.example/procwatch/', allow), false);
  assert.equal(urlAllowed('http://hooks.example.com/procwatch/', allow), false, 'scheme is part of the prefix');
  assert.equal(urlAllowed('https://edr.local:8443/kill', allow), true);
  assert.equal(urlAllowed('https://edr.local:9443/kill', allow), false);
  assert.throws(
    () => parseWorkflows([{ name: 'soar', type: 'webhook', url: 'https://other.example.com/x', allow }]),
    (e: Error) => e instanceof ConfigError && /\(soar\)\.url: https:\/\/other\.example\.com is not in the workflow's allow list/.test(e.message),
  );
  assert.throws(() => parseWorkflows([{ name: 'soar', type: 'webhook', url: 'https://hooks.example.com/procwatch/', allow: ['ftp://x/'] }]), /\(soar\)\.allow\[0\]/);
  // Rendered outside the prefix (the path comes from the event): the action is refused at planning.
  const [wf] = parseWorkflows([{ name: 'soar', type: 'webhook', url: 'https://hooks.example.com/{rule.id}/in', allow: ['https://hooks.example.com/procwatch/'] }]);
  const ok = planActions(FACTS, { rule: { id: 'procwatch' }, event: { id: 'a' } }, [wf!])[0]!;
  assert.equal((ok.request.webhook as { url: string }).url, 'https://hooks.example.com/procwatch/in');
  const bad = planActions(FACTS, { rule: { id: 'admin' }, event: { id: 'a' } }, [wf!])[0]!;
  assert.match(String(bad.request.refused), /not in the allow list of workflow soar/);
});

test('webhook delivery sends the path as rendered: a ".." value arrives encoded, not resolved', async () => {
  const rx = await receiver((_n, _r, res) => {
    res.statusCode = 200;
    res.end('ok');
  });
  const store = new SqliteStore({ path: ':memory:' });
  try {
    const workflows = parseWorkflows([{ name: 'soar', type: 'webhook', url: `${rx.url}/hooks/{host.name}/alert`, retries: 0 }]);
    const r = await store.commit([], { alerts: [], actions: planActions(FACTS, { host: { name: '..' }, event: { id: 'a' } }, workflows) });
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    await runner.idle();
    await runner.stop();
    assert.equal((await store.getAction(r.actionsCreated[0]!))?.status, 'succeeded');
    assert.deepEqual(rx.received.map((x) => x.url), ['/hooks/%2E%2E/alert']);
  } finally {
    await store.close();
    await rx.close();
  }
});

test('hostEventDocs: host matched case-insensitively, documents returned as stored', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.commit([ev('start')], { alerts: [], actions: [] });
  const docs = await store.hostEventDocs(HOST.toLowerCase(), ['4242'], 10);
  assert.equal(docs.length, 1);
  assert.equal(JSON.parse(docs[0]!).data.Image, CERTREQ);
  await store.close();
});
