/**
 * Store.updateAlertContexts on every backend (SQLite in-thread, SQLite on its worker thread, PostgreSQL for
 * real): later context is merged into the stored ECS document in one transaction, audited, idempotent, and
 * everything else in the document (severity, API-made suppression marks) is kept.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, WorkerStore, type AlertContextUpdate, type NewAlert, type Store } from '../../src/store/index.js';
import { freshStore, requirePostgres } from '../scale/support/services.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c().catch(() => {});
});
before(requirePostgres);

function alert(id: string): NewAlert {
  return {
    id,
    eventKey: `k-${id}`,
    ruleId: 'certreq-download-upload',
    severity: 'critical',
    time: '2026-05-01T09:00:00Z',
    host: 'WS01',
    suppressed: true,
    doc: {
      event: { id },
      procwatch: {
        severity: 'critical',
        lifetime: { start: '2026-05-01T09:00:00Z', still_running: true },
        process_tree: { process: { pid: 700 }, parents: [], children: [] },
        suppressed: { by: 'suppression:3', reason: 'lab host' },
      },
    },
  };
}

const ended: AlertContextUpdate['procwatch'] = {
  lifetime: { start: '2026-05-01T09:00:00Z', end: '2026-05-01T09:00:03Z', still_running: false, duration_ms: 3000 },
  process_tree: { process: { pid: 700 }, parents: [], children: [{ pid: 710 }] },
  evidence: { network: [{ destination_ip: '203.0.113.7', destination_port: 443 }] },
};

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', async () => new SqliteStore({ path: ':memory:' })],
  [
    'sqlite worker thread',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pw-ctx-'));
      const s = new WorkerStore({ path: join(dir, 'procwatch.db'), durability: 'full' });
      cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
      return s;
    },
  ],
  [
    'postgresql',
    async () => {
      const s = await freshStore();
      cleanups.push(() => s.drop());
      return s;
    },
  ],
];

for (const [name, open] of backends) {
  test(`${name}: context updates merge into the stored document, are audited, idempotent and atomic`, async () => {
    const store = await open();
    try {
      await store.commit([{ key: 'k-a1', time: '2026-05-01T09:00:00Z', host: 'WS01', doc: null }], { alerts: [alert('a1'), alert('a2')], actions: [] });

      const rows = await store.updateAlertContexts([{ id: 'a1', procwatch: ended }, { id: 'no-such-alert', procwatch: ended }], 'procwatch');
      assert.deepEqual(rows.map((r) => r.id), ['a1']);
      const a1 = (await store.getAlert('a1'))!;
      const pw = a1.doc.procwatch as Record<string, unknown>;
      assert.deepEqual(pw.lifetime, ended.lifetime);
      assert.deepEqual(pw.process_tree, ended.process_tree);
      assert.deepEqual(pw.evidence, ended.evidence);
      assert.equal(pw.severity, 'critical', 'severity unchanged');
      assert.deepEqual(pw.suppressed, { by: 'suppression:3', reason: 'lab host' }, 'suppression mark kept');
      assert.equal(a1.severity, 'critical');
      assert.deepEqual(rows[0]!.doc, a1.doc, 'the returned row is what is stored');
      const untouched = (await store.getAlert('a2'))!;
      assert.equal(((untouched.doc.procwatch as Record<string, unknown>).lifetime as Record<string, unknown>).still_running, true);

      const audit = await store.listAudit({ targetId: 'a1', limit: 10, offset: 0 });
      assert.equal(audit.total, 1);
      assert.equal(audit.items[0]!.action, 'alert.context');
      assert.equal(audit.items[0]!.actor, 'procwatch');
      assert.deepEqual(audit.items[0]!.detail, { changed: ['lifetime', 'process_tree', 'evidence'], still_running: false, end: '2026-05-01T09:00:03Z', children: 1, network: 1 });

      // The same update again: nothing written, nothing audited.
      assert.deepEqual(await store.updateAlertContexts([{ id: 'a1', procwatch: ended }], 'procwatch'), []);
      assert.equal((await store.listAudit({ targetId: 'a1', limit: 10, offset: 0 })).total, 1);

      // One transaction: an update that cannot be written (a BigInt is not JSON) undoes the others of its call.
      const broken: AlertContextUpdate = { id: 'a2', procwatch: { lifetime: { still_running: false, end: 1n } } };
      const first: AlertContextUpdate = { id: 'a1', procwatch: { ...ended, lifetime: { still_running: false, end: 'changed' } } };
      await assert.rejects(store.updateAlertContexts([first, broken].sort((x, y) => x.id.localeCompare(y.id)), 'procwatch'));
      assert.deepEqual(((await store.getAlert('a1'))!.doc.procwatch as Record<string, unknown>).lifetime, ended.lifetime);
      assert.equal((await store.listAudit({ targetId: 'a1', limit: 10, offset: 0 })).total, 1);
    } finally {
      if (name !== 'postgresql') await store.close();
    }
  });
}

test('postgresql: committed context updates are announced to listeners (serve --nats streams them)', async () => {
  const store = await freshStore();
  cleanups.push(() => store.drop());
  const updated: string[][] = [];
  const unlisten = await store.onAlerts(() => {}, () => {}, (ids) => updated.push(ids));
  try {
    await store.commit([], { alerts: [alert('n1')], actions: [] });
    await store.updateAlertContexts([{ id: 'n1', procwatch: ended }], 'procwatch');
    const deadline = Date.now() + 5000;
    while (updated.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(updated, [['n1']]);
  } finally {
    await unlisten();
  }
});

for (const [name, open] of backends) {
  test(`${name}: an escalating update raises the alert (row, ECS fields, incident) and writes its outbox forwards in the same transaction`, async () => {
    const store = await open();
    try {
      const high: NewAlert = { ...alert('e1'), severity: 'high', suppressed: false, incidentId: 'inc-e', doc: { event: { id: 'e1', severity: 73, risk_score: 73 }, procwatch: { severity: 'high', reason: 'certreq download' } } };
      await store.commit([], { alerts: [high], actions: [] });
      assert.equal((await store.getIncident('inc-e'))!.severity, 'high');
      const outbox = [
        { workflow: 'forward:soc', kind: 'forward', maxAttempts: 3, request: { forward: { destination: 'soc', op: 'update' } }, minSeverity: 'low' as const, includeSuppressed: false },
        { workflow: 'forward:crit', kind: 'forward', maxAttempts: 3, request: { forward: { destination: 'crit', op: 'update' } }, minSeverity: 'critical' as const, includeSuppressed: false },
      ];
      const extent = { executed: [{ pid: 5200 }] };
      const [row] = await store.updateAlertContexts([{ id: 'e1', procwatch: { extent, reason: 'certreq download and the downloaded file ran' }, severity: 'critical' }], 'procwatch', outbox);
      assert.equal(row!.severity, 'critical');
      const stored = (await store.getAlert('e1'))!;
      assert.equal(stored.severity, 'critical');
      assert.deepEqual(stored.doc.event, { id: 'e1', severity: 99, risk_score: 99 });
      assert.equal((stored.doc.procwatch as Record<string, unknown>).severity, 'critical');
      assert.equal((await store.getIncident('inc-e'))!.severity, 'critical');
      assert.equal((await store.listAlerts({ minSeverity: 'critical', limit: 10, offset: 0 })).total, 1, 'the severity rank follows');
      const audit = (await store.listAudit({ targetId: 'e1', limit: 10, offset: 0 })).items[0]!;
      assert.deepEqual(audit.detail, { changed: ['extent', 'reason', 'severity'], severity: 'critical' });
      // Both destinations take it now that it is critical; the forward ids carry the update time (one per change).
      const queued = (await store.listActions({ alertId: 'e1', limit: 10, offset: 0 })).items;
      assert.deepEqual(queued.map((a) => a.workflow).sort(), ['forward:crit', 'forward:soc']);
      // A lower severity never lowers it; the same update again writes nothing and queues nothing.
      assert.deepEqual(await store.updateAlertContexts([{ id: 'e1', procwatch: { extent }, severity: 'medium' }], 'procwatch', outbox), []);
      assert.equal((await store.listActions({ alertId: 'e1', limit: 10, offset: 0 })).total, 2);
      // Claims by kind: forwards apart from the rest.
      await store.commit([], { alerts: [], actions: [{ id: 'x-hook', alertId: 'e1', workflow: 'hook', kind: 'webhook', status: 'pending', destructive: false, dryRun: false, maxAttempts: 1, request: {} }] });
      const now = Date.now() + 1000;
      assert.deepEqual((await store.dueActions(now, 10, { is: 'forward' })).map((a) => a.kind), ['forward', 'forward']);
      assert.deepEqual((await store.dueActions(now, 10, { not: 'forward' })).map((a) => a.id), ['x-hook']);
    } finally {
      if (name !== 'postgresql') await store.close();
    }
  });
}
