/**
 * Serialises BinXml (fragments, elements, template definitions and instances, typed values) into a chunk.
 *
 * A ChunkTables value carries the per-chunk state the format shares between records: names written once and
 * then referenced by offset (the chunk's string table with its 64 hash buckets) and template definitions
 * written once and then referenced (32 buckets). A new chunk starts with empty tables, which is exactly what
 * parsers must handle: the same name or template is inline again in every chunk.
 */
import { ByteWriter } from './bytes.js';
import type { Element, Fragment, Node, TemplateDef, Value, ValueTypeName } from './model.js';
import { ValueType } from './model.js';

const Token = {
  EOF: 0x00,
  OpenStartElement: 0x01,
  CloseStartElement: 0x02,
  CloseEmptyElement: 0x03,
  EndElement: 0x04,
  Value: 0x05,
  Attribute: 0x06,
  CData: 0x07,
  CharRef: 0x08,
  EntityRef: 0x09,
  PITarget: 0x0a,
  PIData: 0x0b,
  TemplateInstance: 0x0c,
  NormalSubstitution: 0x0d,
  OptionalSubstitution: 0x0e,
  FragmentHeader: 0x0f,
  /** Flag on element/attribute/value tokens: "has attributes" / "more of these follow". */
  More: 0x40,
} as const;

export class ChunkTables {
  readonly names = new Map<string, number>();
  readonly stringBuckets = new Uint32Array(64);
  readonly templates = new Map<string, number>();
  readonly templateBuckets = new Uint32Array(32);
}

const typeCodes: Record<ValueTypeName, number> = {
  null: ValueType.Null,
  string: ValueType.String,
  ansi: ValueType.AnsiString,
  int8: ValueType.Int8,
  uint8: ValueType.UInt8,
  int16: ValueType.Int16,
  uint16: ValueType.UInt16,
  int32: ValueType.Int32,
  uint32: ValueType.UInt32,
  int64: ValueType.Int64,
  uint64: ValueType.UInt64,
  real32: ValueType.Real32,
  real64: ValueType.Real64,
  bool: ValueType.Bool,
  binary: ValueType.Binary,
  guid: ValueType.Guid,
  sizet: ValueType.SizeT,
  filetime: ValueType.FileTime,
  systime: ValueType.SysTime,
  sid: ValueType.Sid,
  hexint32: ValueType.HexInt32,
  hexint64: ValueType.HexInt64,
  binxml: ValueType.BinXml,
  stringArray: ValueType.ArrayFlag | ValueType.String,
  uint16Array: ValueType.ArrayFlag | ValueType.UInt16,
  uint32Array: ValueType.ArrayFlag | ValueType.UInt32,
  uint64Array: ValueType.ArrayFlag | ValueType.UInt64,
  guidArray: ValueType.ArrayFlag | ValueType.Guid,
  sidArray: ValueType.ArrayFlag | ValueType.Sid,
};

export function valueTypeCode(t: ValueTypeName): number {
  return typeCodes[t];
}

/** The 16-bit name hash stored beside each name (multiplicative hash over UTF-16 code units). */
export function nameHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 65599) + name.charCodeAt(i)) >>> 0;
  return h & 0xffff;
}

export class BinXmlWriter {
  constructor(
    private readonly out: ByteWriter,
    private readonly tables: ChunkTables,
  ) {}

  fragment(f: Fragment): void {
    this.fragmentHeader();
    if ('template' in f) this.templateInstance(f.template, f.values);
    else this.element(f.element, false);
    this.out.u8(Token.EOF);
  }

  private fragmentHeader(): void {
    this.out.u8(Token.FragmentHeader).u8(1).u8(1).u8(0);
  }

  /** A name reference; the first use in the chunk writes the name right after the reference. */
  private name(name: string): void {
    const known = this.tables.names.get(name);
    if (known !== undefined) {
      this.out.u32(known);
      return;
    }
    const at = this.out.position + 4;
    this.out.u32(at);
    const bucket = nameHash(name) % 64;
    this.out.u32(this.tables.stringBuckets[bucket]!); // chain to the previous head of this bucket
    this.out.u16(nameHash(name)).u16(name.length).utf16(name).u16(0);
    this.tables.stringBuckets[bucket] = at;
    this.tables.names.set(name, at);
  }

  /**
   * An element. Inside template definitions the start tag carries a 16-bit dependency identifier; elements
   * written directly in a record (templateless, as in forwarded events) do not.
   */
  element(e: Element, inTemplate: boolean): void {
    const out = this.out;
    out.u8(e.attributes.length > 0 ? Token.OpenStartElement | Token.More : Token.OpenStartElement);
    if (inTemplate) out.u16(0xffff); // dependency identifier: none
    const sizeAt = out.length;
    out.u32(0);
    this.name(e.name);
    if (e.attributes.length > 0) {
      const listAt = out.length;
      out.u32(0);
      e.attributes.forEach((a, i) => {
        const last = i === e.attributes.length - 1;
        out.u8(last ? Token.Attribute : Token.Attribute | Token.More);
        this.name(a.name);
        this.content(a.value, inTemplate);
      });
      out.patchU32(listAt, out.length - listAt - 4);
    }
    if (e.children.length === 0) {
      out.u8(Token.CloseEmptyElement);
    } else {
      out.u8(Token.CloseStartElement);
      for (const c of e.children) this.content(c, inTemplate);
      out.u8(Token.EndElement);
    }
    out.patchU32(sizeAt, out.length - sizeAt - 4);
  }

  private content(n: Node, inTemplate: boolean): void {
    const out = this.out;
    switch (n.kind) {
      case 'element':
        this.element(n, inTemplate);
        return;
      case 'text':
        out.u8(Token.Value).u8(ValueType.String).u16(n.text.length).utf16(n.text);
        return;
      case 'sub':
        out.u8(n.optional ? Token.OptionalSubstitution : Token.NormalSubstitution).u16(n.index).u8(valueTypeCode(n.type));
        return;
      case 'charRef':
        out.u8(Token.CharRef).u16(n.code);
        return;
      case 'entityRef':
        out.u8(Token.EntityRef);
        this.name(n.name);
        return;
      case 'cdata':
        out.u8(Token.CData).u16(n.text.length).utf16(n.text);
        return;
      case 'pi':
        out.u8(Token.PITarget);
        this.name(n.target);
        out.u8(Token.PIData).u16(n.data.length).utf16(n.data);
        return;
    }
  }

  private templateInstance(t: TemplateDef, values: Value[]): void {
    const out = this.out;
    const guid = guidBytes(t.guid);
    out.u8(Token.TemplateInstance).u8(1);
    out.bytes(guid.subarray(0, 4)); // short template identifier: the GUID's first four bytes
    const known = this.tables.templates.get(t.guid);
    if (known !== undefined) {
      out.u32(known);
    } else {
      const at = out.position + 4;
      out.u32(at);
      const bucket = new DataView(guid.buffer, guid.byteOffset).getUint32(0, true) % 32;
      out.u32(this.tables.templateBuckets[bucket]!); // next definition in this bucket
      out.bytes(guid);
      const sizeAt = out.length;
      out.u32(0);
      this.fragmentHeader();
      this.element(t.root, true);
      out.u8(Token.EOF);
      out.patchU32(sizeAt, out.length - sizeAt - 4);
      this.tables.templateBuckets[bucket] = at;
      this.tables.templates.set(t.guid, at);
    }
    this.instanceValues(values);
  }

  /** Value count, then one (size, type) descriptor per value, then the values themselves. */
  private instanceValues(values: Value[]): void {
    const out = this.out;
    out.u32(values.length);
    const descAt = out.length;
    for (const v of values) out.u16(0).u8(valueTypeCode(v.type)).u8(0);
    values.forEach((v, i) => {
      const start = out.length;
      this.value(v);
      const size = out.length - start;
      if (size > 0xffff) throw new Error(`substitution value ${i} is ${size} bytes; the format allows 65535`);
      out.patchU16(descAt + i * 4, size);
    });
  }

  private value(v: Value): void {
    const out = this.out;
    switch (v.type) {
      case 'null':
        return;
      case 'string':
        out.utf16(v.value);
        return;
      case 'ansi':
        out.bytes(Buffer.from(v.value, 'latin1'));
        return;
      case 'int8':
        out.u8(v.value & 0xff);
        return;
      case 'uint8':
        out.u8(v.value);
        return;
      case 'int16':
        out.i16(v.value);
        return;
      case 'uint16':
        out.u16(v.value);
        return;
      case 'int32':
        out.i32(v.value);
        return;
      case 'uint32':
      case 'hexint32':
        out.u32(v.value);
        return;
      case 'int64':
        out.i64(v.value);
        return;
      case 'uint64':
      case 'hexint64':
        out.u64(v.value);
        return;
      case 'sizet':
        if (v.width === 4) out.u32(Number(v.value));
        else out.u64(v.value);
        return;
      case 'real32':
        out.f32(v.value);
        return;
      case 'real64':
        out.f64(v.value);
        return;
      case 'bool':
        out.u32(v.value);
        return;
      case 'binary':
        out.bytes(v.value);
        return;
      case 'guid':
        out.bytes(guidBytes(v.value));
        return;
      case 'filetime':
        out.u64(v.value);
        return;
      case 'systime': {
        const s = v.value;
        for (const n of [s.year, s.month, s.dayOfWeek, s.day, s.hour, s.minute, s.second, s.milliseconds]) out.u16(n);
        return;
      }
      case 'sid':
        out.bytes(sidBytes(v.value));
        return;
      case 'binxml':
        this.fragment(v.value);
        return;
      case 'stringArray':
        for (const s of v.value) out.utf16(s).u16(0);
        return;
      case 'uint16Array':
        for (const n of v.value) out.u16(n);
        return;
      case 'uint32Array':
        for (const n of v.value) out.u32(n);
        return;
      case 'uint64Array':
        for (const n of v.value) out.u64(n);
        return;
      case 'guidArray':
        for (const g of v.value) out.bytes(guidBytes(g));
        return;
      case 'sidArray':
        for (const s of v.value) out.bytes(sidBytes(s));
        return;
    }
  }
}

/** "{00112233-4455-6677-8899-AABBCCDDEEFF}" → the on-disk layout (first three groups little-endian). */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replace(/[{}-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const raw = Buffer.from(hex, 'hex');
  const out = new Uint8Array(16);
  out.set([raw[3]!, raw[2]!, raw[1]!, raw[0]!, raw[5]!, raw[4]!, raw[7]!, raw[6]!], 0);
  out.set(raw.subarray(8), 8);
  return out;
}

/** "S-1-5-21-1-2-3-500" → revision, sub-authority count, 48-bit big-endian authority, LE sub-authorities. */
export function sidBytes(sid: string): Uint8Array {
  const parts = sid.split('-');
  if (parts[0] !== 'S' || parts.length < 3) throw new Error(`not a SID: ${sid}`);
  const revision = Number(parts[1]);
  const authority = BigInt(parts[2]!);
  const subs = parts.slice(3).map(Number);
  const w = new ByteWriter();
  w.u8(revision).u8(subs.length);
  for (let shift = 40n; shift >= 0n; shift -= 8n) w.u8(Number((authority >> shift) & 0xffn));
  for (const s of subs) w.u32(s);
  return w.toBytes();
}
