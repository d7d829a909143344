/**
 * What the event-field readers share (the field walk in fields.ts and the compiled plans in fieldsPlan.ts): value
 * text as rendering gives it, the checks that find damaged values where rendering would, and the System fields →
 * EventHeader step. One definition each, so the two readers cannot drift apart.
 */
import type { EvtxRecord } from './record.js';
import { decodeFlat } from './binxml/walker.js';
import type { BinXmlContext, ValueRef } from './binxml/tokens.js';
import { fixedSize, formatFiletime, formatGuid, formatSid, hex64, utf16, VT } from './binxml/values.js';
import { DAMAGED } from './fallback.js';
import type { XmlAttribute } from './xmlTree.js';

export type Scalar = string | number | boolean | null;
export type FieldValue = Scalar | Scalar[];

/** An event's System element, with numeric fields as numbers (the shape of procwatch's normalised event header). */
export interface EventHeader {
  provider: string;
  providerGuid?: string;
  eventId: number;
  version?: number;
  level?: number;
  task?: number;
  opcode?: number;
  keywords?: string;
  /** ISO 8601 UTC with 'Z', at most 7 fractional digits. */
  timeCreated: string;
  recordId?: number;
  activityId?: string;
  relatedActivityId?: string;
  processId?: number;
  threadId?: number;
  channel: string;
  computer: string;
  userSid?: string;
}

/** A record's event fields: its System header and its EventData/UserData fields. */
export interface EventFields {
  system: EventHeader;
  data: Record<string, FieldValue>;
}

/** values.ts utf16, called directly on the hottest path (most values are strings): one call less per value. */
interface SliceableBuffer {
  ucs2Slice(start: number, end: number): string;
}
const HAS_UCS2_SLICE = typeof (Buffer.prototype as unknown as Partial<SliceableBuffer>).ucs2Slice === 'function';

/**
 * A value's text as decodeFlat(...).text, with the common types rendered without the typed form. Fails
 * (throws) exactly where decodeValue does: out of the chunk, or a fixed-size value cut short.
 */
export function flatText(ctx: BinXmlContext, ref: ValueRef): string {
  const { type, off, size } = ref;
  const buf = ctx.buf;
  if (off < 0 || size < 0 || off + size > buf.length) throw DAMAGED;
  switch (type) {
    case VT.String: {
      let end = off + (size & ~1);
      while (end > off && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
      return end === off ? '' : HAS_UCS2_SLICE ? (buf as unknown as SliceableBuffer).ucs2Slice(off, end) : utf16(buf, off, end);
    }
    case VT.UInt8:
      return size >= 1 ? String(buf[off]!) : flat(ctx, ref);
    case VT.UInt16:
      return size >= 2 ? String(ctx.view.getUint16(off, true)) : flat(ctx, ref);
    case VT.UInt32:
      return size >= 4 ? String(ctx.view.getUint32(off, true)) : flat(ctx, ref);
    case VT.Int32:
      return size >= 4 ? String(ctx.view.getInt32(off, true)) : flat(ctx, ref);
    case VT.HexInt32:
      return size >= 8 ? hex64(ctx.view, off) : size >= 4 ? '0x' + ctx.view.getUint32(off, true).toString(16) : flat(ctx, ref);
    case VT.HexInt64:
      return size >= 8 ? hex64(ctx.view, off) : flat(ctx, ref);
    case VT.FileTime:
      return size >= 8 ? formatFiletime(ctx.view, off) : flat(ctx, ref);
    case VT.Guid:
      return size >= 16 ? formatGuid(buf, ctx.view, off) : flat(ctx, ref);
    case VT.Sid:
      return formatSid(buf, ctx.view, off, size);
    default:
      return flat(ctx, ref);
  }
}

function flat(ctx: BinXmlContext, ref: ValueRef): string {
  return decodeFlat(ctx, ref).text;
}

/** Longest value a TextMemo keeps (bytes): the System texts that repeat are short. */
const MEMO_BYTES = 128;

/**
 * flatText of one System value, remembering the last text and the bytes it came from: Provider names and
 * GUIDs, Channel, Computer, UserID repeat from record to record, and comparing a few bytes is cheaper than
 * decoding them again (and keeps one string instead of a new one per record). The text is a function of the
 * type and bytes alone, so the memo is exact.
 */
export class TextMemo {
  private type = -1;
  private size = -1;
  private last = '';
  private readonly bytes = new Uint8Array(MEMO_BYTES);

  text(ctx: BinXmlContext, ref: ValueRef): string {
    const { type, off, size } = ref;
    const buf = ctx.buf;
    if (size > MEMO_BYTES || off < 0 || off + size > buf.length) return flatText(ctx, ref);
    if (type === this.type && size === this.size) {
      const bytes = this.bytes;
      let i = 0;
      while (i < size && buf[off + i] === bytes[i]) i++;
      if (i === size) return this.last;
    }
    const t = flatText(ctx, ref);
    buf.copy(this.bytes, 0, off, off + size);
    this.type = type;
    this.size = size;
    this.last = t;
    return t;
  }
}

/**
 * intText(flatText(value)) without making the text for the integer types (the System numbers): String(n) read
 * back by Number gives n again, and a UInt64 below 2^53 is exact as hi * 2^32 + lo (as Number(text) is).
 */
export function flatInt(ctx: BinXmlContext, ref: ValueRef): number | undefined {
  const { type, off, size } = ref;
  if (off >= 0 && off + size <= ctx.buf.length) {
    const view = ctx.view;
    switch (type) {
      case VT.UInt8:
        if (size >= 1) return ctx.buf[off]!;
        break;
      case VT.UInt16:
        if (size >= 2) return view.getUint16(off, true);
        break;
      case VT.UInt32:
        if (size >= 4) return view.getUint32(off, true);
        break;
      case VT.Int32:
        if (size >= 4) return view.getInt32(off, true);
        break;
      case VT.UInt64: {
        if (size < 8) break;
        const hi = view.getUint32(off + 4, true);
        if (hi < 0x200000) return hi * 0x100000000 + view.getUint32(off, true);
        break;
      }
    }
  }
  return intText(flatText(ctx, ref));
}

/**
 * Throws where rendering a present value (in text or attribute position) would fail, without decoding it:
 * outside the chunk, or a fixed-size scalar cut short. Arrays and nested BinXml never fail in decodeFlat.
 */
export function checkValue(ctx: BinXmlContext, ref: ValueRef): void {
  const { type, off, size } = ref;
  if (off < 0 || size < 0 || off + size > ctx.buf.length) throw DAMAGED;
  if (type & VT.ArrayFlag || size === 0) return;
  const want = fixedSize(type);
  if (want !== 0 && size < want) throw DAMAGED;
}

export function intText(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const n = s.startsWith('0x') ? parseInt(s, 16) : Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** At most 7 fractional digits (100 ns, FILETIME's resolution): forwarded events carry 9 as text. */
export function normaliseTime(t: string): string {
  return t.length <= 28 ? t : t.replace(/(\.\d{7})\d+Z$/, '$1Z');
}

export function addField(data: Record<string, FieldValue>, key: string, value: Scalar): void {
  const prev = data[key];
  if (prev === undefined) data[key] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else data[key] = [prev, value];
}

/**
 * What System gives an event header, as read by any of the field readers: the first element of each name (undefined:
 * not rendered), value elements as their number or text, the attribute elements as the attributes used.
 */
export class SystemParts {
  eventId: number | undefined = undefined;
  version: number | undefined = undefined;
  level: number | undefined = undefined;
  task: number | undefined = undefined;
  opcode: number | undefined = undefined;
  keywords: string | undefined = undefined;
  recordId: number | undefined = undefined;
  channel: string | undefined = undefined;
  computer: string | undefined = undefined;
  providerName: string | undefined = undefined;
  eventSourceName: string | undefined = undefined;
  providerGuid: string | undefined = undefined;
  systemTime: string | undefined = undefined;
  activityId: string | undefined = undefined;
  relatedActivityId: string | undefined = undefined;
  processId: number | undefined = undefined;
  threadId: number | undefined = undefined;
  userId: string | undefined = undefined;
}

/** System's elements read for their text (the others for their attributes). */
const TEXT_ELEMENTS: ReadonlySet<string> = new Set(['EventID', 'Version', 'Level', 'Task', 'Opcode', 'Keywords', 'EventRecordID', 'Channel', 'Computer']);

export function isSystemTextElement(name: string): boolean {
  return TEXT_ELEMENTS.has(name);
}

/** The text of System's (first) element `name`, into the parts it gives. */
export function setSystemText(p: SystemParts, name: string, text: string): void {
  switch (name) {
    case 'EventID': p.eventId = intText(text); break;
    case 'Version': p.version = intText(text); break;
    case 'Level': p.level = intText(text); break;
    case 'Task': p.task = intText(text); break;
    case 'Opcode': p.opcode = intText(text); break;
    case 'Keywords': p.keywords = text; break;
    case 'EventRecordID': p.recordId = intText(text); break;
    case 'Channel': p.channel = text; break;
    case 'Computer': p.computer = text; break;
  }
}

/** The rendered attributes of System's (first) element `name`, into the parts they give (first of a name counts). */
export function setSystemAttributes(p: SystemParts, name: string, attrs: readonly XmlAttribute[]): void {
  switch (name) {
    case 'Provider':
      p.providerName = attributeOf(attrs, 'Name');
      p.eventSourceName = attributeOf(attrs, 'EventSourceName');
      p.providerGuid = attributeOf(attrs, 'Guid');
      break;
    case 'TimeCreated': p.systemTime = attributeOf(attrs, 'SystemTime'); break;
    case 'Correlation':
      p.activityId = attributeOf(attrs, 'ActivityID');
      p.relatedActivityId = attributeOf(attrs, 'RelatedActivityID');
      break;
    case 'Execution':
      p.processId = intText(attributeOf(attrs, 'ProcessID'));
      p.threadId = intText(attributeOf(attrs, 'ThreadID'));
      break;
    case 'Security': p.userId = attributeOf(attrs, 'UserID'); break;
  }
}

/** The first attribute of the name among rendered attributes. */
export function attributeOf(attrs: readonly XmlAttribute[], name: string): string | undefined {
  for (const a of attrs) if (a.name === name) return a.value;
  return undefined;
}

/** As fieldsFromTree (events.ts) reads the tree (same fields, same order); null when there is no EventID (the tree path reports it). */
export function systemResult(p: SystemParts, record: EvtxRecord): EventHeader | null {
  const id = p.eventId;
  if (id === undefined) return null;
  const out: EventHeader = {
    provider: p.providerName ?? p.eventSourceName ?? '',
    eventId: id,
    timeCreated: normaliseTime(p.systemTime || record.timestamp),
    recordId: p.recordId ?? record.recordId,
    channel: p.channel ?? '',
    computer: p.computer ?? '',
  };
  if (p.providerGuid) out.providerGuid = p.providerGuid;
  if (p.version !== undefined) out.version = p.version;
  if (p.level !== undefined) out.level = p.level;
  if (p.task !== undefined) out.task = p.task;
  if (p.opcode !== undefined) out.opcode = p.opcode;
  if (p.keywords !== undefined) out.keywords = p.keywords;
  if (p.activityId) out.activityId = p.activityId;
  if (p.relatedActivityId) out.relatedActivityId = p.relatedActivityId;
  if (p.processId !== undefined) out.processId = p.processId;
  if (p.threadId !== undefined) out.threadId = p.threadId;
  if (p.userId) out.userSid = p.userId;
  return out;
}
