/** Builders of crafted WinEvents (Sysmon 1/3/5/11/22, Security 4688/4689) for correlation and triage tests. */
import type { Detection, RuleMeta } from '../../../src/model/alert.js';
import type { WinEvent } from '../../../src/model/event.js';

const SYSMON = { provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational' };
const SECURITY = { provider: 'Microsoft-Windows-Security-Auditing', channel: 'Security' };

let record = 1000;
export function resetRecords(): void {
  record = 1000;
}

function event(src: { provider: string; channel: string }, eventId: number, host: string, time: string, data: Record<string, string>): WinEvent {
  return { system: { ...src, eventId, timeCreated: time, computer: host, recordId: ++record }, data, origin: { file: 'crafted.jsonl', line: record - 1000 } };
}

export interface SysmonStart {
  host?: string;
  time: string;
  guid: string;
  pid: number;
  image: string;
  cmd: string;
  parentGuid?: string;
  ppid?: number;
  parentImage?: string;
  ofn?: string;
  user?: string;
}

export function sysmonStart(p: SysmonStart): WinEvent {
  return event(SYSMON, 1, p.host ?? 'WS01', p.time, {
    UtcTime: p.time.replace('T', ' ').replace('Z', ''),
    ProcessGuid: `{${p.guid}}`,
    ProcessId: String(p.pid),
    Image: p.image,
    ...(p.ofn ? { OriginalFileName: p.ofn } : {}),
    CommandLine: p.cmd,
    User: p.user ?? 'CONTOSO\\alice',
    ...(p.parentGuid ? { ParentProcessGuid: `{${p.parentGuid}}` } : {}),
    ...(p.ppid !== undefined ? { ParentProcessId: String(p.ppid) } : {}),
    ...(p.parentImage ? { ParentImage: p.parentImage } : {}),
  });
}

export function sysmonEnd(p: { host?: string; time: string; guid: string; pid: number; image: string }): WinEvent {
  return event(SYSMON, 5, p.host ?? 'WS01', p.time, { ProcessGuid: `{${p.guid}}`, ProcessId: String(p.pid), Image: p.image });
}

export function sysmonNetwork(p: { host?: string; time: string; guid: string; pid: number; ip: string; hostname?: string; port: number }): WinEvent {
  return event(SYSMON, 3, p.host ?? 'WS01', p.time, {
    ProcessGuid: `{${p.guid}}`, ProcessId: String(p.pid), Image: 'C:\\Windows\\System32\\certreq.exe', Protocol: 'tcp', Initiated: 'true',
    DestinationIp: p.ip, ...(p.hostname ? { DestinationHostname: p.hostname } : {}), DestinationPort: String(p.port),
  });
}

export function sysmonDns(p: { host?: string; time: string; guid: string; pid: number; query: string; results: string }): WinEvent {
  return event(SYSMON, 22, p.host ?? 'WS01', p.time, { ProcessGuid: `{${p.guid}}`, ProcessId: String(p.pid), QueryName: p.query, QueryResults: p.results, QueryStatus: '0' });
}

export function sysmonFile(p: { host?: string; time: string; guid: string; pid: number; path: string }): WinEvent {
  return event(SYSMON, 11, p.host ?? 'WS01', p.time, { ProcessGuid: `{${p.guid}}`, ProcessId: String(p.pid), TargetFilename: p.path });
}

export function sec4688(p: { host?: string; time: string; pid: number; ppid: number; image: string; cmd: string; parentImage?: string; user?: string }): WinEvent {
  return event(SECURITY, 4688, p.host ?? 'SRV01', p.time, {
    SubjectUserName: 'SRV01$', SubjectDomainName: 'CONTOSO',
    NewProcessId: `0x${p.pid.toString(16)}`, NewProcessName: p.image, ProcessId: `0x${p.ppid.toString(16)}`, CommandLine: p.cmd,
    TargetUserName: p.user ?? 'bob', TargetDomainName: 'CONTOSO', TokenElevationType: '%%1936',
    ...(p.parentImage ? { ParentProcessName: p.parentImage } : {}),
  });
}

export function sec4689(p: { host?: string; time: string; pid: number; image: string; status?: number }): WinEvent {
  return event(SECURITY, 4689, p.host ?? 'SRV01', p.time, {
    SubjectUserName: 'bob', SubjectDomainName: 'CONTOSO', ProcessId: `0x${p.pid.toString(16)}`, ProcessName: p.image, Status: `0x${(p.status ?? 0).toString(16)}`,
  });
}

export function rule(id: string, level: RuleMeta['level'] = 'high', title = id): RuleMeta {
  return { id, title, level, references: ['https://lolbas-project.github.io/lolbas/Binaries/Certreq/'], tags: ['attack.defense-evasion', 'attack.t1027'], falsepositives: [], source: `builtin:${id}.yml`, extra: {} };
}

export const BUILTIN = rule('certreq-download-upload', 'high', 'Suspicious Certreq Command to Download or Upload');

export function detections(ev: WinEvent, ...rules: RuleMeta[]): Detection[] {
  return rules.map((r) => ({ rule: r, event: ev }));
}

export const CERTREQ = 'C:\\Windows\\System32\\certreq.exe';
export const CMD = 'C:\\Windows\\System32\\cmd.exe';
export const EXPLORER = 'C:\\Windows\\explorer.exe';
