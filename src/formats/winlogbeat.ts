/**
 * Winlogbeat / Elastic Agent documents (ECS): the System header under `winlog.*`, EventData under
 * `winlog.event_data.*` (raw), or — after the sysmon/security ingest pipelines — moved to ECS fields
 * (`process.*`, `user.*`, `source.*`, ...) and removed from event_data. The original EventData names are rebuilt
 * from the ECS fields so rules written against Windows field names (Image, CommandLine, OriginalFileName, ...)
 * match either form.
 */
import type { DecodeError, EventOrigin, EventSystem, FieldValue, WinEvent } from '../model/event.js';
import { SECURITY_PROVIDER, SYSMON_PROVIDER } from '../model/event.js';
import { isRecord, normaliseGuid, normaliseKeywords, normaliseTime, str, toFieldValue, toHex, toInt } from './normalise.js';
import { errorAt } from './normalise.js';

export function decodeWinlogbeat(doc: Record<string, unknown>, origin: EventOrigin): WinEvent | DecodeError {
  const winlog = isRecord(doc['winlog']) ? doc['winlog'] : {};
  const event = isRecord(doc['event']) ? doc['event'] : {};
  const eventId = toInt(winlog['event_id'] ?? event['code']);
  if (eventId === undefined) return errorAt(origin, 'no numeric winlog.event_id or event.code');
  const timeCreated = normaliseTime(winlog['time_created'] ?? doc['@timestamp']);
  if (timeCreated === undefined) return errorAt(origin, 'no valid @timestamp');
  const host = isRecord(doc['host']) ? doc['host'] : undefined;
  const system: EventSystem = {
    provider: str(winlog['provider_name']) ?? str(event['provider']) ?? '',
    eventId,
    timeCreated,
    channel: str(winlog['channel']) ?? '',
    computer: str(winlog['computer_name']) ?? str(host?.['hostname']) ?? str(host?.['name']) ?? '',
  };
  const guid = normaliseGuid(winlog['provider_guid']);
  if (guid !== undefined) system.providerGuid = guid;
  const version = toInt(winlog['version']);
  if (version !== undefined) system.version = version;
  // winlog.task/opcode and log.level are rendered names ("Process Create", "Info"), not numbers: keep numbers only.
  const task = toInt(winlog['task']);
  if (task !== undefined) system.task = task;
  const opcode = toInt(winlog['opcode']);
  if (opcode !== undefined) system.opcode = opcode;
  const keywords = normaliseKeywords(winlog['keywords']);
  if (keywords !== undefined) system.keywords = keywords;
  const recordId = toInt(winlog['record_id']);
  if (recordId !== undefined) system.recordId = recordId;
  const activity = normaliseGuid(winlog['activity_id']);
  if (activity !== undefined) system.activityId = activity;
  const related = normaliseGuid(winlog['related_activity_id']);
  if (related !== undefined) system.relatedActivityId = related;
  const proc = winlog['process'];
  if (isRecord(proc)) {
    const pid = toInt(proc['pid']);
    if (pid !== undefined) system.processId = pid;
    const thread = proc['thread'];
    const tid = isRecord(thread) ? toInt(thread['id']) : undefined;
    if (tid !== undefined) system.threadId = tid;
  }
  const user = winlog['user'];
  if (isRecord(user)) {
    const sid = str(user['identifier']);
    if (sid !== undefined) system.userSid = sid;
  }

  const data: Record<string, FieldValue> = {};
  const eventData = winlog['event_data'];
  if (isRecord(eventData)) copyFields(eventData, data);
  const userData = winlog['user_data'];
  if (isRecord(userData)) copyFields(userData, data);
  if (isRecord(doc['process'])) rebuildFromEcs(doc, system, data);
  return { system, data, origin };
}

function copyFields(from: Record<string, unknown>, to: Record<string, FieldValue>): void {
  for (const name in from) {
    if (name === 'xml_name') continue;
    const v = toFieldValue(from[name]);
    if (v !== undefined) to[name] = v;
  }
}

/** Value at a dotted path of nested objects ('process.pe.original_file_name'), or at a flat dotted key. */
function at(doc: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

type Mapping = readonly [eventDataName: string, ecsPath: readonly string[]];

/** What the Sysmon ingest pipeline moves out of event_data besides the process fields (network, file, DNS, registry). */
const SYSMON_OTHER_MAPPINGS: readonly Mapping[] = [
  ['SourceIp', ['source', 'ip']],
  ['SourcePort', ['source', 'port']],
  ['SourceHostname', ['source', 'domain']],
  ['DestinationIp', ['destination', 'ip']],
  ['DestinationPort', ['destination', 'port']],
  ['DestinationHostname', ['destination', 'domain']],
  ['Protocol', ['network', 'transport']],
  ['TargetFilename', ['file', 'path']],
  ['QueryName', ['dns', 'question', 'name']],
  ['TargetObject', ['registry', 'path']],
];

/** What the Security ingest pipeline maps for process creation/termination; PIDs go back to Windows' hex. */
const SECURITY_4688_MAPPINGS: readonly Mapping[] = [
  ['NewProcessId', ['process', 'pid']],
  ['NewProcessName', ['process', 'executable']],
  ['CommandLine', ['process', 'command_line']],
  ['ProcessId', ['process', 'parent', 'pid']],
  ['ParentProcessName', ['process', 'parent', 'executable']],
];
const SECURITY_4689_MAPPINGS: readonly Mapping[] = [
  ['ProcessId', ['process', 'pid']],
  ['ProcessName', ['process', 'executable']],
];
const HEX_PID_FIELDS = new Set(['NewProcessId', 'ProcessId']);

function rebuildFromEcs(doc: Record<string, unknown>, system: EventSystem, data: Record<string, FieldValue>): void {
  if (system.provider === SYSMON_PROVIDER) {
    rebuildSysmonProcess(doc['process'] as Record<string, unknown>, data);
    // Network, file, DNS and registry events: only when the document has those objects.
    if ('source' in doc || 'destination' in doc || 'file' in doc || 'dns' in doc || 'registry' in doc) applyMappings(doc, SYSMON_OTHER_MAPPINGS, data, false);
    if (data['Hashes'] === undefined) rebuildHashes(at(doc, ['process', 'hash']) ?? at(doc, ['file', 'hash']), data);
    if (data['User'] === undefined && (system.eventId === 1 || system.eventId === 5)) rebuildUser(doc, data);
  } else if (system.provider === SECURITY_PROVIDER) {
    if (system.eventId === 4688) applyMappings(doc, SECURITY_4688_MAPPINGS, data, true);
    else if (system.eventId === 4689) applyMappings(doc, SECURITY_4689_MAPPINGS, data, true);
  }
}

/** The hot path of ECS input (Sysmon 1 after the ingest pipeline): direct property reads, no path walking. */
function rebuildSysmonProcess(p: Record<string, unknown>, data: Record<string, FieldValue>): void {
  setMissing(data, 'ProcessGuid', p['entity_id']);
  setMissing(data, 'ProcessId', p['pid']);
  setMissing(data, 'Image', p['executable']);
  setMissing(data, 'CommandLine', p['command_line']);
  setMissing(data, 'CurrentDirectory', p['working_directory']);
  const pe = p['pe'];
  if (isRecord(pe)) {
    setMissing(data, 'OriginalFileName', pe['original_file_name']);
    setMissing(data, 'Company', pe['company']);
    setMissing(data, 'Description', pe['description']);
    setMissing(data, 'Product', pe['product']);
    setMissing(data, 'FileVersion', pe['file_version']);
  }
  const parent = p['parent'];
  if (isRecord(parent)) {
    setMissing(data, 'ParentProcessGuid', parent['entity_id']);
    setMissing(data, 'ParentProcessId', parent['pid']);
    setMissing(data, 'ParentImage', parent['executable']);
    setMissing(data, 'ParentCommandLine', parent['command_line']);
  }
}

function setMissing(data: Record<string, FieldValue>, name: string, value: unknown): void {
  if (value === undefined || value === null || data[name] !== undefined) return;
  const v = typeof value === 'string' ? value : toFieldValue(value);
  if (v !== undefined) data[name] = v;
}

function applyMappings(doc: Record<string, unknown>, mappings: readonly Mapping[], data: Record<string, FieldValue>, hexPids: boolean): void {
  for (const [name, path] of mappings) {
    if (data[name] !== undefined) continue;
    const value = at(doc, path);
    if (value === undefined || value === null) continue;
    if (hexPids && HEX_PID_FIELDS.has(name) && typeof value === 'number') {
      data[name] = toHex(value);
      continue;
    }
    const v = toFieldValue(value);
    if (v !== undefined) data[name] = v;
  }
}

/** process.hash {sha256: 'ab..', md5: ..} → Sysmon's 'SHA256=AB..,MD5=..' (Sysmon writes upper-case hex). */
function rebuildHashes(hash: unknown, data: Record<string, FieldValue>): void {
  if (!isRecord(hash)) return;
  const parts: string[] = [];
  for (const algo in hash) {
    const v = hash[algo];
    if (typeof v === 'string') parts.push(`${algo.toUpperCase()}=${v.toUpperCase()}`);
  }
  if (parts.length > 0) data['Hashes'] = parts.join(',');
}

/** Sysmon User 'DOMAIN\name' was split into user.domain and user.name. */
function rebuildUser(doc: Record<string, unknown>, data: Record<string, FieldValue>): void {
  const user = doc['user'];
  if (!isRecord(user)) return;
  const name = str(user['name']);
  if (name === undefined) return;
  const domain = str(user['domain']);
  data['User'] = domain !== undefined ? `${domain}\\${name}` : name;
}

/**
 * Winlogbeat 6.x (before ECS), as in older OTRF/Mordor and HELK exports: the System fields at the top level
 * (`event_id`, `source_name`, `computer_name`, `record_number`, `log_name`) and `event_data`/`user_data`.
 */
export function decodeWinlogbeatLegacy(doc: Record<string, unknown>, origin: EventOrigin): WinEvent | DecodeError {
  const eventId = toInt(doc['event_id']);
  if (eventId === undefined) return errorAt(origin, 'event_id is not a number');
  const timeCreated = normaliseTime(doc['@timestamp']);
  if (timeCreated === undefined) return errorAt(origin, 'no valid @timestamp');
  const system: EventSystem = {
    provider: str(doc['source_name']) ?? '',
    eventId,
    timeCreated,
    channel: str(doc['log_name']) ?? '',
    computer: str(doc['computer_name']) ?? '',
  };
  const guid = normaliseGuid(doc['provider_guid']);
  if (guid !== undefined) system.providerGuid = guid;
  const recordId = toInt(doc['record_number']);
  if (recordId !== undefined) system.recordId = recordId;
  const pid = toInt(doc['process_id']);
  if (pid !== undefined) system.processId = pid;
  const tid = toInt(doc['thread_id']);
  if (tid !== undefined) system.threadId = tid;
  const version = toInt(doc['version']);
  if (version !== undefined) system.version = version;
  const user = doc['user'];
  if (isRecord(user) && typeof user['identifier'] === 'string') system.userSid = user['identifier'];
  const data: Record<string, FieldValue> = {};
  const eventData = doc['event_data'];
  if (isRecord(eventData)) copyFields(eventData, data);
  const userData = doc['user_data'];
  if (isRecord(userData)) copyFields(userData, data);
  return { system, data, origin };
}
