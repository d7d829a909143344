/**
 * Multi-literal search (Aho–Corasick compiled to a dense DFA over a small alphabet) used as the shared
 * prefilter: one pass over a field's text finds every rule literal it contains, whatever the number of rules.
 *
 * Literals are lowercase. Text is case-folded per code unit while scanning (no lowercase copy): ASCII
 * through the class table, other code units through FOLD (the first unit of their lowercase), which keeps the
 * search sound against `toLowerCase()` comparisons — see requiredLiteral in compile.ts. Pure-ASCII literals
 * run in the DFA; literals with other characters (emoji, accented letters) are rare and are checked where
 * their first non-ASCII character occurs in the text.
 */

const FOLD = new Uint16Array(65536).fill(0xffff);

/** Lowercase of one UTF-16 code unit as the scanner compares it. */
export function fold(c: number): number {
  if (c < 128) return c >= 65 && c <= 90 ? c + 32 : c;
  let f = FOLD[c]!;
  if (f === 0xffff) {
    f = String.fromCharCode(c).toLowerCase().charCodeAt(0);
    FOLD[c] = f;
  }
  return f;
}

export class LiteralScanner {
  private readonly classOf = new Uint8Array(128);
  private readonly classes: number;
  /**
   * Transitions, indexed by (state × classes + class), holding the next state already multiplied by the
   * class count; negative (bitwise-not) when the next state has outputs, so the hot loop needs one lookup.
   */
  private readonly table: Int32Array;
  /** Literal ids ending at each state (own), and the next state on the fail chain that has any. */
  private readonly outputs: Array<number[] | undefined>;
  private readonly outLink: Int32Array;

  /** Literals with non-ASCII characters, keyed by their first such character. */
  private readonly wide = new Map<number, Array<{ id: number; text: string; offset: number }>>();

  constructor(readonly literals: readonly string[]) {
    let next = 1;
    const ascii: Array<[string, number]> = [];
    literals.forEach((lit, id) => {
      const at = lit.search(/[^\x00-\x7f]/);
      if (at < 0) {
        ascii.push([lit, id]);
        return;
      }
      const key = lit.charCodeAt(at);
      const list = this.wide.get(key) ?? [];
      list.push({ id, text: lit, offset: at });
      this.wide.set(key, list);
    });
    for (const [lit] of ascii)
      for (let i = 0; i < lit.length; i++) {
        const c = lit.charCodeAt(i);
        if (this.classOf[c] === 0) {
          this.classOf[c] = next;
          const upper = String.fromCharCode(c).toUpperCase().charCodeAt(0);
          if (upper < 128) this.classOf[upper] = next;
          next++;
        }
      }
    this.classes = next;
    // Trie.
    const gotoMaps: Array<Map<number, number>> = [new Map()];
    const own: Array<number[] | undefined> = [undefined];
    ascii.forEach(([lit, id]) => {
      let s = 0;
      for (let i = 0; i < lit.length; i++) {
        const cls = this.classOf[lit.charCodeAt(i)]!;
        let t = gotoMaps[s]!.get(cls);
        if (t === undefined) {
          t = gotoMaps.length;
          gotoMaps.push(new Map());
          own.push(undefined);
          gotoMaps[s]!.set(cls, t);
        }
        s = t;
      }
      (own[s] ??= []).push(id);
    });
    const n = gotoMaps.length;
    const nc = this.classes;
    const delta = new Int32Array(n * nc);
    const fail = new Int32Array(n);
    this.outLink = new Int32Array(n).fill(-1);
    // BFS: delta(s, c) = goto(s, c) or delta(fail(s), c).
    const queue: number[] = [];
    for (let c = 0; c < nc; c++) {
      const t = gotoMaps[0]!.get(c);
      if (t !== undefined) {
        delta[c] = t;
        fail[t] = 0;
        queue.push(t);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const f = fail[s]!;
      this.outLink[s] = own[f] ? f : this.outLink[f]!;
      for (let c = 0; c < nc; c++) {
        const t = gotoMaps[s]!.get(c);
        if (t !== undefined) {
          fail[t] = delta[f * nc + c]!;
          delta[s * nc + c] = t;
          queue.push(t);
        } else {
          delta[s * nc + c] = delta[f * nc + c]!;
        }
      }
    }
    this.outputs = own;
    const hasOut = new Uint8Array(n);
    for (let s = 0; s < n; s++) if (own[s] || this.outLink[s]! >= 0) hasOut[s] = 1;
    this.table = new Int32Array(n * nc);
    for (let i = 0; i < n * nc; i++) {
      const t = delta[i]!;
      this.table[i] = hasOut[t] ? ~(t * nc) : t * nc;
    }
  }

  /**
   * Appends to `found` the id of every literal occurring in `text`; a literal already marked in `seen` with
   * `stamp` is reported once per stamp.
   */
  scan(text: string, seen: Uint32Array, stamp: number, found: number[]): void {
    const { classOf, table, classes } = this;
    const wide = this.wide.size > 0 ? this.wide : null;
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 128) {
        c = fold(c);
        if (wide && c >= 128) {
          const candidates = wide.get(c);
          if (candidates) for (const w of candidates) if (!(seen[w.id] === stamp) && foldedAt(text, i - w.offset, w.text)) {
            seen[w.id] = stamp;
            found.push(w.id);
          }
        }
      }
      const next = table[s + (c < 128 ? classOf[c]! : 0)]!;
      if (next >= 0) {
        s = next;
        continue;
      }
      s = ~next;
      {
        for (let t = s / classes; t >= 0; t = this.outLink[t]!) {
          const ids = this.outputs[t];
          if (!ids) continue;
          for (const id of ids) {
            if (seen[id] === stamp) continue;
            seen[id] = stamp;
            found.push(id);
          }
        }
      }
    }
  }
}

/** Whether `lit` (lowercase) occurs in `text` at `start`, comparing folded code units. */
function foldedAt(text: string, start: number, lit: string): boolean {
  if (start < 0 || start + lit.length > text.length) return false;
  for (let k = 0; k < lit.length; k++) if (fold(text.charCodeAt(start + k)) !== lit.charCodeAt(k)) return false;
  return true;
}
