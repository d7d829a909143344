/**
 * Flat JSON documents: System fields and EventData fields side by side at the top level.
 * - NXLog im_msvistalog + to_json() (CE and EE names: EventTime, Hostname, SourceName, RecordNumber, ...).
 * - OTRF Security-Datasets / Mordor (NXLog → Logstash: + @timestamp, @version, host, port, tags, TimeCreated).
 * - python-evtx style flattening (ProviderName, EventID, TimeCreated, EventRecordID, Channel, Computer + data).
 */
import type { EventOrigin, EventSystem, FieldValue, WinEvent, DecodeError } from '../model/event.js';
import { SECURITY_PROVIDER, SYSMON_PROVIDER } from '../model/event.js';
import { normaliseGuid, normaliseKeywords, normaliseTime, str, toFieldValue, toInt } from './normalise.js';
import { errorAt } from './normalise.js';

/** Top-level names that are the System header or shipper metadata, never EventData. */
const HEADER_FIELDS = new Set([
  'EventTime', 'EventReceivedTime', 'EventTimeWritten', 'TimeCreated', 'Hostname', 'Computer', 'Keywords', 'EventType',
  'SeverityValue', 'Severity', 'Level', 'LevelValue', 'EventID', 'SourceName', 'ProviderName', 'ProviderGuid',
  'Version', 'Task', 'OpcodeValue', 'Opcode', 'RecordNumber', 'EventRecordID', 'ActivityID', 'RelatedActivityID',
  'ExecutionProcessID', 'ExecutionThreadID', 'Channel', 'Domain', 'AccountName', 'UserID', 'AccountType', 'Message',
  'Category', 'SourceModuleName', 'SourceModuleType', 'MessageSourceAddress', 'EventTypeOrignal', 'Qualifiers', 'TaskValue',
  'ERROR_EVT_UNRESOLVED',
  '@timestamp', '@version', 'host', 'port', 'tags', 'beat', 'agent', 'ecs', 'log', 'input', 'fields', 'type',
]);

/** True when the document looks like NXLog output (its System ProcessID/ThreadID sit at the top level). */
function isNxlog(doc: Record<string, unknown>): boolean {
  return 'SourceModuleType' in doc || 'EventReceivedTime' in doc || 'SeverityValue' in doc;
}

export function flatDialect(doc: Record<string, unknown>): string {
  if (isNxlog(doc)) return '@version' in doc || 'tags' in doc ? 'otrf' : 'nxlog';
  if ('@timestamp' in doc && 'Hostname' in doc) return 'otrf';
  return 'flat';
}

export function decodeFlat(doc: Record<string, unknown>, origin: EventOrigin): WinEvent | DecodeError {
  const eventId = toInt(doc['EventID']);
  if (eventId === undefined) return errorAt(origin, 'EventID is not a number');
  const timeCreated = pickTime(doc);
  if (timeCreated === undefined) return errorAt(origin, 'no valid event time (EventTime/TimeCreated/UtcTime/@timestamp)');
  const nxlog = isNxlog(doc);
  // NXLog writes the System Execution ProcessID/ThreadID as top-level ProcessID/ThreadID (EE also as Execution*).
  const systemPidInProcessId = nxlog && !('ExecutionProcessID' in doc);
  const system: EventSystem = {
    provider: str(doc['SourceName']) ?? str(doc['ProviderName']) ?? '',
    eventId,
    timeCreated,
    channel: str(doc['Channel']) ?? '',
    computer: str(doc['Hostname']) ?? str(doc['Computer']) ?? '',
  };
  const guid = normaliseGuid(doc['ProviderGuid']);
  if (guid !== undefined) system.providerGuid = guid;
  const version = toInt(doc['Version']);
  if (version !== undefined) system.version = version;
  const level = toInt(doc['Level']);
  if (level !== undefined) system.level = level;
  const task = toInt(doc['Task'] ?? doc['TaskValue']);
  if (task !== undefined) system.task = task;
  const opcode = toInt(doc['OpcodeValue'] ?? doc['Opcode']);
  if (opcode !== undefined) system.opcode = opcode;
  const keywords = normaliseKeywords(doc['Keywords']);
  if (keywords !== undefined) system.keywords = keywords;
  const recordId = toInt(doc['RecordNumber'] ?? doc['EventRecordID']);
  if (recordId !== undefined) system.recordId = recordId;
  const activity = normaliseGuid(doc['ActivityID']);
  if (activity !== undefined) system.activityId = activity;
  const related = normaliseGuid(doc['RelatedActivityID']);
  if (related !== undefined) system.relatedActivityId = related;
  const pid = toInt(doc['ExecutionProcessID'] ?? (systemPidInProcessId ? doc['ProcessID'] : undefined));
  if (pid !== undefined) system.processId = pid;
  const tid = toInt(doc['ExecutionThreadID'] ?? (systemPidInProcessId ? doc['ThreadID'] : undefined));
  if (tid !== undefined) system.threadId = tid;
  const sid = str(doc['UserID']);
  if (sid !== undefined) system.userSid = sid;

  const data: Record<string, FieldValue> = {};
  for (const name in doc) {
    if (HEADER_FIELDS.has(name)) continue;
    if (systemPidInProcessId && (name === 'ProcessID' || name === 'ThreadID')) continue;
    const v = toFieldValue(doc[name]);
    if (v !== undefined) data[name] = v;
  }
  if (systemPidInProcessId && data['ProcessId'] === undefined) recoverProcessId(system, doc, data);
  return { system, data, origin };
}

/**
 * Event time, best source first: a zoned EventTime, TimeCreated (python-evtx and OTRF write UTC), Sysmon's own
 * UtcTime, the collector's @timestamp, and last a zone-less NXLog EventTime (agent local time; taken as UTC —
 * configure NXLog to write UTC or a zone to make it exact).
 */
function pickTime(doc: Record<string, unknown>): string | undefined {
  const eventTime = str(doc['EventTime']);
  if (eventTime !== undefined && hasZone(eventTime)) {
    const t = normaliseTime(eventTime);
    if (t !== undefined) return t;
  }
  return (
    normaliseTime(doc['TimeCreated']) ??
    normaliseTime(doc['UtcTime']) ??
    normaliseTime(doc['@timestamp']) ??
    normaliseTime(eventTime)
  );
}

function hasZone(s: string): boolean {
  const n = s.length;
  const last = s.charCodeAt(n - 1);
  if (last === 90 || last === 122) return true; // Z, z
  const sign6 = s.charCodeAt(n - 6);
  if ((sign6 === 43 || sign6 === 45) && s.charCodeAt(n - 3) === 58) return true; // +hh:mm
  const sign5 = s.charCodeAt(n - 5);
  return (sign5 === 43 || sign5 === 45) && s.charCodeAt(n - 8) === 58; // +hhmm after hh:mm:ss
}

/**
 * NXLog's field names are case-insensitive, so an EventData field named ProcessId collides with the System
 * ProcessID and is lost (Sysmon's ProcessId, 4688's creator ProcessId, 4689's ProcessId). The rendered Message
 * (English) still has it: take it from there.
 */
const PROCESS_ID_LABELS: Record<string, string> = {
  [`${SYSMON_PROVIDER}`]: '\nProcessId:',
  [`${SECURITY_PROVIDER}/4688`]: '\tCreator Process ID:',
  [`${SECURITY_PROVIDER}/4689`]: '\tProcess ID:',
};

function recoverProcessId(system: EventSystem, doc: Record<string, unknown>, data: Record<string, FieldValue>): void {
  const label = PROCESS_ID_LABELS[system.provider] ?? PROCESS_ID_LABELS[`${system.provider}/${system.eventId}`];
  const message = doc['Message'];
  if (label === undefined || typeof message !== 'string') return;
  const at = message.indexOf(label);
  if (at === -1) return;
  let start = at + label.length;
  while (message.charCodeAt(start) === 32 || message.charCodeAt(start) === 9) start++;
  let end = start;
  while (end < message.length && message.charCodeAt(end) > 32) end++;
  if (end > start) data['ProcessId'] = message.slice(start, end);
}
