import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore, WorkerStore, openStore } from '../../src/store/index.js';
import { alert, ev, none } from './support/contract.js';

// What is SQLite's own; the contract both engines keep is test/store/contract.test.ts.

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
