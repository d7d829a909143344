/**
 * Stop-process targets are checked against what procwatch itself observed, because host, PID and image in an
 * alert come from an event, i.e. from whoever holds an ingest token. A target is corroborated when procwatch
 * stored the process's own start (Sysmon 1 / Security 4688) on that host, with the same image (and
 * ProcessGuid, when the alert has one), no later start reused the PID, and no end (Sysmon 5 / 4689) was seen
 * for it. Protected system processes are never targets, whatever any event says.
 *
 * Checked before approval and again right before execution; a refusal is recorded with its reason.
 */
import type { EventStore } from '../store/types.js';
import type { WinEvent } from '../model/event.js';
import { activityOf, processFacts, timeOf } from '../correlate/fields.js';

/** Image base names (lower case) never stopped: killing one of them takes the host down or is the attack itself. */
export const PROTECTED_IMAGES: readonly string[] = ['lsass.exe', 'csrss.exe', 'wininit.exe', 'smss.exe', 'services.exe', 'winlogon.exe', 'system'];

/** Retained events read per verification at most; more candidates than this and the target is not verifiable. */
export const MAX_CANDIDATE_EVENTS = 2000;

export interface StopTarget {
  host: string;
  pid: number;
  /** Process name as Get-Process reports it (image basename without .exe). */
  name: string;
  /** Full image path the alert names. */
  image?: string;
  /** Sysmon ProcessGuid (lower case, no braces) when the alert has one. */
  guid?: string;
  /** Time of the alerting event: the PID means the latest process with it started at or before this. */
  seenAt?: string;
}

export type Verdict = { ok: true; start: Record<string, unknown> } | { ok: false; reason: string };

function baseName(path: string): string {
  return (path.split(/[\\/]/).pop() ?? '').toLowerCase();
}

/** The protected image among the given names/paths, if any. */
export function protectedImage(...names: (string | undefined)[]): string | undefined {
  for (const n of names) {
    if (!n) continue;
    const b = baseName(n);
    const hit = PROTECTED_IMAGES.find((p) => p === b || p === `${b}.exe`);
    if (hit) return hit;
  }
  return undefined;
}

/** The alert's image against the one the start event recorded: full paths when the alert has one, else names. */
function sameImage(t: StopTarget, startImage: string | undefined): boolean {
  if (!startImage) return false;
  const actual = startImage.toLowerCase();
  if (t.image) {
    const wanted = t.image.toLowerCase();
    return /[\\/]/.test(wanted) ? wanted === actual : wanted === baseName(actual);
  }
  return baseName(actual).replace(/\.exe$/, '') === t.name.toLowerCase();
}

interface Seen {
  kind: 'start' | 'end';
  ms: number;
  time: string;
  pid: number;
  guid?: string;
  image?: string;
  originalFileName?: string;
  ref: string;
}

function seenOf(doc: string, pid: number, guid: string | undefined): Seen | undefined {
  let ev: WinEvent;
  try {
    ev = JSON.parse(doc) as WinEvent;
  } catch {
    return undefined; // a stored document that no longer parses corroborates nothing
  }
  if (typeof ev?.system !== 'object' || typeof ev.data !== 'object') return undefined;
  const activity = activityOf(ev);
  if (activity !== 'start' && activity !== 'end') return undefined;
  const f = processFacts(ev);
  if (f.pid !== pid && !(guid && f.guid === guid)) return undefined;
  return {
    kind: activity,
    ms: timeOf(ev),
    time: ev.system.timeCreated,
    pid: f.pid ?? pid,
    ...(f.guid ? { guid: f.guid } : {}),
    ...(f.image ? { image: f.image } : {}),
    ...(f.originalFileName ? { originalFileName: f.originalFileName } : {}),
    ref: `${ev.system.provider === 'Microsoft-Windows-Security-Auditing' ? 'Security' : 'Sysmon'} ${ev.system.eventId} record ${ev.system.recordId ?? '?'}`,
  };
}

/** Checks a stop target against the process starts and ends procwatch stored for its host. */
export async function verifyStopTarget(store: EventStore, t: StopTarget): Promise<Verdict> {
  const claimed = protectedImage(t.image, t.name);
  if (claimed) return { ok: false, reason: `${claimed} is a protected system process and is never stopped` };
  const needles = [String(t.pid), `0x${t.pid.toString(16)}`, ...(t.guid ? [t.guid] : [])];
  const docs = await store.hostEventDocs(t.host, needles, MAX_CANDIDATE_EVENTS);
  if (docs.length >= MAX_CANDIDATE_EVENTS) {
    return { ok: false, reason: `more than ${MAX_CANDIDATE_EVENTS - 1} retained events of ${t.host} mention PID ${t.pid}; the target cannot be verified` };
  }
  const seen = docs.map((d) => seenOf(d, t.pid, t.guid)).filter((s): s is Seen => s !== undefined).sort((a, b) => a.ms - b.ms);
  const starts = seen.filter((s) => s.kind === 'start');
  const seenAt = t.seenAt ? Date.parse(t.seenAt) : NaN;
  // The alert's process: by ProcessGuid when known, else the latest start of the PID at or before the alert
  // (1 ms of slack: the alert time is the event time cut to milliseconds).
  const start = t.guid
    ? starts.find((s) => s.guid === t.guid)
    : starts.filter((s) => s.pid === t.pid && (!Number.isFinite(seenAt) || s.ms <= seenAt + 1)).pop();
  const what = `PID ${t.pid}${t.guid ? ` (ProcessGuid ${t.guid})` : ''} on ${t.host}`;
  if (!start) return { ok: false, reason: `no process start (Sysmon 1 / Security 4688) of ${what} was seen by procwatch (or it is past retention); the target is not corroborated` };
  if (start.pid !== t.pid) return { ok: false, reason: `ProcessGuid ${t.guid} started as PID ${start.pid} (${start.ref}), not PID ${t.pid}` };
  if (!sameImage(t, start.image)) {
    return { ok: false, reason: `image mismatch: the alert names ${t.image ?? t.name} but ${what} started as ${start.image ?? '(no image)'} (${start.ref})` };
  }
  const guarded = protectedImage(start.image, start.originalFileName);
  if (guarded) return { ok: false, reason: `${what} is ${guarded} per its start event (${start.ref}); protected system processes are never stopped` };
  const later = starts.find((s) => s.pid === t.pid && s.ms > start.ms && s !== start && !(t.guid && s.guid === t.guid));
  if (later) return { ok: false, reason: `PID ${t.pid} was reused on ${t.host}: ${later.image ?? 'another process'} started with it at ${later.time} (${later.ref})` };
  const end = seen.find((s) => s.kind === 'end' && (start.guid && s.guid ? s.guid === start.guid : s.pid === t.pid && s.ms >= start.ms));
  if (end) return { ok: false, reason: `${what} already terminated at ${end.time} (${end.ref})` };
  return { ok: true, start: { event: start.ref, time: start.time, image: start.image ?? null, ...(start.guid ? { process_guid: start.guid } : {}) } };
}
