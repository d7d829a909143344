/**
 * What the fixture writer writes: typed BinXml values, template skeletons and records.
 * Type codes are those of the EVTX format (libyal's "Windows XML Event Log (EVTX)", value types table).
 */

export const ValueType = {
  Null: 0x00,
  String: 0x01,
  AnsiString: 0x02,
  Int8: 0x03,
  UInt8: 0x04,
  Int16: 0x05,
  UInt16: 0x06,
  Int32: 0x07,
  UInt32: 0x08,
  Int64: 0x09,
  UInt64: 0x0a,
  Real32: 0x0b,
  Real64: 0x0c,
  Bool: 0x0d,
  Binary: 0x0e,
  Guid: 0x0f,
  SizeT: 0x10,
  FileTime: 0x11,
  SysTime: 0x12,
  Sid: 0x13,
  HexInt32: 0x14,
  HexInt64: 0x15,
  BinXml: 0x21,
  ArrayFlag: 0x80,
} as const;

export interface SystemTimeParts {
  year: number;
  month: number;
  dayOfWeek: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  milliseconds: number;
}

/** A value as stored in a substitution (or, for strings, as a literal Value token). */
export type Value =
  | { type: 'null' }
  | { type: 'string'; value: string }
  | { type: 'ansi'; value: string }
  | { type: 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'hexint32'; value: number }
  | { type: 'int64' | 'uint64' | 'hexint64'; value: bigint }
  | { type: 'sizet'; value: bigint; width: 4 | 8 }
  | { type: 'real32' | 'real64'; value: number }
  /** Stored as a 32-bit integer: anything but 0 is true (real files carry odd values, see the corpus). */
  | { type: 'bool'; value: number }
  | { type: 'binary'; value: Uint8Array }
  | { type: 'guid'; value: string }
  /** 100 ns intervals since 1601-01-01 UTC. */
  | { type: 'filetime'; value: bigint }
  | { type: 'systime'; value: SystemTimeParts }
  | { type: 'sid'; value: string }
  | { type: 'binxml'; value: Fragment }
  | { type: 'stringArray'; value: string[] }
  | { type: 'uint16Array'; value: number[] }
  | { type: 'uint32Array'; value: number[] }
  | { type: 'uint64Array'; value: bigint[] }
  | { type: 'guidArray'; value: string[] }
  | { type: 'sidArray'; value: string[] };

export type ValueTypeName = Value['type'];

/** Content of a template or templateless element. */
export type Node =
  | Element
  | { kind: 'text'; text: string }
  | { kind: 'sub'; index: number; type: ValueTypeName; optional?: boolean }
  | { kind: 'charRef'; code: number }
  | { kind: 'entityRef'; name: string }
  | { kind: 'cdata'; text: string }
  | { kind: 'pi'; target: string; data: string };

export interface Element {
  kind: 'element';
  name: string;
  /** Attribute values: literal text, a substitution, or a character/entity reference. */
  attributes: { name: string; value: Node }[];
  children: Node[];
}

export interface TemplateDef {
  /** GUID naming the template; the same GUID in one chunk is written once and referenced afterwards. */
  guid: string;
  root: Element;
}

/** A BinXml fragment: a template instance, or an element written inline (templateless). */
export type Fragment = { template: TemplateDef; values: Value[] } | { element: Element };

export interface RecordSpec {
  recordId: bigint | number;
  /** FILETIME written in the record header. */
  written: bigint;
  body: Fragment;
}

// --- small constructors that keep fixtures readable -------------------------------------------------

export function el(name: string, attributes: { name: string; value: Node }[] = [], children: Node[] = []): Element {
  return { kind: 'element', name, attributes, children };
}
export function text(t: string): Node {
  return { kind: 'text', text: t };
}
export function sub(index: number, type: ValueTypeName, optional = false): Node {
  return { kind: 'sub', index, type, optional };
}
export function attr(name: string, value: Node): { name: string; value: Node } {
  return { name, value };
}
