/**
 * Sigma value modifiers as a registry of small units (pySigma's `modifier_mapping`): each turns typed values
 * into other typed values, or sets a flag on the item. Adding a modifier touches only `MODIFIERS`.
 */
import { WINDASH, type CompareOp, type SigmaValue, type StringPart, type TimePart } from './model.js';
import { hasWildcards, literalText, normaliseParts, parseSigmaString, wrapWildcards } from './values.js';
import { parseCidr } from './cidr.js';

/** A value while modifiers are being applied: a final value, or bytes awaiting a base64 modifier. */
export type ModValue = SigmaValue | { kind: 'bytes'; bytes: Uint8Array };

/** Item-wide flags some modifiers set. */
export interface ItemFlags {
  all: boolean;
  neq: boolean;
}

export interface ModifierContext {
  flags: ItemFlags;
  /** Values for `expand` placeholders (`%name%` → values). */
  placeholders: Readonly<Record<string, readonly string[]>>;
}

export class ModifierError extends Error {}

/** `|expand` would produce more than MAX_EXPAND_VALUES values; the loader words it with the field's name. */
export class ExpandLimitError extends ModifierError {
  constructor(readonly combinations: number) {
    super(`would produce ${combinations} values (limit ${MAX_EXPAND_VALUES})`);
  }
}

export type Modifier = (values: ModValue[], ctx: ModifierContext) => ModValue[];

/** Turns a YAML scalar into a typed value before any modifier. */
export function typedValue(raw: unknown): ModValue {
  if (raw === null || raw === undefined) return { kind: 'null' };
  if (typeof raw === 'number') return { kind: 'number', value: raw };
  if (typeof raw === 'boolean') return { kind: 'boolean', value: raw };
  if (typeof raw === 'string') return { kind: 'string', parts: parseSigmaString(raw), cased: false, raw };
  throw new ModifierError(`value must be a string, number, boolean or null, not ${Array.isArray(raw) ? 'a nested list' : typeof raw}`);
}

/** Applies the modifiers in order and checks that only final values remain. */
export function applyModifiers(names: string[], values: ModValue[], ctx: ModifierContext): SigmaValue[] {
  let current = values;
  for (const name of names) {
    const modifier = MODIFIERS[name];
    if (!modifier) throw new ModifierError(`unknown modifier '${name}'`);
    try {
      current = modifier(current, ctx);
    } catch (err) {
      if (err instanceof ExpandLimitError) throw err;
      throw new ModifierError(`modifier '${name}': ${(err as Error).message}`);
    }
  }
  return current.map((v) => {
    if (v.kind === 'bytes') throw new ModifierError('utf16 encodings must be followed by base64 or base64offset');
    return v;
  });
}

// ---- helpers -------------------------------------------------------------------------------------------

/** Applies `fn` to string values; any other kind is an error naming what was expected. */
function onStrings(fn: (v: Extract<SigmaValue, { kind: 'string' }>) => ModValue | ModValue[]): Modifier {
  return (values) =>
    values.flatMap((v) => {
      if (v.kind !== 'string') throw new ModifierError(`expects a string value, got ${describe(v)}`);
      return fn(v);
    });
}

function describe(v: ModValue): string {
  return v.kind === 'number' || v.kind === 'boolean' ? `${v.kind} ${String(v.value)}` : v.kind;
}

function bytesOf(v: ModValue): Uint8Array {
  if (v.kind === 'bytes') return v.bytes;
  if (v.kind === 'string') {
    if (v.parts.includes(WINDASH)) throw new ModifierError('windash positions cannot be base64-encoded (put windash after base64, or write the variants)');
    if (hasWildcards(v.parts)) throw new ModifierError('wildcards cannot be base64-encoded');
    return Buffer.from(v.parts.join(''), 'utf8');
  }
  if (v.kind === 'number') return Buffer.from(String(v.value), 'utf8');
  throw new ModifierError(`expects a string value, got ${describe(v)}`);
}

function plainString(text: string): SigmaValue {
  // Encoded text is literal: its `*`/`?`/`\` are not wildcards or escapes.
  return { kind: 'string', parts: text === '' ? [] : [text], cased: true };
}

function encodeUtf16(v: ModValue, littleEndian: boolean, bom: boolean): ModValue {
  if (v.kind !== 'string') throw new ModifierError(`expects a string value, got ${describe(v)}`);
  const text = literalText(v.parts);
  const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
  let o = 0;
  if (bom) {
    out[o++] = littleEndian ? 0xff : 0xfe;
    out[o++] = littleEndian ? 0xfe : 0xff;
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out[o++] = littleEndian ? c & 0xff : c >> 8;
    out[o++] = littleEndian ? c >> 8 : c & 0xff;
  }
  return { kind: 'bytes', bytes: out };
}

/** The three base64 renderings of `bytes` at offsets 0, 1 and 2, trimmed to the characters that do not
 * depend on the surrounding bytes. */
export function base64Offsets(bytes: Uint8Array): string[] {
  const startTrim = [0, 2, 3];
  const endTrim = [0, 3, 2];
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + bytes.length);
    padded.fill(0x20, 0, shift);
    padded.set(bytes, shift);
    const encoded = Buffer.from(padded).toString('base64');
    const cut = endTrim[(bytes.length + shift) % 3]!;
    out.push(encoded.slice(startTrim[shift], cut === 0 ? undefined : encoded.length - cut));
  }
  return out;
}

/**
 * Each `-`/`/` that starts a flag (pySigma's `\B[-/]\b`: no word character before it, one after it) becomes a
 * WINDASH position, which matches any of WINDASH_CHARS. One value whatever the number of flags: expanding the
 * combinations (5^n values) refused rules with five or more flags.
 */
function windash(parts: StringPart[]): StringPart[] {
  const out: StringPart[] = [];
  for (const p of parts) {
    if (typeof p !== 'string') {
      out.push(p);
      continue;
    }
    let last = 0;
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      if (c !== '-' && c !== '/') continue;
      const before = i > 0 ? p[i - 1]! : '';
      const after = i + 1 < p.length ? p[i + 1]! : '';
      if (!isWordChar(before) && isWordChar(after)) {
        if (i > last) out.push(p.slice(last, i));
        out.push(WINDASH);
        last = i + 1;
      }
    }
    if (last < p.length) out.push(p.slice(last));
  }
  return normaliseParts(out);
}

/** Python's `\w` on text (what pySigma's regex sees): letters and digits of any script, and `_`. */
function isWordChar(c: string): boolean {
  return c !== '' && /[\p{L}\p{N}_]/u.test(c);
}

function compare(op: CompareOp): Modifier {
  return (values) =>
    values.map((v) => {
      if (v.kind === 'timepart' && v.op === 'eq') return { ...v, op };
      const n = v.kind === 'number' ? v.value : v.kind === 'string' && !hasWildcards(v.parts) ? Number(v.parts.join('')) : NaN;
      if (!Number.isFinite(n)) throw new ModifierError(`expects a number, got ${describe(v)}`);
      return { kind: 'compare', op, value: n };
    });
}

function timePart(part: TimePart): Modifier {
  return (values) =>
    values.map((v) => {
      const n = v.kind === 'number' ? v.value : v.kind === 'string' && !hasWildcards(v.parts) ? Number(v.parts.join('')) : NaN;
      if (!Number.isInteger(n)) throw new ModifierError(`expects an integer, got ${describe(v)}`);
      return { kind: 'timepart', part, op: 'eq', value: n };
    });
}

function regexFlag(flag: 'ignoreCase' | 'multiLine' | 'dotAll'): Modifier {
  return (values) =>
    values.map((v) => {
      if (v.kind !== 'regex') throw new ModifierError('must follow the re modifier');
      return { ...v, [flag]: true };
    });
}

function wildcardModifier(start: boolean, end: boolean, match: 'contains' | 'startswith' | 'endswith'): Modifier {
  return (values) =>
    values.map((v) => {
      if (v.kind === 'fieldref') return { ...v, match };
      if (v.kind === 'number') return { kind: 'string', parts: wrapWildcards([String(v.value)], start, end), cased: false };
      if (v.kind !== 'string') throw new ModifierError(`expects a string value, got ${describe(v)}`);
      return { kind: 'string', parts: normaliseParts(wrapWildcards(v.parts, start, end)), cased: v.cased };
    });
}

/**
 * Values one written value may expand to with `|expand` (the product of its placeholders' value counts): the
 * combinations are counted before any is built, so a hostile rule or placeholder file costs no memory.
 */
export const MAX_EXPAND_VALUES = 4096;

/** Replaces `%name%` placeholders with every value configured for them. */
function expand(parts: StringPart[], placeholders: ModifierContext['placeholders']): StringPart[][] {
  let combinations = 1;
  for (const p of parts) {
    if (typeof p !== 'string') continue;
    for (const m of p.matchAll(/%([A-Za-z0-9_.-]+)%/g)) combinations *= placeholders[m[1]!]?.length || 1;
  }
  if (combinations > MAX_EXPAND_VALUES) throw new ExpandLimitError(combinations);
  let variants: StringPart[][] = [[]];
  for (const p of parts) {
    if (typeof p !== 'string') {
      variants = variants.map((v) => [...v, p]);
      continue;
    }
    const pieces = p.split(/(%[A-Za-z0-9_.-]+%)/);
    for (const piece of pieces) {
      if (piece === '') continue;
      const m = /^%([A-Za-z0-9_.-]+)%$/.exec(piece);
      if (!m) {
        variants = variants.map((v) => [...v, piece]);
        continue;
      }
      const values = placeholders[m[1]!];
      if (!values || values.length === 0) throw new ModifierError(`placeholder %${m[1]}% has no configured values (see --placeholders)`);
      variants = variants.flatMap((v) => values.map((x) => [...v, ...parseSigmaString(x)]));
    }
  }
  return variants.map(normaliseParts);
}

// ---- the registry --------------------------------------------------------------------------------------

export const MODIFIERS: Readonly<Record<string, Modifier>> = {
  contains: wildcardModifier(true, true, 'contains'),
  startswith: wildcardModifier(false, true, 'startswith'),
  endswith: wildcardModifier(true, false, 'endswith'),
  all: (values, ctx) => {
    ctx.flags.all = true;
    return values;
  },
  neq: (values, ctx) => {
    ctx.flags.neq = true;
    return values;
  },
  cased: (values) =>
    values.map((v) => {
      if (v.kind === 'string' || v.kind === 'fieldref') return { ...v, cased: true };
      throw new ModifierError(`expects a string value, got ${describe(v)}`);
    }),
  exists: (values) =>
    values.map((v) => {
      if (v.kind !== 'boolean') throw new ModifierError(`expects true or false, got ${describe(v)}`);
      return { kind: 'exists', value: v.value };
    }),
  windash: onStrings((v): SigmaValue => ({ kind: 'string', parts: windash(v.parts), cased: v.cased })),
  re: onStrings((v) => {
    // The regex is the text as written: Sigma escapes and wildcards do not apply inside it.
    if (v.raw === undefined) throw new ModifierError('must be applied to the value as written (put re first)');
    const pattern = v.raw;
    return { kind: 'regex', pattern, ignoreCase: false, multiLine: false, dotAll: false };
  }),
  i: regexFlag('ignoreCase'),
  m: regexFlag('multiLine'),
  s: regexFlag('dotAll'),
  base64: (values) => values.map((v) => plainString(Buffer.from(bytesOf(v)).toString('base64'))),
  base64offset: (values) => values.flatMap((v) => base64Offsets(bytesOf(v)).map(plainString)),
  utf16le: (values) => values.map((v) => encodeUtf16(v, true, false)),
  wide: (values) => values.map((v) => encodeUtf16(v, true, false)),
  utf16be: (values) => values.map((v) => encodeUtf16(v, false, false)),
  utf16: (values) => values.map((v) => encodeUtf16(v, true, true)),
  lt: compare('lt'),
  lte: compare('lte'),
  gt: compare('gt'),
  gte: compare('gte'),
  cidr: onStrings((v) => parseCidr(literalText(v.parts))),
  fieldref: onStrings((v) => ({ kind: 'fieldref', field: literalText(v.parts), match: 'equals', cased: v.cased })),
  expand: (values, ctx) =>
    values.flatMap((v) => {
      if (v.kind !== 'string') throw new ModifierError(`expects a string value, got ${describe(v)}`);
      return expand(v.parts, ctx.placeholders).map((parts): SigmaValue => ({ kind: 'string', parts, cased: v.cased }));
    }),
  minute: timePart('minute'),
  hour: timePart('hour'),
  day: timePart('day'),
  week: timePart('week'),
  month: timePart('month'),
  year: timePart('year'),
};
