/**
 * One typed Sigma value → a test on one scalar field value. String patterns are specialised by shape
 * (equals / contains / startswith / endswith / glob) and compared on the once-lowercased field text.
 */
import { RE2JS } from 're2js';
import type { Scalar } from '../model/event.js';
import { ANY_CHARS, ONE_CHAR, WINDASH, WINDASH_CHARS, type SigmaValue, type StringPart, type TimePart } from '../rules/model.js';
import { regexFlags } from '../rules/load.js';
import { cidrContains } from '../rules/cidr.js';
import type { EventContext } from './fields.js';

/**
 * `text`: the scalar as text (null → ''); `lower`: its lowercase; `value`: the scalar itself.
 * `ctx` is there for field references.
 */
export type ValueTest = (text: string, lower: string, value: Scalar, ctx: EventContext) => boolean;

/** Result of a value when the field is absent from the event. */
export function matchesMissing(v: SigmaValue): boolean {
  return v.kind === 'null' || (v.kind === 'exists' && !v.value);
}

/** Compiles a value; `slotOf` resolves the field of a field reference to its slot. */
export function compileValue(v: SigmaValue, slotOf: (field: string) => number): ValueTest {
  switch (v.kind) {
    case 'string':
      return compilePattern(v.parts, v.cased);
    case 'number': {
      const n = v.value;
      const asText = String(n);
      return (text, _lower, value) => (typeof value === 'number' ? value === n : text === asText || parseNumber(text) === n);
    }
    case 'boolean': {
      const want = String(v.value);
      return (_text, lower, value) => (typeof value === 'boolean' ? value === v.value : lower === want);
    }
    case 'null':
      return (text, _lower, value) => value === null || text === '';
    case 'exists':
      return () => v.value;
    case 'regex': {
      const re = RE2JS.compile(v.pattern, regexFlags(v));
      return (text) => re.test(text);
    }
    case 'cidr':
      return (text) => cidrContains(v, text);
    case 'compare': {
      const { op, value: n } = v;
      return (text, _lower, value) => {
        const x = typeof value === 'number' ? value : parseNumber(text);
        return x !== undefined && compareNumbers(op, x, n);
      };
    }
    case 'timepart': {
      const { part, op, value: n } = v;
      return (text) => {
        const x = timePart(text, part);
        return x !== undefined && (op === 'eq' ? x === n : compareNumbers(op, x, n));
      };
    }
    case 'fieldref': {
      const other = slotOf(v.field);
      const { match, cased } = v;
      return (text, lower, _value, ctx) => {
        const ref = cased ? ctx.get(other) : ctx.lower(other);
        if (ref === undefined || ref === null) return false;
        const refs = Array.isArray(ref) ? ref : [ref];
        const s = cased ? text : lower;
        return refs.some((r) => {
          const t = typeof r === 'string' ? r : r === null ? '' : String(r);
          return match === 'equals' ? s === t : match === 'contains' ? s.includes(t) : match === 'startswith' ? s.startsWith(t) : s.endsWith(t);
        });
      };
    }
  }
}

function compareNumbers(op: 'lt' | 'lte' | 'gt' | 'gte', x: number, n: number): boolean {
  return op === 'lt' ? x < n : op === 'lte' ? x <= n : op === 'gt' ? x > n : x >= n;
}

/** Decimal or 0x-hex text as a number; undefined otherwise. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A component of a timestamp (UTC): ISO 8601 or Sysmon's `2024-01-02 03:04:05.678`. */
export function timePart(text: string, part: TimePart): number | undefined {
  const iso = /^\d{4}-\d{2}-\d{2} \d/.test(text) ? `${text.replace(' ', 'T')}${/Z|[+-]\d\d:?\d\d$/.test(text) ? '' : 'Z'}` : text;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return undefined;
  switch (part) {
    case 'minute':
      return d.getUTCMinutes();
    case 'hour':
      return d.getUTCHours();
    case 'day':
      return d.getUTCDate();
    case 'month':
      return d.getUTCMonth() + 1;
    case 'year':
      return d.getUTCFullYear();
    case 'week': {
      // ISO 8601 week number.
      const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
      const day = t.getUTCDay() || 7;
      t.setUTCDate(t.getUTCDate() + 4 - day);
      const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
      return Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
    }
  }
}

// ---- string patterns ------------------------------------------------------------------------------------

/** What a position of a segment matches: its own character, any character (`?`) or a windash character. */
const LITERAL = 0;
const ANY_ONE = 1;
const DASH = 2;
type PositionKind = typeof LITERAL | typeof ANY_ONE | typeof DASH;

/** A run between `*`s: text where `wild[i]` marks a `?` or windash position (null: all literal). */
interface Segment {
  text: string;
  wild: PositionKind[] | null;
  /** For a segment with wild positions: its longest literal run and where it starts, to find candidates by indexOf. */
  probe?: { text: string; offset: number };
}

const DASH_CODES = new Set(WINDASH_CHARS.map((c) => c.charCodeAt(0)));

/** Compiles a Sigma string pattern; case-insensitive patterns compare against the lowercase field text. */
export function compilePattern(parts: readonly StringPart[], cased: boolean): ValueTest {
  const norm = cased ? (s: string) => s : (s: string) => s.toLowerCase();
  const hasOne = parts.some((p) => p === ONE_CHAR || p === WINDASH);
  const first = parts[0];
  const last = parts[parts.length - 1];
  const inner = parts.filter((p) => p !== ANY_CHARS);
  if (!hasOne && inner.length <= 1) {
    const lit = norm(typeof inner[0] === 'string' ? inner[0] : '');
    const starStart = first === ANY_CHARS;
    const starEnd = last === ANY_CHARS && parts.length > 0;
    const onlyStar = parts.length > 0 && inner.length === 0;
    if (onlyStar) return () => true;
    if (starStart && starEnd) return cased ? (t) => t.includes(lit) : (_t, l) => l.includes(lit);
    if (starStart) return cased ? (t) => t.endsWith(lit) : (_t, l) => l.endsWith(lit);
    if (starEnd) return cased ? (t) => t.startsWith(lit) : (_t, l) => l.startsWith(lit);
    return cased ? (t) => t === lit : (_t, l) => l === lit;
  }
  const glob = compileGlob(parts, norm);
  return cased ? (t) => glob(t) : (_t, l) => glob(l);
}

function compileGlob(parts: readonly StringPart[], norm: (s: string) => string): (s: string) => boolean {
  const segments: Segment[] = [];
  let cur: Segment = { text: '', wild: null };
  const startsWithStar = parts[0] === ANY_CHARS;
  const endsWithStar = parts[parts.length - 1] === ANY_CHARS;
  for (const p of parts) {
    if (p === ANY_CHARS) {
      segments.push(cur);
      cur = { text: '', wild: null };
    } else if (p === ONE_CHAR || p === WINDASH) {
      cur.wild ??= new Array<PositionKind>(cur.text.length).fill(LITERAL);
      cur.text += p === WINDASH ? '-' : '?';
      cur.wild.push(p === WINDASH ? DASH : ANY_ONE);
    } else {
      const t = norm(p);
      if (cur.wild) for (let i = 0; i < t.length; i++) cur.wild.push(LITERAL);
      cur.text += t;
    }
  }
  segments.push(cur);
  for (const seg of segments) if (seg.wild) seg.probe = longestLiteralRun(seg);
  // segments[0] is anchored at the start unless the pattern starts with `*` (then it is empty); likewise the last.
  return (s: string): boolean => {
    if (segments.length === 1) {
      const only = segments[0]!;
      return s.length === only.text.length && segAt(s, only, 0);
    }
    const head = segments[0]!;
    const tail = segments[segments.length - 1]!;
    if (!startsWithStar && !segAt(s, head, 0)) return false;
    let pos = head.text.length;
    const end = s.length - tail.text.length;
    if (end < pos) return false;
    for (let i = 1; i < segments.length - 1; i++) {
      const seg = segments[i]!;
      const at = findSeg(s, seg, pos, end);
      if (at < 0) return false;
      pos = at + seg.text.length;
    }
    return endsWithStar ? true : segAt(s, tail, end);
  };
}

function segAt(s: string, seg: Segment, at: number): boolean {
  if (at + seg.text.length > s.length) return false;
  if (!seg.wild) return s.startsWith(seg.text, at);
  for (let i = 0; i < seg.text.length; i++) {
    const kind = seg.wild[i];
    const c = s.charCodeAt(at + i);
    if (kind === LITERAL ? c !== seg.text.charCodeAt(i) : kind === DASH && !DASH_CODES.has(c)) return false;
  }
  return true;
}

/** Leftmost occurrence of the segment starting at or after `from` and ending by `limit`. */
function findSeg(s: string, seg: Segment, from: number, limit: number): number {
  if (!seg.wild) {
    const at = s.indexOf(seg.text, from);
    return at >= 0 && at + seg.text.length <= limit ? at : -1;
  }
  const probe = seg.probe;
  if (probe && probe.text.length > 0) {
    // Candidates are where the literal run occurs (windash values are mostly literal): leftmost first.
    for (let k = s.indexOf(probe.text, from + probe.offset); k >= 0; k = s.indexOf(probe.text, k + 1)) {
      const at = k - probe.offset;
      if (at + seg.text.length > limit) return -1;
      if (segAt(s, seg, at)) return at;
    }
    return -1;
  }
  for (let at = from; at + seg.text.length <= limit; at++) if (segAt(s, seg, at)) return at;
  return -1;
}

function longestLiteralRun(seg: Segment): { text: string; offset: number } {
  let best = { text: '', offset: 0 };
  let start = 0;
  for (let i = 0; i <= seg.text.length; i++) {
    if (i < seg.text.length && seg.wild![i] === LITERAL) continue;
    if (i - start > best.text.length) best = { text: seg.text.slice(start, i), offset: start };
    start = i + 1;
  }
  return best;
}
