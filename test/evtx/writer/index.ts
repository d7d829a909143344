/**
 * A minimal EVTX writer for test fixtures (our own code, from the public format description).
 *
 * `windowsEvent()` builds a record the way Windows writes one: a template for the whole <Event> with the
 * System header and the EventData fields as substitutions, optionally with EventData in a nested BinXml
 * (value type 0x21) like Security and Sysmon events; `templatelessEvent()` writes the same content inline,
 * as forwarded events (WEC) do. `writeEvtx()` lays records into chunks with correct checksums, and the
 * `with*` helpers damage a file in exactly one way.
 */
import { createHash } from 'node:crypto';
import type { Element, Fragment, Node, RecordSpec, TemplateDef, Value, ValueTypeName } from './model.js';
import { attr, el, sub, text } from './model.js';

export * from './model.js';
export * from './file.js';
export { guidBytes, sidBytes } from './binxml.js';

export const EVENT_NS = 'http://schemas.microsoft.com/win/2004/08/events/event';

export interface SystemFields {
  provider: string;
  providerGuid: string;
  eventId: number;
  version: number;
  level: number;
  task: number;
  opcode: number;
  keywords: bigint;
  /** FILETIME of TimeCreated/@SystemTime. */
  timeCreated: bigint;
  recordId: bigint;
  activityId?: string;
  processId: number;
  threadId: number;
  channel: string;
  computer: string;
  userSid?: string;
}

export interface DataField {
  name: string;
  value: Value;
}

/** Converts an ISO time to FILETIME (100 ns since 1601); extra digits beyond milliseconds via `ticks`. */
export function fileTime(iso: string, ticks = 0): bigint {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad time ${iso}`);
  return (BigInt(ms) + 11644473600000n) * 10000n + BigInt(ticks);
}

export function defaultSystem(overrides: Partial<SystemFields> = {}): SystemFields {
  return {
    provider: 'Microsoft-Windows-Sysmon',
    providerGuid: '{5770385F-C22A-43E0-BF4C-06F5698FFBD9}',
    eventId: 1,
    version: 5,
    level: 4,
    task: 1,
    opcode: 0,
    keywords: 0x8000000000000000n,
    timeCreated: fileTime('2024-03-01T10:20:30.123Z', 4567),
    recordId: 1n,
    activityId: '{B0AF3D0E-6D2E-4B5F-9A3C-2F1E0D9C8B7A}',
    processId: 2044,
    threadId: 3096,
    channel: 'Microsoft-Windows-Sysmon/Operational',
    computer: 'WS01.corp.example',
    userSid: 'S-1-5-18',
    ...overrides,
  };
}

/** Substitution values of the System part, in template order (indices 0..13). */
function systemValues(s: SystemFields): Value[] {
  return [
    { type: 'uint16', value: s.eventId },
    { type: 'uint8', value: s.version },
    { type: 'uint8', value: s.level },
    { type: 'uint16', value: s.task },
    { type: 'uint8', value: s.opcode },
    { type: 'hexint64', value: s.keywords },
    { type: 'filetime', value: s.timeCreated },
    { type: 'uint64', value: s.recordId },
    s.activityId ? { type: 'guid', value: s.activityId } : { type: 'null' },
    { type: 'uint32', value: s.processId },
    { type: 'uint32', value: s.threadId },
    { type: 'string', value: s.channel },
    { type: 'string', value: s.computer },
    s.userSid ? { type: 'sid', value: s.userSid } : { type: 'null' },
  ];
}
const SYSTEM_VALUE_COUNT = 14;

/** <System> with literal provider name/GUID (as Windows templates carry them) and substitutions for the rest. */
function systemElement(s: SystemFields): Element {
  return el('System', [], [
    el('Provider', [attr('Name', text(s.provider)), attr('Guid', text(s.providerGuid))]),
    el('EventID', [], [sub(0, 'uint16')]),
    el('Version', [], [sub(1, 'uint8')]),
    el('Level', [], [sub(2, 'uint8')]),
    el('Task', [], [sub(3, 'uint16')]),
    el('Opcode', [], [sub(4, 'uint8')]),
    el('Keywords', [], [sub(5, 'hexint64')]),
    el('TimeCreated', [attr('SystemTime', sub(6, 'filetime'))]),
    el('EventRecordID', [], [sub(7, 'uint64')]),
    el('Correlation', [attr('ActivityID', sub(8, 'guid', true))]),
    el('Execution', [attr('ProcessID', sub(9, 'uint32')), attr('ThreadID', sub(10, 'uint32'))]),
    el('Channel', [], [sub(11, 'string')]),
    el('Computer', [], [sub(12, 'string')]),
    el('Security', [attr('UserID', sub(13, 'sid', true))]),
  ]);
}

function eventDataElement(fields: DataField[], firstIndex: number): Element {
  return el(
    'EventData',
    [],
    fields.map((f, i) => el('Data', [attr('Name', text(f.name))], [sub(firstIndex + i, f.value.type, true)])),
  );
}

/** A GUID derived from the template's shape, so equal shapes share one definition per chunk. */
function shapeGuid(shape: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(shape)).digest('hex');
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}}`.toUpperCase();
}

function eventTemplate(system: SystemFields, fields: DataField[], nested: boolean): TemplateDef {
  const shape = { system: [system.provider, system.providerGuid], fields: fields.map((f) => [f.name, f.value.type]), nested };
  const children: Node[] = [systemElement(system)];
  children.push(nested ? sub(SYSTEM_VALUE_COUNT, 'binxml') : eventDataElement(fields, SYSTEM_VALUE_COUNT));
  return { guid: shapeGuid(shape), root: el('Event', [attr('xmlns', text(EVENT_NS))], children) };
}

function eventDataTemplate(fields: DataField[]): TemplateDef {
  return { guid: shapeGuid({ eventData: fields.map((f) => [f.name, f.value.type]) }), root: eventDataElement(fields, 0) };
}

export interface EventOptions {
  /** EventData in a nested BinXml substitution (type 0x21) with its own template. */
  nested?: boolean;
  /** FILETIME in the record header; defaults to TimeCreated. */
  written?: bigint;
}

export function windowsEvent(system: SystemFields, fields: DataField[], options: EventOptions = {}): RecordSpec {
  const template = eventTemplate(system, fields, options.nested ?? false);
  const values = systemValues(system);
  if (options.nested) {
    const inner: Fragment = { template: eventDataTemplate(fields), values: fields.map((f) => f.value) };
    values.push({ type: 'binxml', value: inner });
  } else {
    values.push(...fields.map((f) => f.value));
  }
  return { recordId: system.recordId, written: options.written ?? system.timeCreated, body: { template, values } };
}

/** The same event with no template: every value inline as text (as forwarded events are written). */
export function templatelessEvent(system: SystemFields, fields: { name: string; value: string }[], renderedTime: string): RecordSpec {
  const t = (v: string): Node => text(v);
  const systemEl = el('System', [], [
    el('Provider', [attr('Name', t(system.provider)), attr('Guid', t(system.providerGuid))]),
    el('EventID', [], [t(String(system.eventId))]),
    el('Version', [], [t(String(system.version))]),
    el('Level', [], [t(String(system.level))]),
    el('Task', [], [t(String(system.task))]),
    el('Opcode', [], [t(String(system.opcode))]),
    el('Keywords', [], [t(`0x${system.keywords.toString(16)}`)]),
    el('TimeCreated', [attr('SystemTime', t(renderedTime))]),
    el('EventRecordID', [], [t(String(system.recordId))]),
    el('Correlation'),
    el('Execution', [attr('ProcessID', t(String(system.processId))), attr('ThreadID', t(String(system.threadId)))]),
    el('Channel', [], [t(system.channel)]),
    el('Computer', [], [t(system.computer)]),
    el('Security'),
  ]);
  const data = el('EventData', [], fields.map((f) => el('Data', [attr('Name', t(f.name))], f.value === '' ? [] : [t(f.value)])));
  return {
    recordId: system.recordId,
    written: system.timeCreated,
    body: { element: el('Event', [attr('xmlns', t(EVENT_NS))], [systemEl, data]) },
  };
}

export type { ValueTypeName };
