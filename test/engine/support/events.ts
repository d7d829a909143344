/** Small WinEvent builders for rule and engine tests. */
import type { FieldValue, WinEvent } from '../../../src/model/event.js';
import { SECURITY_CHANNEL, SECURITY_PROVIDER, SYSMON_CHANNEL, SYSMON_PROVIDER } from '../../../src/model/event.js';

let record = 1;

export function winEvent(provider: string, channel: string, eventId: number, data: Record<string, FieldValue | undefined>, time?: string): WinEvent {
  const clean: Record<string, FieldValue> = {};
  for (const [k, v] of Object.entries(data)) if (v !== undefined) clean[k] = v;
  return {
    system: {
      provider,
      channel,
      eventId,
      computer: 'WS01.corp.example',
      timeCreated: time ?? '2024-05-01T10:00:00.000Z',
      recordId: record++,
    },
    data: clean,
    origin: { file: 'test' },
  };
}

export const sysmon = (eventId: number, data: Record<string, FieldValue | undefined>, time?: string): WinEvent =>
  winEvent(SYSMON_PROVIDER, SYSMON_CHANNEL, eventId, data, time);

export const security = (eventId: number, data: Record<string, FieldValue | undefined>, time?: string): WinEvent =>
  winEvent(SECURITY_PROVIDER, SECURITY_CHANNEL, eventId, data, time);

/** Sysmon EID 1 with the fields the certreq rule reads (undefined = field absent). */
export function sysmon1(image: string | undefined, originalFileName: string | undefined, commandLine: string | undefined): WinEvent {
  return sysmon(1, { Image: image, OriginalFileName: originalFileName, CommandLine: commandLine, User: 'CORP\\alice', ProcessId: 4242 });
}

/** Security 4688 (no OriginalFileName; hex ids). */
export function security4688(newProcessName: string | undefined, commandLine: string | undefined): WinEvent {
  return security(4688, {
    SubjectUserSid: 'S-1-5-21-1-2-3-1001',
    SubjectUserName: 'alice',
    SubjectDomainName: 'CORP',
    SubjectLogonId: '0x3e7',
    NewProcessId: '0x1a2c',
    NewProcessName: newProcessName,
    TokenElevationType: '%%1936',
    ProcessId: '0x10f0',
    CommandLine: commandLine,
    TargetUserSid: 'S-1-0-0',
    TargetUserName: '-',
    TargetDomainName: '-',
    TargetLogonId: '0x0',
    ParentProcessName: 'C:\\Windows\\System32\\cmd.exe',
    MandatoryLabel: 'S-1-16-12288',
  });
}
