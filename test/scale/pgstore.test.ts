// The PostgreSQL store against a real server: the SQLite store's contract, plus what several writers at
// once must not break (alert uniqueness, incident widening, action claiming).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detected, EventRecord, NewAction, NewAlert } from '../../src/store/index.js';
import { openStore, PostgresStore } from '../../src/store/index.js';
import { freshStore, PG_URL, requirePostgres, uniqueName } from './support/services.js';

type TestStore = Awaited<ReturnType<typeof freshStore>>;
const stores: TestStore[] = [];
async function store(): Promise<TestStore> {
  const s = await freshStore();
  stores.push(s);
  return s;
}

before(requirePostgres);
after(async () => {
  for (const s of stores) await s.drop().catch(() => {});
});

function ev(key: string, host = 'WS01'): EventRecord {
  return { key, time: `2024-05-01T10:00:${key.padStart(2, '0').slice(-2)}Z`, host, doc: JSON.stringify({ key }) };
}

function alert(id: string, eventKey: string, over: Partial<NewAlert> = {}): NewAlert {
  return {
    id,
    eventKey,
    ruleId: 'certreq-download-upload',
    severity: 'high',
    time: '2024-05-01T10:00:00Z',
    host: 'WS01',
    user: 'alice',
    incidentId: 'inc-1',
    suppressed: false,
    doc: { event: { id }, rule: { id: 'certreq-download-upload' } },
    ...over,
  };
}

function action(id: string, over: Partial<NewAction> = {}): NewAction {
  return { id, alertId: 'a1', workflow: 'hook', kind: 'webhook', status: 'pending', destructive: false, dryRun: false, maxAttempts: 3, request: { u: id }, ...over };
}

const none = (): Detected => ({ alerts: [], actions: [] });

test('a re-sent batch stores nothing twice and detection sees only the new events', async () => {
  const s = await store();
  const seen: string[][] = [];
  const detect = (fresh: EventRecord[]): Detected => {
    seen.push(fresh.map((f) => f.key));
    return { alerts: fresh.filter((f) => f.key === '2').map((f) => alert('a2', f.key)), actions: [] };
  };
  const first = await s.ingest([ev('1'), ev('2'), ev('3')], detect);
  assert.equal(first.stored, 3);
  assert.equal(first.alertsCreated.length, 1);
  const again = await s.ingest([ev('2'), ev('3'), ev('4')], detect);
  assert.deepEqual([again.stored, again.duplicates, again.alertsCreated.length], [1, 2, 0]);
  assert.deepEqual(seen, [['1', '2', '3'], ['4']]);
  const c = await s.counts();
  assert.deepEqual([c.events, c.alerts, c.openAlerts, c.incidents], [4, 1, 1, 1]);
  // commit() of events already there: nothing stored, the known alert is not created again.
  const replay = await s.commit([ev('1'), ev('2')], { alerts: [alert('a2', '2')], actions: [] });
  assert.deepEqual([replay.stored, replay.duplicates, replay.alertsCreated.length], [0, 2, 0]);
  assert.deepEqual(await s.knownKeys(['1', '4', '9']), new Set(['1', '4']));
});

test('an alert already stored (same id) is not created again even if its event was pruned', async () => {
  const s = await store();
  const detect = (fresh: EventRecord[]): Detected => ({ alerts: fresh.map((f) => alert(`a${f.key}`, f.key)), actions: [] });
  await s.ingest([ev('1')], detect);
  assert.equal(await s.pruneEvents(0, 0), 1);
  assert.equal(await s.hasEvent('1'), false);
  const r = await s.ingest([ev('1')], detect);
  assert.equal(r.stored, 1);
  assert.equal(r.alertsCreated.length, 0);
  assert.equal((await s.listAlerts({ limit: 10, offset: 0 })).total, 1);
});

test('a batch whose detection or insert fails leaves nothing behind (one transaction)', async () => {
  const s = await store();
  await assert.rejects(
    s.ingest([ev('1'), ev('2')], () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal((await s.counts()).events, 0);
  // A failure inside the SQL (an invalid action status type) rolls back the events and alerts too.
  await assert.rejects(s.commit([ev('1')], { alerts: [alert('a1', '1')], actions: [action('x', { maxAttempts: 'many' as unknown as number })] }));
  assert.deepEqual([(await s.counts()).events, (await s.counts()).alerts], [0, 0]);
  const r = await s.ingest([ev('1'), ev('2')], none);
  assert.equal(r.stored, 2);
});

test('incidents are created by their first alert and widened by later ones; a closed one reopens', async () => {
  const s = await store();
  await s.ingest([ev('1')], (f) => ({ alerts: [alert('a1', f[0]!.key, { severity: 'low', time: '2024-05-01T10:00:05Z' })], actions: [] }));
  let inc = await s.getIncident('inc-1');
  assert.equal(inc?.alertCount, 1);
  assert.equal(inc?.severity, 'low');
  await s.updateIncident('inc-1', { status: 'closed', reason: 'admin renewing certificates', actor: 'bob' });
  await s.ingest([ev('2')], (f) => ({ alerts: [alert('a2', f[0]!.key, { severity: 'critical', time: '2024-05-01T10:00:01Z' })], actions: [] }));
  inc = await s.getIncident('inc-1');
  assert.equal(inc?.alertCount, 2);
  assert.equal(inc?.severity, 'critical');
  assert.equal(inc?.firstSeen, '2024-05-01T10:00:01Z');
  assert.equal(inc?.lastSeen, '2024-05-01T10:00:05Z');
  assert.equal(inc?.status, 'open');
  assert.equal(inc?.statusReason, 'admin renewing certificates');
  await s.ingest([ev('3')], (f) => ({ alerts: [alert('a3', f[0]!.key, { suppressed: true })], actions: [] }));
  assert.equal((await s.getIncident('inc-1'))?.alertCount, 2, 'a suppressed alert does not grow the incident');
  assert.equal((await s.listAlerts({ suppressed: true, limit: 10, offset: 0 })).total, 1);
});

test('two writers committing the same alerts at once: each alert exists once, the incident counts each once', async () => {
  const schema = uniqueName('pw_test');
  const a = await freshStore(schema);
  const b = await freshStore(schema); // a second process's pool on the same schema
  stores.push(a);
  try {
    const times = Array.from({ length: 40 }, (_, i) => `2024-05-01T10:${String(i).padStart(2, '0')}:00Z`);
    const batch = (from: number): [EventRecord[], Detected] => {
      const evs = times.map((_, i) => ev(`k${(i + from) % 40}`));
      return [evs, { alerts: evs.map((e) => alert(`a-${e.key}`, e.key, { time: times[Number(e.key.slice(1))]! })), actions: evs.map((e) => action(`x-${e.key}`)) }];
    };
    // Different orders in the two writers: the key-ordered writes must not deadlock.
    const rounds = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? b : a).commit(...batch(i * 7))));
    assert.equal(rounds.reduce((n, r) => n + r.alertsCreated.length, 0), 40, 'each alert created by exactly one writer');
    assert.equal(rounds.reduce((n, r) => n + r.actionsCreated.length, 0), 40);
    assert.equal(rounds.reduce((n, r) => n + r.stored, 0), 40);
    const inc = await a.getIncident('inc-1');
    assert.equal(inc?.alertCount, 40);
    assert.equal(inc?.firstSeen, times[0]);
    assert.equal(inc?.lastSeen, times[39]);
    assert.equal((await b.counts()).alerts, 40);
  } finally {
    await b.close();
  }
});

test('two runners claiming due actions at once never get the same action; expired leases are taken over', async () => {
  const schema = uniqueName('pw_test');
  const a = await freshStore(schema);
  const b = new PostgresStore({ url: PG_URL, schema });
  const dying = new PostgresStore({ url: PG_URL, schema, actionLeaseMs: 50 });
  stores.push(a);
  try {
    const actions = Array.from({ length: 60 }, (_, i) => action(`x${String(i).padStart(2, '0')}`));
    await a.commit([], { alerts: [], actions });
    const claimed: string[] = [];
    const claimer = async (s: PostgresStore): Promise<void> => {
      for (;;) {
        const due = await s.dueActions(Date.now(), 4);
        if (due.length === 0) return;
        for (const d of due) {
          assert.equal(d.status, 'running');
          claimed.push(d.id);
        }
      }
    };
    await Promise.all([claimer(a), claimer(b), claimer(a), claimer(b)]);
    assert.equal(claimed.length, 60);
    assert.equal(new Set(claimed).size, 60, 'no action handed out twice');
    // Their runners are alive (leases current): a process starting elsewhere must not requeue them.
    assert.equal(await b.requeueInterruptedActions(), 0);
    assert.equal((await a.dueActions(Date.now(), 100)).length, 0);
    // A runner that claims and dies: its action is due again once the lease expired, for exactly one taker.
    await a.commit([], { alerts: [], actions: [action('late')] });
    assert.equal((await dying.dueActions(Date.now(), 10))[0]?.id, 'late');
    assert.equal((await a.dueActions(Date.now(), 10)).length, 0, 'lease still current');
    await new Promise((r) => setTimeout(r, 80));
    const [takeA, takeB] = await Promise.all([a.dueActions(Date.now(), 10), b.dueActions(Date.now(), 10)]);
    assert.deepEqual([...takeA!, ...takeB!].map((x) => x.id), ['late'], 'taken over once after the lease expired');
    await a.updateAction('late', { status: 'succeeded', result: { ok: true } });
    assert.equal((await a.getAction('late'))?.status, 'succeeded');
    assert.deepEqual((await a.getAction('late'))?.result, { ok: true });
    assert.equal((await a.listActions({ status: 'running', limit: 100, offset: 0 })).total, 60);
  } finally {
    await b.close();
    await dying.close();
  }
});

test('alert status changes keep reason and assignee and are audited', async () => {
  const s = await store();
  await s.ingest([ev('1')], (f) => ({ alerts: [alert('a1', f[0]!.key)], actions: [] }));
  const a = await s.updateAlert('a1', { status: 'acknowledged', assignee: 'carol', actor: 'soc' });
  assert.equal(a?.status, 'acknowledged');
  assert.equal(a?.assignee, 'carol');
  const c = await s.updateAlert('a1', { status: 'closed', reason: 'false positive', actor: 'soc' });
  assert.equal(c?.assignee, 'carol', 'assignee kept when not given');
  assert.equal(c?.statusReason, 'false positive');
  assert.equal(await s.updateAlert('nope', { status: 'closed', reason: 'x', actor: 'soc' }), undefined);
  const audit = await s.listAudit({ targetId: 'a1', limit: 10, offset: 0 });
  assert.deepEqual(audit.items.map((e) => e.action), ['alert.update', 'alert.update']);
  assert.deepEqual(audit.items[0]!.detail.to, { status: 'closed', assignee: 'carol' });
  assert.equal(audit.items[0]!.actor, 'soc');
  assert.deepEqual(a?.doc, { event: { id: 'a1' }, rule: { id: 'certreq-download-upload' } });
});

test('alert and incident lists filter by status, severity, host and time and page with a total', async () => {
  const s = await store();
  const sev = ['low', 'medium', 'high', 'critical'] as const;
  await s.ingest(
    Array.from({ length: 20 }, (_, i) => ev(String(i + 1), i % 2 ? 'WS02' : 'WS01')),
    (fresh) => ({
      alerts: fresh.map((f, i) =>
        alert(`a${i}`, f.key, { severity: sev[i % 4]!, host: f.host, incidentId: `inc-${f.host}`, time: `2024-05-01T10:00:${String(i).padStart(2, '0')}Z` }),
      ),
      actions: [],
    }),
  );
  assert.equal((await s.listAlerts({ minSeverity: 'high', limit: 100, offset: 0 })).total, 10);
  assert.equal((await s.listAlerts({ host: 'ws02', limit: 100, offset: 0 })).total, 10, 'host is case-insensitive');
  assert.equal((await s.listAlerts({ since: '2024-05-01T10:00:15Z', limit: 100, offset: 0 })).total, 5);
  assert.equal((await s.listAlerts({ since: '2024-05-01T10:00:05Z', until: '2024-05-01T10:00:06Z', limit: 100, offset: 0 })).total, 2);
  const p1 = await s.listAlerts({ limit: 7, offset: 0 });
  const p3 = await s.listAlerts({ limit: 7, offset: 14 });
  assert.equal(p1.total, 20);
  assert.equal(p1.items.length, 7);
  assert.equal(p3.items.length, 6);
  assert.equal(p1.items[0]!.time, '2024-05-01T10:00:19Z', 'newest first');
  const all = [...p1.items, ...(await s.listAlerts({ limit: 7, offset: 7 })).items, ...p3.items].map((a) => a.id);
  assert.equal(new Set(all).size, 20, 'pages do not overlap');
  await s.updateAlert('a3', { status: 'closed', reason: 'fp', actor: 't' });
  assert.equal((await s.listAlerts({ status: 'closed', limit: 100, offset: 0 })).items[0]!.id, 'a3');
  const incs = await s.listIncidents({ limit: 1, offset: 0 });
  assert.equal(incs.total, 2);
  assert.equal(incs.items[0]!.alertCount, 10);
  assert.equal((await s.listIncidents({ host: 'WS01', minSeverity: 'high', limit: 10, offset: 0 })).items[0]?.severity, 'high');
  assert.equal((await s.listIncidents({ host: 'ws01', minSeverity: 'critical', limit: 10, offset: 0 })).total, 0);
});

test('actions: planned once per id, claimed when due, not due when scheduled later', async () => {
  const s = await store();
  const r1 = await s.ingest([ev('1')], () => ({ alerts: [], actions: [action('x1')] }));
  const r2 = await s.ingest([ev('2')], () => ({ alerts: [], actions: [action('x1')] }));
  assert.deepEqual(r1.actionsCreated, ['x1']);
  assert.deepEqual(r2.actionsCreated, []);
  const [due] = await s.dueActions(Date.now(), 10);
  assert.equal(due?.id, 'x1');
  assert.deepEqual(due?.request, { u: 'x1' });
  assert.equal((await s.dueActions(Date.now(), 10)).length, 0, 'claimed: not handed out again');
  await s.updateAction('x1', { status: 'retrying', attempts: 1, nextAttemptAt: Date.now() + 60_000, lastError: 'HTTP 500' });
  assert.equal((await s.dueActions(Date.now(), 10)).length, 0);
  const [later] = await s.dueActions(Date.now() + 61_000, 10);
  assert.deepEqual([later?.id, later?.attempts], ['x1', 1]);
  await s.commit([], { alerts: [], actions: [action('x2', { status: 'pending_approval', destructive: true })] });
  assert.equal((await s.dueActions(Date.now(), 10)).length, 0, 'awaiting approval is not due');
  assert.equal((await s.counts()).actionsPending, 2);
});

test('suppressions are stored with their author and audited on create and delete', async () => {
  const s = await store();
  const sup = await s.addSuppression({ ruleId: null, host: 'PKI01', user: null, parentImage: null, commandLine: '*-submit*', reason: 'CA admins', expiresAt: null, createdBy: 'dave' });
  assert.equal(typeof sup.id, 'number');
  await s.countSuppressionHit(sup.id);
  assert.equal((await s.listSuppressions())[0]?.hits, 1);
  assert.equal((await s.listSuppressions())[0]?.commandLine, '*-submit*');
  assert.equal(await s.deleteSuppression(sup.id, 'dave'), true);
  assert.equal(await s.deleteSuppression(sup.id, 'dave'), false);
  const audit = await s.listAudit({ limit: 10, offset: 0 });
  assert.deepEqual(audit.items.map((a) => a.action).sort(), ['suppression.create', 'suppression.delete']);
});

test('retention drops the oldest events beyond the count bound and by age; retained events and keys page through', async () => {
  const s = await store();
  await s.ingest(Array.from({ length: 10 }, (_, i) => ev(String(i))), none);
  // Sequence gaps (ON CONFLICT consumes identity values) must not make the count cut wrong.
  await s.ingest(Array.from({ length: 10 }, (_, i) => ev(String(i))), none);
  assert.equal(await s.pruneEvents(3_600_000, 4), 6);
  const kept: string[] = [];
  for await (const r of s.retainedEvents()) kept.push(r.key);
  assert.deepEqual(kept, ['6', '7', '8', '9']);
  await s.commit([{ key: 'nodoc', time: '2024-05-01T11:00:00Z', host: 'WS01', doc: null }], none());
  const keys: string[] = [];
  for await (const k of s.eventKeys()) keys.push(k);
  assert.deepEqual(keys.sort(), ['6', '7', '8', '9', 'nodoc']);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(await s.pruneEvents(1, 10_000), 5, 'everything received over 1 ms ago');
});

test('openStore picks PostgreSQL by URL (schema from ?schema=), migrations are idempotent across processes', async () => {
  const schema = uniqueName('pw_test');
  const opened = [0, 1, 2].map(() => openStore({ dataDir: '/nonexistent', url: `${PG_URL}?schema=${schema}` }));
  try {
    assert.ok(opened[0] instanceof PostgresStore);
    // Three "processes" migrating the same fresh schema at once.
    await Promise.all(opened.map((s) => s.counts()));
    await opened[0]!.commit([ev('1')], none());
    assert.equal(await opened[2]!.hasEvent('1'), true);
  } finally {
    await (opened[0] as PostgresStore).dropSchema();
    for (const s of opened) await s.close();
  }
  assert.throws(() => openStore({ dataDir: '/x', url: 'mysql://h/db' }), /unsupported URL/);
  const bad = new PostgresStore({ url: 'postgres://postgres@127.0.0.1:1/test' });
  await assert.rejects(bad.counts(), /PostgreSQL postgres:\/\/postgres@127\.0\.0\.1:1\/test: .*ECONNREFUSED/);
  await bad.close();
});
