import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, WorkerStore, openStore, type EventRecord, type NewAlert, type Detected } from '../../src/store/index.js';

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

const none = (): Detected => ({ alerts: [], actions: [] });

test('a re-sent batch stores nothing twice and detection sees only the new events', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const seen: string[][] = [];
  const detect = (fresh: EventRecord[]): Detected => {
    seen.push(fresh.map((f) => f.key));
    return { alerts: fresh.filter((f) => f.key === '2').map((f) => alert('a2', f.key)), actions: [] };
  };
  const first = await store.ingest([ev('1'), ev('2'), ev('3')], detect);
  assert.equal(first.stored, 3);
  assert.equal(first.alertsCreated.length, 1);
  const again = await store.ingest([ev('2'), ev('3'), ev('4')], detect);
  assert.equal(again.stored, 1);
  assert.equal(again.duplicates, 2);
  assert.equal(again.alertsCreated.length, 0);
  assert.deepEqual(seen, [['1', '2', '3'], ['4']]);
  assert.equal((await store.counts()).events, 4);
  assert.equal((await store.counts()).alerts, 1);
});

test('an alert already stored (same id) is not created again even if its event was pruned', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const detect = (fresh: EventRecord[]): Detected => ({ alerts: fresh.map((f) => alert(`a${f.key}`, f.key)), actions: [] });
  await store.ingest([ev('1')], detect);
  assert.equal(await store.pruneEvents(0, 0), 1);
  assert.equal(await store.hasEvent('1'), false);
  const r = await store.ingest([ev('1')], detect);
  assert.equal(r.stored, 1);
  assert.equal(r.alertsCreated.length, 0);
  assert.equal((await store.listAlerts({ limit: 10, offset: 0 })).total, 1);
});

test('a batch whose detection throws leaves nothing behind (one transaction)', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await assert.rejects(
    store.ingest([ev('1'), ev('2')], () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal((await store.counts()).events, 0);
  const r = await store.ingest([ev('1'), ev('2')], none);
  assert.equal(r.stored, 2);
});

test('incidents are created by their first alert and widened by later ones; a closed one reopens', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.ingest([ev('1')], (f) => ({ alerts: [alert('a1', f[0]!.key, { severity: 'low', time: '2024-05-01T10:00:05Z' })], actions: [] }));
  let inc = await store.getIncident('inc-1');
  assert.equal(inc?.alertCount, 1);
  assert.equal(inc?.severity, 'low');
  await store.updateIncident('inc-1', { status: 'closed', reason: 'admin renewing certificates', actor: 'bob' });
  await store.ingest([ev('2')], (f) => ({ alerts: [alert('a2', f[0]!.key, { severity: 'critical', time: '2024-05-01T10:00:01Z' })], actions: [] }));
  inc = await store.getIncident('inc-1');
  assert.equal(inc?.alertCount, 2);
  assert.equal(inc?.severity, 'critical');
  assert.equal(inc?.firstSeen, '2024-05-01T10:00:01Z');
  assert.equal(inc?.lastSeen, '2024-05-01T10:00:05Z');
  assert.equal(inc?.status, 'open');
  // A suppressed alert is stored but does not grow the incident.
  await store.ingest([ev('3')], (f) => ({ alerts: [alert('a3', f[0]!.key, { suppressed: true })], actions: [] }));
  assert.equal((await store.getIncident('inc-1'))?.alertCount, 2);
  assert.equal((await store.listAlerts({ suppressed: true, limit: 10, offset: 0 })).total, 1);
});

test('alert status changes keep reason and assignee and are audited', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.ingest([ev('1')], (f) => ({ alerts: [alert('a1', f[0]!.key)], actions: [] }));
  const a = await store.updateAlert('a1', { status: 'acknowledged', assignee: 'carol', actor: 'soc' });
  assert.equal(a?.status, 'acknowledged');
  assert.equal(a?.assignee, 'carol');
  const c = await store.updateAlert('a1', { status: 'closed', reason: 'false positive', actor: 'soc' });
  assert.equal(c?.assignee, 'carol', 'assignee kept when not given');
  assert.equal(c?.statusReason, 'false positive');
  assert.equal(await store.updateAlert('nope', { status: 'closed', reason: 'x', actor: 'soc' }), undefined);
  const audit = await store.listAudit({ targetId: 'a1', limit: 10, offset: 0 });
  assert.deepEqual(audit.items.map((e) => e.action), ['alert.update', 'alert.update']);
  assert.deepEqual(audit.items[0]!.detail.to, { status: 'closed', assignee: 'carol' });
  assert.equal(audit.items[0]!.actor, 'soc');
});

test('alert lists filter by status, severity, host and time and page with a total', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const sev = ['low', 'medium', 'high', 'critical'] as const;
  await store.ingest(
    Array.from({ length: 20 }, (_, i) => ev(String(i + 1), i % 2 ? 'WS02' : 'WS01')),
    (fresh) => ({
      alerts: fresh.map((f, i) => alert(`a${i}`, f.key, { severity: sev[i % 4]!, host: f.host, time: `2024-05-01T10:00:${String(i).padStart(2, '0')}Z` })),
      actions: [],
    }),
  );
  assert.equal((await store.listAlerts({ minSeverity: 'high', limit: 100, offset: 0 })).total, 10);
  assert.equal((await store.listAlerts({ host: 'ws02', limit: 100, offset: 0 })).total, 10);
  assert.equal((await store.listAlerts({ since: '2024-05-01T10:00:15Z', limit: 100, offset: 0 })).total, 5);
  const p1 = await store.listAlerts({ limit: 7, offset: 0 });
  const p3 = await store.listAlerts({ limit: 7, offset: 14 });
  assert.equal(p1.total, 20);
  assert.equal(p1.items.length, 7);
  assert.equal(p3.items.length, 6);
  assert.equal(p1.items[0]!.time, '2024-05-01T10:00:19Z', 'newest first');
  await store.updateAlert('a3', { status: 'closed', reason: 'fp', actor: 't' });
  assert.equal((await store.listAlerts({ status: 'closed', limit: 100, offset: 0 })).items[0]!.id, 'a3');
});

test('actions: planned once per id, due ordering, interrupted ones requeued', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const action = { id: 'x1', alertId: 'a1', workflow: 'hook', kind: 'webhook', status: 'pending' as const, destructive: false, dryRun: false, maxAttempts: 3, request: { u: 1 } };
  const r1 = await store.ingest([ev('1')], () => ({ alerts: [], actions: [action] }));
  const r2 = await store.ingest([ev('2')], () => ({ alerts: [], actions: [action] }));
  assert.deepEqual(r1.actionsCreated, ['x1']);
  assert.deepEqual(r2.actionsCreated, []);
  assert.equal((await store.dueActions(Date.now(), 10)).length, 1);
  await store.updateAction('x1', { status: 'running', attempts: 1 });
  assert.equal((await store.dueActions(Date.now(), 10)).length, 0);
  assert.equal(await store.requeueInterruptedActions(), 1);
  const due = await store.dueActions(Date.now(), 10);
  assert.equal(due[0]?.status, 'retrying');
  assert.equal(due[0]?.attempts, 1);
  await store.updateAction('x1', { nextAttemptAt: Date.now() + 60_000 });
  assert.equal((await store.dueActions(Date.now(), 10)).length, 0);
});

test('suppressions are stored with their author and audited on create and delete', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const s = await store.addSuppression({ ruleId: null, host: 'PKI01', user: null, parentImage: null, commandLine: '*-submit*', reason: 'CA admins', expiresAt: null, createdBy: 'dave' });
  await store.countSuppressionHit(s.id);
  assert.equal((await store.listSuppressions())[0]?.hits, 1);
  assert.equal(await store.deleteSuppression(s.id, 'dave'), true);
  assert.equal(await store.deleteSuppression(s.id, 'dave'), false);
  const audit = await store.listAudit({ limit: 10, offset: 0 });
  assert.deepEqual(audit.items.map((a) => a.action).sort(), ['suppression.create', 'suppression.delete']);
});

test('the on-disk store is WAL with synchronous=FULL by default, NORMAL when asked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-store-'));
  try {
    const store = openStore({ dataDir: dir, thread: false }) as SqliteStore;
    await store.ingest([ev('1')], none);
    await store.close();
    const db = new Database(join(dir, 'procwatch.db'));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    const full = new SqliteStore({ path: join(dir, 'a.db') }) as unknown as { db: Database.Database };
    assert.equal(full.db.pragma('synchronous', { simple: true }), 2);
    const normal = new SqliteStore({ path: join(dir, 'b.db'), durability: 'normal' }) as unknown as { db: Database.Database };
    assert.equal(normal.db.pragma('synchronous', { simple: true }), 1);
    full.db.close();
    normal.db.close();
    const reopened = openStore({ dataDir: dir });
    assert.equal(await reopened.hasEvent('1'), true);
    const kept: string[] = [];
    for await (const r of reopened.retainedEvents()) kept.push(r.key);
    assert.deepEqual(kept, ['1']);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('retention drops the oldest events beyond the count bound', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.ingest(Array.from({ length: 10 }, (_, i) => ev(String(i))), none);
  assert.equal(await store.pruneEvents(3_600_000, 4), 6);
  const kept: string[] = [];
  for await (const r of store.retainedEvents()) kept.push(r.key);
  assert.deepEqual(kept, ['6', '7', '8', '9']);
});

test('the worker-thread store answers the same calls, durably, and reports worker-side errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-wstore-'));
  try {
    const store = openStore({ dataDir: dir });
    assert.ok(store instanceof WorkerStore);
    const fresh = [ev('1'), ev('2')];
    assert.deepEqual(await store.knownKeys(['1', '2']), new Set());
    const r = await store.commit(fresh, { alerts: [alert('a1', '1')], actions: [] });
    assert.equal(r.stored, 2);
    assert.equal(r.alertsCreated.length, 1);
    assert.deepEqual(await store.knownKeys(['1', '2', '3']), new Set(['1', '2']));
    const again = await store.commit(fresh, { alerts: [alert('a1', '1')], actions: [] });
    assert.deepEqual([again.stored, again.alertsCreated.length], [0, 0]);
    assert.equal((await store.getIncident('inc-1'))?.alertCount, 1);
    const kept: string[] = [];
    for await (const e of store.retainedEvents()) kept.push(e.key);
    assert.deepEqual(kept, ['1', '2']);
    await assert.rejects(store.listAlerts({ limit: 'x' as unknown as number, offset: 0 }), /datatype mismatch|mismatch/);
    await store.close();
    const reopened = new SqliteStore({ path: join(dir, 'procwatch.db') });
    assert.equal((await reopened.getAlert('a1'))?.ruleId, 'certreq-download-upload');
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('knownKeys answers for large key sets (chunked lookups) and age-based retention uses commit times', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  const keys = Array.from({ length: 600 }, (_, i) => `k${i}`);
  await store.commit(keys.map((k) => ev(k)), { alerts: [], actions: [] });
  const probe = [...keys, ...Array.from({ length: 100 }, (_, i) => `new${i}`)].reverse();
  const known = await store.knownKeys(probe);
  assert.equal(known.size, 600);
  assert.ok(known.has('k0') && known.has('k599') && !known.has('new0'));
  assert.equal(await store.pruneEvents(3_600_000, 10_000), 0, 'nothing older than an hour');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(await store.pruneEvents(1, 10_000), 600, 'everything committed over 1 ms ago');
});
