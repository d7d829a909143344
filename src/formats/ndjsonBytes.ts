/**
 * UTF-8 NDJSON with the literal prefilter, decided on the raw bytes: most lines of a large export are never turned
 * into a JavaScript string, let alone parsed.
 *
 * Each read chunk is viewed once as a Latin-1 string (a copy, no decoding: one character per byte, so string
 * positions are byte offsets). The case-insensitive literal alternation runs over the whole chunk, not line by
 * line. A line then goes one of three ways:
 *   - it holds a literal (a rule may match it), or it is not a lone one-line document, or the sink is inside a
 *     multi-line document: it is decoded to UTF-8 text and handed to the JsonSink, which does what it always did;
 *   - it holds none and no events are kept for correlation (`scan --fast`): skipped, as the sink would have;
 *   - it holds none and is an evtx_dump event correlation keeps (Sysmon 1/3/5/11/22, Security 4688/4689): the
 *     key reader below takes the System keys and the EventData fields correlation reads (KeepEvent.fields) straight
 *     from the bytes, without JSON.parse, and emits a partial WinEvent — the contract of KeepEvent.fields, the same
 *     as the EVTX reader's kept records. Other events of that layout are skipped (like EVTX records).
 * The key reader handles the compact layout `evtx_dump -o jsonl` writes. Anything else — another dialect,
 * whitespace between tokens, a nested or array value in EventData, a duplicate field, an escaped key, UserData,
 * an EventID with attributes — sends the line to the full decoder, counted by reason (keyReaderFallbacks).
 *
 * Equivalence with the text path: the literals are printable ASCII (linePrefilter refuses others), a UTF-8
 * multi-byte sequence has only bytes ≥ 0x80, and a non-unicode case-insensitive regex never folds a character
 * ≥ 0x80 to ASCII; so a literal matches the Latin-1 view of a line exactly when it matches its decoded text.
 * What the key reader does not do: validate the rest of the line. A line that is broken outside the fields it
 * reads (the full decoder would report it) is indexed from what it read.
 */
import type { DecodeItem, EventSystem, FieldValue, WinEvent } from '../model/event.js';
import { TextDecoder } from 'node:util';
import type { JsonSink } from './jsonStream.js';
import { isBareGuid, normaliseTime, toInt } from './normalise.js';

/** The events kept for correlation (DecodeOptions.keepEvents) as the key reader uses them. */
export interface KeptFields {
  provider: string;
  eventIds: readonly number[];
  /** EventData fields read; omitted: the key reader does not decode this provider's events (full decode). */
  fields?: readonly string[];
}

/** Lines the key reader handed to the full decoder, by reason (a jump here is a slowdown to look into). */
export const keyReaderFallbacks = new Map<string, number>();

export function keyReaderSummary(): string {
  if (keyReaderFallbacks.size === 0) return 'none';
  return [...keyReaderFallbacks].sort((a, b) => b[1] - a[1]).map(([reason, n]) => `${reason}: ${n}`).join(', ');
}

function fellBack(reason: string): null {
  keyReaderFallbacks.set(reason, (keyReaderFallbacks.get(reason) ?? 0) + 1);
  return null;
}

/** The key reader's verdict on a line: a partial event, skip it, or null (full decode; the reason is counted). */
const SKIP = 0;
type Verdict = WinEvent | typeof SKIP | null;

/** Bytes per Latin-1 view (see lines()). */
const WINDOW_BYTES = 64 * 1024;

/** Distinct channel and host names the key reader keeps at most (see NdjsonBytes.name). */
const MAX_NAMES = 10_000;

/** Lines longer than this are handed to the sink as text while they arrive (it scans them piece by piece). */
const LONG_LINE_BYTES = 1 << 20;

interface ProviderTable {
  /** The provider name (as the line writes it: the table's key). */
  provider: string;
  ids: Set<number>;
  /** `"Name":` of a kept field (captured), a `\\u`, or a quote followed by whitespace and a colon; flags 'g'. */
  keys: RegExp;
}

export class NdjsonBytes {
  private carry: Buffer | null = null;
  /** Set while a long line is being passed to the sink as text (until its newline). */
  private longLine: TextDecoder | null = null;
  private started = false;
  private readonly kept: Map<string, ProviderTable> | null;
  /** Every kept provider, lower case. */
  private readonly keptLower: Set<string>;

  constructor(
    private readonly file: string,
    private readonly sink: JsonSink,
    /** The literal alternation, flags 'gi' (printable ASCII literals only: see linePrefilter). */
    private readonly literals: RegExp,
    keep: readonly KeptFields[] | null,
  ) {
    this.kept = keep && keep.length > 0 ? providerTables(keep) : null;
    this.keptLower = new Set((keep ?? []).map((k) => k.provider.toLowerCase()));
  }

  write(chunk: Buffer, out: DecodeItem[]): void {
    let buf = chunk;
    if (!this.started) {
      this.started = true;
      // TextDecoder drops a leading BOM; so does this reader.
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    if (this.longLine !== null) {
      const nl = buf.indexOf(10);
      if (nl === -1) {
        this.sink.write(this.longLine.decode(buf, { stream: true }), out);
        return;
      }
      this.sink.write(this.longLine.decode(buf.subarray(0, nl + 1)), out);
      this.longLine = null;
      buf = buf.subarray(nl + 1);
    }
    if (this.carry !== null) {
      const nl = buf.indexOf(10);
      if (nl === -1) {
        this.carry = Buffer.concat([this.carry, buf]);
        if (this.carry.length > LONG_LINE_BYTES) this.startLongLine(out);
        return;
      }
      const line = Buffer.concat([this.carry, buf.subarray(0, nl + 1)]);
      this.carry = null;
      this.lines(line, out);
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(10);
    if (last === -1) {
      if (buf.length > 0) this.carry = Buffer.from(buf);
      if (buf.length > LONG_LINE_BYTES) this.startLongLine(out);
      return;
    }
    this.lines(last + 1 === buf.length ? buf : buf.subarray(0, last + 1), out);
    // A copy: a view would keep the whole read chunk alive.
    if (last + 1 < buf.length) this.carry = Buffer.from(buf.subarray(last + 1));
  }

  end(out: DecodeItem[]): void {
    if (this.longLine !== null) {
      const tail = this.longLine.decode();
      if (tail.length > 0) this.sink.write(tail, out);
      this.longLine = null;
    } else if (this.carry !== null) {
      // The last line has no newline: the sink takes it as its last line, as the text path did.
      this.sink.write(this.carry.toString('utf8'), out);
      this.carry = null;
    }
    this.sink.end(out);
  }

  private startLongLine(out: DecodeItem[]): void {
    // ignoreBOM: a BOM inside the file is text, as for the text path's one decoder over the whole stream.
    this.longLine = new TextDecoder('utf-8', { ignoreBOM: true });
    this.sink.write(this.longLine.decode(this.carry!, { stream: true }), out);
    this.carry = null;
  }

  /**
   * Whole lines (`buf` ends with '\n'), in windows of about WINDOW_BYTES that end at a line end: their Latin-1
   * strings stay small heap objects (one string per 1 MiB read chunk is a large object, mapped and unmapped each
   * time: measured several times slower).
   */
  private lines(buf: Buffer, out: DecodeItem[]): void {
    let from = 0;
    while (from < buf.length) {
      let to = from + WINDOW_BYTES >= buf.length ? buf.length : buf.lastIndexOf(10, from + WINDOW_BYTES) + 1;
      if (to <= from) to = buf.indexOf(10, from + WINDOW_BYTES) + 1;
      this.window(from === 0 && to === buf.length ? buf : buf.subarray(from, to), out);
      from = to;
    }
  }

  private window(buf: Buffer, out: DecodeItem[]): void {
    const s = buf.toString('latin1');
    const n = s.length;
    const literals = this.literals;
    const sink = this.sink;
    let hit = -1;
    let a = 0;
    while (a < n) {
      const nl = s.indexOf('\n', a);
      if (!sink.lineSkippable()) {
        sink.write(buf.toString('utf8', a, nl + 1), out);
        a = nl + 1;
        continue;
      }
      let i = a;
      while (i < nl && isSpaceByte(s.charCodeAt(i))) i++;
      let j = nl - 1;
      while (j > i && isSpaceByte(s.charCodeAt(j))) j--;
      const first = s.charCodeAt(i);
      // Not a one-line document (blank, pretty-printed, broken, a record header): the sink decides, as before.
      if (i === nl || j <= i || (first !== 123 && first !== 91) || s.charCodeAt(j) !== 125) {
        sink.write(buf.toString('utf8', a, nl + 1), out);
        a = nl + 1;
        continue;
      }
      if (hit < a) {
        literals.lastIndex = a;
        const m = literals.exec(s);
        hit = m === null ? n : m.index;
      }
      if (hit < nl) {
        sink.write(buf.toString('utf8', a, nl + 1), out);
        a = nl + 1;
        continue;
      }
      if (this.kept === null) {
        sink.skipLine();
        a = nl + 1;
        continue;
      }
      // A view of the line (no copy): every search below stops at its end.
      const verdict = this.readKeys(s.slice(i, j + 1), buf, i);
      if (verdict === SKIP) sink.skipLine();
      else if (verdict === null) sink.write(buf.toString('utf8', a, nl + 1), out);
      else {
        const at = sink.takeLine();
        verdict.origin = { file: this.file, line: at.line, index: at.index, dialect: 'evtx_dump' };
        out.push({ event: verdict, contextOnly: true });
      }
      a = nl + 1;
    }
  }

  /**
   * The key reader: an evtx_dump line `s` (from its first character '{' to its last '}'; at `base` in `buf`) holding none of the
   * literals → the partial event correlation reads, SKIP for an event it does not keep, null to decode it fully.
   */
  private readKeys(s: string, buf: Buffer, base: number): Verdict {
    const end = s.length;
    SYSTEM.lastIndex = 0;
    const m = SYSTEM.exec(s);
    if (m === null) return this.unusualSystem(s);
    const [, providerName, id, time, record, channel, computer] = m as unknown as string[];
    const table = this.kept!.get(providerName!);
    const eventId = Number(id);
    if (table === undefined) {
      // A kept provider in another case (EVTX compares them case-insensitively), or one kept with every field.
      if (NOT_PLAIN.test(providerName!) || this.keptLower.has(providerName!.toLowerCase())) return fellBack('provider not kept as written');
      return SKIP;
    }
    if (!table.ids.has(eventId)) return SKIP;
    // Non-ASCII or escaped System text is rare: the full decoder reads it.
    if (NOT_PLAIN.test(time!) || NOT_PLAIN.test(channel!) || NOT_PLAIN.test(computer!)) return fellBack('escaped or non-ASCII System text');
    const timeCreated = normaliseTime(own(time!));
    if (timeCreated === undefined) return fellBack('TimeCreated not a valid time');
    // Provider, channel and host repeat on nearly every line: one string each, shared (the index keys on them).
    const system: EventSystem = { provider: table.provider, eventId, timeCreated, channel: this.name(channel!), computer: this.name(computer!) };
    const recordId = toInt(Number(record));
    if (recordId !== undefined) system.recordId = recordId;
    // EventData follows System directly (the pattern), and closes the Event (checked at its end): no UserData.
    const body = SYSTEM.lastIndex;

    // EventData: flat (no object or array in or after it), so it closes at the line's third-last character.
    const brace = s.indexOf('{', body);
    const bracket = s.indexOf('[', body);
    if (brace !== -1 || bracket !== -1) return fellBack('object or array in or after EventData');
    if (s.charCodeAt(end - 3) !== 125 || s.charCodeAt(end - 2) !== 125) return fellBack('members after EventData');
    // The kept fields, found by one compiled pattern. `"Name":` cannot occur inside a JSON string (a quote there
    // is escaped), and a kept name can be hidden only by a \u escape or by whitespace before its colon: the pattern
    // finds those too, and they send the line to the full decoder.
    const data: Record<string, FieldValue> = {};
    const keys = table.keys;
    keys.lastIndex = body;
    for (let m = keys.exec(s); m !== null; m = keys.exec(s)) {
      const name = m[1];
      if (name === undefined) {
        if (s.charCodeAt(m.index) === 34) return fellBack('whitespace in EventData');
        let k = m.index - 1;
        while (s.charCodeAt(k) === 92) k--;
        if (((m.index - k) & 1) === 1) return fellBack('\\u escape in EventData');
        continue; // an escaped backslash followed by 'u' ("C:\\users")
      }
      const v = valueAt(s, buf, base, keys.lastIndex);
      if (v === null) return null;
      if (name in data) return fellBack('duplicate field in EventData');
      data[name] = v;
      keys.lastIndex = cursor;
    }
    return { system, data, origin: { file: this.file } };
  }

  /** Channel and host names read so far, each kept once (bounded: starts over when full). */
  private readonly names = new Map<string, string>();
  private name(s: string): string {
    const kept = this.names.get(s);
    if (kept !== undefined) return kept;
    if (this.names.size >= MAX_NAMES) this.names.clear();
    const copy = own(s);
    this.names.set(copy, copy);
    return copy;
  }

  /** A line the System pattern does not fit: another dialect (skipped when it names no kept provider, as the sink would), else the full decoder. */
  private unusualSystem(s: string): Verdict {
    if (!s.startsWith('{"Event":{')) return fellBack('not the evtx_dump layout');
    return fellBack('System not as evtx_dump writes it');
  }
}

/** Member of an object (followed by a comma): a name, then a plain string, a scalar, or an object up to two levels deep. */
const STR = '"[^"\\\\]*"';
const FLAT = `\\{(?:[^{}"]|${STR})*\\}`;
const MEMBER = `${STR}:(?:${STR}|[^{}",]*|\\{(?:[^{}"]|${STR}|${FLAT})*\\}),`;
/**
 * The start of an evtx_dump line up to its EventData: Provider Name, EventID, TimeCreated, EventRecordID, Channel
 * and Computer in the order evtx_dump writes them (the XML element order), with plain (unescaped) strings.
 * Sticky at 0; lastIndex is then just past `"EventData":{`. One compiled pattern: measured far cheaper than a
 * String.indexOf per key (each multi-character search sets up its own tables).
 */
const SYSTEM = new RegExp(
  `^\\{"Event":\\{(?:"#attributes":${FLAT},)?"System":\\{"Provider":\\{"#attributes":\\{"Name":"([^"\\\\]*)"(?:,${STR}:${STR})*\\}\\},` +
    `"EventID":(\\d{1,9}),(?:${MEMBER})*?"TimeCreated":\\{"#attributes":\\{"SystemTime":"([^"\\\\]*)"\\}\\},"EventRecordID":(\\d{1,15}),` +
    `(?:${MEMBER})*?"Channel":"([^"\\\\]*)","Computer":"([^"\\\\]*)"(?:,${STR}:(?:${STR}|[^{}",]*|\\{(?:[^{}"]|${STR}|${FLAT})*\\}))*\\},"EventData":\\{`,
  'y',
);
/**
 * A string of its own: V8 makes a substring of 13 or more characters a view of its parent (here the 64 KiB window),
 * which would keep the window alive as long as the index keeps the value. Concatenating and slicing flattens it.
 */
function own(s: string): string {
  return s.length < 13 ? s : `_${s}`.slice(1);
}

/** Where the last value read by stringAt / valueAt / skipValue ends (one number, not an object per value). */
let cursor = 0;

/** Characters that make a string need JSON.parse: escapes, control characters (invalid raw), non-ASCII (UTF-8). */
const NOT_PLAIN = /[\\\x00-\x1f\x7f-\xff]/;
/** Of those, the ones that need the bytes decoded as UTF-8 first (or make the string invalid). */
const NOT_ASCII = /[\x00-\x1f\x7f-\xff]/;

/** End of the string whose opening quote is at `open` (index of the closing quote), or -1. */
function stringEnd(s: string, open: number): number {
  let q = s.indexOf('"', open + 1);
  while (q !== -1) {
    let k = q - 1;
    while (s.charCodeAt(k) === 92) k--;
    if (((q - 1 - k) & 1) === 0) return q;
    q = s.indexOf('"', q + 1);
  }
  return -1;
}

/** The JSON string whose opening quote is at `open`, decoded as JSON.parse would; null (counted) if it cannot be. */
function stringAt(s: string, buf: Buffer, base: number, open: number): string | null {
  const close = stringEnd(s, open);
  if (close === -1) return fellBack('unterminated string');
  cursor = close + 1;
  const raw = s.slice(open + 1, close);
  // A copy from the bytes, not the view: a slice of the window's string would keep all 64 KiB of it alive for
  // as long as the process index holds the value.
  if (!NOT_PLAIN.test(raw)) return raw.length < 13 ? raw : buf.toString('latin1', base + open + 1, base + close);
  // Escapes only (a Windows path: "C:\\Windows"): the Latin-1 view is the text; else decode the bytes as UTF-8.
  const text = NOT_ASCII.test(raw) ? buf.toString('utf8', base + open, base + close + 1) : s.slice(open, close + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fellBack('invalid string'); // named: the full decoder reports the line
  }
  return value as string;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const PLAIN_INTEGER = /^(?:0|[1-9]\d{0,14})$/;

/**
 * A scalar value at `p` as the model's field value (toFieldValue in normalise.ts: numbers and booleans as their
 * text, null as ''); null (counted) for anything else.
 */
function valueAt(s: string, buf: Buffer, base: number, p: number): string | null {
  if (s.charCodeAt(p) === 34) {
    const v = stringAt(s, buf, base, p);
    return v !== null && isBareGuid(v) ? `{${v}}` : v; // fieldValue in evtxDump.ts
  }
  let q = p;
  for (let d = s.charCodeAt(q); d !== 44 && d !== 125 && d !== 93 && q < s.length; d = s.charCodeAt(++q));
  cursor = q;
  const token = s.slice(p, q);
  if (PLAIN_INTEGER.test(token)) return token.length < 13 ? token : String(Number(token));
  if (token === 'true' || token === 'false') return token;
  if (token === 'null') return '';
  if (NUMBER.test(token)) return String(Number(token));
  return fellBack('value not a JSON scalar');
}

function providerTables(keep: readonly KeptFields[]): Map<string, ProviderTable> {
  const out = new Map<string, ProviderTable>();
  for (const k of keep) {
    if (k.fields === undefined || k.fields.some((f) => !/^[A-Za-z0-9_]+$/.test(f))) continue;
    out.set(k.provider, { provider: k.provider, ids: new Set(k.eventIds), keys: new RegExp(`"(${k.fields.join('|')})":|\\\\u|"[\\t\\n\\r ]+:`, 'g') });
  }
  return out;
}

/** The JSON sink's isSpace, on bytes (a BOM inside a line is three bytes here: such a line goes to the sink). */
function isSpaceByte(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}
