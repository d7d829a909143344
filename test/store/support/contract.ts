/**
 * The Store contract both engines must keep (SQLite embedded, PostgreSQL shared), one suite per aggregate
 * (events, alerts, incidents, suppressions, actions, audit) plus the batch commit that spans them. One set of
 * tests, run by test/store/contract.test.ts against a fresh store of each engine. What differs by design
 * (action claiming and leases, durability pragmas, concurrent writers) stays in test/store/sqlite.test.ts and
 * test/scale/pgstore.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detected, EventRecord, IngestResult, NewAction, NewAlert, Store } from '../../../src/store/index.js';

/** The Store interface plus `ingest` (knownKeys + commit in one call), which both engines offer to tests and tools. */
export type ContractStore = Store & { ingest(events: EventRecord[], detect: (fresh: EventRecord[]) => Detected): Promise<IngestResult> };

export function ev(key: string, host = 'WS01'): EventRecord {
  return { key, time: `2024-05-01T10:00:${key.padStart(2, '0').slice(-2)}Z`, host, doc: JSON.stringify({ key }) };
}

export function alert(id: string, eventKey: string, over: Partial<NewAlert> = {}): NewAlert {
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

export function action(id: string, over: Partial<NewAction> = {}): NewAction {
  return { id, alertId: 'a1', workflow: 'hook', kind: 'webhook', status: 'pending', destructive: false, dryRun: false, maxAttempts: 3, request: { u: id }, ...over };
}

export const none = (): Detected => ({ alerts: [], actions: [] });

/** Registers the contract tests under `engine`; `open` returns a fresh, empty store for each test. */
export function storeContract(engine: string, open: () => Promise<ContractStore>): void {
  describe(engine, () => {
    describe('commit (events, alerts, incidents and actions in one transaction)', () => commitContract(open));
    describe('EventStore', () => eventContract(open));
    describe('AlertStore', () => {
      alertContract(open);
      alertSuppressionContract(open);
    });
    describe('IncidentStore', () => incidentContract(open));
    describe('SuppressionStore', () => suppressionContract(open));
    describe('ActionStore', () => actionContract(open));
    describe('AuditStore', () => auditContract(open));
  });
}

function commitContract(open: () => Promise<ContractStore>): void {
  test('a re-sent batch stores nothing twice and detection sees only the new events', async () => {
    const s = await open();
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
    const s = await open();
    const detect = (fresh: EventRecord[]): Detected => ({ alerts: fresh.map((f) => alert(`a${f.key}`, f.key)), actions: [] });
    await s.ingest([ev('1')], detect);
    assert.equal(await s.pruneEvents(0, 0), 1);
    assert.equal(await s.hasEvent('1'), false);
    const r = await s.ingest([ev('1')], detect);
    assert.equal(r.stored, 1);
    assert.equal(r.alertsCreated.length, 0);
    assert.equal((await s.listAlerts({ limit: 10, offset: 0 })).total, 1);
  });

  test('a batch whose detection throws leaves nothing behind (one transaction)', async () => {
    const s = await open();
    await assert.rejects(
      s.ingest([ev('1'), ev('2')], () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal((await s.counts()).events, 0);
    const r = await s.ingest([ev('1'), ev('2')], none);
    assert.equal(r.stored, 2);
  });

}

function incidentContract(open: () => Promise<ContractStore>): void {
  test('incidents are created by their first alert and widened by later ones; a closed one reopens', async () => {
    const s = await open();
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

}

function alertContract(open: () => Promise<ContractStore>): void {
  test('alert status changes keep reason and assignee and are audited', async () => {
    const s = await open();
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
    const s = await open();
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

}

function suppressionContract(open: () => Promise<ContractStore>): void {
  test('suppressions are stored with their author and audited on create and delete', async () => {
    const s = await open();
    const sup = await s.addSuppression({ ruleId: null, host: 'PKI01', user: null, image: '*\\certreq.exe', parentImage: null, commandLine: '*-submit*', reason: 'CA admins', expiresAt: null, createdBy: 'dave' });
    assert.equal((await s.listSuppressions())[0]?.image, '*\\certreq.exe');
    assert.equal(typeof sup.id, 'number');
    await s.countSuppressionHit(sup.id);
    assert.equal((await s.listSuppressions())[0]?.hits, 1);
    assert.equal((await s.listSuppressions())[0]?.commandLine, '*-submit*');
    assert.equal(await s.deleteSuppression(sup.id, 'dave'), true);
    assert.equal(await s.deleteSuppression(sup.id, 'dave'), false);
    const audit = await s.listAudit({ limit: 10, offset: 0 });
    assert.deepEqual(audit.items.map((a) => a.action).sort(), ['suppression.create', 'suppression.delete']);
  });

}

function alertSuppressionContract(open: () => Promise<ContractStore>): void {
  test('suppressAlerts marks stored alerts (column and document) in one transaction, audited with the actor; already suppressed and unknown ids are skipped', async () => {
    const s = await open();
    await s.ingest([ev('k1'), ev('k2'), ev('k3')], () => ({
      alerts: [alert('a1', 'k1'), alert('a2', 'k2'), alert('a3', 'k3', { suppressed: true })],
      actions: [],
    }));
    const by = { ref: 'suppression:7', reason: 'lab hosts' };
    assert.equal(await s.suppressAlerts(['a1', 'a3', 'nope'], by, 'erin'), 1, 'only a1 changes');
    const a1 = await s.getAlert('a1');
    assert.equal(a1?.suppressed, true);
    assert.deepEqual((a1?.doc.procwatch as Record<string, unknown>).suppressed, { by: 'suppression:7', reason: 'lab hosts' });
    assert.equal((await s.getAlert('a2'))?.suppressed, false);
    const trail = await s.listAudit({ targetId: 'a1', limit: 10, offset: 0 });
    assert.deepEqual(trail.items.map((e) => [e.action, e.actor, e.detail]), [['alert.suppress', 'erin', { by: 'suppression:7', reason: 'lab hosts' }]]);
    assert.equal((await s.listAudit({ targetId: 'a3', limit: 10, offset: 0 })).total, 0, 'an alert already suppressed is not touched');
    assert.equal(await s.suppressAlerts(['a1'], by, 'erin'), 0, 'idempotent');
    assert.equal(await s.suppressAlerts([], by, 'erin'), 0);
  });
}

function eventContract(open: () => Promise<ContractStore>): void {
  test('retention drops the oldest events beyond the count bound and by age; retained events and keys page through', async () => {
    const s = await open();
    await s.ingest(Array.from({ length: 10 }, (_, i) => ev(String(i))), none);
    // Sequence gaps (PostgreSQL's ON CONFLICT consumes identity values) must not make the count cut wrong.
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

  test('hostEventDocs finds retained documents of a host (any case) by a lower-case needle, newest first, bounded', async () => {
    const s = await open();
    const doc = (image: string, pid: number): string => JSON.stringify({ Image: image, ProcessId: pid });
    await s.commit(
      [
        { key: 'p1', time: '2024-05-01T10:00:01Z', host: 'WS01', doc: doc('C:\\Windows\\System32\\certreq.exe', 1) },
        { key: 'p2', time: '2024-05-01T10:00:02Z', host: 'ws01', doc: doc('C:\\Windows\\System32\\CertReq.exe', 2) },
        { key: 'p3', time: '2024-05-01T10:00:03Z', host: 'WS02', doc: doc('C:\\Windows\\System32\\certreq.exe', 3) },
        { key: 'p4', time: '2024-05-01T10:00:04Z', host: 'WS01', doc: doc('C:\\Windows\\explorer.exe', 4) },
        { key: 'p5', time: '2024-05-01T10:00:05Z', host: 'WS01', doc: null },
      ],
      none(),
    );
    const found = (await s.hostEventDocs('Ws01', ['certreq.exe'], 10)).map((d) => (JSON.parse(d) as { ProcessId: number }).ProcessId);
    assert.deepEqual(found, [2, 1], 'both WS01 spellings, newest first; WS02 and other images left out');
    assert.equal((await s.hostEventDocs('WS01', ['certreq.exe', 'explorer.exe'], 2)).length, 2, 'bounded by the limit');
    assert.deepEqual(await s.hostEventDocs('WS01', [], 10), []);
    assert.equal(await s.hasEvent('p5'), true, 'an event kept without its document is still known');
  });

  test('a fresh store keeps no pre-version-2 keys', async () => {
    const s = await open();
    await s.ingest([ev('1')], none);
    assert.equal(await s.legacyKeysRetained(), false);
    assert.deepEqual(await s.knownLegacyKeys([{ key: '1', time: ev('1').time }]), new Set());
  });
}

function actionContract(open: () => Promise<ContractStore>): void {
  test('actions are planned once per id and read back with their request and flags', async () => {
    const s = await open();
    const r1 = await s.commit([ev('1')], { alerts: [], actions: [action('x1', { destructive: true, dryRun: true, request: { url: 'https://soar/hook', n: 1 } })] });
    const r2 = await s.commit([ev('2')], { alerts: [], actions: [action('x1'), action('x2', { alertId: 'a2', status: 'pending_approval' })] });
    assert.deepEqual(r1.actionsCreated, ['x1']);
    assert.deepEqual(r2.actionsCreated, ['x2'], 'x1 already planned');
    const x1 = await s.getAction('x1');
    assert.deepEqual(
      [x1?.status, x1?.destructive, x1?.dryRun, x1?.attempts, x1?.maxAttempts, x1?.request, x1?.result, x1?.lastError],
      ['pending', true, true, 0, 3, { url: 'https://soar/hook', n: 1 }, null, null],
    );
    assert.equal(await s.getAction('nope'), undefined);
    assert.equal((await s.counts()).actionsPending, 2);
  });

  test('actions list by alert and status with a total', async () => {
    const s = await open();
    await s.commit([ev('1')], {
      alerts: [],
      actions: [action('x1'), action('x2'), action('x3', { alertId: 'a2' }), action('x4', { alertId: 'a2', status: 'dry_run' })],
    });
    assert.equal((await s.listActions({ limit: 10, offset: 0 })).total, 4);
    const ofA2 = await s.listActions({ alertId: 'a2', limit: 10, offset: 0 });
    assert.deepEqual(ofA2.items.map((a) => a.id).sort(), ['x3', 'x4']);
    const dry = await s.listActions({ status: 'dry_run', limit: 10, offset: 0 });
    assert.deepEqual(dry.items.map((a) => a.id), ['x4']);
    const page = await s.listActions({ limit: 3, offset: 3 });
    assert.deepEqual([page.total, page.items.length], [4, 1]);
  });

  test('updateAction patches the given fields; with onlyIf, of two decisions exactly one wins', async () => {
    const s = await open();
    await s.commit([ev('1')], { alerts: [], actions: [action('x1', { status: 'pending_approval' })] });
    const decisions = await Promise.all([
      s.updateAction('x1', { status: 'pending' }, 'pending_approval'),
      s.updateAction('x1', { status: 'rejected' }, 'pending_approval'),
    ]);
    assert.deepEqual(decisions.filter(Boolean).length, 1);
    const decided = await s.getAction('x1');
    assert.equal(decided?.status, decisions[0] ? 'pending' : 'rejected');
    assert.equal(await s.updateAction('x1', { status: 'running' }, 'pending_approval'), false, 'no longer awaiting approval');
    assert.equal(await s.updateAction('x1', { attempts: 2, result: { code: 200 }, lastError: 'timeout', dryRun: true }), true);
    const x1 = await s.getAction('x1');
    assert.deepEqual([x1?.attempts, x1?.result, x1?.lastError, x1?.dryRun, x1?.status], [2, { code: 200 }, 'timeout', true, decided?.status]);
    assert.equal(await s.updateAction('nope', { attempts: 1 }), false);
  });

  test('due actions come in next-attempt order; a future attempt is not due', async () => {
    const s = await open();
    await s.commit([ev('1')], { alerts: [], actions: [action('x1'), action('x2'), action('x3', { status: 'pending_approval' })] });
    const now = Date.now();
    await s.updateAction('x1', { nextAttemptAt: now - 1000 });
    await s.updateAction('x2', { nextAttemptAt: now - 5000 });
    const due = await s.dueActions(now, 10);
    assert.deepEqual(due.map((a) => a.id), ['x2', 'x1'], 'pending_approval is never due');
    await s.updateAction('x1', { status: 'retrying', nextAttemptAt: now + 60_000 });
    await s.updateAction('x2', { status: 'succeeded' });
    assert.deepEqual(await s.dueActions(now, 10), []);
    assert.deepEqual((await s.dueActions(now + 61_000, 10)).map((a) => a.id), ['x1']);
  });
}

function auditContract(open: () => Promise<ContractStore>): void {
  test('audit entries are listed newest first, filtered by target and paged with a total', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) {
      await s.audit({ actor: `u${i}`, action: 'token.use', targetType: 'token', targetId: i % 2 ? 'odd' : 'even', detail: { i } });
    }
    const all = await s.listAudit({ limit: 10, offset: 0 });
    assert.equal(all.total, 5);
    assert.deepEqual(all.items.map((e) => e.detail.i), [4, 3, 2, 1, 0]);
    assert.ok(all.items[0]!.seq > all.items[1]!.seq);
    assert.ok(all.items.every((e) => typeof e.time === 'number' && e.time > 0 && e.targetType === 'token'));
    const odd = await s.listAudit({ targetId: 'odd', limit: 1, offset: 1 });
    assert.deepEqual([odd.total, odd.items.map((e) => e.actor)], [2, ['u1']]);
  });
}

