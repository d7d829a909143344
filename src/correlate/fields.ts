/**
 * Reads the process facts correlation needs straight from a WinEvent's original field names (Sysmon 1/3/5/11/22,
 * Security 4688/4689). Kept here rather than going through the ECS view so that network, DNS and file events —
 * which are not process events — are read the same way.
 */
import type { FieldValue, WinEvent } from '../model/event.js';
import { SECURITY_PROVIDER, SYSMON_PROVIDER } from '../model/event.js';

export type Activity = 'start' | 'end' | 'network' | 'dns' | 'file' | 'other';

/**
 * Every event correlation reads (the cases of activityOf below), and the data fields it reads from them. A
 * source that skips events for speed must keep these, or process trees, lifetimes and evidence would lose them;
 * it may leave other fields out of events kept only for correlation.
 */
export const CONTEXT_EVENTS: readonly { provider: string; eventIds: number[]; fields: readonly string[] }[] = [
  {
    provider: SYSMON_PROVIDER,
    eventIds: [1, 3, 5, 11, 22],
    // processFacts, the evidence keys and evidenceDetail (processIndex.ts); a test checks nothing else is read.
    fields: [
      'ProcessId', 'ProcessGuid', 'ParentProcessId', 'ParentProcessGuid', 'Image', 'CommandLine', 'OriginalFileName', 'User',
      'ParentImage', 'ParentCommandLine', 'DestinationIp', 'DestinationHostname', 'DestinationPort', 'Protocol', 'Initiated',
      'SourceIp', 'QueryName', 'QueryResults', 'QueryStatus', 'TargetFilename',
      // extent.ts: a relative certreq response file is resolved against the process's directory.
      'CurrentDirectory',
    ],
  },
  {
    provider: SECURITY_PROVIDER,
    eventIds: [4688, 4689],
    fields: [
      'NewProcessId', 'ProcessId', 'NewProcessName', 'CommandLine', 'TargetDomainName', 'TargetUserName', 'SubjectDomainName',
      'SubjectUserName', 'ParentProcessName', 'ProcessName', 'Status',
    ],
  },
];

export function activityOf(ev: WinEvent): Activity {
  const { provider, eventId } = ev.system;
  if (provider === SYSMON_PROVIDER) {
    switch (eventId) {
      case 1: return 'start';
      case 5: return 'end';
      case 3: return 'network';
      case 22: return 'dns';
      case 11: return 'file';
      default: return 'other';
    }
  }
  if (provider === SECURITY_PROVIDER) return eventId === 4688 ? 'start' : eventId === 4689 ? 'end' : 'other';
  return 'other';
}

export function str(v: FieldValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length > 0 ? str(v[0]) : undefined;
  const s = typeof v === 'string' ? v : String(v);
  return s === '' || s === '-' ? undefined : s;
}

/** Sysmon writes decimal PIDs; Security writes '0x1a2c'. JSON dialects may give numbers. */
export function pidOf(v: FieldValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  const s = str(v);
  if (s === undefined) return undefined;
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^\d+$/.test(s) ? Number(s) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** '{4A0C...}' or '4a0c...' → '4a0c...' (lower case, no braces). */
export function guidOf(v: FieldValue | undefined): string | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  const braced = s.charCodeAt(0) === 0x7b && s.charCodeAt(s.length - 1) === 0x7d;
  const g = (braced ? s.slice(1, -1) : s).toLowerCase();
  return g === '' || g === NULL_GUID ? undefined : g;
}

const NULL_GUID = '00000000-0000-0000-0000-000000000000';

function joinUser(domain: string | undefined, name: string | undefined): string | undefined {
  if (!name) return undefined;
  return domain ? `${domain}\\${name}` : name;
}

/** The facts of a process event (start or end) that the index keeps. */
export interface ProcessFacts {
  pid?: number;
  guid?: string;
  parentPid?: number;
  parentGuid?: string;
  image?: string;
  commandLine?: string;
  originalFileName?: string;
  user?: string;
  parentImage?: string;
  parentCommandLine?: string;
  /** 'end' events: exit status (4689 Status; Sysmon 5 has none). */
  exitCode?: number;
}

export function processFacts(ev: WinEvent): ProcessFacts {
  const d = ev.data;
  if (ev.system.provider === SECURITY_PROVIDER) {
    if (ev.system.eventId === 4689) {
      return {
        pid: pidOf(d['ProcessId']),
        image: str(d['ProcessName']),
        user: joinUser(str(d['SubjectDomainName']), str(d['SubjectUserName'])),
        exitCode: pidOf(d['Status']),
      };
    }
    // 4688: the new process's own user is Target* (version 2); Subject* is the creator's account.
    return {
      pid: pidOf(d['NewProcessId']),
      parentPid: pidOf(d['ProcessId']),
      image: str(d['NewProcessName']),
      commandLine: str(d['CommandLine']),
      user: joinUser(str(d['TargetDomainName']), str(d['TargetUserName'])) ?? joinUser(str(d['SubjectDomainName']), str(d['SubjectUserName'])),
      parentImage: str(d['ParentProcessName']),
    };
  }
  return {
    pid: pidOf(d['ProcessId']),
    guid: guidOf(d['ProcessGuid']),
    parentPid: pidOf(d['ParentProcessId']),
    parentGuid: guidOf(d['ParentProcessGuid']),
    image: str(d['Image']),
    commandLine: str(d['CommandLine']),
    originalFileName: str(d['OriginalFileName']),
    user: str(d['User']),
    parentImage: str(d['ParentImage']),
    parentCommandLine: str(d['ParentCommandLine']),
  };
}

/**
 * Milliseconds since the epoch of the event's time, keeping the sub-millisecond digits Windows records
 * (100 ns ticks) as a fraction, so ordering and durations are exact. Unknown times are 0 (they sort first).
 */
export function timeOf(ev: WinEvent): number {
  const iso = ev.system.timeCreated;
  // Fast path: 'YYYY-MM-DDThh:mm:ss.fffffffZ' (as decoders write it) in the same second as the last one parsed —
  // events come in bursts — is that second's time plus its digits, without Date.parse.
  if (iso.length === 28 && lastSecondMs === lastSecondMs && iso.startsWith(lastSecond) && iso.charCodeAt(19) === 46 && iso.charCodeAt(27) === 90) {
    let ms = 0;
    let k = 20;
    for (; k < 27; k++) {
      const d = iso.charCodeAt(k) - 48;
      if (d < 0 || d > 9) break;
      if (k < 23) ms = ms * 10 + d;
    }
    if (k === 27) return lastSecondMs + ms + Number(`0.${iso.slice(23, 27)}`);
  }
  const t = Date.parse(iso);
  if (iso.length === 28 && Number.isFinite(t) && iso.charCodeAt(19) === 46 && iso.charCodeAt(27) === 90) rememberSecond(iso, t);
  if (!Number.isFinite(t)) return 0;
  const dot = iso.indexOf('.');
  if (dot === -1) return t;
  let end = dot + 1;
  while (end < iso.length && end - dot <= 7 && iso.charCodeAt(end) >= 0x30 && iso.charCodeAt(end) <= 0x39) end++;
  const sub = iso.slice(dot + 4, end); // digits beyond the milliseconds Date.parse kept
  return sub === '' ? t : t + Number(`0.${sub}`);
}

/** The second (first 19 characters) of the last 'YYYY-MM-DDThh:mm:ss.fffffffZ' time Date.parse read, and its time. */
let lastSecond = '\u0000';
let lastSecondMs = Number.NaN;

function rememberSecond(iso: string, t: number): void {
  // Only the ISO form (Date.parse reads other forms too): digits, '-' at 4 and 7, 'T' at 10, ':' at 13 and 16.
  for (let k = 0; k < 19; k++) {
    const c = iso.charCodeAt(k);
    const want = k === 4 || k === 7 ? 45 : k === 10 ? 84 : k === 13 || k === 16 ? 58 : -1;
    if (want === -1 ? c < 48 || c > 57 : c !== want) return;
  }
  let ms = 0;
  for (let k = 20; k < 23; k++) {
    const d = iso.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return;
    ms = ms * 10 + d;
  }
  lastSecond = iso.slice(0, 19);
  lastSecondMs = t - ms;
}
