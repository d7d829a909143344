/**
 * A sound literal prefilter on raw record bytes: answers "could any rendered value of this record contain
 * one of these literals (case-insensitively)?" without rendering the record. A "no" must never be wrong;
 * a "yes" may be (the record is then parsed and matched normally).
 *
 * Every rendered string comes from bytes of the record itself (substitution values, inline values, nested
 * BinXml) or of the template definitions it references, as UTF-16LE or ANSI text. What does not come
 * verbatim from bytes is handled conservatively:
 * - numbers, GUIDs, SIDs, times, hex and booleans are formatted: a literal made only of characters such
 *   formatting can produce disables the prefilter;
 * - values concatenated from several parts and character/entity references: any of these in the record's
 *   templates or markup means "may contain";
 * - array items joined with ',' cannot make a literal across items: literals holding ',' disable the prefilter;
 * - case: ASCII letters in either case, and the two non-ASCII code units whose lowercase is ASCII (İ, K).
 * The bytes are searched once per chunk (see hitsOf); per record only the template structure is looked at.
 */
import { parseFragment, type BinXmlContext, type BxNode, type TemplateDef } from './binxml/tokens.js';
import { VT } from './binxml/values.js';
import type { EvtxRecord } from './record.js';
import { ChunkRecord } from './record.js';

export interface LiteralSet {
  /**
   * Any literal, case-insensitively, in the latin1 reading of raw bytes (one char per byte): as ANSI text, or
   * as UTF-16LE. Global: it is run over whole chunks and every match start is collected.
   */
  bytePattern: RegExp;
  /** Lower-cased literals (for text already decoded, e.g. a template's literal text). */
  lower: string[];
}

/** Characters that formatted (non-string) values can contain, folded to lower case. */
const FORMATTED_CHARS = new Set('0123456789abcdefx{}-s.:tz+rulniy'.split(''));
/**
 * Characters a value can acquire from references or joins rather than from its bytes: with none of them in a
 * literal, a match can neither straddle two items of an array (joined with ',') nor come from an entity.
 */
const UNSAFE_CHARS = /[&<>"',]/;

/**
 * The two UTF-16 code units outside ASCII whose lowercase holds an ASCII letter (checked over the whole BMP):
 * İ (U+0130) lowercases to "i\u0307" and the Kelvin sign (U+212A) to "k". A value holding them can match a
 * rule literal with that letter once lower-cased, so the UTF-16 needle accepts their bytes there too.
 */
const UTF16_FOLDS_TO: Record<string, string> = { i: '\\x30\\x01', k: '\\x2a\\x21' };

const escapeRegExp = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** A literal's UTF-16LE bytes as a latin1 pattern: each character then a NUL byte (with the folds above). */
function utf16Pattern(literal: string): string {
  let out = '';
  for (const c of literal) {
    const fold = UTF16_FOLDS_TO[c];
    out += fold ? `(?:${c}\\x00|${fold})` : `${escapeRegExp(c)}\\x00`;
  }
  return out;
}

/**
 * Needles for the literals, or null when the prefilter cannot be sound for them (then never skip).
 * Empty literal lists also return null: nothing to look for means nothing can be excluded.
 */
export function compileLiterals(literals: readonly string[]): LiteralSet | null {
  if (literals.length === 0) return null;
  const alternatives: string[] = [];
  const lower: string[] = [];
  for (const lit of literals) {
    const low = lit.toLowerCase();
    if (low.length === 0 || UNSAFE_CHARS.test(low)) return null;
    // Only ASCII letters are folded byte-wise; other characters could match in another case or encoding.
    if (/[^\x20-\x7e]/.test(low)) return null;
    if ([...low].every((c) => FORMATTED_CHARS.has(c))) return null;
    alternatives.push(escapeRegExp(low), utf16Pattern(low));
    lower.push(low);
  }
  // Non-unicode /i folds ASCII letters only (and latin1 letters among themselves), as byte-wise folding must:
  // no byte can match a letter of another script.
  return { bytePattern: new RegExp(alternatives.join('|'), 'gi'), lower };
}

/**
 * Where any literal may start in a chunk (chunk offsets, ascending), found in one pass over the chunk's
 * bytes and cached for the chunk's records: one regular-expression run per 64 KiB instead of one string copy
 * and search per record (measured: the per-record search was the prefilter's largest cost).
 */
interface ChunkHits {
  set: LiteralSet;
  starts: number[];
}
const chunkHits = new WeakMap<Buffer, ChunkHits>();

function hitsOf(buf: Buffer, set: LiteralSet): number[] {
  const cached = chunkHits.get(buf);
  if (cached && cached.set === set) return cached.starts;
  const starts: number[] = [];
  const text = buf.toString('latin1');
  const re = set.bytePattern;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    starts.push(m.index);
    re.lastIndex = m.index + 1; // overlapping matches too: every start counts
  }
  chunkHits.set(buf, { set, starts });
  return starts;
}

/** Does a literal start anywhere in [start, end) of the chunk? */
function bytesMayContain(buf: Buffer, start: number, end: number, set: LiteralSet): boolean {
  const starts = hitsOf(buf, set);
  // First start at or after `start` (binary search: chunks hold hundreds of records, hits are few).
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! < start) lo = mid + 1;
    else hi = mid;
  }
  return lo < starts.length && starts[lo]! < end;
}

interface TemplateVerdict {
  set: LiteralSet;
  /** The template's literal text (other than namespace declarations) contains a literal, or builds values in ways bytes cannot show. */
  mayContain: boolean;
}
const verdicts = new WeakMap<TemplateDef, TemplateVerdict>();

function templateMayContain(def: TemplateDef, set: LiteralSet): boolean {
  const cached = verdicts.get(def);
  if (cached && cached.set === set) return cached.mayContain;
  const mayContain = hasMultiPartValues(def.nodes) || literalTextContains(def.nodes, set);
  verdicts.set(def, { set, mayContain });
  return mayContain;
}

const textContains = (text: string, set: LiteralSet): boolean => {
  const low = text.toLowerCase();
  return set.lower.some((l) => low.includes(l));
};

/** Literal text of a template: element content and attribute values, except xmlns declarations (never event data). */
function literalTextContains(nodes: BxNode[], set: LiteralSet): boolean {
  for (const n of nodes) {
    if ((n.kind === 'text' || n.kind === 'cdata') && textContains(n.text, set)) return true;
    if (n.kind === 'pi' && (textContains(n.data, set) || textContains(n.target, set))) return true;
    if (n.kind !== 'element') continue;
    for (const a of n.attributes) {
      if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
      for (const p of a.parts) if (p.kind === 'text' && textContains(p.text, set)) return true;
    }
    if (literalTextContains(n.children, set)) return true;
  }
  return false;
}

/**
 * Does any element or attribute build its value from more than one part (so a literal could straddle parts),
 * or hold text from a character/entity reference (not verbatim in the bytes)?
 */
function hasMultiPartValues(nodes: BxNode[]): boolean {
  for (const n of nodes) {
    if (n.kind === 'text' && n.json === undefined) return true;
    if (n.kind !== 'element') continue;
    for (const a of n.attributes) for (const p of a.parts) if (p.kind === 'text' && p.json === undefined) return true;
    for (const a of n.attributes) if (a.parts.length > 1) return true;
    let valueParts = 0;
    for (const c of n.children) if (c.kind === 'text' || c.kind === 'sub' || c.kind === 'cdata') valueParts++;
    if (valueParts > 1) return true;
    if (hasMultiPartValues(n.children)) return true;
  }
  return false;
}

/**
 * False only when no rendered value of the record can contain a literal of the set (namespace
 * declarations aside). Throws EvtxFormatError when the record's BinXml is damaged (as root() would).
 */
export function recordMayContain(record: EvtxRecord, set: LiteralSet | null): boolean {
  if (!set || !(record instanceof ChunkRecord)) return true;
  const { ctx, start, end } = record.raw();
  const defs: TemplateDef[] = [];
  if (structureMayContain(ctx, record.tokens(), set, 0, defs)) return true;
  // Every value is now verbatim in the record's bytes (substitution values, nested BinXml, templateless
  // content): the record may hold a literal only where one starts in them.
  if (!bytesMayContain(ctx.buf, start, end, set)) return false;
  // Template definitions written inline in the record were judged above by their text (namespace
  // declarations aside): a literal starting inside one does not count.
  const holes = defs
    .filter((d) => d.offset >= start && d.end <= end)
    .map((d) => [d.offset, d.end] as const)
    .sort((x, y) => x[0] - y[0]);
  let p = start;
  for (const [a, b] of holes) {
    if (a > p && bytesMayContain(ctx.buf, p, a, set)) return true;
    p = Math.max(p, b);
  }
  return p < end && bytesMayContain(ctx.buf, p, end, set);
}

function structureMayContain(ctx: BinXmlContext, nodes: BxNode[], set: LiteralSet, nesting: number, defs: TemplateDef[]): boolean {
  if (nesting > 16) return true;
  for (const n of nodes) {
    if (n.kind === 'element') {
      // Templateless content: its text is in the record bytes searched later; refs and joins are not.
      if (hasMultiPartValues([n]) || structureMayContain(ctx, n.children, set, nesting, defs)) return true;
      continue;
    }
    if (n.kind === 'text' && n.json === undefined) return true; // from a character or entity reference
    if (n.kind !== 'template') continue;
    defs.push(n.def);
    if (templateMayContain(n.def, set)) return true;
    for (const ref of n.values) {
      const base = ref.type & 0x7f;
      // Array items are each verbatim in the bytes; joined with ',' they cannot form a literal (none has ',').
      if (base === VT.BinXml && ref.size > 0) {
        const nested = parseFragment(ctx, ref.off, ref.off + ref.size, false, nesting + 1);
        if (structureMayContain(ctx, nested, set, nesting + 1, defs)) return true;
      }
    }
  }
  return false;
}
