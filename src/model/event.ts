/**
 * The normalised Windows event: one shape for every source (EVTX, Windows XML, every JSON dialect).
 *
 * Decoders (src/formats, the EVTX adapter) produce it; the rule engine, correlation and sinks consume it.
 * It keeps the event as Windows wrote it — the System header plus the named EventData/UserData fields under
 * their original names — because Sigma rules and analysts both speak in those names (Image, CommandLine,
 * NewProcessName, ...). The ECS-like process view is derived from it in ./process.ts.
 */

/** A field value as the log rendered it. EVTX/XML give strings; typed JSON dialects may give numbers/booleans. */
export type Scalar = string | number | boolean | null;
export type FieldValue = Scalar | Scalar[];

/** Where an event came from: enough for an error message or an alert to point back at the record. */
export interface EventOrigin {
  /** File path as given on the command line, '-' for stdin, or a transport name such as 'http:/ingest'. */
  file: string;
  /** 1-based line of the document's first line in line-oriented inputs (NDJSON, XML-per-line, ...). */
  line?: number;
  /** 0-based index of the document/record within its file. */
  index?: number;
  /** EVTX only: chunk number and byte offset of the record in the file. */
  chunk?: number;
  offset?: number;
  /** Name of the dialect that decoded it, e.g. 'evtx', 'winlogbeat', 'nxlog', 'evtx_dump', 'xml', 'splunk-hec'. */
  dialect?: string;
}

/** The System element of a Windows event, with numeric fields as numbers. */
export interface EventSystem {
  /** Provider Name, e.g. 'Microsoft-Windows-Sysmon', 'Microsoft-Windows-Security-Auditing'. */
  provider: string;
  providerGuid?: string;
  eventId: number;
  version?: number;
  level?: number;
  task?: number;
  opcode?: number;
  keywords?: string;
  /** ISO 8601 UTC with 'Z', fractional seconds kept as given (up to 7 digits), e.g. '2019-03-18T16:57:37.1234567Z'. */
  timeCreated: string;
  /** EventRecordID / RecordNumber where the source has one. */
  recordId?: number;
  activityId?: string;
  relatedActivityId?: string;
  /** Execution ProcessID/ThreadID: the process that *logged* the event (e.g. Sysmon's own PID). */
  processId?: number;
  threadId?: number;
  channel: string;
  computer: string;
  /** Security UserID SID. */
  userSid?: string;
}

export interface WinEvent {
  system: EventSystem;
  /**
   * EventData named Data elements (or UserData leaf elements), under their original names, in document order.
   * Unnamed Data elements are collected under the key 'Data' as an array.
   */
  data: Record<string, FieldValue>;
  origin: EventOrigin;
}

/** A problem with one record/line/document. Decoding goes on after it. */
export interface DecodeError {
  file: string;
  line?: number;
  index?: number;
  chunk?: number;
  offset?: number;
  recordId?: number;
  reason: string;
}

/**
 * `contextOnly`: the decoder kept the event for correlation only — it holds none of the prefilter's literals, so
 * no rule can match it (the prefilter's guarantee) — and may carry only the fields correlation reads. Consumers
 * may feed it to correlation alone (Pipeline.context), skipping the rule engine.
 */
export type DecodeItem = { event: WinEvent; contextOnly?: true } | { error: DecodeError };

/** `file:line: reason` (or the most precise location available), as printed on stderr. */
export function formatDecodeError(e: DecodeError): string {
  let where = e.file;
  if (e.line !== undefined) where += `:${e.line}`;
  else if (e.chunk !== undefined) where += `: chunk ${e.chunk}${e.offset !== undefined ? ` offset 0x${e.offset.toString(16)}` : ''}`;
  else if (e.index !== undefined) where += `: document ${e.index + 1}`;
  if (e.recordId !== undefined) where += ` (record ${e.recordId})`;
  return `${where}: ${e.reason}`;
}

/**
 * The event's identity: host, channel, record id and creation time, then its whole content in canonical form
 * (every System field in a fixed order, data fields as name/value pairs sorted by name, all as JSON). Two events
 * are the same event only when all of it is equal: a re-sent or re-scanned event keeps its key, while a
 * different event that shares host, channel and record id (a cleared log restarting its record ids, a cloned
 * host, a record id sent ahead) gets its own. Where the event came from (`origin`) is not part of it. An absent
 * field and one set to `undefined` are the same (a JSON round trip drops the latter). Hashed by storedKey and
 * alertId; it runs once per ingested event, so it is two native JSON.stringify calls on flat arrays.
 */
export function eventKey(ev: WinEvent): string {
  const s = ev.system;
  const system = [
    s.provider, s.providerGuid, s.eventId, s.version, s.level, s.task, s.opcode, s.keywords, s.timeCreated, s.recordId,
    s.activityId, s.relatedActivityId, s.processId, s.threadId, s.channel, s.computer, s.userSid,
  ];
  const data = ev.data;
  const pairs: unknown[] = [];
  for (const k of sortedKeys(Object.keys(data))) {
    const v = data[k];
    if (v !== undefined) pairs.push(k, v);
  }
  return `${s.computer.toLowerCase()}|${s.channel.toLowerCase()}|${s.recordId ?? ''}|${s.timeCreated}|${JSON.stringify(system)}|${JSON.stringify(pairs)}`;
}

/** Data field lists seen, by first key and length → [keys as given, keys sorted]. Events of one kind share one. */
const SORTED = new Map<string, [readonly string[], string[]]>();
const MAX_SHAPES = 4096;

/**
 * The keys sorted. Sorting ~20 names per event is a third of the identity's cost; events of one provider and
 * event id list the same fields in the same order, so the sorted list of an equal key list is re-used.
 */
function sortedKeys(keys: string[]): string[] {
  if (keys.length < 2) return keys;
  const shape = `${keys.length}\u0000${keys[0]}\u0000${keys[keys.length - 1]}`;
  const hit = SORTED.get(shape);
  if (hit && sameList(hit[0], keys)) return hit[1];
  const sorted = [...keys].sort();
  if (SORTED.size >= MAX_SHAPES) SORTED.clear();
  SORTED.set(shape, [keys, sorted]);
  return sorted;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The identity before schema version 2: host + channel + record id (content only for events without one).
 * Kept to recognise re-sends of events stored under it (see docs/ops/delivery.md, "Upgrading").
 */
export function legacyEventKey(ev: WinEvent): string {
  const s = ev.system;
  if (s.recordId !== undefined) return `${s.computer.toLowerCase()}|${s.channel.toLowerCase()}|${s.recordId}`;
  return `${s.computer.toLowerCase()}|${s.channel.toLowerCase()}|${s.eventId}|${s.timeCreated}|${stableDataString(ev.data)}`;
}

function stableDataString(data: Record<string, FieldValue>): string {
  return Object.keys(data)
    .sort()
    .map((k) => `${k}=${JSON.stringify(data[k])}`)
    .join(';');
}

/** Well-known providers and channels. */
export const SYSMON_PROVIDER = 'Microsoft-Windows-Sysmon';
export const SYSMON_CHANNEL = 'Microsoft-Windows-Sysmon/Operational';
export const SECURITY_PROVIDER = 'Microsoft-Windows-Security-Auditing';
export const SECURITY_CHANNEL = 'Security';
