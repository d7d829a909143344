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
 * - values concatenated from several parts, array items joined with ',', character/entity references:
 *   any of these in the record's templates or chunk means "may contain".
 */
import { parseFragment, type BinXmlContext, type BxNode, type TemplateDef } from './binxml/tokens.js';
import { VT } from './binxml/values.js';
import type { EvtxRecord } from './record.js';
import { ChunkRecord } from './record.js';

export interface LiteralSet {
  /** Lower-cased literals, as ANSI text and as the latin1 reading of their UTF-16LE bytes. */
  needles: string[];
  lower: string[];
}

/** Characters that formatted (non-string) values can contain, folded to lower case. */
const FORMATTED_CHARS = new Set('0123456789abcdefx{}-s.:tz+rulniy'.split(''));
/** Characters a value can acquire from references or joins rather than from its bytes. */
const UNSAFE_CHARS = /[&<>"',]/;

/**
 * Needles for the literals, or null when the prefilter cannot be sound for them (then never skip).
 * Empty literal lists also return null: nothing to look for means nothing can be excluded.
 */
export function compileLiterals(literals: readonly string[]): LiteralSet | null {
  if (literals.length === 0) return null;
  const needles: string[] = [];
  const lower: string[] = [];
  for (const lit of literals) {
    const low = lit.toLowerCase();
    if (low.length === 0 || UNSAFE_CHARS.test(low)) return null;
    // Only ASCII letters are folded byte-wise; other characters could match in another case or encoding.
    if (/[^\x20-\x7e]/.test(low)) return null;
    if ([...low].every((c) => FORMATTED_CHARS.has(c))) return null;
    needles.push(low, Buffer.from(low, 'utf16le').toString('latin1'));
    lower.push(low);
  }
  return { needles, lower };
}

/**
 * Byte search, case-insensitive for ASCII: the bytes are read as latin1 (one char per byte) and lower-cased,
 * so a UTF-16LE needle is the latin1 reading of its bytes ("c\0e\0r\0..."). Lower-casing latin1 only maps
 * A-Z to a-z and non-ASCII letters to other non-ASCII letters, so no ASCII match can be lost.
 * (Measured: faster than folding bytes in JS and searching with Buffer#indexOf — native copy, lower-casing
 * and search beat a per-byte loop.)
 */
function containsAny(buf: Buffer, start: number, end: number, set: LiteralSet): boolean {
  if (end <= start) return false;
  const hay = buf.toString('latin1', start, end).toLowerCase();
  for (const needle of set.needles) if (hay.includes(needle)) return true;
  return false;
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
  // Substitution values, nested BinXml and templateless content are in the record's bytes; template
  // definitions written inline in the record were judged above (by their text) and are left out here.
  const holes = defs
    .filter((d) => d.offset >= start && d.end <= end)
    .map((d) => [d.offset, d.end] as const)
    .sort((a, b) => a[0] - b[0]);
  let p = start;
  for (const [a, b] of holes) {
    if (a > p && containsAny(ctx.buf, p, a, set)) return true;
    p = Math.max(p, b);
  }
  return containsAny(ctx.buf, p, end, set);
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
      if (ref.type & VT.ArrayFlag && base !== VT.BinXml) return true; // items may be joined with ','
      if (base === VT.BinXml && ref.size > 0) {
        const nested = parseFragment(ctx, ref.off, ref.off + ref.size, false, nesting + 1);
        if (structureMayContain(ctx, nested, set, nesting + 1, defs)) return true;
      }
    }
  }
  return false;
}
