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
import { instanceAt } from './binxml/instance.js';
import { compileByteSearch, type ByteSearch, type SearchMethod } from './literalBytes.js';
import type { EvtxRecord } from './record.js';
import { ChunkRecord } from './record.js';

export interface LiteralSet {
  /** Where a literal may start in a chunk's raw bytes (ANSI or UTF-16LE, case-insensitively). */
  bytes: ByteSearch;
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
 * Needles for the literals, or null when the prefilter cannot be sound for them (then never skip).
 * Empty literal lists also return null: nothing to look for means nothing can be excluded.
 */
export function compileLiterals(literals: readonly string[], method?: SearchMethod): LiteralSet | null {
  if (literals.length === 0) return null;
  const lower: string[] = [];
  for (const lit of literals) {
    const low = lit.toLowerCase();
    if (low.length === 0 || UNSAFE_CHARS.test(low)) return null;
    // Only ASCII letters are folded byte-wise; other characters could match in another case or encoding.
    if (/[^\x20-\x7e]/.test(low)) return null;
    if ([...low].every((c) => FORMATTED_CHARS.has(c))) return null;
    lower.push(low);
  }
  return { bytes: compileByteSearch(lower, method), lower };
}

/**
 * Where any literal may start in a chunk (chunk offsets, ascending), found in one pass over the chunk's bytes
 * and cached for the chunk's records: one search per 64 KiB instead of one string copy and search per record
 * (measured: the per-record search was the prefilter's largest cost).
 */
interface ChunkHits {
  set: LiteralSet;
  starts: number[];
}
const chunkHits = new WeakMap<Buffer, ChunkHits>();

function hitsOf(buf: Buffer, set: LiteralSet): number[] {
  const cached = chunkHits.get(buf);
  if (cached && cached.set === set) return cached.starts;
  const starts = set.bytes.starts(buf);
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

/**
 * The template's verdict for a literal set: its literal text (other than namespace declarations) contains a
 * literal, or it builds values in ways bytes cannot show. Kept on the definition (TemplateDef.prefilter, a
 * per-chunk cache slot like ElementNode.plan): it is asked for on every record, a WeakMap lookup measured
 * several times dearer than a property read.
 */
function templateMayContain(def: TemplateDef, set: LiteralSet): boolean {
  const cached = def.prefilter;
  if (cached !== undefined && cached.set === set) return cached.mayContain;
  const mayContain = hasMultiPartValues(def.nodes) || literalTextContains(def.nodes, set);
  def.prefilter = { set, mayContain };
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
  // The common record, read without building its nodes: most records of a chunk end here.
  const quick = quickStructure(ctx, start, end, set, 0);
  if (quick === true) return true;
  if (quick === false && !bytesMayContain(ctx.buf, start, end, set)) return false;
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

/**
 * structureMayContain for the shape Windows writes, straight off the bytes (as parseFragment and
 * readTemplateInstance read it, without allocating): a fragment header, one instance of a template this chunk
 * has already parsed, its value descriptors and values (nested BinXml values of the same shape), end of stream.
 * True/false as structureMayContain would answer; null for anything else (a template's first use in the chunk,
 * other tokens, damage): the full parse then decides, and reports damage as it always has.
 */
function quickStructure(ctx: BinXmlContext, start: number, end: number, set: LiteralSet, nesting: number): boolean | null {
  const inst = instanceAt(ctx, start, end, nesting);
  if (!inst) return null;
  if (templateMayContain(inst.def, set)) return true;
  let off = inst.values;
  for (let i = 0, d = inst.descriptors; i < inst.count; i++, d += 4) {
    const size = ctx.view.getUint16(d, true);
    if ((ctx.buf[d + 2]! & 0x7f) === VT.BinXml && size > 0) {
      const inner = quickStructure(ctx, off, off + size, set, nesting + 1);
      if (inner !== false) return inner;
    }
    off += size;
  }
  return false;
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

/**
 * Both structural readings of a record, for the test that proves them equal wherever the quick one answers
 * (test/evtx/parser.test.ts). Not part of the parser's public surface.
 */
export function structureVerdicts(record: ChunkRecord, set: LiteralSet): { quick: boolean | null; full: boolean | Error } {
  const { ctx, start, end } = record.raw();
  // The quick reading first, as in a scan: it parses the chunk's templates itself on their first use.
  const quick = quickStructure(ctx, start, end, set, 0);
  try {
    return { quick, full: structureMayContain(ctx, record.tokens(), set, 0, []) };
  } catch (err) {
    return { quick, full: err instanceof Error ? err : new Error(String(err)) };
  }
}
