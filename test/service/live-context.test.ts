/**
 * `procwatch serve` (SQLite, real HTTP on loopback): an alert's process tree, lifetime and evidence are
 * completed by events that arrive after it, in later requests and across restarts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig, type ServeConfig } from '../../src/service/config.js';
import { WorkerStore } from '../../src/store/index.js';
import { AUTH, TOKEN } from '../server/support/http.js';
import { ndjson, sysmonEnd, sysmonStart } from '../server/support/liveEvents.js';
import { securityStory, sysmonStory } from '../server/support/liveScenario.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-live-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(dataDir = tmp()): ServeConfig {
  return { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }] };
}

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function ingest(url: string, docs: unknown[]): Promise<Doc> {
  const res = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
  assert.equal(res.status, 200);
  return (await res.json()) as Doc;
}

async function onlyAlert(url: string, host: string): Promise<Doc> {
  const list = (await (await fetch(`${url}/api/alerts?host=${host}&rule=certreq-download-upload`, { headers: AUTH })).json()) as Doc;
  assert.equal(list.total, 1);
  return (await (await fetch(`${url}/api/alerts/${list.items[0].id}`, { headers: AUTH })).json()) as Doc;
}

const START = { time: '2026-05-02T08:00:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000B01', pid: 3100, parentGuid: '84453EAB-0009-0002-0003-000000000B00', ppid: 700 };
const END = { time: '2026-05-02T08:00:04.0000000Z', guid: START.guid, pid: START.pid };

test('Sysmon and Security alerts are completed by their later termination, child and network events', async () => {
  const srv = await startServer(config(), { notice: () => {} });
  try {
    const t = { url: srv.url, headers: AUTH, suffix: 'SQLITE' };
    await sysmonStory(t);
    await securityStory(t);
    const metrics = await (await fetch(`${srv.url}/metrics`, { headers: AUTH })).text();
    // One update per story (the later termination), and one of the Sysmon alert's extent: the Security story's
    // certreq posts to the same URL, so the first alert now lists the second (extent.destination.alerts).
    assert.match(metrics, /^procwatch_alert_context_updates_total 3$/m);
  } finally {
    await srv.close();
  }
});

test('an alert and its termination in the same request: stored complete at once, no separate update', async () => {
  const srv = await startServer(config(), { notice: () => {} });
  try {
    await ingest(srv.url, [sysmonStart({ host: 'ONEBATCH01', ...START }), sysmonEnd({ host: 'ONEBATCH01', ...END })]);
    const detail = await onlyAlert(srv.url, 'ONEBATCH01');
    assert.equal(detail.alert.procwatch.lifetime.still_running, false);
    assert.equal(detail.alert.procwatch.lifetime.duration_ms, 4000);
    assert.equal((detail.audit as Doc[]).filter((x) => x.action === 'alert.context').length, 0);
  } finally {
    await srv.close();
  }
});

test('after a restart, the replayed state still completes an alert made before it', async () => {
  const dataDir = tmp();
  const a = await startServer(config(dataDir), { notice: () => {} });
  await ingest(a.url, [sysmonStart({ host: 'RESTART01', ...START })]);
  await a.close();
  const b = await startServer(config(dataDir), { notice: () => {} });
  try {
    assert.equal((await onlyAlert(b.url, 'RESTART01')).alert.procwatch.lifetime.still_running, true);
    await ingest(b.url, [sysmonEnd({ host: 'RESTART01', ...END })]);
    const detail = await onlyAlert(b.url, 'RESTART01');
    assert.equal(detail.alert.procwatch.lifetime.still_running, false);
    assert.equal(detail.alert.procwatch.lifetime.duration_ms, 4000);
  } finally {
    await b.close();
  }
});

test('an update lost after its events committed (crash, store error) is made by the replay at the next start, once', async () => {
  const dataDir = tmp();
  // The first process's store commits events but fails every context update.
  const failing = new WorkerStore({ path: join(dataDir, 'procwatch.db'), durability: 'full' });
  failing.updateAlertContexts = () => Promise.reject(new Error('disk full (test)'));
  const a = await startServer(config(dataDir), { store: failing, notice: () => {} });
  await ingest(a.url, [sysmonStart({ host: 'LOST01', ...START })]);
  const r = await ingest(a.url, [sysmonEnd({ host: 'LOST01', ...END })]);
  assert.equal(r.stored, 1, 'the events themselves are committed and acknowledged');
  assert.equal((await onlyAlert(a.url, 'LOST01')).alert.procwatch.lifetime.still_running, true);
  assert.match(await (await fetch(`${a.url}/metrics`, { headers: AUTH })).text(), /^procwatch_errors_total\{component="store"\} [1-9]/m);
  await a.close();

  const b = await startServer(config(dataDir), { notice: () => {} });
  let updatedAt: string;
  try {
    const detail = await onlyAlert(b.url, 'LOST01');
    assert.equal(detail.alert.procwatch.lifetime.still_running, false);
    assert.equal(detail.alert.procwatch.lifetime.end, END.time);
    assert.equal((detail.audit as Doc[]).filter((x) => x.action === 'alert.context').length, 1);
    updatedAt = detail.updated_at as string;
  } finally {
    await b.close();
  }
  // A further restart replays the same events: the stored alert is already complete, nothing is written.
  const c = await startServer(config(dataDir), { notice: () => {} });
  try {
    const detail = await onlyAlert(c.url, 'LOST01');
    assert.equal((detail.audit as Doc[]).filter((x) => x.action === 'alert.context').length, 1);
    assert.equal(detail.updated_at, updatedAt);
  } finally {
    await c.close();
  }
});
