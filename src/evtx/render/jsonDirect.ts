/**
 * The dump's hot path: a record's evtx_dump-shaped JSON written straight from the BinXml intermediate tree and
 * the record's substitution values into a byte buffer, without building the element tree or any string per value.
 *
 * Each template element gets a plan (its shape, its pre-encoded `"key":` bytes, literal values pre-rendered),
 * made once per chunk and cached with the template. Values are written as bytes: UTF-16 strings converted to
 * JSON-escaped UTF-8 in one pass, GUIDs and FILETIMEs formatted in place. Shapes the plan does not cover (repeats
 * that get `_1` suffixes, mixed text and elements, an element left with no children, nesting or size limits) and
 * any damage make the fast path give up; the caller then rewinds and renders the record through the element
 * tree (json.ts), which stays the definition of the output. The two agree byte for byte (checked with `cmp` on
 * the dumps of the whole corpus, and record by record on every fuzz mutant).
 */
import { fail } from '../bytes.js';
import { allAbsentOptional, EMPTY_ITEM, isAbsent, MAX_RECORD_NODES, recordRoot, walkNodes, type Walk, type WalkSink } from '../binxml/walker.js';
import { countFallback, DAMAGED, giveUpKind, NOT_COVERED } from '../fallback.js';
import type { BinXmlContext, ElementNode, SubstitutionNode, TextNode, ValueRef } from '../binxml/tokens.js';
import { civilFromDays, decodeValue, filetimeFields, formatFiletime, FT, formatSid, hex64, utf16, VT, type DecodedValue } from '../binxml/values.js';

/** Scratch for civilFromDays on the timestamp hot path. */
const civil = new Int32Array(3);
const time = new Int32Array(5);
import type { ChunkRecord } from '../record.js';
import { quoteKey, scalarString } from './json.js';

/** A growable output buffer; owned (not pooled) so it can be transferred between threads. */
export class ByteSink {
  buf: Buffer;
  pos = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, capacity));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n + 1024));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  bytes(src: Uint8Array): void {
    const n = src.length;
    this.ensure(n);
    const out = this.buf;
    let p = this.pos;
    if (n <= 32) for (let i = 0; i < n; i++) out[p++] = src[i]!;
    else {
      out.set(src, p);
      p += n;
    }
    this.pos = p;
  }

  /** Any string, UTF-8 encoded (as the output stream would encode it). */
  string(s: string): void {
    const n = s.length;
    this.ensure(n * 3);
    if (n <= 64) {
      // Short ASCII (numbers, formatted values) is copied by hand: cheaper than the encoder call.
      const out = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          this.pos += out.write(s, this.pos, 'utf8');
          return;
        }
        out[p++] = c;
      }
      this.pos = p;
      return;
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A string known to be ASCII without characters JSON escapes, as a JSON string literal. */
  quotedAscii(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const out = this.buf;
    let p = this.pos;
    out[p++] = 0x22;
    for (let i = 0; i < n; i++) out[p++] = s.charCodeAt(i);
    out[p++] = 0x22;
    this.pos = p;
  }

  /** The bytes written so far. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}


/** Encoded pieces (keys, literals) are the same in every chunk: cached by text so plans are cheap to make. */
const encoded = new Map<string, Buffer>();
function enc(s: string): Buffer {
  let b = encoded.get(s);
  if (b === undefined) {
    b = Buffer.from(s, 'utf8');
    if (encoded.size < 20000) encoded.set(s, b);
  }
  return b;
}
const B_NULL = enc('null');
const B_EMPTY_STRING = enc('""');
const B_ATTRIBUTES = enc('{"#attributes":{');
const B_ATTRIBUTES_MEMBER = enc('"#attributes":{');
const B_TEXT = enc(',"#text":');
const B_TEXT_ARRAY = enc('{"#text":[');

const enum Shape {
  /** No content: null. */
  Empty,
  /** One literal text/CDATA node. */
  Text,
  /** One substitution. */
  Sub,
  /** Elements, substitutions (nested BinXml, absent values) and template instances only. */
  Container,
}

interface AttributePlan {
  /** `"name":` */
  key: Buffer;
  /** Literal value, pre-rendered; null when the value is a substitution. */
  literal: Buffer | null;
  sub: SubstitutionNode | null;
}

interface ElementPlan {
  shape: Shape;
  /** Key of this element in its parent's object (the Name of `<Data Name="X">`, else the element name). */
  key: string;
  keyBytes: Buffer;
  attributes: AttributePlan[];
  /** Shape.Text: the rendered literal. */
  text: Buffer | null;
  /** Shape.Sub */
  sub: SubstitutionNode | null;
  /** Key under which the element's value goes is its Data Name: its attributes are not rendered. */
  isNamedData: boolean;
  /** Shape.Container: the static element children's keys repeat (the tree path then groups them). */
  staticDuplicates: boolean;
  staticKeys: string[];
}

/** Plans are kept on the template's elements (so they live as long as their chunk); null: not covered. */
function planOf(el: ElementNode): ElementPlan | null {
  let p = el.plan as ElementPlan | null | undefined;
  if (p === undefined) {
    p = makePlan(el);
    el.plan = p;
  }
  return p;
}

const memberKeys = new Map<string, Buffer>();
function memberKey(key: string): Buffer {
  let b = memberKeys.get(key);
  if (b === undefined) {
    b = Buffer.from(quoteKey(key) + ':', 'utf8');
    if (memberKeys.size < 20000) memberKeys.set(key, b);
  }
  return b;
}

function literalJson(node: TextNode | { kind: 'cdata'; text: string }): Buffer {
  return enc(scalarString(node.kind === 'text' && node.json !== undefined ? node.json : node.text));
}


function makePlan(el: ElementNode): ElementPlan | null {
  const attributes: AttributePlan[] = [];
  let dataName: string | undefined;
  for (const a of el.attributes) {
    if (a.parts.length > 1) return null;
    const part = a.parts[0];
    let literal: Buffer | null = null;
    let sub: SubstitutionNode | null = null;
    if (part === undefined) literal = B_EMPTY_STRING;
    else if (part.kind === 'text') literal = literalJson(part);
    else if (part.kind === 'sub') sub = part;
    else return null;
    if (el.name === 'Data' && a.name === 'Name' && dataName === undefined) {
      // The key comes from the rendered Name: only a literal one is known here.
      if (part === undefined || part.kind !== 'text') return null;
      dataName = part.text;
    }
    attributes.push({ key: memberKey(a.name), literal, sub });
  }
  const key = dataName ?? el.name;
  const plan: ElementPlan = {
    shape: Shape.Empty,
    key,
    keyBytes: memberKey(key),
    attributes,
    text: null,
    sub: null,
    isNamedData: dataName !== undefined,
    staticDuplicates: false,
    staticKeys: NO_KEYS,
  };
  const kids = el.children;
  if (kids.length === 0) return plan;
  if (kids.length === 1) {
    const only = kids[0]!;
    if (only.kind === 'text' || only.kind === 'cdata') {
      plan.shape = Shape.Text;
      plan.text = literalJson(only);
      return plan;
    }
    if (only.kind === 'sub') {
      plan.shape = Shape.Sub;
      plan.sub = only;
      return plan;
    }
  }
  const staticKeys: string[] = [];
  let duplicates = false;
  for (const c of kids) {
    if (c.kind === 'element') {
      const cp = planOf(c);
      if (!cp) return null;
      for (const k of staticKeys) if (k === cp.key) duplicates = true;
      staticKeys.push(cp.key);
    } else if (c.kind !== 'sub' && c.kind !== 'template') return null;
  }
  plan.shape = Shape.Container;
  plan.staticDuplicates = duplicates;
  plan.staticKeys = staticKeys;
  return plan;
}

const NO_KEYS: string[] = [];

/** Per-record state of the fast path. */
interface Run {
  ctx: BinXmlContext;
  out: ByteSink;
  budget: number;
}

function spend(run: Run, n: number): void {
  run.budget -= n;
  if (run.budget < 0) throw DAMAGED; // the tree path reports it
}

/**
 * Appends the record's JSON line body (no newline) to `out` and returns true, or returns false having written
 * nothing that counts (the caller rewinds `out.pos`) when the fast path does not cover the record or it is damaged.
 */
export function writeRecordJson(record: ChunkRecord, out: ByteSink): boolean {
  const start = out.pos;
  try {
    const { ctx } = record.raw();
    const run: Run = { ctx, out, budget: MAX_RECORD_NODES };
    // Only a record that is exactly one element or one template instance of one element: the tree path
    // renders every node (and may fail on any), the fast path only the first.
    const at = recordRoot(run, record.tokens());
    if (!at) throw NOT_COVERED;
    const { root, values, nesting } = at;
    const plan = planOf(root);
    if (!plan || omitted(plan, root, values) || repeatsArray(plan, values)) throw NOT_COVERED;
    out.bytes(rootKey(root.name));
    writeElementValue(run, root, plan, values, nesting);
    out.byte(0x7d);
    return true;
  } catch (err) {
    // Not covered, or damaged: the tree path renders it or reports the damage exactly.
    countFallback(giveUpKind(err) === 'damaged' ? 'json.damaged' : 'json.shape');
    out.pos = start;
    return false;
  }
}

/** `{"Event":` for the root element (by element name even for `<Data Name>`: the root is never a Data child). */
const rootKeys = new Map<string, Buffer>();
function rootKey(name: string): Buffer {
  let b = rootKeys.get(name);
  if (!b) {
    b = enc('{' + JSON.stringify(name) + ':');
    if (rootKeys.size < 1000) rootKeys.set(name, b);
  }
  return b;
}

/** The element is left out: its content is only optional substitutions, all absent (as Windows renders it). */
function omitted(plan: ElementPlan, el: ElementNode, values: ValueRef[] | null): boolean {
  let out: boolean;
  if (plan.shape === Shape.Sub) out = plan.sub!.optional && isAbsent(values?.[plan.sub!.index]);
  else if (plan.shape !== Shape.Container) out = false;
  else out = allAbsentOptional(el.children, values);
  // The tree path renders (and so decodes) attribute values before leaving the element out.
  if (out) for (const a of plan.attributes) if (a.sub && !isAbsent(values?.[a.sub.index])) throw NOT_COVERED;
  return out;
}

/** A nested BinXml value with content: elements in place of the substitution. */
function isMarkup(ref: ValueRef | undefined): boolean {
  return ref !== undefined && ref.type === VT.BinXml && ref.size > 0;
}


/** A lone array substitution repeats the element once per item: not covered here. */
function repeatsArray(plan: ElementPlan, values: ValueRef[] | null): boolean {
  if (plan.shape !== Shape.Sub || !values) return false;
  const ref = values[plan.sub!.index];
  return ref !== undefined && (ref.type & VT.ArrayFlag) !== 0;
}

/** Writes the JSON value of an element (what follows its key). */
function writeElementValue(run: Run, el: ElementNode, plan: ElementPlan, values: ValueRef[] | null, nesting: number): void {
  const out = run.out;
  if (plan.shape === Shape.Container || (plan.shape === Shape.Sub && isMarkup(values?.[plan.sub!.index]))) {
    writeContainer(run, el, plan, values, nesting);
    return;
  }
  // The tree path instantiates the children once the element is kept (a container's are spent by the walk).
  spend(run, el.children.length);
  const present = presentAttributes(plan, values);
  if (present === 0) {
    writeLeafValue(run, plan, values);
    return;
  }
  out.bytes(B_ATTRIBUTES);
  writeAttributes(run, plan, values);
  out.byte(0x7d);
  if (!leafIsNull(run, plan, values)) {
    out.bytes(B_TEXT);
    writeLeafValue(run, plan, values);
  }
  out.byte(0x7d);
}

function presentAttributes(plan: ElementPlan, values: ValueRef[] | null): number {
  let n = 0;
  for (const a of plan.attributes) if (a.literal || !isAbsent(values?.[a.sub!.index])) n++;
  return n;
}

function writeAttributes(run: Run, plan: ElementPlan, values: ValueRef[] | null): void {
  const out = run.out;
  let first = true;
  for (const a of plan.attributes) {
    let ref: ValueRef | undefined;
    if (!a.literal) {
      ref = values?.[a.sub!.index];
      if (isAbsent(ref)) continue;
    }
    if (!first) out.byte(0x2c);
    first = false;
    out.bytes(a.key);
    if (a.literal) out.bytes(a.literal);
    else writeAttributeValue(run, ref!);
  }
}

function writeAttributeValue(run: Run, ref: ValueRef): void {
  if ((ref.type & 0x7f) === VT.BinXml) {
    run.out.bytes(B_NULL);
    return;
  }
  if (ref.type & VT.ArrayFlag) throw NOT_COVERED; // items joined with ','
  if (ref.type === VT.String || ref.type === VT.EvtXml) {
    if (!writeUtf16String(run, ref)) run.out.bytes(B_EMPTY_STRING);
    return;
  }
  writeScalar(run, ref);
}

/**
 * A non-string value as JSON, for the common fixed-size types without the decoder's value object; the rest
 * through decodeValue. Formatted values (GUID, hex, times, SIDs) are ASCII JSON never escapes.
 */
function writeScalar(run: Run, ref: ValueRef): void {
  const { buf, view } = run.ctx;
  const out = run.out;
  const off = ref.off;
  const size = ref.size;
  if (off >= 0 && off + size <= buf.length) {
    switch (ref.type) {
      case VT.UInt8:
        if (size >= 1) return out.string(String(buf[off]!));
        break;
      case VT.UInt16:
        if (size >= 2) return out.string(String(view.getUint16(off, true)));
        break;
      case VT.UInt32:
        if (size >= 4) return out.string(String(view.getUint32(off, true)));
        break;
      case VT.Int32:
        if (size >= 4) return out.string(String(view.getInt32(off, true)));
        break;
      case VT.HexInt32:
        if (size >= 4 && size < 8) return out.quotedAscii('0x' + view.getUint32(off, true).toString(16));
        break;
      case VT.HexInt64:
        if (size >= 8) return out.quotedAscii(hex64(view, off));
        break;
      case VT.FileTime:
        if (size >= 8) return writeFiletime(out, view, off);
        break;
      case VT.Guid:
        if (size >= 16) return writeGuid(out, buf, off);
        break;
      case VT.Sid:
        return out.quotedAscii(formatSid(buf, view, off, size));
    }
  }
  const d = decodeValue(buf, view, ref.type, off, size) as DecodedValue;
  out.string(scalarString(d.json));
}

const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');
/** Byte order of a GUID's text: the first three groups are little-endian. */
const GUID_ORDER = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15];

/** `"{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}"`, as formatGuid renders it, written as bytes. */
function writeGuid(out: ByteSink, buf: Buffer, off: number): void {
  out.ensure(40);
  const d = out.buf;
  let p = out.pos;
  d[p++] = 0x22;
  d[p++] = 0x7b;
  for (const i of GUID_ORDER) {
    if (i < 0) {
      d[p++] = 0x2d;
      continue;
    }
    const b = buf[off + i]!;
    d[p++] = HEX_UPPER[b >> 4]!;
    d[p++] = HEX_UPPER[b & 15]!;
  }
  d[p++] = 0x7d;
  d[p++] = 0x22;
  out.pos = p;
}

/**
 * A FILETIME as `"YYYY-MM-DDTHH:MM:SS.fffffffZ"`, as formatFiletime renders it, written as bytes (years
 * outside 1000-9999 through formatFiletime).
 */
function writeFiletime(out: ByteSink, view: DataView, off: number): void {
  filetimeFields(view.getUint32(off + 4, true), view.getUint32(off, true), time);
  civilFromDays(time[FT.Days]!, civil);
  const year = civil[0]!;
  const month = civil[1]!;
  const day = civil[2]!;
  if (year < 1000 || year > 9999) {
    out.quotedAscii(formatFiletime(view, off));
    return;
  }
  const hour = time[FT.Hour]!;
  const minute = time[FT.Minute]!;
  const second = time[FT.Second]!;
  const frac = time[FT.Fraction]!;
  out.ensure(30);
  const d = out.buf;
  let p = out.pos;
  d[p++] = 0x22;
  p = digits(d, p, year, 4);
  d[p++] = 0x2d;
  p = digits(d, p, month, 2);
  d[p++] = 0x2d;
  p = digits(d, p, day, 2);
  d[p++] = 0x54;
  p = digits(d, p, hour, 2);
  d[p++] = 0x3a;
  p = digits(d, p, minute, 2);
  d[p++] = 0x3a;
  p = digits(d, p, second, 2);
  d[p++] = 0x2e;
  p = digits(d, p, frac, 7);
  d[p++] = 0x5a;
  d[p++] = 0x22;
  out.pos = p;
}

/** `n` as exactly `width` decimal digits (zero-padded) at `p`; returns the position after them. */
function digits(d: Buffer, p: number, n: number, width: number): number {
  for (let k = width - 1; k >= 0; k--) {
    d[p + k] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return p + width;
}

/** Whether a leaf element's value renders as null (no text: empty, absent or empty-string substitution). */
function leafIsNull(run: Run, plan: ElementPlan, values: ValueRef[] | null): boolean {
  if (plan.shape === Shape.Empty) return true;
  if (plan.shape === Shape.Text) return false;
  const ref = values?.[plan.sub!.index];
  if (!ref || ref.type === VT.Null || ref.size === 0) return true;
  if ((ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED; // markup inside a leaf: its shape changes
  if (ref.type === VT.String || ref.type === VT.EvtXml) return stringEnd(run, ref) === ref.off;
  return false; // decoded below; an empty rendering is checked there
}

function writeLeafValue(run: Run, plan: ElementPlan, values: ValueRef[] | null): void {
  const out = run.out;
  if (plan.shape === Shape.Empty) {
    out.bytes(B_NULL);
    return;
  }
  if (plan.shape === Shape.Text) {
    out.bytes(plan.text!);
    return;
  }
  const ref = values?.[plan.sub!.index];
  if (!ref || ref.type === VT.Null || ref.size === 0) {
    out.bytes(B_NULL);
    return;
  }
  if ((ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED;
  if (ref.type === VT.String || ref.type === VT.EvtXml) {
    if (!writeUtf16String(run, ref)) out.bytes(B_NULL);
    return;
  }
  if (ref.type === VT.AnsiString || ref.type === VT.Binary) {
    const d = decodeValue(run.ctx.buf, run.ctx.view, ref.type, ref.off, ref.size) as DecodedValue;
    // An empty rendering is no text at all (null); but then a `#text` key may already be written: not covered.
    if (d.text === '') throw NOT_COVERED;
    out.string(scalarString(d.json));
    return;
  }
  // Every other type renders to non-empty text (size 0 was handled above).
  writeScalar(run, ref);
}

/** End of a UTF-16 string value without its trailing NULs (as the decoder strips them). */
function stringEnd(run: Run, ref: ValueRef): number {
  const buf = run.ctx.buf;
  if (ref.off < 0 || ref.size < 0 || ref.off + ref.size > buf.length) fail(`value of type 0x${ref.type.toString(16)} overruns the chunk`, ref.off);
  let end = ref.off + (ref.size & ~1);
  while (end > ref.off && buf[end - 1] === 0 && buf[end - 2] === 0) end -= 2;
  return end;
}

/**
 * A UTF-16LE string value as a JSON string literal in UTF-8, straight from the bytes, escaped as JSON.stringify
 * escapes (`\"`, `\\`, `\n`-style short forms, `\u00xx` for other controls); a lone surrogate (escaped by
 * JSON.stringify as `\udxxx`) sends the value through JSON.stringify. Returns false (nothing written) for an
 * empty string.
 */
function writeUtf16String(run: Run, ref: ValueRef): boolean {
  const end = stringEnd(run, ref);
  const start = ref.off;
  if (end === start) return false;
  const out = run.out;
  const src = run.ctx.buf;
  // Worst case per code unit: 6 bytes (\u00xx); 3 bytes of UTF-8.
  out.ensure(2 + 3 * (end - start));
  const dst = out.buf;
  const mark = out.pos;
  let p = mark;
  dst[p++] = 0x22;
  for (let i = start; i < end; i += 2) {
    const c = src[i]! | (src[i + 1]! << 8);
    if (c < 0x80) {
      if (c >= 0x20 && c !== 0x22 && c !== 0x5c) dst[p++] = c;
      else {
        const esc = JSON_ESCAPES[c]!;
        for (let k = 0; k < esc.length; k++) dst[p++] = esc[k]!;
      }
    } else if (c < 0x800) {
      dst[p++] = 0xc0 | (c >> 6);
      dst[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      dst[p++] = 0xe0 | (c >> 12);
      dst[p++] = 0x80 | ((c >> 6) & 0x3f);
      dst[p++] = 0x80 | (c & 0x3f);
    } else {
      const next = i + 3 < end ? src[i + 2]! | (src[i + 3]! << 8) : 0;
      if (c > 0xdbff || next < 0xdc00 || next > 0xdfff) {
        out.pos = mark;
        out.string(JSON.stringify(utf16(src, start, end)));
        return true;
      }
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      dst[p++] = 0xf0 | (cp >> 18);
      dst[p++] = 0x80 | ((cp >> 12) & 0x3f);
      dst[p++] = 0x80 | ((cp >> 6) & 0x3f);
      dst[p++] = 0x80 | (cp & 0x3f);
      i += 2;
    }
  }
  dst[p++] = 0x22;
  out.pos = p;
  return true;
}

/** JSON.stringify's escape of each ASCII character that needs one (controls, quote, backslash), as bytes. */
const JSON_ESCAPES: (Buffer | undefined)[] = Array.from({ length: 0x80 }, (_, c) =>
  c < 0x20 || c === 0x22 || c === 0x5c ? Buffer.from(JSON.stringify(String.fromCharCode(c)).slice(1, -1), 'latin1') : undefined,
);

/**
 * An element with element children: `{"#attributes":{...},"key":value,...}`. Its content is expanded by the walker
 * (binxml/walker.ts: template instances and nested BinXml in place, elements left out or repeated as Windows
 * renders them, the node budget and nesting limits) into a MemberSink, which writes each element as a member.
 */
function writeContainer(run: Run, el: ElementNode, plan: ElementPlan, values: ValueRef[] | null, nesting: number): void {
  if (plan.staticDuplicates || hasRepeats(el, values)) {
    spend(run, el.children.length);
    writeGroupedContainer(run, el, plan, values, nesting);
    return;
  }
  const out = run.out;
  out.byte(0x7b);
  let count = 0;
  if (presentAttributes(plan, values) > 0) {
    out.bytes(B_ATTRIBUTES_MEMBER);
    writeAttributes(run, plan, values);
    out.byte(0x7d);
    count++;
  }
  const members = new MemberSink(run, plan, nesting, count);
  walkNodes(run, el.children, values, nesting, members);
  // Every child left out: the element renders as a leaf in the tree path.
  if (members.count === count) throw NOT_COVERED;
  out.byte(0x7d);
}

/**
 * The JSON-bytes sink of the walker, one container level: each element it is handed becomes `"key":value`. Keys
 * that repeat (which the tree path groups or suffixes), text beside elements and repeated elements are not
 * covered. Attributes are written from the plans, not rendered by the walker.
 */
class MemberSink implements WalkSink {
  readonly readsAttributes = true as const;
  /** Keys of elements put here by template instances or nested BinXml (checked against the others). */
  private dynamicKeys: string[] | null = null;
  constructor(
    private readonly run: Run,
    private readonly parent: ElementPlan,
    private readonly nesting: number,
    public count: number,
  ) {}

  element(_w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, _attrs: unknown, item: DecodedValue | null): void {
    if (item !== null) throw NOT_COVERED; // a lone array repeats the element: grouped or suffixed keys
    const p = planOf(el);
    if (!p) throw NOT_COVERED;
    if (nesting !== this.nesting) {
      // Not one of the container's own children (those have distinct keys, else the grouped path ran).
      for (const k of this.parent.staticKeys) if (k === p.key) throw NOT_COVERED;
      const seen = (this.dynamicKeys ??= []);
      for (const k of seen) if (k === p.key) throw NOT_COVERED;
      seen.push(p.key);
    }
    this.count += writeMember(this.run, el, values, nesting, this.count);
  }

  literal(): void {
    throw NOT_COVERED; // text beside elements
  }

  value(): void {
    throw NOT_COVERED; // text beside elements
  }
}

/**
 * The tree path decodes every present attribute value, also of `<Data Name>` elements whose attributes are not
 * shown: a damaged one must fail here too.
 */
function decodeUnshownAttributes(run: Run, plan: ElementPlan, values: ValueRef[] | null): void {
  for (const a of plan.attributes) {
    if (!a.sub) continue;
    const ref = values?.[a.sub.index];
    if (isAbsent(ref) || (ref!.type & 0x7f) === VT.BinXml) continue;
    decodeValue(run.ctx.buf, run.ctx.view, ref!.type, ref!.off, ref!.size);
  }
}

/** A member of a grouped container: an element, or one item of an array that repeats it. */
interface Member {
  el: ElementNode;
  plan: ElementPlan;
  /** Set for array items. */
  item: DecodedValue | null;
}

/** A static child element whose lone substitution is an array this record: it repeats (grouped path). */
function hasRepeats(el: ElementNode, values: ValueRef[] | null): boolean {
  if (!values) return false;
  for (const c of el.children) {
    if (c.kind !== 'element') continue;
    const cp = c.plan as ElementPlan | null | undefined;
    if (cp && cp.shape === Shape.Sub) {
      const ref = values[cp.sub!.index];
      if (ref !== undefined && ref.type & VT.ArrayFlag) return true;
    }
  }
  return false;
}

/**
 * A container whose element children repeat names (unnamed `<Data>` of classic events, string arrays repeating
 * an element): scalar repeats are collected under `"key":{"#text":[...]}` in first-occurrence order, as the tree
 * path does. Only static element children with scalar values are covered; other repeats (suffixed keys) are not.
 */
function writeGroupedContainer(run: Run, el: ElementNode, plan: ElementPlan, values: ValueRef[] | null, nesting: number): void {
  const out = run.out;
  const groups = new Map<string, Member[]>();
  for (const c of el.children) {
    if (c.kind !== 'element') throw NOT_COVERED;
    const cp = planOf(c);
    if (!cp) throw NOT_COVERED;
    if (repeatsArray(cp, values)) {
      const ref = values![cp.sub!.index]!;
      if ((ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED;
      // Repeated elements carry the element's attributes: only attribute-less (or named Data) ones are scalars.
      if (!cp.isNamedData && presentAttributes(cp, values) > 0) throw NOT_COVERED;
      decodeUnshownAttributes(run, cp, values);
      const items = decodeValue(run.ctx.buf, run.ctx.view, ref.type, ref.off, ref.size) as DecodedValue[];
      spend(run, items.length);
      const list = items.length > 0 ? items : [EMPTY_ITEM];
      for (const item of list) addMember(groups, { el: c, plan: cp, item });
      continue;
    }
    if (omitted(cp, c, values)) continue;
    addMember(groups, { el: c, plan: cp, item: null });
  }
  if (groups.size === 0) throw NOT_COVERED;
  out.byte(0x7b);
  let count = 0;
  if (presentAttributes(plan, values) > 0) {
    out.bytes(B_ATTRIBUTES_MEMBER);
    writeAttributes(run, plan, values);
    out.byte(0x7d);
    count++;
  }
  for (const [, members] of groups) {
    const first = members[0]!;
    if (members.length === 1 && first.item === null) {
      count += writeMember(run, first.el, values, nesting, count);
      continue;
    }
    if (count > 0) out.byte(0x2c);
    out.bytes(first.plan.keyBytes);
    if (members.length > 1) out.bytes(B_TEXT_ARRAY);
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      if (i > 0) out.byte(0x2c);
      if (m.item) {
        out.string(m.item.text === '' ? 'null' : scalarString(m.item.json));
        continue;
      }
      // Scalar only: a leaf whose value is not an object (no attributes shown, no markup).
      const mp = m.plan;
      if (mp.shape === Shape.Container || (!mp.isNamedData && presentAttributes(mp, values) > 0)) throw NOT_COVERED;
      if (mp.shape === Shape.Sub && isMarkup(values?.[mp.sub!.index])) throw NOT_COVERED;
      if (mp.isNamedData) decodeUnshownAttributes(run, mp, values);
      spend(run, m.el.children.length);
      writeLeafValue(run, mp, values);
    }
    if (members.length > 1) {
      out.byte(0x5d);
      out.byte(0x7d);
    }
    count++;
  }
  out.byte(0x7d);
}


function addMember(groups: Map<string, Member[]>, m: Member): void {
  const g = groups.get(m.plan.key);
  if (g) g.push(m);
  else groups.set(m.plan.key, [m]);
}

/** One child element as `"key":value` (with a leading comma after the first); 0 when it is left out. */
function writeMember(run: Run, el: ElementNode, values: ValueRef[] | null, nesting: number, count: number): number {
  const plan = planOf(el);
  if (!plan) throw NOT_COVERED;
  if (omitted(plan, el, values)) return 0;
  if (repeatsArray(plan, values)) throw NOT_COVERED;
  const out = run.out;
  if (count > 0) out.byte(0x2c);
  out.bytes(plan.keyBytes);
  if (plan.isNamedData) {
    // `<Data Name="X">v</Data>` → "X": v (its attributes are not rendered; element children would be ignored).
    if (plan.shape === Shape.Container) throw NOT_COVERED;
    decodeUnshownAttributes(run, plan, values);
    spend(run, el.children.length);
    writeLeafValue(run, plan, values);
    return 1;
  }
  writeElementValue(run, el, plan, values, nesting);
  return 1;
}
