/**
 * BinXml tokens → an intermediate tree (elements, literal text, substitution slots, template instances).
 *
 * Token stream layout follows libyal's EVTX document. The tree is what a template definition "compiles" to
 * once per chunk; records then only read their template instance (value descriptors) and reuse it.
 */
import { Cursor, EvtxFormatError, fail } from '../bytes.js';
import { decodeValue, formatGuid, inlineValueExtent, utf16, type DecodedValue, type JsonScalar } from './values.js';

export const TOKEN = {
  EndOfStream: 0x00,
  OpenStartElement: 0x01,
  CloseStartElement: 0x02,
  CloseEmptyElement: 0x03,
  EndElement: 0x04,
  Value: 0x05,
  Attribute: 0x06,
  CDataSection: 0x07,
  CharRef: 0x08,
  EntityRef: 0x09,
  PITarget: 0x0a,
  PIData: 0x0b,
  TemplateInstance: 0x0c,
  NormalSubstitution: 0x0d,
  OptionalSubstitution: 0x0e,
  FragmentHeader: 0x0f,
  /** On 0x01: the element has attributes; on 0x05/0x06/0x07/0x08/0x09: more data follows. */
  MoreFlag: 0x40,
} as const;

/** Element nesting beyond this is treated as damage (Windows never writes anything near it). */
export const MAX_ELEMENT_DEPTH = 128;
/** Templates and nested BinXml values inside one another beyond this are treated as damage (or a cycle). */
export const MAX_NESTING = 16;

export interface ValueRef {
  type: number;
  /** Offset of the value's bytes in the chunk. */
  off: number;
  size: number;
}

export interface SubstitutionNode {
  kind: 'sub';
  index: number;
  optional: boolean;
  type: number;
}
export interface TextNode {
  kind: 'text';
  text: string;
  json?: JsonScalar;
}
export interface ElementNode {
  kind: 'element';
  name: string;
  attributes: AttributeNode[];
  children: BxNode[];
  /** A renderer's per-element cache (render/jsonDirect.ts); lives as long as the chunk's template. */
  plan: unknown;
  /** Rendered attributes when they are all literal (shared by every record: trees are read-only); null: not. */
  literalAttributes: unknown;
  /** The event-field reader's per-element cache (fields.ts): its field key when it is static. */
  fieldKey: string | null | undefined;
}
export interface AttributeNode {
  name: string;
  /** Text and substitution parts, concatenated when rendered. */
  parts: BxNode[];
}
export interface CDataNode {
  kind: 'cdata';
  text: string;
}
export interface PINode {
  kind: 'pi';
  target: string;
  data: string;
}
export interface TemplateInstanceNode {
  kind: 'template';
  def: TemplateDef;
  values: ValueRef[];
}
export type BxNode = ElementNode | TextNode | SubstitutionNode | CDataNode | PINode | TemplateInstanceNode;

export interface TemplateDef {
  /** Chunk offset of the definition: its identity within the chunk. */
  offset: number;
  /** First 4 bytes of the GUID, which template instances quote as the template id. */
  id: number;
  guid: string;
  nodes: BxNode[];
  /** Chunk byte range of the definition's BinXml (for the literal prefilter). */
  start: number;
  end: number;
  /** The literal prefilter's cache slot (prefilter.ts): its verdict on this template for one literal set. */
  prefilter: { set: object; mayContain: boolean } | undefined;
}

/** What BinXml parsing needs from its chunk: the bytes and the per-chunk name and template caches. */
export interface BinXmlContext {
  buf: Buffer;
  view: DataView;
  names: Map<number, string>;
  /** null marks a definition being parsed, so a template that refers to itself is caught, not recursed into. */
  templates: Map<number, TemplateDef | EvtxFormatError | null>;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Parses tokens from `start` up to `end` (or the end-of-stream token).
 * `withDependencyId`: element start tokens in template definitions carry a 2-byte dependency identifier;
 * those written directly in a record (templateless/WEC records) or in a nested BinXml value do not.
 */
export function parseFragment(ctx: BinXmlContext, start: number, end: number, withDependencyId: boolean, nesting: number): BxNode[] {
  if (nesting > MAX_NESTING) fail('BinXml nested too deeply (templates/values within one another)', start);
  const cur = new Cursor(ctx.buf, ctx.view, start, Math.min(end, ctx.buf.length));
  const roots: BxNode[] = [];
  const stack: ElementNode[] = [];
  let attr: AttributeNode | null = null;
  let pendingPI: PINode | null = null;

  // Where content goes: the open attribute's value, else the innermost open element, else the top level.
  let target: BxNode[] = roots;

  while (cur.pos < cur.end) {
    const tokenOffset = cur.pos;
    const token = cur.u8('token');
    const base = token & ~TOKEN.MoreFlag;
    switch (base) {
      case TOKEN.EndOfStream:
        return roots;
      case TOKEN.FragmentHeader:
        cur.skip(3, 'fragment header');
        break;
      case TOKEN.OpenStartElement: {
        if (withDependencyId) cur.skip(2, 'element dependency id');
        cur.skip(4, 'element data size');
        const name = readName(ctx, cur);
        if (token & TOKEN.MoreFlag) cur.skip(4, 'attribute list size');
        const el: ElementNode = { kind: 'element', name, attributes: [], children: [], plan: undefined, literalAttributes: undefined, fieldKey: undefined };
        attr = null;
        target.push(el);
        if (stack.length >= MAX_ELEMENT_DEPTH) fail('elements nested too deeply', tokenOffset);
        stack.push(el);
        target = el.children;
        break;
      }
      case TOKEN.Attribute: {
        const top = stack[stack.length - 1];
        if (!top) fail('attribute outside an element', tokenOffset);
        attr = { name: readName(ctx, cur), parts: [] };
        top.attributes.push(attr);
        target = attr.parts;
        break;
      }
      case TOKEN.CloseStartElement:
        attr = null;
        target = stack.length > 0 ? stack[stack.length - 1]!.children : roots;
        break;
      case TOKEN.CloseEmptyElement:
      case TOKEN.EndElement:
        attr = null;
        if (stack.length === 0) fail('end of element without a start', tokenOffset);
        stack.pop();
        target = stack.length > 0 ? stack[stack.length - 1]!.children : roots;
        break;
      case TOKEN.Value: {
        const type = cur.u8('value type');
        const { dataOff, size } = inlineValueExtent(ctx.buf, ctx.view, type, cur.pos, cur.end);
        if (dataOff + size > cur.end) fail('value token overruns its fragment', cur.pos);
        const decoded = decodeValue(ctx.buf, ctx.view, type, dataOff, size);
        cur.pos = dataOff + size;
        const text = literal(decoded);
        if (text.text !== '' || attr) target.push(text);
        break;
      }
      case TOKEN.CDataSection: {
        const count = cur.u16('CDATA length');
        const text = cur.utf16(count, 'CDATA text');
        target.push(attr ? { kind: 'text', text } : { kind: 'cdata', text });
        break;
      }
      case TOKEN.CharRef: {
        const code = cur.u16('character reference');
        target.push({ kind: 'text', text: String.fromCharCode(code) });
        break;
      }
      case TOKEN.EntityRef: {
        const name = readName(ctx, cur);
        target.push({ kind: 'text', text: ENTITIES[name] ?? `&${name};` });
        break;
      }
      case TOKEN.PITarget: {
        pendingPI = { kind: 'pi', target: readName(ctx, cur), data: '' };
        target.push(pendingPI);
        break;
      }
      case TOKEN.PIData: {
        const count = cur.u16('PI data length');
        const data = cur.utf16(count, 'PI data');
        if (pendingPI) pendingPI.data = data;
        pendingPI = null;
        break;
      }
      case TOKEN.TemplateInstance:
        target.push(readTemplateInstance(ctx, cur, nesting));
        break;
      case TOKEN.NormalSubstitution:
      case TOKEN.OptionalSubstitution: {
        const index = cur.u16('substitution index');
        const type = cur.u8('substitution type');
        target.push({ kind: 'sub', index, optional: base === TOKEN.OptionalSubstitution, type });
        break;
      }
      default:
        fail(`invalid BinXml token 0x${token.toString(16)}`, tokenOffset);
    }
  }
  return roots;
}

function literal(decoded: DecodedValue | DecodedValue[]): TextNode {
  if (Array.isArray(decoded)) return { kind: 'text', text: decoded.map((d) => d.text).join(',') };
  return { kind: 'text', text: decoded.text, json: decoded.json };
}

/**
 * A name reference: a chunk offset of a name structure (next offset u32, hash u16, length u16, UTF-16, NUL).
 * When the offset is the current position the structure is written inline and must be stepped over.
 */
function readName(ctx: BinXmlContext, cur: Cursor): string {
  const off = cur.u32('name offset');
  if (off === cur.pos) {
    const name = nameAt(ctx, off);
    cur.pos = off + 8 + name.length * 2 + 2;
    if (cur.pos > cur.end) fail('inline name overruns its fragment', off);
    return name;
  }
  return nameAt(ctx, off);
}

function nameAt(ctx: BinXmlContext, off: number): string {
  const cached = ctx.names.get(off);
  if (cached !== undefined) return cached;
  if (off < 0 || off + 8 > ctx.buf.length) fail(`name offset 0x${off.toString(16)} outside the chunk`, off);
  const count = ctx.view.getUint16(off + 6, true);
  if (off + 8 + count * 2 > ctx.buf.length) fail(`name at 0x${off.toString(16)} overruns the chunk`, off);
  const name = utf16(ctx.buf, off + 8, off + 8 + count * 2);
  ctx.names.set(off, name);
  return name;
}

/**
 * Template instance: unknown u8, template id u32, definition offset u32, [the definition itself when it is
 * written here for the first time], value count u32, (size u16, type u8, pad u8) × count, then the values.
 */
function readTemplateInstance(ctx: BinXmlContext, cur: Cursor, nesting: number): TemplateInstanceNode {
  cur.skip(1, 'template instance header');
  const templateId = cur.u32('template id');
  const defOffset = cur.u32('template definition offset');
  if (defOffset === cur.pos) {
    cur.skip(20, 'template definition header');
    const dataSize = cur.u32('template data size');
    cur.skip(dataSize, 'template definition');
  }
  const def = templateAt(ctx, defOffset, nesting + 1);
  // The id is the first 4 bytes of the definition's GUID. A mismatch means the record was written against
  // another chunk's templates (stale data in VSS/carved files): rendering it here would invent values.
  if (def.id !== templateId) {
    fail(`template id 0x${templateId.toString(16)} does not match the definition at 0x${defOffset.toString(16)} (0x${def.id.toString(16)}): stale record`, defOffset);
  }
  const count = cur.u32('substitution count');
  cur.need(count * 4, 'value descriptors');
  const values: ValueRef[] = new Array(count);
  let valueOff = cur.pos + count * 4;
  for (let i = 0; i < count; i++) {
    const size = ctx.view.getUint16(cur.pos, true);
    const type = ctx.buf[cur.pos + 2]!;
    cur.pos += 4;
    values[i] = { type, off: valueOff, size };
    valueOff += size;
  }
  if (valueOff > cur.end) fail('substitution values overrun the record', cur.pos);
  cur.pos = valueOff;
  return { kind: 'template', def, values };
}

/** The template definition at a chunk offset, parsed once per chunk and cached (errors too). */
export function templateAt(ctx: BinXmlContext, offset: number, nesting: number): TemplateDef {
  const cached = ctx.templates.get(offset);
  if (cached === null) fail(`template at 0x${offset.toString(16)} refers to itself`, offset);
  if (cached instanceof EvtxFormatError) throw cached;
  if (cached) return cached;
  ctx.templates.set(offset, null);
  try {
    if (offset < 512 || offset + 24 > ctx.buf.length) fail(`template offset 0x${offset.toString(16)} outside the chunk`, offset);
    const guid = formatGuid(ctx.buf, ctx.view, offset + 4);
    const dataSize = ctx.view.getUint32(offset + 20, true);
    const start = offset + 24;
    const end = start + dataSize;
    if (end > ctx.buf.length) fail(`template at 0x${offset.toString(16)} overruns the chunk`, offset);
    const nodes = parseFragment(ctx, start, end, true, nesting);
    const def: TemplateDef = { offset, id: ctx.view.getUint32(offset + 4, true), guid, nodes, start, end, prefilter: undefined };
    ctx.templates.set(offset, def);
    return def;
  } catch (err) {
    const e = err instanceof EvtxFormatError ? err : new EvtxFormatError(String(err), offset);
    const wrapped = new EvtxFormatError(`template at 0x${offset.toString(16)}: ${e.message}`, e.offset);
    ctx.templates.set(offset, wrapped);
    throw wrapped;
  }
}
