// The PostgreSQL store against a real server: the SQLite store's contract, plus what several writers at
// once must not break (alert uniqueness, incident widening, action claiming).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detected, EventRecord } from '../../src/store/index.js';
import { openStore, PostgresStore } from '../../src/store/index.js';
import { freshStore, PG_URL, requirePostgres, uniqueName } from './support/services.js';
import { action, alert, ev, none } from '../store/support/contract.js';

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

// What concurrent writers and action claiming add to the Store contract both engines keep
// (test/store/contract.test.ts).

test('a batch whose insert fails inside the SQL leaves nothing behind (one transaction)', async () => {
  const s = await store();
  // A failure inside the SQL (an invalid action status type) rolls back the events and alerts too.
  await assert.rejects(s.commit([ev('1')], { alerts: [alert('a1', '1')], actions: [action('x', { maxAttempts: 'many' as unknown as number })] }));
  assert.deepEqual([(await s.counts()).events, (await s.counts()).alerts], [0, 0]);
  const r = await s.ingest([ev('1'), ev('2')], none);
  assert.equal(r.stored, 2);
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
