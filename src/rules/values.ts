/**
 * Sigma string values: parsing (escapes and wildcards, decided once) and small helpers on the parts.
 */
import { ANY_CHARS, ONE_CHAR, WINDASH, type StringPart } from './model.js';

/**
 * Parses a Sigma string: `*` and `?` are wildcards; a backslash escapes `*`, `?` and itself; any other
 * backslash is literal (so Windows paths need no escaping).
 */
export function parseSigmaString(raw: string): StringPart[] {
  const parts: StringPart[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') parts.push(literal);
    literal = '';
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next === '*' || next === '?' || next === '\\') {
        literal += next;
        i++;
      } else {
        literal += c;
      }
    } else if (c === '*') {
      flush();
      parts.push(ANY_CHARS);
    } else if (c === '?') {
      flush();
      parts.push(ONE_CHAR);
    } else {
      literal += c;
    }
  }
  flush();
  return parts;
}

export function hasWildcards(parts: readonly StringPart[]): boolean {
  return parts.some((p) => typeof p !== 'string');
}

/** The text of a wildcard-free string (wildcards rendered back as `*`/`?`, a windash position as `-`). */
export function partsToText(parts: readonly StringPart[]): string {
  return parts.map((p) => (p === ANY_CHARS ? '*' : p === ONE_CHAR ? '?' : p === WINDASH ? '-' : p)).join('');
}

/** Plain literal text (throws if the value has wildcards). */
export function literalText(parts: readonly StringPart[]): string {
  if (hasWildcards(parts)) throw new Error('wildcards are not allowed here');
  return parts.join('');
}

/** Adds `*` at the start and/or end unless already there; merges adjacent literal runs. */
export function wrapWildcards(parts: readonly StringPart[], start: boolean, end: boolean): StringPart[] {
  const out = [...parts];
  if (start && out[0] !== ANY_CHARS) out.unshift(ANY_CHARS);
  if (end && out[out.length - 1] !== ANY_CHARS) out.push(ANY_CHARS);
  return out;
}

/** Joins adjacent literal runs and collapses repeated `*`. */
export function normaliseParts(parts: readonly StringPart[]): StringPart[] {
  const out: StringPart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (typeof p === 'string') {
      if (p === '') continue;
      if (typeof last === 'string') out[out.length - 1] = last + p;
      else out.push(p);
    } else if (!(p === ANY_CHARS && last === ANY_CHARS)) {
      out.push(p);
    }
  }
  return out;
}
