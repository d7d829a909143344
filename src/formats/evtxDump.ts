/**
 * Rust `evtx_dump -o json|jsonl` documents (omerbenamram/evtx): `{"Event": {"System": …, "EventData": …}}` with
 * XML attributes under "#attributes", element text under "#text" and typed values (numbers, booleans, null).
 * The xmltodict shape ("@Name" attributes, "Data": [{"@Name": …, "#text": …}]) is accepted too.
 */
import type { DecodeError, EventOrigin, EventSystem, FieldValue, WinEvent } from '../model/event.js';
import { isBareGuid, isRecord, normaliseGuid, normaliseKeywords, normaliseTime, str, toFieldValue, toInt } from './normalise.js';
import { errorAt } from './normalise.js';

export function decodeEvtxDump(event: Record<string, unknown>, origin: EventOrigin): WinEvent | DecodeError {
  const sys = event['System'];
  if (!isRecord(sys)) return errorAt(origin, 'Event has no System element');
  const system = decodeSystem(sys);
  if (typeof system === 'string') return errorAt(origin, system);
  const data: Record<string, FieldValue> = {};
  const eventData = event['EventData'];
  if (isRecord(eventData)) collectEventData(eventData, data);
  const userData = event['UserData'];
  if (isRecord(userData)) collectUserData(userData, data);
  return { system, data, origin };
}

/** An attribute of an element: evtx_dump puts them under "#attributes", xmltodict under "@name". */
function attr(element: unknown, name: string): unknown {
  if (!isRecord(element)) return undefined;
  const attrs = element['#attributes'];
  if (isRecord(attrs) && name in attrs) return attrs[name];
  return element[`@${name}`];
}

/** Element text: a plain value, or "#text" when the element also has attributes (EventID with Qualifiers). */
function text(element: unknown): unknown {
  return isRecord(element) ? element['#text'] : element;
}

function decodeSystem(sys: Record<string, unknown>): EventSystem | string {
  const eventId = toInt(text(sys['EventID']));
  if (eventId === undefined) return 'System has no numeric EventID';
  const timeCreated = normaliseTime(attr(sys['TimeCreated'], 'SystemTime'));
  if (timeCreated === undefined) return 'System has no valid TimeCreated/SystemTime';
  const provider = sys['Provider'];
  const system: EventSystem = {
    provider: str(attr(provider, 'Name')) ?? str(attr(provider, 'EventSourceName')) ?? '',
    eventId,
    timeCreated,
    channel: str(text(sys['Channel'])) ?? '',
    computer: str(text(sys['Computer'])) ?? '',
  };
  const guid = normaliseGuid(attr(provider, 'Guid'));
  if (guid !== undefined) system.providerGuid = guid;
  setInt(system, 'version', text(sys['Version']));
  setInt(system, 'level', text(sys['Level']));
  setInt(system, 'task', text(sys['Task']));
  setInt(system, 'opcode', text(sys['Opcode']));
  const keywords = normaliseKeywords(text(sys['Keywords']));
  if (keywords !== undefined) system.keywords = keywords;
  setInt(system, 'recordId', text(sys['EventRecordID']));
  const activity = normaliseGuid(attr(sys['Correlation'], 'ActivityID'));
  if (activity !== undefined) system.activityId = activity;
  const related = normaliseGuid(attr(sys['Correlation'], 'RelatedActivityID'));
  if (related !== undefined) system.relatedActivityId = related;
  setInt(system, 'processId', attr(sys['Execution'], 'ProcessID'));
  setInt(system, 'threadId', attr(sys['Execution'], 'ThreadID'));
  const sid = str(attr(sys['Security'], 'UserID'));
  if (sid !== undefined) system.userSid = sid;
  return system;
}

type IntField = 'version' | 'level' | 'task' | 'opcode' | 'recordId' | 'processId' | 'threadId';

function setInt(system: EventSystem, field: IntField, value: unknown): void {
  const n = toInt(value);
  if (n !== undefined) system[field] = n;
}

function collectEventData(eventData: Record<string, unknown>, data: Record<string, FieldValue>): void {
  for (const name in eventData) {
    if (name === '#attributes' || name.charCodeAt(0) === 64 /* @ */) continue;
    const value = eventData[name];
    if (name === 'Data') {
      collectDataElements(value, data);
      continue;
    }
    const v = fieldValue(value);
    if (v !== undefined) data[name] = v;
  }
}

/**
 * "Data" holds unnamed Data elements ({"#text": [..]} or a plain value) or, in the xmltodict shape, named ones
 * ([{"@Name": "Image", "#text": "…"}]).
 */
function collectDataElements(value: unknown, data: Record<string, FieldValue>): void {
  const items = Array.isArray(value) ? value : [value];
  const unnamed: string[] = [];
  for (const item of items) {
    const name = str(attr(item, 'Name'));
    const v = fieldValue(isRecord(item) ? (item['#text'] ?? null) : item);
    if (v === undefined) continue;
    if (name !== undefined) data[name] = v;
    else if (Array.isArray(v)) for (const s of v) unnamed.push(String(s));
    else unnamed.push(String(v));
  }
  if (unnamed.length > 0) data['Data'] = unnamed;
}

/** UserData: one wrapper element (with its xmlns) whose children are the fields. */
function collectUserData(userData: Record<string, unknown>, data: Record<string, FieldValue>): void {
  for (const wrapper in userData) {
    const inner = userData[wrapper];
    if (!isRecord(inner)) continue;
    for (const name in inner) {
      if (name === '#attributes' || name.charCodeAt(0) === 64) continue;
      const v = fieldValue(inner[name]);
      if (v !== undefined) data[name] = v;
    }
  }
}

/** evtx_dump renders GUID values without braces; Windows (and every other dialect) with: add them back. */
function fieldValue(value: unknown): FieldValue | undefined {
  if (typeof value === 'string') return isBareGuid(value) ? `{${value}}` : value;
  if (isRecord(value)) return '#text' in value ? toFieldValue(value['#text']) : undefined;
  return toFieldValue(value);
}
