/**
 * BinXml value types (libyal's EVTX document, "value types") and how each is rendered as text — the way
 * Windows and evtxexport print them — plus a typed form for the evtx_dump-style JSON.
 *
 * Values are decoded only when a consumer renders them; the parser keeps (type, offset, size) references.
 */
import { fail } from '../bytes.js';

export const VT = {
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
  EvtHandle: 0x20,
  BinXml: 0x21,
  EvtXml: 0x23,
  ArrayFlag: 0x80,
} as const;

export type JsonScalar = string | number | boolean | null;

/**
 * One rendered value: the text Windows shows, and the typed JSON scalar evtx_dump emits. Shaped as a text
 * node of the element tree so that it can be placed in the tree as it is (one allocation per value).
 */
export interface DecodedValue {
  kind: 'text';
  text: string;
  json: JsonScalar;
}

/**
 * UTF-16LE → string. Buffer#toString re-validates its arguments on every call; the underlying
 * ucs2Slice (present on every Node Buffer) does the same decoding without that overhead.
 */
interface SliceableBuffer {
  ucs2Slice(start: number, end: number): string;
}
const HAS_UCS2_SLICE = typeof (Buffer.prototype as unknown as Partial<SliceableBuffer>).ucs2Slice === 'function';
export function utf16(buf: Buffer, start: number, end: number): string {
  return HAS_UCS2_SLICE ? (buf as unknown as SliceableBuffer).ucs2Slice(start, end) : buf.toString('utf16le', start, end);
}

const NULL_VALUE: DecodedValue = Object.freeze({ kind: 'text', text: '', json: null });

/** Fixed byte size of an element of the type, 0 when variable-sized. */
export function fixedSize(type: number): number {
  switch (type) {
    case VT.Int8:
    case VT.UInt8:
      return 1;
    case VT.Int16:
    case VT.UInt16:
      return 2;
    case VT.Int32:
    case VT.UInt32:
    case VT.Real32:
    case VT.Bool:
    case VT.HexInt32:
      return 4;
    case VT.Int64:
    case VT.UInt64:
    case VT.Real64:
    case VT.FileTime:
    case VT.HexInt64:
      return 8;
    case VT.Guid:
    case VT.SysTime:
      return 16;
    default:
      return 0;
  }
}

/**
 * Decodes a value of `size` bytes at `off`. Arrays (type | 0x80) decode to one DecodedValue per item.
 * BinXml (0x21) is not handled here: it is markup, instantiated by the template layer.
 */
export function decodeValue(buf: Buffer, view: DataView, type: number, off: number, size: number): DecodedValue | DecodedValue[] {
  if (off < 0 || size < 0 || off + size > buf.length) fail(`value of type 0x${type.toString(16)} overruns the chunk`, off);
  if (type & VT.ArrayFlag) return decodeArray(buf, view, type & 0x7f, off, size);
  return decodeScalar(buf, view, type, off, size);
}

function decodeArray(buf: Buffer, view: DataView, type: number, off: number, size: number): DecodedValue[] {
  const out: DecodedValue[] = [];
  if (type === VT.String || type === VT.EvtXml) {
    // NUL-terminated UTF-16 strings back to back.
    const all = buf.toString('utf16le', off, off + (size & ~1));
    const parts = all.split('\0');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    for (const p of parts) out.push({ kind: 'text', text: p, json: p });
    return out;
  }
  if (type === VT.AnsiString) {
    const parts = buf.toString('latin1', off, off + size).split('\0');
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    for (const p of parts) out.push({ kind: 'text', text: p, json: p });
    return out;
  }
  if (type === VT.Sid) {
    let p = off;
    const end = off + size;
    while (p + 8 <= end) {
      const n = buf[p + 1]!;
      const len = Math.min(8 + 4 * n, end - p);
      out.push(decodeScalar(buf, view, VT.Sid, p, len));
      p += len;
    }
    return out;
  }
  let width = fixedSize(type);
  if (type === VT.SizeT || type === VT.EvtHandle) width = size % 8 === 0 ? 8 : 4;
  if (width === 0) return [decodeScalar(buf, view, type, off, size)];
  for (let p = off; p + width <= off + size; p += width) out.push(decodeScalar(buf, view, type, p, width));
  return out;
}

function decodeScalar(buf: Buffer, view: DataView, type: number, off: number, size: number): DecodedValue {
  const want = fixedSize(type);
  if (want !== 0 && size < want) {
    if (size === 0) return NULL_VALUE;
    fail(`value of type 0x${type.toString(16)} has ${size} bytes, needs ${want}`, off);
  }
  switch (type) {
    case VT.Null:
      return NULL_VALUE;
    case VT.String:
    case VT.EvtXml: {
      const s = stripNuls(utf16(buf, off, off + (size & ~1)));
      return { kind: 'text', text: s, json: s };
    }
    case VT.AnsiString: {
      const s = stripNuls(buf.toString('latin1', off, off + size));
      return { kind: 'text', text: s, json: s };
    }
    case VT.Int8:
      return num(view.getInt8(off));
    case VT.UInt8:
      return num(buf[off]!);
    case VT.Int16:
      return num(view.getInt16(off, true));
    case VT.UInt16:
      return num(view.getUint16(off, true));
    case VT.Int32:
      return num(view.getInt32(off, true));
    case VT.UInt32:
      return num(view.getUint32(off, true));
    case VT.Int64:
      return bigNum(view.getBigInt64(off, true));
    case VT.UInt64:
      return bigNum(view.getBigUint64(off, true));
    case VT.Real32:
      return num(view.getFloat32(off, true));
    case VT.Real64:
      return num(view.getFloat64(off, true));
    case VT.Bool: {
      // Some writers store values other than 0/1; any non-zero is true.
      const b = view.getUint32(off, true) !== 0;
      return { kind: 'text', text: b ? 'true' : 'false', json: b };
    }
    case VT.Binary: {
      const s = buf.toString('hex', off, off + size).toUpperCase();
      return { kind: 'text', text: s, json: s };
    }
    case VT.Guid: {
      const s = formatGuid(buf, view, off);
      return { kind: 'text', text: s, json: s };
    }
    case VT.SizeT:
      // evtxexport prints pointer-sized integers in decimal.
      return size >= 8 ? bigNum(view.getBigUint64(off, true)) : num(view.getUint32(off, true));
    case VT.HexInt32:
    case VT.HexInt64: {
      const s = size >= 8 ? hex64(view, off) : '0x' + view.getUint32(off, true).toString(16);
      return { kind: 'text', text: s, json: s };
    }
    case VT.EvtHandle:
      return size >= 8 ? bigNum(view.getBigUint64(off, true)) : num(view.getUint32(off, true));
    case VT.FileTime: {
      const s = formatFiletime(view, off);
      return { kind: 'text', text: s, json: s };
    }
    case VT.SysTime: {
      const s = formatSystemTime(view, off);
      return { kind: 'text', text: s, json: s };
    }
    case VT.Sid: {
      const s = formatSid(buf, view, off, size);
      return { kind: 'text', text: s, json: s };
    }
    default: {
      // Unknown type: keep the bytes visible rather than lose the record.
      const s = buf.toString('hex', off, off + size).toUpperCase();
      return { kind: 'text', text: s, json: s };
    }
  }
}

function num(n: number): DecodedValue {
  return { kind: 'text', text: String(n), json: n };
}

function bigNum(n: bigint): DecodedValue {
  const text = n.toString();
  const asNumber = Number(n);
  return { kind: 'text', text, json: Number.isSafeInteger(asNumber) ? asNumber : text };
}

function stripNuls(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** The last HexInt64 rendered: Keywords repeat from record to record, so most calls are answered here. */
let lastHexHi = -1;
let lastHexLo = -1;
let lastHex = '';

export function hex64(view: DataView, off: number): string {
  const lo = view.getUint32(off, true);
  const hi = view.getUint32(off + 4, true);
  if (hi === lastHexHi && lo === lastHexLo) return lastHex;
  const s = hi === 0 ? '0x' + lo.toString(16) : '0x' + hi.toString(16) + lo.toString(16).padStart(8, '0');
  lastHexHi = hi;
  lastHexLo = lo;
  lastHex = s;
  return s;
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));

/** `{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}`, upper case, as Windows renders GUIDs (first three groups little-endian). */
export function formatGuid(buf: Buffer, _view: DataView, off: number): string {
  const b = buf;
  const o = off;
  return (
    '{' + HEX_BYTE[b[o + 3]!] + HEX_BYTE[b[o + 2]!] + HEX_BYTE[b[o + 1]!] + HEX_BYTE[b[o]!] +
    '-' + HEX_BYTE[b[o + 5]!] + HEX_BYTE[b[o + 4]!] +
    '-' + HEX_BYTE[b[o + 7]!] + HEX_BYTE[b[o + 6]!] +
    '-' + HEX_BYTE[b[o + 8]!] + HEX_BYTE[b[o + 9]!] +
    '-' + HEX_BYTE[b[o + 10]!] + HEX_BYTE[b[o + 11]!] + HEX_BYTE[b[o + 12]!] + HEX_BYTE[b[o + 13]!] + HEX_BYTE[b[o + 14]!] + HEX_BYTE[b[o + 15]!] +
    '}'
  );
}

/** `S-1-5-21-...`; a SID cut short by its size renders the sub-authorities that are present. */
export function formatSid(buf: Buffer, view: DataView, off: number, size: number): string {
  if (size < 8) return buf.toString('hex', off, off + size).toUpperCase();
  const revision = buf[off]!;
  const count = buf[off + 1]!;
  // The 48-bit identifier authority is big-endian.
  let authority = 0;
  for (let i = 2; i < 8; i++) authority = authority * 256 + buf[off + i]!;
  let s = `S-${revision}-${authority}`;
  for (let i = 0; i < count && 8 + 4 * i + 4 <= size; i++) s += '-' + view.getUint32(off + 8 + 4 * i, true);
  return s;
}

const FILETIME_UNIX_EPOCH_MS = 11644473600000;

/**
 * FILETIME (100 ns ticks since 1601) → `YYYY-MM-DDTHH:MM:SS.fffffffZ`, exact to the tick.
 * Done on the two 32-bit halves because a double cannot hold today's tick counts exactly.
 */
export function formatFiletime(view: DataView, off: number): string {
  return filetimeToIso(view.getUint32(off + 4, true), view.getUint32(off, true));
}

/** Indexes of filetimeFields' output. */
export const FT = { Days: 0, Hour: 1, Minute: 2, Second: 3, Fraction: 4 } as const;

/**
 * FILETIME halves → days since 1970-01-01, hour, minute, second and the 7-digit fraction of the second (100 ns
 * ticks), into `out` (allocation-free: every renderer of timestamps goes through here).
 */
export function filetimeFields(hi: number, lo: number, out: Int32Array): void {
  // ticks = hi * 2^32 + lo, and 2^32 = 429496 * 10000 + 7296
  const low = hi * 7296 + lo;
  const unixMs = hi * 429496 + Math.floor(low / 10000) - FILETIME_UNIX_EPOCH_MS;
  const days = Math.floor(unixMs / 86400000);
  let rest = unixMs - days * 86400000;
  const hour = Math.floor(rest / 3600000);
  rest -= hour * 3600000;
  const minute = Math.floor(rest / 60000);
  rest -= minute * 60000;
  const second = Math.floor(rest / 1000);
  out[FT.Days] = days;
  out[FT.Hour] = hour;
  out[FT.Minute] = minute;
  out[FT.Second] = second;
  out[FT.Fraction] = (rest - second * 1000) * 10000 + (low % 10000);
}

const fields = new Int32Array(5);

export function filetimeToIso(hi: number, lo: number): string {
  filetimeFields(hi, lo, fields);
  return `${civilDate(fields[FT.Days]!)}T${pad2(fields[FT.Hour]!)}:${pad2(fields[FT.Minute]!)}:${pad2(fields[FT.Second]!)}.${String(fields[FT.Fraction]).padStart(7, '0')}Z`;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/**
 * Days since 1970-01-01 → [year, month, day] written into `out` (proleptic Gregorian; the "days from civil"
 * inverse by H. Hinnant). Writes into a caller's array so the hot JSON path allocates nothing.
 */
export function civilFromDays(days: number, out: Int32Array): void {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  out[0] = yoe + era * 400 + (month <= 2 ? 1 : 0);
  out[1] = month;
  out[2] = doy - Math.floor((153 * mp + 2) / 5) + 1;
}

const civilScratch = new Int32Array(3);

/** The last day rendered and its text: the records of a log share days, so most timestamps reuse it. */
let lastDays = NaN;
let lastDate = '';

/** Days since 1970-01-01 → `YYYY-MM-DD`. */
function civilDate(days: number): string {
  if (days === lastDays) return lastDate;
  civilFromDays(days, civilScratch);
  lastDate = `${String(civilScratch[0]).padStart(4, '0')}-${pad2(civilScratch[1]!)}-${pad2(civilScratch[2]!)}`;
  lastDays = days;
  return lastDate;
}

/** SYSTEMTIME (eight u16: year, month, weekday, day, hour, minute, second, milliseconds) → ISO with 7 digits. */
export function formatSystemTime(view: DataView, off: number): string {
  const year = view.getUint16(off, true);
  const month = view.getUint16(off + 2, true);
  const day = view.getUint16(off + 6, true);
  const hour = view.getUint16(off + 8, true);
  const minute = view.getUint16(off + 10, true);
  const second = view.getUint16(off + 12, true);
  const millis = view.getUint16(off + 14, true);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${String(year).padStart(4, '0')}-${p2(month)}-${p2(day)}T${p2(hour)}:${p2(minute)}:${p2(second)}.${String(millis).padStart(3, '0')}0000Z`;
}

/** Size in bytes of a Value token's payload (token 0x05) for its type; strings are length-prefixed. */
export function inlineValueExtent(buf: Buffer, view: DataView, type: number, off: number, end: number): { dataOff: number; size: number } {
  if (type === VT.String || type === VT.EvtXml) {
    if (off + 2 > end) fail('value token: truncated string length', off);
    return { dataOff: off + 2, size: view.getUint16(off, true) * 2 };
  }
  if (type === VT.AnsiString || type === VT.Binary) {
    if (off + 2 > end) fail('value token: truncated length', off);
    return { dataOff: off + 2, size: view.getUint16(off, true) };
  }
  if (type === VT.Sid) {
    if (off + 2 > end) fail('value token: truncated SID', off);
    return { dataOff: off, size: 8 + 4 * buf[off + 1]! };
  }
  const size = type === VT.SizeT || type === VT.EvtHandle ? 8 : fixedSize(type);
  if (size === 0 && type !== VT.Null) fail(`value token: unsupported inline value type 0x${type.toString(16)}`, off);
  return { dataOff: off, size };
}
