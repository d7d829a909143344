/**
 * The ECS-like process view of a process event (Sysmon 1/5, Security 4688/4689).
 * Names follow ECS (process.command_line, process.pe.original_file_name, ...), so ECS output is a projection.
 */
import type { WinEvent } from './event.js';

export interface ProcessFields {
  pid?: number;
  /** Sysmon ProcessGuid (without braces, lower case); absent for Security events. */
  entity_id?: string;
  executable?: string;
  /** Basename of executable. */
  name?: string;
  command_line?: string;
  pe?: { original_file_name?: string; description?: string; product?: string; company?: string; file_version?: string };
  /** e.g. { sha256: '...', md5: '...', imphash: '...' } parsed from Sysmon's Hashes field. */
  hash?: Record<string, string>;
  working_directory?: string;
  /** 'Low' | 'Medium' | 'High' | 'System' | ... from Sysmon IntegrityLevel or the 4688 MandatoryLabel SID. */
  integrity?: string;
  /** TokenElevationType on 4688: 'default' (%%1936) | 'full' (%%1937) | 'limited' (%%1938). */
  elevation?: string;
  user?: UserFields;
}

export interface UserFields {
  name?: string;
  domain?: string;
  id?: string;
}

export type ProcessEventKind = 'start' | 'end';

export interface ProcessEvent {
  kind: ProcessEventKind;
  /** Same as event.system.timeCreated. */
  timestamp: string;
  host: { name: string };
  /** The user the process runs as (Sysmon User, 4688 TargetUserName/SubjectUserName). */
  user?: UserFields;
  process: ProcessFields & {
    parent?: ProcessFields;
    /** 'end' events: exit status where the source has one (4689 Status). */
    exit_code?: number;
  };
  source: { provider: string; channel: string; event_id: number; record_id?: number };
  /** The original event, for rules and for original field names. */
  event: WinEvent;
}

/** The only process events: Sysmon 1 (create) / 5 (terminate), Security 4688 (create) / 4689 (exit). */
export function processEventKind(provider: string, eventId: number): ProcessEventKind | undefined {
  if (provider === 'Microsoft-Windows-Sysmon') return eventId === 1 ? 'start' : eventId === 5 ? 'end' : undefined;
  if (provider === 'Microsoft-Windows-Security-Auditing') return eventId === 4688 ? 'start' : eventId === 4689 ? 'end' : undefined;
  return undefined;
}
