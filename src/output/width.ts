/** Display-width arithmetic for the terminal table view (loaded with it: see render.ts). */
import stringWidth from 'string-width';

/** Columns the string takes on a terminal (wide East Asian characters and emoji count 2, combining marks 0). */
export function displayWidth(s: string): number {
  return PRINTABLE_ASCII.test(s) ? s.length : stringWidth(s);
}

// eslint-disable-next-line no-control-regex
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * How many code units of `s` are looked at to measure or cut it for `columns` columns. Every grapheme that takes
 * space is at least one code unit, so this holds `columns` of them unless zero-width marks pile up — and then the
 * string is treated as too wide and shortened, which is safe. It bounds the work: Intl.Segmenter and string-width
 * slow down badly on long strings (a 40,000-character command line took a second), and event data is attacker-made.
 */
function windowFor(columns: number): number {
  return columns * 4 + 64;
}

/** The display width of `s` if it is at most `limit`, else some number above `limit`; bounded work either way. */
export function widthWithin(s: string, limit: number): number {
  if (PRINTABLE_ASCII.test(s)) return Math.min(s.length, limit + 1);
  if (s.length > windowFor(limit)) return limit + 1;
  return Math.min(stringWidth(s), limit + 1);
}

/** Whether `s` fits in `width` columns. */
export function fits(s: string, width: number): boolean {
  return widthWithin(s, width) <= width;
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function graphemeWidth(g: string): number {
  const c = g.charCodeAt(0);
  return g.length === 1 && c >= 0x20 && c <= 0x7e ? 1 : stringWidth(g);
}

/** How far into `s` (code units) the leading graphemes reach while their width stays within `budget`. */
function headEnd(s: string, budget: number): number {
  const window = Math.min(s.length, windowFor(budget));
  const complete = window === s.length;
  let used = 0;
  let end = 0;
  for (const g of graphemes.segment(s.slice(0, window))) {
    // The window's last segment may be a grapheme cut in two (half a surrogate pair, a base without its marks).
    if (!complete && g.index + g.segment.length === window) break;
    const w = graphemeWidth(g.segment);
    if (used + w > budget) break;
    used += w;
    end = g.index + g.segment.length;
  }
  return end;
}

/** Where the trailing graphemes that fit in `budget` columns start (code units), mirror of headEnd. */
function tailStart(s: string, budget: number): number {
  const from = Math.max(0, s.length - windowFor(budget));
  const segments = [...graphemes.segment(s.slice(from))];
  let used = 0;
  let start = s.length;
  for (let i = segments.length - 1; i >= 0; i--) {
    const g = segments[i]!;
    if (from > 0 && i === 0) break; // possibly a cut grapheme, see headEnd
    const w = graphemeWidth(g.segment);
    if (used + w > budget) break;
    used += w;
    start = from + g.index;
  }
  return start;
}

/** At most `width` columns of `s`, cut at the end with an ellipsis (names: the start is what identifies them). */
export function truncateEnd(s: string, width: number): string {
  if (width <= 0) return '';
  if (fits(s, width)) return s;
  return `${s.slice(0, headEnd(s, width - 1))}…`;
}

/**
 * At most `width` columns of `s`, keeping the start and the end (command lines matter at both ends: the program,
 * and the target or output file that usually comes last). The head gets two thirds.
 */
export function shorten(s: string, width: number): string {
  if (width <= 0) return '';
  if (fits(s, width)) return s;
  if (width <= 3) return truncateEnd(s, width);
  const tailBudget = Math.floor((width - 1) / 3);
  const head = s.slice(0, headEnd(s, width - 1 - tailBudget));
  // Whatever the head left unused (a wide character did not fit) goes to the tail.
  const tail = s.slice(Math.max(head.length, tailStart(s, width - 1 - displayWidth(head))));
  return `${head}…${tail}`;
}

/** Pads with spaces to exactly `width` columns (the text is assumed to fit). */
export function padTo(s: string, width: number): string {
  const w = stringWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}
