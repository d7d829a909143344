/**
 * Why a fast path gave a record up, counted. The fast paths (the JSON byte writer, the compiled field plans, the
 * field walk) cover the usual records; what they do not cover, or find damaged, they hand to the slower path
 * (the walker, the tree), which is the definition of the output and reports the damage. Giving up is never
 * silent: each time is counted under a named reason (fallbackCounts, shown by `procwatch scan --verbose`), and
 * an error that is neither "not covered" nor damage (a bug) is rethrown, not swallowed.
 */
import { EvtxFormatError } from './bytes.js';

export const FALLBACK_REASONS = [
  /** JSON writer: a shape it does not write (repeats that get `_1` suffixes, text beside elements, ...). */
  'json.shape',
  /** JSON writer: damage or a limit; the tree path reports it. */
  'json.damaged',
  /** Field plans: the record's template has no plan (not `<Event>` of System and named Data). */
  'plan.none',
  /** Field plans: this record's values change the shape (an array that repeats, markup, an absent EventID, ...). */
  'plan.shape',
  /** Field plans: damage or a limit; the field walk decides. */
  'plan.damaged',
  /** Field walk: not one `<Event>` with a System and an EventID; the tree path decides. */
  'fields.shape',
  /** Field walk: damage or a limit; the tree path reports it. */
  'fields.damaged',
  /** System key (systemKey.ts): Provider/EventID not static in the template, or EventID not one plain text; rendered instead. */
  'key.shape',
  /** System key: damage or a limit where it reads; the record is rendered, which reports it. */
  'key.damaged',
  /** Instance reader (literal prefilter, System key): a damaged template definition; the token parser reports it. */
  'template.damaged',
] as const;

export type FallbackReason = (typeof FALLBACK_REASONS)[number];

/** Per thread: worker threads send theirs back with their results (see addFallbackCounts). */
const counts = Object.fromEntries(FALLBACK_REASONS.map((r) => [r, 0])) as Record<FallbackReason, number>;

export function countFallback(reason: FallbackReason): void {
  counts[reason]++;
}

/** How many times each fast path gave up, by reason, on this thread since start (or the last reset). */
export function fallbackCounts(): Record<FallbackReason, number> {
  return { ...counts };
}

/** Adds counts taken on another thread. */
export function addFallbackCounts(more: Partial<Record<FallbackReason, number>>): void {
  for (const r of FALLBACK_REASONS) {
    const n = more[r];
    if (typeof n === 'number' && Number.isFinite(n)) counts[r] += n;
  }
}

export function resetFallbackCounts(): void {
  for (const r of FALLBACK_REASONS) counts[r] = 0;
}

/** The counts as one line (reasons with a zero count left out), e.g. `plan.none 120, json.shape 3`. */
export function fallbackSummary(c: Record<FallbackReason, number> = counts): string {
  const parts = FALLBACK_REASONS.filter((r) => c[r] > 0).map((r) => `${r} ${c[r]}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** Thrown by a fast path that does not cover what it meets (kind 'shape') or finds it damaged ('damaged'). */
export class GiveUp extends Error {
  constructor(readonly kind: GiveUpKind) {
    super(kind);
  }
}
/** 'none': no plan for the record at all; 'shape': this record is not covered; 'damaged': damage or a limit. */
export type GiveUpKind = 'none' | 'shape' | 'damaged';
/** Shared instances: thrown per record, so no stack is captured each time. */
export const NOT_COVERED = new GiveUp('shape');
export const DAMAGED = new GiveUp('damaged');
export const NO_PLAN_HERE = new GiveUp('none');

/**
 * The kind of a fast path's failure: a GiveUp's own, or 'damaged' for format errors and RangeErrors (reads past
 * the data). Anything else is a bug: rethrown.
 */
export function giveUpKind(err: unknown): GiveUpKind {
  if (err instanceof GiveUp) return err.kind;
  if (err instanceof EvtxFormatError || err instanceof RangeError) return 'damaged';
  throw err;
}
