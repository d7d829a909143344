/**
 * WinEvent → ProcessEvent for Sysmon 1/5 and Security 4688/4689; undefined for every other event (Sysmon 7 image
 * loads carry OriginalFileName too, and EventID 1 is used by many providers: neither is a process event).
 *
 * The field mapping per source is a table (which EventData name feeds which process field), not branches in
 * the matcher: Sysmon writes decimal PIDs, GUIDs and integrity names; Security writes hex PIDs, SIDs and %%codes.
 */
import type { FieldValue, WinEvent } from './event.js';
import { SECURITY_PROVIDER, SYSMON_PROVIDER } from './event.js';
import type { ProcessEvent, ProcessFields, UserFields } from './process.js';

export function toProcessEvent(ev: WinEvent): ProcessEvent | undefined {
  const { provider, eventId } = ev.system;
  if (provider === SYSMON_PROVIDER) {
    if (eventId === 1) return sysmonCreate(ev);
    if (eventId === 5) return sysmonTerminate(ev);
  } else if (provider === SECURITY_PROVIDER) {
    if (eventId === 4688) return securityCreate(ev);
    if (eventId === 4689) return securityTerminate(ev);
  }
  return undefined;
}

function base(ev: WinEvent, kind: ProcessEvent['kind'], process: ProcessEvent['process'], user: UserFields | undefined): ProcessEvent {
  const s = ev.system;
  const source: ProcessEvent['source'] = { provider: s.provider, channel: s.channel, event_id: s.eventId };
  if (s.recordId !== undefined) source.record_id = s.recordId;
  const pe: ProcessEvent = { kind, timestamp: s.timeCreated, host: { name: s.computer }, process, source, event: ev };
  if (user !== undefined) pe.user = user;
  return pe;
}

function sysmonCreate(ev: WinEvent): ProcessEvent {
  const d = ev.data;
  const process: ProcessEvent['process'] = sysmonProcess(d, SYSMON_SELF);
  const pe: NonNullable<ProcessFields['pe']> = {};
  setIf(pe, 'original_file_name', text(d['OriginalFileName']));
  setIf(pe, 'description', text(d['Description']));
  setIf(pe, 'product', text(d['Product']));
  setIf(pe, 'company', text(d['Company']));
  setIf(pe, 'file_version', text(d['FileVersion']));
  if (Object.keys(pe).length > 0) process.pe = pe;
  const hash = parseHashes(text(d['Hashes']));
  if (hash !== undefined) process.hash = hash;
  setIf(process, 'working_directory', text(d['CurrentDirectory']));
  setIf(process, 'integrity', text(d['IntegrityLevel']));
  const parent = sysmonProcess(d, SYSMON_PARENT);
  if (Object.keys(parent).length > 0) process.parent = parent;
  return base(ev, 'start', process, process.user);
}

function sysmonTerminate(ev: WinEvent): ProcessEvent {
  const process: ProcessEvent['process'] = sysmonProcess(ev.data, SYSMON_SELF);
  return base(ev, 'end', process, process.user);
}

/** Sysmon's names for the process and for its parent (constant strings: no per-event concatenation). */
const SYSMON_SELF = { pid: 'ProcessId', guid: 'ProcessGuid', image: 'Image', commandLine: 'CommandLine', user: 'User' } as const;
const SYSMON_PARENT = { pid: 'ParentProcessId', guid: 'ParentProcessGuid', image: 'ParentImage', commandLine: 'ParentCommandLine', user: 'ParentUser' } as const;
type SysmonNames = typeof SYSMON_SELF | typeof SYSMON_PARENT;

function sysmonProcess(d: Record<string, FieldValue>, names: SysmonNames): ProcessFields {
  const p: ProcessFields = {};
  setIf(p, 'pid', int(d[names.pid]));
  setIf(p, 'entity_id', entityId(text(d[names.guid])));
  setExecutable(p, text(d[names.image]));
  setIf(p, 'command_line', text(d[names.commandLine]));
  const user = splitUser(text(d[names.user]));
  if (user !== undefined) p.user = user;
  return p;
}

function securityCreate(ev: WinEvent): ProcessEvent {
  const d = ev.data;
  const process: ProcessEvent['process'] = {};
  setIf(process, 'pid', int(d['NewProcessId']));
  setExecutable(process, text(d['NewProcessName']));
  setIf(process, 'command_line', text(d['CommandLine']));
  setIf(process, 'integrity', integrityFromSid(text(d['MandatoryLabel'])));
  setIf(process, 'elevation', elevation(text(d['TokenElevationType'])));
  // Target* names the new process's account when it differs from the creator's (runas, services); else '-'.
  const subject = securityUser(d, 'Subject');
  const user = securityUser(d, 'Target') ?? subject;
  if (user !== undefined) process.user = user;
  const parent: ProcessFields = {};
  setIf(parent, 'pid', int(d['ProcessId']));
  setExecutable(parent, text(d['ParentProcessName']));
  if (subject !== undefined) parent.user = subject;
  if (Object.keys(parent).length > 0) process.parent = parent;
  return base(ev, 'start', process, user);
}

function securityTerminate(ev: WinEvent): ProcessEvent {
  const d = ev.data;
  const process: ProcessEvent['process'] = {};
  setIf(process, 'pid', int(d['ProcessId']));
  setExecutable(process, text(d['ProcessName']));
  setIf(process, 'exit_code', int(d['Status']));
  const user = securityUser(d, 'Subject');
  if (user !== undefined) process.user = user;
  return base(ev, 'end', process, user);
}

function securityUser(d: Record<string, FieldValue>, prefix: 'Subject' | 'Target'): UserFields | undefined {
  const name = text(d[`${prefix}UserName`]);
  if (name === undefined) return undefined;
  const user: UserFields = { name };
  setIf(user, 'domain', text(d[`${prefix}DomainName`]));
  const sid = text(d[`${prefix}UserSid`]);
  if (sid !== undefined && sid !== 'S-1-0-0') user.id = sid;
  return user;
}

/** 'CORP\alice' → { domain: 'CORP', name: 'alice' }; 'alice' → { name: 'alice' }. */
function splitUser(value: string | undefined): UserFields | undefined {
  if (value === undefined) return undefined;
  const slash = value.indexOf('\\');
  if (slash === -1) return { name: value };
  return { domain: value.slice(0, slash), name: value.slice(slash + 1) };
}

function setExecutable(p: ProcessFields, executable: string | undefined): void {
  if (executable === undefined) return;
  p.executable = executable;
  const cut = Math.max(executable.lastIndexOf('\\'), executable.lastIndexOf('/'));
  p.name = cut === -1 ? executable : executable.slice(cut + 1);
}

/** Sysmon ProcessGuid '{9F32B55F-7C4E-5F98-5803-000000000500}' → '9f32b55f-7c4e-5f98-5803-000000000500'. */
function entityId(guid: string | undefined): string | undefined {
  if (guid === undefined) return undefined;
  const bare = guid.charCodeAt(0) === 123 && guid.charCodeAt(guid.length - 1) === 125 ? guid.slice(1, -1) : guid;
  return bare.toLowerCase();
}

/** 'SHA1=AB..,MD5=CD..,IMPHASH=EF..' → { sha1: 'ab..', md5: 'cd..', imphash: 'ef..' }. */
export function parseHashes(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const out: Record<string, string> = {};
  let found = false;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const digest = part.slice(eq + 1).trim();
    if (digest.length === 0 || digest === '...') continue;
    out[part.slice(0, eq).trim().toLowerCase()] = digest.toLowerCase();
    found = true;
  }
  return found ? out : undefined;
}

const INTEGRITY_BY_RID: Record<string, string> = {
  '0': 'Untrusted',
  '4096': 'Low',
  '8192': 'Medium',
  '8448': 'MediumPlus',
  '12288': 'High',
  '16384': 'System',
  '20480': 'ProtectedProcess',
  '28672': 'SecureProcess',
};

/** 4688 MandatoryLabel 'S-1-16-8192' → 'Medium' (the names Sysmon's IntegrityLevel uses). */
export function integrityFromSid(sid: string | undefined): string | undefined {
  if (sid === undefined || !sid.startsWith('S-1-16-')) return undefined;
  return INTEGRITY_BY_RID[sid.slice(7)] ?? sid;
}

const ELEVATION: Record<string, string> = { '%%1936': 'default', '%%1937': 'full', '%%1938': 'limited' };

/** 4688 TokenElevationType '%%1936/7/8' (or the rendered 'TokenElevationTypeDefault (1)' text) → default/full/limited. */
export function elevation(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const known = ELEVATION[value];
  if (known !== undefined) return known;
  const lower = value.toLowerCase();
  if (lower.includes('default') || lower.includes('(1)')) return 'default';
  if (lower.includes('full') || lower.includes('(2)')) return 'full';
  if (lower.includes('limited') || lower.includes('(3)')) return 'limited';
  return undefined;
}

/** A field's text, undefined when missing, empty or Windows' '-' placeholder. */
function text(value: FieldValue | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  const s = Array.isArray(value) ? (value[0] === undefined || value[0] === null ? undefined : String(value[0])) : String(value);
  return s === undefined || s.length === 0 || s === '-' ? undefined : s;
}

/** '3616' / '0x17e8' / 3616 → number. */
function int(value: FieldValue | undefined): number | undefined {
  const s = text(value);
  if (s === undefined) return undefined;
  const n = s.length > 2 && s[0] === '0' && (s[1] === 'x' || s[1] === 'X') ? parseInt(s.slice(2), 16) : Number(s);
  return Number.isInteger(n) ? n : undefined;
}

function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
