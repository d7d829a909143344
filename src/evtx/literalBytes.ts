/**
 * Where lower-case ASCII literals may start in raw chunk bytes, case-insensitively, as ANSI text (one byte per
 * character) or as UTF-16LE (at either byte alignment: values are packed, so a string may start at an odd
 * offset). The prefilter (prefilter.ts) runs this once per chunk and looks records up in the result.
 *
 * Case folding is what a rule's `toLowerCase()` comparison can match: ASCII letters in either case, plus the
 * only two UTF-16 code units outside ASCII whose lowercase holds an ASCII letter (checked over the whole BMP):
 * İ (U+0130) lowercases to "i\u0307" and the Kelvin sign (U+212A) to "k".
 *
 * Two ways to search, with the same answers (proven on the corpus, test/evtx/parser.test.ts):
 * - anchors: each literal's rarest character is looked for with Buffer#indexOf (memchr speed, no copies) and
 *   the literal verified around each hit; used while the literals need few distinct anchor bytes;
 * - patterns: case-insensitive regular expressions over latin1 and UTF-16 string copies of the chunk, for many
 *   literals (one pass whatever their number).
 */

export interface ByteSearch {
  /** Byte offsets in `buf` where a literal starts (ascending; overlapping matches included). */
  starts(buf: Buffer): number[];
}

export type SearchMethod = 'anchors' | 'patterns';

/** Beyond this many distinct anchor bytes, one regular-expression pass beats one indexOf pass per byte. */
const MAX_ANCHOR_BYTES = 8;

/** Byte values of the two non-ASCII code units that fold to ASCII letters, as UTF-16LE (low, high). */
const FOLDS: Record<string, readonly [number, number]> = { i: [0x30, 0x01], k: [0x2a, 0x21] };

/**
 * Characters from rare to common in Windows event data (byte frequencies measured on the corpus): the earlier a
 * character, the fewer false hits it gives as an anchor. Characters not listed (most punctuation) are rare.
 */
const COMMON_LAST = 'jzq_kbxvghy/\\:upf.lm-wdncaortise0123456789 ';

function rarity(c: string): number {
  const rank = COMMON_LAST.indexOf(c);
  // i's fold (U+0130) has '0' as its low byte: as an anchor it would stop at every zero digit.
  if (c === 'i') return COMMON_LAST.length + 1;
  return rank < 0 ? 0 : rank + 1;
}

/** The bytes an indexOf pass must find for character `c` of a literal. */
function anchorBytes(c: string): number[] {
  const code = c.charCodeAt(0);
  const out = [code];
  if (code >= 0x61 && code <= 0x7a) out.push(code - 32);
  const fold = FOLDS[c];
  if (fold) out.push(fold[0]);
  return out;
}

interface Anchored {
  literal: string;
  /** Index of the anchor character in the literal. */
  at: number;
  /** Where the neighbour checked first lies from the anchor (+1 or -1; 0: a one-character literal). */
  step: number;
  /** That neighbour's character code. */
  neighbour: number;
  /** The neighbour is a letter with a non-ASCII fold (i, k): no quick UTF-16 test. */
  neighbourFolds: boolean;
}

export function compileByteSearch(literals: readonly string[], method?: SearchMethod): ByteSearch {
  const byByte = new Map<number, Anchored[]>();
  for (const literal of literals) {
    let at = 0;
    for (let i = 1; i < literal.length; i++) if (rarity(literal[i]!) < rarity(literal[at]!)) at = i;
    const step = neighbourStep(literal, at);
    const neighbour = literal.charCodeAt(at + step);
    const anchored: Anchored = { literal, at, step, neighbour, neighbourFolds: FOLDS[literal[at + step]!] !== undefined };
    for (const b of anchorBytes(literal[at]!)) {
      const list = byByte.get(b) ?? [];
      list.push(anchored);
      byByte.set(b, list);
    }
  }
  const useAnchors = method ? method === 'anchors' : byByte.size <= MAX_ANCHOR_BYTES;
  return useAnchors ? anchorSearch(byByte) : patternSearch(literals);
}

/** The side of the anchor whose character is tested first: one without a non-ASCII fold, when there is one. */
function neighbourStep(literal: string, at: number): number {
  const usable = (i: number): boolean => i >= 0 && i < literal.length;
  for (const step of [1, -1]) if (usable(at + step) && FOLDS[literal[at + step]!] === undefined) return step;
  return usable(at + 1) ? 1 : usable(at - 1) ? -1 : 0;
}

// --- anchors ---------------------------------------------------------------------------------------------------

function anchorSearch(byByte: Map<number, Anchored[]>): ByteSearch {
  const groups = [...byByte];
  return {
    starts(buf: Buffer): number[] {
      const out: number[] = [];
      for (const [byte, anchored] of groups) {
        for (let p = buf.indexOf(byte); p >= 0; p = buf.indexOf(byte, p + 1)) {
          for (const a of anchored) {
            if (ansiNeighbour(buf, p, a) && ansiAt(buf, p - a.at, a.literal)) out.push(p - a.at);
            if (utf16Neighbour(buf, p, a) && utf16At(buf, p - 2 * a.at, a.literal)) out.push(p - 2 * a.at);
          }
        }
      }
      return out.sort((x, y) => x - y);
    },
  };
}

/**
 * Cheap tests of the character next to the anchor, before the whole literal is compared: common anchors
 * ('.', 'w') stop the search millions of times per GiB, and almost every stop fails here.
 */
function ansiNeighbour(buf: Buffer, p: number, a: Anchored): boolean {
  if (a.step === 0) return true;
  const b = buf[p + a.step];
  return b !== undefined && (b >= 0x41 && b <= 0x5a ? b + 32 : b) === a.neighbour;
}

function utf16Neighbour(buf: Buffer, p: number, a: Anchored): boolean {
  if (a.step === 0 || a.neighbourFolds) return true;
  const q = p + 2 * a.step;
  const lo = buf[q];
  return lo !== undefined && buf[q + 1] === 0 && (lo >= 0x41 && lo <= 0x5a ? lo + 32 : lo) === a.neighbour;
}

function ansiAt(buf: Buffer, start: number, literal: string): boolean {
  if (start < 0 || start + literal.length > buf.length) return false;
  for (let i = 0; i < literal.length; i++) {
    const b = buf[start + i]!;
    if ((b >= 0x41 && b <= 0x5a ? b + 32 : b) !== literal.charCodeAt(i)) return false;
  }
  return true;
}

function utf16At(buf: Buffer, start: number, literal: string): boolean {
  if (start < 0 || start + 2 * literal.length > buf.length) return false;
  for (let i = 0; i < literal.length; i++) {
    const lo = buf[start + 2 * i]!;
    const hi = buf[start + 2 * i + 1]!;
    const c = literal.charCodeAt(i);
    if (hi === 0 && (lo >= 0x41 && lo <= 0x5a ? lo + 32 : lo) === c) continue;
    const fold = FOLDS[literal[i]!];
    if (fold && lo === fold[0] && hi === fold[1]) continue;
    return false;
  }
  return true;
}

// --- patterns --------------------------------------------------------------------------------------------------

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function utf16Source(literal: string): string {
  let out = '';
  for (const c of literal) {
    const fold = FOLDS[c];
    out += fold ? `[${c}\\u${(fold[1] * 256 + fold[0]).toString(16).padStart(4, '0')}]` : escapeRegExp(c);
  }
  return out;
}

function patternSearch(literals: readonly string[]): ByteSearch {
  // Non-unicode /i folds ASCII letters to ASCII letters only (a code unit above 127 never matches one): the
  // two folds above are added explicitly.
  const ansi = new RegExp(literals.map(escapeRegExp).join('|'), 'gi');
  const utf16 = new RegExp(literals.map(utf16Source).join('|'), 'gi');
  return {
    starts(buf: Buffer): number[] {
      const out: number[] = [];
      collect(ansi, buf.toString('latin1'), 1, 0, out);
      collect(utf16, buf.toString('utf16le'), 2, 0, out);
      if (buf.length > 1) collect(utf16, buf.toString('utf16le', 1), 2, 1, out);
      return out.sort((x, y) => x - y);
    },
  };
}

/** Byte offsets of every match start (overlapping ones too) of `re` in `text`, read at `width` bytes per char. */
function collect(re: RegExp, text: string, width: number, base: number, out: number[]): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push(base + m.index * width);
    re.lastIndex = m.index + 1;
  }
}
