/**
 * EVTX files as a source of WinEvents: adapts the binary parser (src/evtx) to the normalised model.
 *
 * The System header and EventData/UserData fields are read straight off the rendered element tree. With
 * `prefilterLiterals`, records are parsed lazily and a record whose bytes and templates cannot contain any
 * literal (see src/evtx/prefilter.ts — sound: it never drops a record that could match) is skipped unrendered.
 */
import type { DecodeError, DecodeItem, EventOrigin, EventSystem, FieldValue, Scalar, WinEvent } from '../model/event.js';
import type { DecodeOptions } from './index.js';
import {
  attribute,
  childElement,
  compileLiterals,
  parseEvtxFile,
  recordMayContain,
  textOf,
  type EvtxError,
  type EvtxRecord,
  type XmlElement,
  type XmlNode,
} from '../evtx/index.js';

const HEADER_BYTES = 4096;
const CHUNK_BYTES = 65536;

export async function* decodeEvtxFile(path: string, options: DecodeOptions = {}): AsyncIterable<DecodeItem> {
  const literals = options.prefilterLiterals ? compileLiterals(options.prefilterLiterals) : null;
  let index = 0;
  let lastChunk = -1;
  if (options.onBytes) options.onBytes(HEADER_BYTES);
  for await (const item of parseEvtxFile(path, { lazy: literals !== null })) {
    if ('error' in item) {
      yield { error: toDecodeError(item.error) };
      continue;
    }
    const record = item.record;
    if (options.onBytes && record.chunkIndex !== lastChunk) {
      // Progress in whole chunks: the parser reads the file one 64 KiB chunk at a time.
      if (lastChunk >= 0) options.onBytes(CHUNK_BYTES * (record.chunkIndex - lastChunk));
      lastChunk = record.chunkIndex;
    }
    const origin: EventOrigin = { file: path, chunk: record.chunkIndex, offset: record.offset, dialect: 'evtx', index: index++ };
    try {
      if (literals && !recordMayContain(record, literals)) continue;
      yield { event: recordToWinEvent(record, record.root(), origin) };
    } catch (err) {
      yield { error: { file: path, chunk: record.chunkIndex, offset: record.offset, recordId: record.recordId, index: origin.index, reason: err instanceof Error ? err.message : String(err) } };
    }
  }
  if (options.onBytes && lastChunk >= 0) options.onBytes(CHUNK_BYTES);
}

function toDecodeError(e: EvtxError): DecodeError {
  const out: DecodeError = { file: e.file, reason: e.reason };
  if (e.chunkIndex !== undefined) out.chunk = e.chunkIndex;
  if (e.offset !== undefined) out.offset = e.offset;
  if (e.recordId !== undefined) out.recordId = e.recordId;
  return out;
}

/** The rendered `<Event>` tree → WinEvent. Throws when the tree has no System/EventID (not an event). */
export function recordToWinEvent(record: EvtxRecord, root: XmlNode, origin: EventOrigin): WinEvent {
  if (root.kind !== 'element') throw new Error('record is not an element');
  const system = childElement(root, 'System');
  if (!system) throw new Error(`record ${record.recordId}: no System element`);
  return { system: readSystem(system, record), data: readData(root), origin };
}

function intOf(el: XmlElement | undefined): number | undefined {
  if (!el) return undefined;
  return intText(textOf(el));
}

function intText(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = s.startsWith('0x') ? parseInt(s, 16) : Number(s);
  return Number.isFinite(n) ? n : undefined;
}

function readSystem(sys: XmlElement, record: EvtxRecord): EventSystem {
  const provider = childElement(sys, 'Provider');
  const eventId = intOf(childElement(sys, 'EventID'));
  if (eventId === undefined) throw new Error(`record ${record.recordId}: no EventID`);
  const time = childElement(sys, 'TimeCreated');
  const correlation = childElement(sys, 'Correlation');
  const execution = childElement(sys, 'Execution');
  const security = childElement(sys, 'Security');
  const channel = childElement(sys, 'Channel');
  const computer = childElement(sys, 'Computer');
  const out: EventSystem = {
    provider: (provider && (attribute(provider, 'Name') ?? attribute(provider, 'EventSourceName'))) ?? '',
    eventId,
    timeCreated: normaliseTime((time && attribute(time, 'SystemTime')) || record.timestamp),
    recordId: intOf(childElement(sys, 'EventRecordID')) ?? record.recordId,
    channel: channel ? textOf(channel) : '',
    computer: computer ? textOf(computer) : '',
  };
  const guid = provider && attribute(provider, 'Guid');
  if (guid) out.providerGuid = guid;
  const setNum = (key: 'version' | 'level' | 'task' | 'opcode', name: string): void => {
    const v = intOf(childElement(sys, name));
    if (v !== undefined) out[key] = v;
  };
  setNum('version', 'Version');
  setNum('level', 'Level');
  setNum('task', 'Task');
  setNum('opcode', 'Opcode');
  const keywords = childElement(sys, 'Keywords');
  if (keywords) out.keywords = textOf(keywords);
  const activity = correlation && attribute(correlation, 'ActivityID');
  if (activity) out.activityId = activity;
  const related = correlation && attribute(correlation, 'RelatedActivityID');
  if (related) out.relatedActivityId = related;
  const pid = execution && intText(attribute(execution, 'ProcessID'));
  if (pid !== undefined) out.processId = pid;
  const tid = execution && intText(attribute(execution, 'ThreadID'));
  if (tid !== undefined) out.threadId = tid;
  const sid = security && attribute(security, 'UserID');
  if (sid) out.userSid = sid;
  return out;
}

/** At most 7 fractional digits (100 ns, FILETIME's resolution): forwarded events carry 9 as text. */
function normaliseTime(t: string): string {
  return t.replace(/(\.\d{7})\d+Z$/, '$1Z');
}

function addField(data: Record<string, FieldValue>, key: string, value: Scalar): void {
  const prev = data[key];
  if (prev === undefined) data[key] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else data[key] = [prev, value];
}

/** EventData `<Data Name="X">` → data.X; unnamed Data → data.Data (array); UserData → its leaf elements by name. */
function readData(root: XmlElement): Record<string, FieldValue> {
  const data: Record<string, FieldValue> = {};
  const eventData = childElement(root, 'EventData');
  if (eventData) {
    const unnamed: Scalar[] = [];
    for (const c of eventData.children) {
      if (c.kind !== 'element') continue;
      const name = c.name === 'Data' ? attribute(c, 'Name') : c.name;
      if (name === undefined) unnamed.push(textOf(c));
      else addField(data, name, textOf(c));
    }
    if (unnamed.length > 0) data.Data = unnamed;
  }
  const userData = childElement(root, 'UserData');
  if (userData) collectLeaves(userData, data, 0);
  return data;
}

function collectLeaves(el: XmlElement, data: Record<string, FieldValue>, depth: number): void {
  if (depth > 64) return;
  for (const c of el.children) {
    if (c.kind !== 'element') continue;
    if (c.children.some((g) => g.kind === 'element')) collectLeaves(c, data, depth + 1);
    else addField(data, c.name, textOf(c));
  }
}
